"""A side of a peering, and whether the hub may act on it: the one set of rules every step uses.

A side is *readable* when its account is managed, its region is managed and the hub has a session
there (the member role could be assumed) and its VPC could be read. It is *managed* when it is
readable and its VPC's owner opted in (`peering-autopilot:enabled` = `true`). Steps change only
managed sides; the probe may read a readable side to explain a verdict, and tags only managed ones.
"""

from __future__ import annotations

from dataclasses import replace

from peering_autopilot.aws.ec2 import Ec2Gateway
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.errors import RoleAssumptionError, VpcNotFoundError
from peering_autopilot.model import ENABLED_TAG, Cidrs, Peering, PeeringSide, Vpc
from peering_autopilot.settings import Settings
from peering_autopilot.structs import struct
from peering_autopilot.triggers import PeeringHint


@struct
class Side:
    role: str  # "requester" or "accepter"
    info: PeeringSide
    ec2: Ec2Gateway | None = None
    vpc: Vpc | None = None
    not_managed: str | None = None  # why the hub may not act here; None when it may

    @property
    def readable(self) -> bool:
        return self.ec2 is not None and self.vpc is not None

    @property
    def managed(self) -> bool:
        return self.readable and self.not_managed is None

    @property
    def cidrs(self) -> Cidrs:
        """Its blocks as the peering reports them, completed by its VPC when the hub can read it
        (the peering's own list may lack secondary and IPv6 blocks)."""
        return self.info.cidrs.union(self.vpc.cidrs) if self.vpc else self.info.cidrs

    @property
    def label(self) -> str:
        return f"{self.role} {self.info.vpc_id}"

    def describe(self) -> dict[str, object]:
        """What every step's event says of the side."""
        return {
            "role": self.role,
            "accountId": self.info.account_id,
            "region": self.info.region,
            "vpcId": self.info.vpc_id,
            "managed": self.managed,
            "notManagedReason": self.not_managed,
        }


def managed_place(hint: PeeringHint, settings: Settings) -> PeeringHint | None:
    """The hint aimed at the first account and region it names that the hub manages: the event's
    own, else the peering's other side as the event describes it (`hint.elsewhere`). An unmanaged
    partner's accept, or a "Peering Configured" whose accepter is a partner, is then read from the
    hub's side. None when it names no managed place."""
    for account_id, region in ((hint.account_id, hint.region), *hint.elsewhere):
        if settings.is_managed_account(account_id) and settings.is_managed_region(region):
            return replace(hint, account_id=account_id, region=region)
    return None


def open_sides(peering: Peering, settings: Settings, aws: AwsAccess, known: Ec2Gateway) -> list[Side]:
    """Both sides of the peering, requester first. `known` is the gateway the peering was read
    with: reused for the side in its account and region."""
    return [open_side(role, info, settings, aws, known) for role, info in peering.sides()]


def open_side(role: str, info: PeeringSide, settings: Settings, aws: AwsAccess, known: Ec2Gateway) -> Side:
    side = Side(role, info)
    if not settings.is_managed_account(info.account_id):
        side.not_managed = f"account {info.account_id} is not managed by this hub"
        return side
    if not settings.is_managed_region(info.region):
        side.not_managed = f"region {info.region} is not in ManagedRegions"
        return side
    try:
        same = known.account_id == info.account_id and known.region == info.region
        side.ec2 = known if same else aws.ec2(info.account_id, info.region)
        side.vpc = side.ec2.get_vpc(info.vpc_id)
    except RoleAssumptionError as e:
        side.ec2 = None
        side.not_managed = f"the member role cannot be assumed: {e}"
        return side
    except VpcNotFoundError as e:
        side.not_managed = str(e)
        return side
    if not side.vpc.opted_in:
        side.not_managed = f"VPC {info.vpc_id} is not opted in ({ENABLED_TAG} is not 'true')"
    return side


def requester_blocks(peering: Peering, side: Side | None, settings: Settings) -> Cidrs | None:
    """The requester's blocks a decision is made on (accept, and configure's check of a person's
    approval): as its VPC holds them, read in its own account (secondary and IPv6 blocks matter for
    overlap and AWS only checks primaries); None when the hub manages that account but could not
    read the VPC (overlap cannot be ruled out). For a requester the hub does not manage, the
    peering's own list: what a person deciding is shown."""
    if not settings.is_managed_account(peering.requester.account_id):
        return peering.requester.cidrs
    if side is None or side.vpc is None:
        return None
    return side.cidrs
