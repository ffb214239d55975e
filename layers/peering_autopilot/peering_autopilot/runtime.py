"""What every function builds once per container: settings (validated), AWS access, publisher."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.settings import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    aws: AwsAccess
    publisher: EventPublisher


@cache
def runtime() -> Runtime:
    """Built on the first invocation, not at import, so a bad setting fails with a clear error
    in the function's log and importing the module never calls AWS."""
    settings = Settings.from_env(os.environ)
    aws = AwsAccess(settings)
    return Runtime(settings=settings, aws=aws, publisher=aws.publisher())
