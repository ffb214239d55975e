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
