"""Service Quotas in one account and region: the applied value of a VPC quota, for the budgets.

Read only when the judge asks (the AWS default would be passed), once per quota code per gateway;
a step keeps one gateway per account and region for an invocation (`QuotaReaders`). Where the
value cannot be read (the action not granted, AccessDenied from an SCP, no applied value: Service
Quotas answers NoSuchResourceException for a quota never changed, any other failure), None, with
why: the judge then counts the AWS default, which an applied quota is never below.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from peering_autopilot.aws.calls import translated
from peering_autopilot.errors import AccessDeniedError, AwsCallError
from peering_autopilot.model import QuotaRead
from peering_autopilot.permissions import needs

SERVICE_CODE = "vpc"


class ServiceQuotasGateway:
    def __init__(self, client: Any, account_id: str, region: str) -> None:
        self.client = client
        self.where = f"account {account_id} region {region}"
        self._read: dict[str, QuotaRead] = {}
        self._lock = threading.Lock()

    @needs("servicequotas:GetServiceQuota")
    def applied(self, quota_code: str) -> QuotaRead:
        """The applied value of quota `quota_code` of VPC here, read once."""
        with self._lock:
            if quota_code not in self._read:
                self._read[quota_code] = self._get(quota_code)
            return self._read[quota_code]

    def _get(self, quota_code: str) -> QuotaRead:
        try:
            with translated("servicequotas", self.where):
                quota = self.client.get_service_quota(ServiceCode=SERVICE_CODE, QuotaCode=quota_code)["Quota"]
        except AccessDeniedError as e:
            return QuotaRead(None, f"Service Quotas not readable here ({e.code})")
        except AwsCallError as e:
            return QuotaRead(None, f"Service Quotas gave no applied value ({e.code})")
        value = quota.get("Value")
        if not isinstance(value, int | float):
            return QuotaRead(None, "Service Quotas gave no applied value")
        return QuotaRead(int(value), "applied, read from Service Quotas")


class QuotaReaders:
    """One gateway per account and region, for one invocation: each quota read at most once there."""

    def __init__(self, make: Callable[[str, str], ServiceQuotasGateway]) -> None:
        self._make = make
        self._gateways: dict[tuple[str, str], ServiceQuotasGateway] = {}
        self._lock = threading.Lock()

    def reader(self, account_id: str, region: str) -> Callable[[str], QuotaRead]:
        """What the judge calls with a quota code (`side_plan.plan_side`'s `read_quota`)."""
        return lambda code: self._gateway(account_id, region).applied(code)

    def _gateway(self, account_id: str, region: str) -> ServiceQuotasGateway:
        with self._lock:
            key = (account_id, region)
            if key not in self._gateways:
                self._gateways[key] = self._make(account_id, region)
            return self._gateways[key]
