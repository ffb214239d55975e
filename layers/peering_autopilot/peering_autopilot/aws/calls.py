"""What every gateway shares: one botocore Config, and one translation of AWS errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from peering_autopilot import __version__
from peering_autopilot.errors import AccessDeniedError, AwsCallError, AwsUnreachableError, ThrottledError

# `standard` retries absorb throttling (RequestLimitExceeded) and transient faults with backoff.
BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    user_agent_extra=f"peering-autopilot/{__version__}",
)
ACCESS_DENIED = frozenset(
    {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "AuthFailure", "OptInRequired"}
)
THROTTLED = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException"})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


@contextlib.contextmanager
def translated(service: str, where: str = "") -> Iterator[None]:
    """Turn what botocore raises inside the block into the domain's named exceptions. `where` names
    the account and region, so a failure in one place says which place failed."""
    try:
        yield
    except ClientError as e:
        code = error_code(e)
        kind = AccessDeniedError if code in ACCESS_DENIED else ThrottledError if code in THROTTLED else AwsCallError
        raise kind(service=service, operation=e.operation_name, code=code, message=error_message(e), where=where) from e
    except BotoCoreError as e:
        raise AwsUnreachableError(
            service=service, operation="call", code=type(e).__name__, message=str(e), where=where
        ) from e
