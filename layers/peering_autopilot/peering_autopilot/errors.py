"""Domain exceptions. Callers decide to retry or stop by class, never by message text."""

from __future__ import annotations


class AutopilotError(Exception):
    """Base class of every error the autopilot raises on purpose."""


class InvalidEventError(AutopilotError):
    """The event cannot be acted on: malformed, of the wrong type or absurd. Never retried."""


class SettingsError(AutopilotError):
    """The function's configuration (environment) is invalid. Raised at cold start."""


class PeeringNotFoundError(AutopilotError):
    """The peering id is unknown in the account and region where it should live."""

    def __init__(self, peering_id: str, account_id: str, region: str) -> None:
        super().__init__(f"peering {peering_id} not found in account {account_id} region {region}")
        self.peering_id = peering_id
        self.account_id = account_id
        self.region = region


class VpcNotFoundError(AutopilotError):
    """A VPC named by a peering cannot be read in its owner's account."""

    def __init__(self, vpc_id: str, account_id: str, region: str) -> None:
        super().__init__(f"VPC {vpc_id} not found in account {account_id} region {region}")
        self.vpc_id = vpc_id


class RoleAssumptionError(AutopilotError):
    """The hub could not assume the member role in a managed account."""

    def __init__(self, account_id: str, role_arn: str, reason: str) -> None:
        super().__init__(f"cannot assume role {role_arn} in account {account_id}: {reason}")
        self.account_id = account_id
        self.role_arn = role_arn
        self.reason = reason


class ChangeRefusedError(AutopilotError):
    """EC2 refused one change to one resource (a quota reached, or a concurrent change). Reported
    with the resource and the code; the other resources are still configured."""

    def __init__(self, code: str, resource_id: str, message: str) -> None:
        super().__init__(f"{code} on {resource_id}: {message}")
        self.code = code
        self.resource_id = resource_id
        self.message = message


class AwsCallError(AutopilotError):
    """An AWS call failed in a way the gateway has no domain meaning for. Not final: Lambda and
    EventBridge retry the event, and the next sweep comes back to it."""

    def __init__(self, service: str, operation: str, code: str, message: str, where: str = "") -> None:
        place = f" in {where}" if where else ""
        super().__init__(f"{service} {operation} failed{place}: {code}: {message}")
        self.service = service
        self.operation = operation
        self.code = code
        self.message = message
        self.where = where


class AccessDeniedError(AwsCallError):
    """AWS refused the caller in this account and region: IAM, an SCP, a region that is not
    enabled (UnauthorizedOperation, AccessDenied, AuthFailure, OptInRequired). Retrying the same
    call there fails alike; other accounts and regions say nothing about it."""


class ThrottledError(AwsCallError):
    """Still throttled after botocore's standard retries (RequestLimitExceeded, Throttling)."""


class AwsUnreachableError(AwsCallError):
    """No answer from AWS at all: no credentials, no network, an endpoint that does not answer."""


class PublishError(AutopilotError):
    """The hub's event bus refused one or more of the autopilot's own events."""

    def __init__(self, bus_name: str, detail_type: str, refused: int, code: str, message: str) -> None:
        super().__init__(f"event bus {bus_name} refused {refused} {detail_type!r} event(s): {code}: {message}")
        self.bus_name = bus_name
        self.code = code
