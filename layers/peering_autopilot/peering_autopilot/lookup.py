"""Reading a peering right after it changed: EC2 is eventually consistent, so a peering may be
unknown, or still `provisioning`, for a few seconds."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.errors import PeeringNotFoundError
from peering_autopilot.model import Peering

logger = logging.getLogger(__name__)

BACKOFF_SECONDS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)


def read_peering(
    ec2: Ec2Gateway,
    peering_id: str,
    sleep: Callable[[float], None],
    backoff: Sequence[float] | None = None,
    until: Callable[[Peering], bool] = lambda _: True,
) -> Peering:
    """The peering as `ec2`'s account sees it, re-read with backoff while it is not visible or
    `until` does not hold yet. Not visible after the last try: PeeringNotFoundError. `until` still
    false after the last try: the last state read is returned, for the caller to judge."""
    delays = BACKOFF_SECONDS if backoff is None else backoff  # read at call time: one place to change
    peering: Peering | None = None
    for delay in (*delays, None):
        peering = ec2.find_peering(peering_id)
        if peering is not None and until(peering):
            return peering
        if delay is None:
            break
        waiting_for = "to become visible" if peering is None else f"(status {peering.status})"
        logger.info("peering %s: waiting %s, retrying in %.1fs", peering_id, waiting_for, delay)
        sleep(delay)
    if peering is None:
        raise PeeringNotFoundError(peering_id=peering_id, account_id=ec2.account_id, region=ec2.region)
    return peering
