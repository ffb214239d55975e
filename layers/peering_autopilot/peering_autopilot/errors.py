"""Domain exceptions. Callers decide to retry or stop by class, never by message text."""

from __future__ import annotations


class AutopilotError(Exception):
    """Base class of every error the autopilot raises on purpose. Keyword arguments are the facts
    a caller may act on, kept as attributes (account_id, code, ...)."""

    def __init__(self, text: str, /, **facts: str) -> None:
        super().__init__(text)
        self.__dict__.update(facts)


class InvalidEventError(AutopilotError):
    """The event cannot be acted on: malformed, of the wrong type or absurd. Never retried."""


class SettingsError(AutopilotError):
    """The function's configuration (environment) is invalid. Raised at cold start."""


class PeeringNotFoundError(AutopilotError):
    """The peering id is unknown in the account and region where it should live."""

    peering_id: str
    account_id: str
    region: str

    def __init__(self, peering_id: str, account_id: str, region: str) -> None:
        message = f"peering {peering_id} not found in account {account_id} region {region}"
        super().__init__(message, peering_id=peering_id, account_id=account_id, region=region)


class VpcNotFoundError(AutopilotError):
    """A VPC named by a peering cannot be read in its owner's account."""

    vpc_id: str

    def __init__(self, vpc_id: str, account_id: str, region: str) -> None:
        super().__init__(f"VPC {vpc_id} not found in account {account_id} region {region}", vpc_id=vpc_id)


class RoleAssumptionError(AutopilotError):
    """The hub could not assume the member role in a managed account."""

    account_id: str
    role_arn: str
    reason: str

    def __init__(self, account_id: str, role_arn: str, reason: str) -> None:
        message = f"cannot assume role {role_arn} in account {account_id}: {reason}"
        super().__init__(message, account_id=account_id, role_arn=role_arn, reason=reason)


class ChangeRefusedError(AutopilotError):
    """EC2 refused one change to one resource (a quota reached, or a concurrent change). Reported
    with the resource and the code; the other resources are still configured."""

    code: str
    resource_id: str
    message: str

    def __init__(self, code: str, resource_id: str, message: str) -> None:
        super().__init__(f"{code} on {resource_id}: {message}", code=code, resource_id=resource_id, message=message)


class AwsCallError(AutopilotError):
    """An AWS call failed in a way the gateway has no domain meaning for. Not final: Lambda and
    EventBridge retry the event, and the next sweep comes back to it."""

    service: str
    operation: str
    code: str
    message: str
    where: str

    def __init__(self, service: str, operation: str, code: str, message: str, where: str = "") -> None:
        place = f" in {where}" if where else ""
        super().__init__(
            f"{service} {operation} failed{place}: {code}: {message}",
            service=service,
            operation=operation,
            code=code,
            message=message,
            where=where,
        )


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

    bus_name: str
    code: str

    def __init__(self, bus_name: str, detail_type: str, refused: int, code: str, message: str) -> None:
        message = f"event bus {bus_name} refused {refused} {detail_type!r} event(s): {code}: {message}"
        super().__init__(message, bus_name=bus_name, code=code)
