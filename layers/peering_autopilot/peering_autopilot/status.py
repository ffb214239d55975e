"""The peering tag `peering-autopilot:status`: where the automation stands for a peering.

A peering's tags exist only in the account and region that wrote them, so each managed side keeps
its own; a value is written only when it changes.
"""

from __future__ import annotations

from collections.abc import Callable

from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.model import HELD, STATUS_TAG, VERIFIED, Peering

__all__ = ["HELD", "VERIFIED"]  # the status values the judge reads live in the model

CONFIGURED = "configured"
PARTIALLY_CONFIGURED = "partially-configured"
NOT_ACTIVE = "unverified:not-active"  # the probe's verdict on a peering not active yet: never tagged


def is_verdict(value: str) -> bool:
    """A value the probe (or a hold) wrote: it judged the configuration that is there."""
    return value == VERIFIED or value.startswith(("blocked:", "unverified:", HELD))


def peering_seen_by(ec2: Ec2Gateway, peering: Peering, read_in: tuple[str, str]) -> Peering | None:
    """The peering as `ec2`'s account sees it (its tags are that account's own): the peering
    already read when it was read there (`read_in` is its account and region), else one more read.
    None when that account does not see the peering."""
    return peering if (ec2.account_id, ec2.region) == read_in else ec2.find_peering(peering.peering_id)


def status_seen_by(ec2: Ec2Gateway, peering: Peering, read_in: tuple[str, str]) -> str | None:
    """The status tag as `ec2`'s account sees the peering; None when it does not see it."""
    return status_of(peering_seen_by(ec2, peering, read_in))


def status_of(view: Peering | None) -> str | None:
    """The status tag a side's view of the peering holds ("" for none); None where that account
    does not see the peering."""
    return None if view is None else view.tags.get(STATUS_TAG, "")


def retag(ec2: Ec2Gateway, peering_id: str, current: str | None, value: str) -> None:
    """Tag `value` where the peering is seen (`current` is not None) and holds something else."""
    if current is not None and current != value:
        ec2.tag(peering_id, {STATUS_TAG: value})


def write_status(
    ec2: Ec2Gateway,
    peering: Peering,
    read_in: tuple[str, str],
    value: str,
    keep: Callable[[str], bool] = lambda current: False,
) -> None:
    """Tag `value` in `ec2`'s account unless it is there already, the account does not see the
    peering, or `keep(current)` says the current value stands."""
    current = status_seen_by(ec2, peering, read_in)
    if current is not None and keep(current):
        return
    retag(ec2, peering.peering_id, current, value)
