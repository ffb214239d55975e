"""After a peering ends (deleted, rejected, expired, failed): remove, on each managed side, the
routes that target it and the security-group rules the autopilot added for it. A rule is the
autopilot's when its description names the peering; every other rule stays."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peering_autopilot.aws import AwsAccess, Ec2Gateway, EventPublisher, actions_of
from peering_autopilot.configure import Side, open_side
from peering_autopilot.hints import PeeringHint
from peering_autopilot.model import ENDED_STATES
from peering_autopilot.security_groups import rule_description
from peering_autopilot.settings import Settings

DETAIL_TYPE = "Peering Cleaned Up"
IAM_ACTIONS = actions_of(
    AwsAccess.session_for,
    Ec2Gateway.find_peering,
    Ec2Gateway.get_vpc,
    Ec2Gateway.opted_in_vpcs,
    Ec2Gateway.route_tables,
    Ec2Gateway.route_tables_of,
    Ec2Gateway.allow_tagged_groups_of,
    Ec2Gateway.delete_route,
    Ec2Gateway.revoke_ingress,
    EventPublisher.publish,
)


@dataclass
class SideCleanup:
    side: Side
    routes_removed: list[dict[str, str]] = field(default_factory=list)
    rules_removed: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "role": self.side.role,
            "accountId": self.side.info.account_id,
            "region": self.side.info.region,
            "vpcId": self.side.info.vpc_id,
            "managed": self.side.not_managed is None,
            "notManagedReason": self.side.not_managed,
            "routesRemoved": self.routes_removed,
            "rulesRemoved": self.rules_removed,
        }


@dataclass(frozen=True)
class CleanupResult:
    peering_id: str
    outcome: str  # cleaned-up, nothing-to-clean, or skipped
    explanation: str
    detail: dict[str, Any]


def clean_up_peering(hint: PeeringHint, settings: Settings, aws: AwsAccess, publisher: EventPublisher) -> CleanupResult:
    if not (settings.is_managed_account(hint.account_id) and settings.is_managed_region(hint.region)):
        return CleanupResult(hint.peering_id, "skipped", f"{hint.account_id}/{hint.region} is not managed", {})
    ec2 = aws.ec2(hint.account_id, hint.region)
    peering = ec2.find_peering(hint.peering_id)
    if peering is None:
        return _clean_forgotten(hint, ec2, settings, publisher)
    if peering.status not in ENDED_STATES:
        return CleanupResult(peering.peering_id, "skipped", f"status is {peering.status}: nothing to clean up", {})

    reports = [
        _clean_side(open_side(role, info, settings, aws, ec2), peering.peering_id, settings.dry_run)
        for role, info in (("requester", peering.requester), ("accepter", peering.accepter))
    ]
    removed = sum(len(r.routes_removed) + len(r.rules_removed) for r in reports)
    outcome = "cleaned-up" if removed else "nothing-to-clean"
    detail = {
        "peeringId": peering.peering_id,
        "peeringStatus": peering.status,
        "outcome": outcome,
        "dryRun": settings.dry_run,
        "sides": [r.describe() for r in reports],
    }
    if removed:
        publisher.publish(DETAIL_TYPE, detail, resources=[peering.arn])
    words = "; ".join(
        f"{r.side.role} {r.side.info.vpc_id}: {len(r.routes_removed)} route(s), "
        f"{sum(len(g['rules']) for g in r.rules_removed)} rule(s) removed"
        if r.side.not_managed is None
        else f"{r.side.role} {r.side.info.vpc_id}: not managed ({r.side.not_managed})"
        for r in reports
    )
    return CleanupResult(peering.peering_id, outcome, words, detail)


def _clean_side(side: Side, peering_id: str, dry_run: bool) -> SideCleanup:
    report = SideCleanup(side)
    if side.not_managed is not None or side.ec2 is None:
        return report
    vpc_id = side.info.vpc_id
    tables, groups = side.ec2.route_tables(vpc_id), side.ec2.allow_tagged_groups_of([vpc_id])
    report.routes_removed, report.rules_removed = _remove(side.ec2, tables, groups, peering_id, dry_run)
    return report


def _clean_forgotten(
    hint: PeeringHint, ec2: Ec2Gateway, settings: Settings, publisher: EventPublisher
) -> CleanupResult:
    """A peering EC2 no longer lists (it shows ended ones for a while only): whatever still points
    at it in this account and region's opted-in VPCs is removed; nothing else is known of it."""
    vpcs = ec2.opted_in_vpcs()
    tables, groups = ec2.route_tables_of(vpcs), ec2.allow_tagged_groups_of(vpcs)
    routes, rules = _remove(ec2, tables, groups, hint.peering_id, settings.dry_run)
    if not (routes or rules):
        return CleanupResult(
            hint.peering_id, "nothing-to-clean", f"{hint.peering_id} is gone and left nothing here", {}
        )
    detail = {
        "peeringId": hint.peering_id,
        "peeringStatus": "gone",
        "outcome": "cleaned-up",
        "dryRun": settings.dry_run,
        "sides": [
            {
                "role": "unknown",
                "accountId": hint.account_id,
                "region": hint.region,
                "vpcId": None,
                "managed": True,
                "notManagedReason": None,
                "routesRemoved": routes,
                "rulesRemoved": rules,
            }
        ],
    }
    publisher.publish(DETAIL_TYPE, detail)
    words = f"{hint.account_id}/{hint.region}: {len(routes)} route(s), {sum(len(g['rules']) for g in rules)} rule(s) removed"
    return CleanupResult(hint.peering_id, "cleaned-up", words, detail)


def _remove(
    ec2: Ec2Gateway, tables: list[dict[str, Any]], groups: list[dict[str, Any]], peering_id: str, dry_run: bool
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Delete the routes through the peering and revoke the autopilot's rules for it."""
    routes: list[dict[str, str]] = []
    rules: list[dict[str, Any]] = []
    for table in tables:
        for route in table.get("Routes", []):
            if route.get("VpcPeeringConnectionId") != peering_id:
                continue
            destination = str(route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock"))
            if not dry_run:
                ec2.delete_route(str(table["RouteTableId"]), destination)
            routes.append({"routeTableId": str(table["RouteTableId"]), "destination": destination})
    for group in groups:
        permissions = autopilot_permissions(group, peering_id)
        if not permissions:
            continue
        if not dry_run:
            ec2.revoke_ingress(str(group["GroupId"]), permissions)
        rules.append({"groupId": str(group["GroupId"]), "rules": describe_permissions(permissions)})
    return routes, rules


def autopilot_permissions(group: Mapping[str, Any], peering_id: str) -> list[dict[str, Any]]:
    """The group's ingress ranges that carry the autopilot's description for this peering, as
    the IpPermissions a revoke takes; ranges a person wrote are left out."""
    mark = rule_description(peering_id)
    permissions = []
    for permission in group.get("IpPermissions", []):
        v4 = [r for r in permission.get("IpRanges", []) if r.get("Description") == mark]
        v6 = [r for r in permission.get("Ipv6Ranges", []) if r.get("Description") == mark]
        if not (v4 or v6):
            continue
        kept: dict[str, Any] = {"IpProtocol": permission["IpProtocol"]}
        for key in ("FromPort", "ToPort"):
            if key in permission and permission["IpProtocol"] != "-1":
                kept[key] = permission[key]
        if v4:
            kept["IpRanges"] = [{"CidrIp": r["CidrIp"]} for r in v4]
        if v6:
            kept["Ipv6Ranges"] = [{"CidrIpv6": r["CidrIpv6"]} for r in v6]
        permissions.append(kept)
    return permissions


def describe_permissions(permissions: list[dict[str, Any]]) -> list[str]:
    words = []
    for p in permissions:
        ports = "" if p["IpProtocol"] in ("-1", "icmp", "icmpv6") else f":{p['FromPort']}-{p['ToPort']}"
        for r in p.get("IpRanges", []) + p.get("Ipv6Ranges", []):
            words.append(f"{p['IpProtocol']}{ports} from {r.get('CidrIp') or r.get('CidrIpv6')}")
    return words
