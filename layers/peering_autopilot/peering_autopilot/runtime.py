"""What every function builds once per container: settings (validated), AWS access, publisher."""

from __future__ import annotations

import os
from functools import cache

from peering_autopilot.context import Context
from peering_autopilot.settings import Settings


@cache
def runtime() -> Context:
    """Built on the first invocation, not at import, so a bad setting fails with a clear error
    in the function's log and importing the module never calls AWS."""
    return Context.of(Settings.from_env(os.environ))
