"""Per side of an active peering, beyond routes and rules: remote DNS and a Name. Pure.

Remote DNS: a VPC tagged `peering-autopilot:dns` = `true` (exactly: a typo never opens anything)
lets its peers resolve its public DNS hostnames to private addresses: its own side's
AllowDnsResolutionFromRemoteVpc goes on, and the side's view of the peering is marked
`peering-autopilot:remote-dns:<requester|accepter>` = `on` (before the option is set). Without the
tag the option goes off again, but only where the mark says the autopilot turned it on: one a
person set, before or after the tag, is theirs and stays.

Name: a side's view of the peering without a `Name` tag gets `<this VPC's Name or id> <-> <peer
VPC's Name or id>`; a Name already there, a person's or an earlier one, is kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from peering_autopilot.model import DNS_TAG, NAME_TAG, REMOTE_DNS_TAG
from peering_autopilot.structs import NamedTuple

MARK = "on"
MAX_TAG_VALUE = 256


class DnsPlan(NamedTuple):
    asked: bool  # the VPC's tag asks for it
    current: bool | None  # the side's option as EC2 reports it (None: not reported)
    turn: bool | None  # what to set (True on, False off), None: nothing
    mark: bool | None  # True: set the mark, False: remove it, None: leave it
    note: str

    def describe(self) -> dict[str, object]:
        return {"asked": self.asked, "current": self.current, "set": self.turn, "note": self.note}


def dns_mark(role: str) -> str:
    """The tag that says the autopilot turned this side's (`role`'s) remote DNS on."""
    return f"{REMOTE_DNS_TAG}:{role}"


def plan_dns(vpc_tags: Mapping[str, str], current: bool | None, view_tags: Mapping[str, str], role: str) -> DnsPlan:
    """The mark is the autopilot's record that it turned the option on: written before it turns
    it on (a crash in between leaves a mark on an option still off, which the next run either
    turns on or clears), never on an option someone else turned on."""
    asked = vpc_tags.get(DNS_TAG) == "true"
    marked = view_tags.get(dns_mark(role)) == MARK
    if asked:
        if current and marked:
            return DnsPlan(asked, current, None, None, "on, as asked")
        if current:
            return DnsPlan(asked, current, None, None, "on already, set by someone else: left as theirs")
        return DnsPlan(asked, current, True, None if marked else True, "turned on: the VPC's owner asked")
    if current and marked:
        return DnsPlan(asked, current, False, False, f"turned off: {DNS_TAG} is no longer true")
    if current:
        return DnsPlan(asked, current, None, None, "on, set by someone else: left as it is")
    return DnsPlan(asked, current, None, False if marked else None, "off")


def peering_name(own: str, peer: str) -> str:
    """`own` and `peer`: each VPC's Name, else its id."""
    return f"{own} <-> {peer}"[:MAX_TAG_VALUE]


def vpc_label(vpc_tags: Mapping[str, str] | None, vpc_id: str) -> str:
    name = (vpc_tags or {}).get(NAME_TAG, "").strip()
    return name or vpc_id


def name_needed(view_tags: Mapping[str, str]) -> bool:
    return NAME_TAG not in view_tags
