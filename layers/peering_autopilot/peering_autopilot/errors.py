"""Domain exceptions. Callers decide to retry or stop by class, never by message text.

Each error is raised with its facts as keywords (`account_id=…`, `code=…`): they become its
attributes, for callers to act on, and fill its message template.
"""

from __future__ import annotations


class AutopilotError(Exception):
    """Base class of every error the autopilot raises on purpose."""

    template = "{text}"

    def __init__(self, text: str = "", /, **facts: str) -> None:
        super().__init__(self.template.format(text=text, **facts))
        self.__dict__.update(facts)

    def __getattr__(self, name: str) -> str:
        """Only for the type checker: facts are set in __init__, anything else does not exist."""
        raise AttributeError(f"{type(self).__name__} has no fact {name!r}")


class InvalidEventError(AutopilotError):
    """The event cannot be acted on: malformed, of the wrong type or absurd. Never retried."""


class SettingsError(AutopilotError):
    """The function's configuration (environment) is invalid. Raised at cold start."""


class PeeringNotFoundError(AutopilotError):
    """The peering id is unknown in the account and region where it should live."""

    template = "peering {peering_id} not found in account {account_id} region {region}"


class VpcNotFoundError(AutopilotError):
    """A VPC named by a peering cannot be read in its owner's account."""

    template = "VPC {vpc_id} not found in account {account_id} region {region}"


class RoleAssumptionError(AutopilotError):
    """The hub could not assume the member role in a managed account."""

    template = "cannot assume role {role_arn} in account {account_id}: {reason}"


class ChangeRefusedError(AutopilotError):
    """EC2 refused one change to one resource (a quota reached, or a concurrent change). Reported
    with the resource and the code; the other resources are still configured."""

    template = "{code} on {resource_id}: {message}"


class AlreadyPresentError(ChangeRefusedError):
    """What the change would add is there already: another writer (a concurrent run, a sweep) got
    there first (RouteAlreadyExists, InvalidPermission.Duplicate). The goal is reached."""


class QuotaReachedError(ChangeRefusedError):
    """The resource is at its quota (RouteLimitExceeded, RulesPerSecurityGroupLimitExceeded): the
    same change fails the same way until someone makes room."""


class AwsCallError(AutopilotError):
    """An AWS call failed in a way the gateway has no domain meaning for. Not final: Lambda and
    EventBridge retry the event, and the next sweep comes back to it. Facts: service, operation,
    code, message, where (the account and region, when known)."""

    template = "{service} {operation} failed{where}: {code}: {message}"

    def __init__(self, **facts: str) -> None:
        where = facts.pop("where", "")
        super().__init__(where=f" in {where}" if where else "", **facts)
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

    template = "event bus {bus_name} refused {refused} {detail_type!r} event(s): {code}: {message}"


class RecordUnavailableError(AutopilotError):
    """The autopilot's record (its DynamoDB table, or the backlog queue) could not be read or
    written: nothing is removed on its word; additions go on and are recorded later."""

    template = "the record {table} is unavailable ({operation}): {reason}"


class RecordConflictError(AutopilotError):
    """A conditional write found the item other than expected: another writer got there first."""

    template = "{operation} on {table}: the item is not as expected (another writer)"


class PolicyUnavailableError(AutopilotError):
    """The network team's policy (parameter PolicyParameterName) cannot be read or does not
    validate. Final for the event: nothing is accepted, configured or joined on a guess, and
    nothing is changed; the step acts again once the document is fixed (the sweep comes back)."""

    template = "the policy {source} cannot be used, so nothing was done: {reason}"
