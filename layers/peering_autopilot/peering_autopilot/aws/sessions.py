"""Sessions and STS: who the autopilot is in each managed account, and the gateways it acts with.

The hub's own account uses the function's credentials; every other managed account a session from
assuming the member role there, cached until shortly before it expires. Clients are made lazily,
once per service, account and region, and share one botocore Config.

Thread-safe, for the sweep's parallel places: boto3 clients are, boto3 sessions are not, so each
session makes its clients under its own lock, and each member account assumes its role under its
own lock (a slow AssumeRole in one account holds up no other account).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from peering_autopilot.aws.calls import BOTO_CONFIG, error_code, error_message, translated
from peering_autopilot.aws.dynamodb import BacklogQueue, RecordStore
from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.ssm import ParameterStore, SsmGateway
from peering_autopilot.errors import RoleAssumptionError
from peering_autopilot.permissions import needs
from peering_autopilot.settings import Settings
from peering_autopilot.structs import struct

if TYPE_CHECKING:
    from peering_autopilot.aws.cloudtrail import TrailGateway
    from peering_autopilot.aws.network_insights import NetworkInsightsGateway
    from peering_autopilot.aws.organizations import OrganizationsGateway
    from peering_autopilot.aws.service_quotas import ServiceQuotasGateway
    from peering_autopilot.aws.sns import Notifier

MEMBER_SESSION_NAME = "peering-autopilot"  # how the hub shows in the members' CloudTrail
ORGANIZATIONS_REGION = "us-east-1"  # Organizations' endpoint (the aws partition's; others: their own)
_CREDENTIAL_MARGIN_SECONDS = 300


@struct
class _Account:
    session: boto3.Session
    expires_at: float
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # guards session.client()


class AwsAccess:
    """Hands out gateways per account and region, assuming the member role where needed."""

    def __init__(
        self,
        settings: Settings,
        base_session: boto3.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._base = _Account(base_session or boto3.Session(), expires_at=float("inf"))
        self._clock = clock
        self._members: dict[str, _Account] = {}
        self._assuming: dict[str, threading.Lock] = {}  # per member account: one AssumeRole at a time
        self._assuming_lock = threading.Lock()

    @needs("sts:AssumeRole")
    def session_for(self, account_id: str) -> boto3.Session:
        return self._account(account_id).session

    def partition(self, region: str) -> str:
        """The partition of a region (`aws`, `aws-cn`, `aws-us-gov`, ...) from botocore's endpoint
        data, for the ARNs the autopilot builds; never a literal `aws`."""
        return _partition_of(region)

    def ec2(self, account_id: str, region: str) -> Ec2Gateway:
        return Ec2Gateway(self._client(account_id, "ec2", region), account_id, region)

    def network_insights(self, account_id: str, region: str) -> NetworkInsightsGateway:
        # Reachability Analyzer: verify's option only (off by default), so not imported at cold start
        from peering_autopilot.aws.network_insights import NetworkInsightsGateway

        return NetworkInsightsGateway(self._client(account_id, "ec2", region), account_id, region)

    def ssm(self, account_id: str, region: str) -> SsmGateway:
        return SsmGateway(self._client(account_id, "ssm", region), account_id, region)

    def trail(self, account_id: str, region: str) -> TrailGateway:
        from peering_autopilot.aws.cloudtrail import TrailGateway  # the sweep's adoption only: not at cold start

        """CloudTrail's event history of an account and region (the member role elsewhere)."""
        return TrailGateway(self._client(account_id, "cloudtrail", region), account_id, region)

    def service_quotas(self, account_id: str, region: str) -> ServiceQuotasGateway:
        """Service Quotas of an account and region (the member role elsewhere): read only when a
        budget's AWS default would be passed, so not imported at cold start."""
        from peering_autopilot.aws.service_quotas import ServiceQuotasGateway

        return ServiceQuotasGateway(self._client(account_id, "service-quotas", region), account_id, region)

    def parameters(self) -> ParameterStore:
        """Parameter Store in the hub's account and region (the policy document)."""
        region = self._settings.hub_region
        client = self._client(self._settings.hub_account_id, "ssm", region)
        return ParameterStore(client, f"account {self._settings.hub_account_id} region {region}")

    @needs("sts:AssumeRole")
    def organizations(self) -> OrganizationsGateway:
        """AWS Organizations, read only: with ORGANIZATIONS_ROLE_ARN (the reader role in the
        management account) assumed, else with the hub's own credentials (the hub account is a
        delegated administrator for Organizations). RoleAssumptionError if the role refuses.
        Imported here: only the sweep walks the Organization, and only where OUs are named."""
        from peering_autopilot.aws.organizations import OrganizationsGateway

        role_arn = self._settings.organizations_role_arn
        region = _ORGANIZATIONS_REGIONS.get(self.partition(self._settings.hub_region), self._settings.hub_region)
        if not role_arn:
            return OrganizationsGateway(self._client(self._settings.hub_account_id, "organizations", region))
        account_id = role_arn.split(":")[4]
        with self._assuming_lock:
            lock = self._assuming.setdefault(role_arn, threading.Lock())
        with lock:
            cached = self._members.get(role_arn)
            if not cached or cached.expires_at - _CREDENTIAL_MARGIN_SECONDS <= self._clock():
                sts = self._client(self._settings.hub_account_id, "sts", self._settings.hub_region)
                session, expires_at = _assume(sts, role_arn, MEMBER_SESSION_NAME, account_id, "Organizations")
                self._members[role_arn] = cached = _Account(session, expires_at)
        with cached.lock:
            key = ("organizations", region)
            if key not in cached.clients:
                cached.clients[key] = cached.session.client("organizations", region_name=region, config=BOTO_CONFIG)
            return OrganizationsGateway(cached.clients[key])

    def publisher(self) -> EventPublisher:
        client = self._client(self._settings.hub_account_id, "events", self._settings.hub_region)
        return EventPublisher(client, self._settings.event_bus_name)

    def record_store(self) -> RecordStore | None:
        """The autopilot's record table in the hub; None where the settings name none."""
        table = self._settings.record_table
        if not table:
            return None
        return RecordStore(self._client(self._settings.hub_account_id, "dynamodb", self._settings.hub_region), table)

    def backlog(self) -> BacklogQueue | None:
        url = self._settings.record_backlog_url
        if not url:
            return None
        return BacklogQueue(self._client(self._settings.hub_account_id, "sqs", self._settings.hub_region), url)

    def notifier(self, topic_arn: str) -> Notifier:
        from peering_autopilot.aws.sns import Notifier  # the optional topic: not at every cold start

        region = topic_arn.split(":")[3]
        return Notifier(self._client(self._settings.hub_account_id, "sns", region), topic_arn)

    def _client(self, account_id: str, service: str, region: str) -> Any:
        account = self._account(account_id)
        key = (service, region)
        with account.lock:
            if key not in account.clients:
                account.clients[key] = account.session.client(service, region_name=region, config=BOTO_CONFIG)  # type: ignore[call-overload]
            return account.clients[key]

    def _account(self, account_id: str) -> _Account:
        if account_id == self._settings.hub_account_id:
            return self._base
        with self._assuming_lock:
            lock = self._assuming.setdefault(account_id, threading.Lock())
        with lock:
            return self._member(account_id)

    def _member(self, account_id: str) -> _Account:
        """The member account's session: cached, else from assuming the member role (under the
        account's own lock)."""
        cached = self._members.get(account_id)
        if cached and cached.expires_at - _CREDENTIAL_MARGIN_SECONDS > self._clock():
            return cached
        role_arn = self._settings.member_role_arn(account_id, self.partition(self._settings.hub_region))
        sts = self._client(self._settings.hub_account_id, "sts", self._settings.hub_region)
        session, expires_at = _assume(sts, role_arn, MEMBER_SESSION_NAME, account_id, f"account {account_id}")
        self._members[account_id] = _Account(session, expires_at)
        return self._members[account_id]


def _assume(
    sts: Any, role_arn: str, session_name: str, account_id: str, where: str = "", region: str | None = None
) -> tuple[boto3.Session, float]:
    """A session on `role_arn` and when its credentials expire; RoleAssumptionError if refused."""
    with translated("sts", where):
        try:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        except ClientError as e:
            raise RoleAssumptionError(
                account_id=account_id,
                role_arn=role_arn,
                reason=f"{error_code(e)}: {error_message(e)}",
                code=error_code(e),
            ) from e
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
    return session, creds["Expiration"].timestamp()


# Organizations answers in one region per partition.
_ORGANIZATIONS_REGIONS = {"aws": ORGANIZATIONS_REGION, "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-northwest-1"}


@functools.cache
def _partition_of(region: str) -> str:
    return str(botocore.session.get_session().get_partition_for_region(region))


def operator_session(region: str | None = None, profile: str | None = None) -> boto3.Session:
    """The operator's own credentials (AWS_PROFILE, the environment, or the named profile), for the
    command line."""
    with translated("sts"):
        return boto3.Session(region_name=region, profile_name=profile)


# What AWS answers when the caller's credentials, not its permissions, are at fault.
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
UNRECOGNIZED_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)


def credentials_problem(error: BaseException, profile_source: str = "AWS_PROFILE") -> str | None:
    """One line saying what is wrong with the operator's credentials, when that is why `error` (or
    any exception it was raised from) happened; None when the credentials are not the cause.
    `profile_source` says where the profile's name came from (`--profile` or `AWS_PROFILE`)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ProfileNotFound):
            profile = current.kwargs.get("profile", "")
            return (
                f"the AWS profile {profile!r} ({profile_source}) is not in your AWS config files: "
                "`aws configure list-profiles` lists those there are"
            )
        if isinstance(current, NoCredentialsError | PartialCredentialsError):
            return (
                "no AWS credentials found: pass --profile or set AWS_PROFILE "
                "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            )
        if isinstance(current, UnauthorizedSSOTokenError | SSOTokenLoadError | TokenRetrievalError):
            return (
                f"your AWS SSO session has expired or was never started: run `aws sso login` and try again ({current})"
            )
        code = error_code(current) if isinstance(current, ClientError) else getattr(current, "code", "")
        code = code if isinstance(code, str) else ""
        if code in EXPIRED_CODES:
            return (
                f"your AWS credentials have expired ({code}): renew them (`aws sso login`, or new keys) and try again"
            )
        if code in UNRECOGNIZED_CODES:
            return f"AWS does not recognise your credentials ({code}): check the access key, or the profile, you use"
        current = current.__cause__ or current.__context__
    return None


def caller_account(session: boto3.Session) -> str:
    """The account the session's credentials belong to."""
    with translated("sts"):
        return str(session.client("sts", config=BOTO_CONFIG).get_caller_identity()["Account"])


def assumed_session(
    session: boto3.Session, role_arn: str, session_name: str = "peering-autopilot-cli"
) -> boto3.Session:
    """A session on a role the operator assumes (the hub's record reader role, for the command
    line), in the same region."""
    sts = session.client("sts", config=BOTO_CONFIG)
    account_id = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    return _assume(sts, role_arn, session_name, account_id, region=session.region_name)[0]


def record_reader(session: boto3.Session, table: str) -> RecordStore:
    """The record table, read with `session` (the operator's, or the reader role's)."""
    with translated("dynamodb"):
        return RecordStore(session.client("dynamodb", config=BOTO_CONFIG), table)


def parameter_store(session: boto3.Session) -> ParameterStore:
    """Parameter Store in the session's account and region (`policy deploy`, `policy explain`)."""
    region = session.region_name or ""
    with translated("ssm"):
        return ParameterStore(session.client("ssm", config=BOTO_CONFIG), f"region {region}")


def organizations_reader(session: boto3.Session, role_arn: str | None = None) -> OrganizationsGateway:
    """AWS Organizations read with `session` (the operator's: the management account or a delegated
    administrator), or with a role it assumes (the hub's OrganizationsReadRoleArn), for the
    command line."""
    if role_arn:
        session = assumed_session(session, role_arn)
    region = _ORGANIZATIONS_REGIONS.get(
        _partition_of(session.region_name or ORGANIZATIONS_REGION), ORGANIZATIONS_REGION
    )
    from peering_autopilot.aws.organizations import OrganizationsGateway  # as AwsAccess.organizations: on use

    with translated("organizations"):
        return OrganizationsGateway(session.client("organizations", region_name=region, config=BOTO_CONFIG))
