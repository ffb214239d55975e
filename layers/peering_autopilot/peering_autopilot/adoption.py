"""Upgrading: adopt, once per account and region and conservatively, what a version of the
autopilot without a record made there. After the record exists, only what it holds is ever removed;
without adoption, the routes, rules and group peerings made before would count as a person's and
stay forever.

The sweep runs it for each place it reads in full, the first time it reads it: a marker item in the
record's `meta` partition (`adopted#<account>#<region>`, put only where its key is new) says the
place was adopted, so it happens once even with sweeps racing. A place whose reads fail is not
marked, nor one where the record or CloudTrail does not answer: the next sweep tries again. From
the place's one read (places.PlaceRead), and nothing else:

- a **route** only if it is exactly what configure creates: in a table it manages (the main table
  or a subnet's, not excluded by `peering-autopilot:routes`), through an active peering of an
  opted-in VPC of the place, to exactly one of the peer's blocks the judge routes (what
  `side_plan.plan_side` finds present: AllowedPeerCidrs, the overlap rule, the tables it manages). The peer's blocks come
  from the peering's own description: EC2 writes it from the peer VPC and no person can; a route to
  one of them is what configure would make from the same description, and taking it away later
  still needs the judge's proof from the peer's own account;
- a **rule** only if it carries the autopilot's description for that peering
  (`security_groups.rule_description`) and is one the judge finds present: asked for by the group's
  allow tag, from a peer block it wants (what configure authorizes);
- a **group peering** only if tagged `created-for-group` and CloudTrail's event history in the
  requester's account and region shows it was created by the connector role (the connect function's
  role in the hub, `<MemberRoleName>-connector` elsewhere), whose policy lets it create only
  peerings tagged so at creation. The history keeps 90 days: what it cannot prove is not adopted
  (a person's, reported).

Each adoption is recorded (how `adopted`), and each peering gets one `adopted` history entry with
what was adopted and on what evidence.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from peering_autopilot.aws.cloudtrail import TrailEvent
from peering_autopilot.context import Context
from peering_autopilot.errors import AutopilotError, RecordConflictError, RecordUnavailableError
from peering_autopilot.model import ACTIVE, CREATED_FOR_TAG, LIVE_STATES, Peering
from peering_autopilot.places import PlaceRead
from peering_autopilot.record import META, OwnedPeering, OwnedRoute, OwnedRule, PeeringRecord
from peering_autopilot.security_groups import own_rules
from peering_autopilot.settings import Ranges, Settings
from peering_autopilot.side_plan import SideFacts, plan_side
from peering_autopilot.structs import NamedTuple

ADOPTED = "adopted"  # the `how` of an adopted ownership item, and the history entry's kind
MARKER = "adopted#"


class Found(NamedTuple):
    """What one place holds of one peering that the autopilot would have made."""

    peering_id: str
    routes: tuple[OwnedRoute, ...] = ()
    rules: tuple[OwnedRule, ...] = ()
    group: OwnedPeering | None = None  # a group peering to prove through CloudTrail


def marker_key(account_id: str, region: str) -> str:
    return f"{MARKER}{account_id}#{region}"


def marker_item(account_id: str, region: str, at: str, counts: Mapping[str, int]) -> dict[str, Any]:
    return {"pk": META, "sk": marker_key(account_id, region), "kind": "adoption", "at": at, **counts}


# ------------------------------------------------------------------------------- the rules (pure)
def adoptable(read: PlaceRead, peering: Peering, role: str, vpc_id: str, policy: Ranges) -> Found:
    """What one side of an active peering holds that configure would have made, asked of the judge
    configure executes (side_plan.plan_side, the peering's own description of the peer standing in
    for the peer's VPC): the routes it finds present, and the present rules that carry the marker."""
    tables, groups = read.tables.get(vpc_id, ()), read.groups.get(vpc_id, ())
    # `now` only decides whether a held addition may be retried: nothing here is added.
    plan = plan_side(SideFacts(role, peering, read.vpcs[vpc_id], tables, groups), policy, now=0.0)
    account_id, region, pid = read.account_id, read.region, peering.peering_id
    routes = tuple(OwnedRoute(account_id, region, r.route_table_id, r.destination) for r in plan.routes.present)
    by_id = {g.group_id: g for g in groups}
    rules = tuple(
        OwnedRule(account_id, region, g.group_id, rule)
        for g in sorted(plan.groups, key=lambda g: g.group_id)
        for rule in sorted(set(g.present) & own_rules(by_id[g.group_id], pid))
    )
    return Found(pid, routes, rules)


def group_candidate(peering: Peering, account_id: str, region: str) -> OwnedPeering | None:
    """A live peering tagged created-for-group whose requester is in this place: CloudTrail may prove it."""
    group = peering.tags.get(CREATED_FOR_TAG)
    requester = peering.requester
    if (
        not group
        or peering.status not in LIVE_STATES
        or (requester.account_id, requester.region) != (account_id, region)
    ):
        return None
    accepter = peering.accepter
    return OwnedPeering(
        group,
        f"{requester.account_id}/{requester.region}/{requester.vpc_id}",
        f"{accepter.account_id}/{accepter.region}/{accepter.vpc_id}",
    )


def candidates(read: PlaceRead, policy: Ranges) -> list[Found]:
    """Everything of the place the autopilot would have made, by peering (nothing proven yet)."""
    found = []
    for peering in read.peerings:
        pid = peering.peering_id
        routes: list[OwnedRoute] = []
        rules: list[OwnedRule] = []
        if peering.status == ACTIVE:
            for role, side in peering.sides():
                if (side.account_id, side.region) != read.place or side.vpc_id not in read.vpcs:
                    continue
                side_found = adoptable(read, peering, role, side.vpc_id, policy)
                routes += side_found.routes
                rules += side_found.rules
        group = group_candidate(peering, read.account_id, read.region)
        if routes or rules or group:
            found.append(Found(pid, tuple(dict.fromkeys(routes)), tuple(dict.fromkeys(rules)), group))
    return found


def connector_creation(events: Iterable[TrailEvent], settings: Settings) -> TrailEvent | None:
    """The successful CreateVpcPeeringConnection made by the connector role, if the history has it."""
    return next(
        (
            e
            for e in events
            if e.event_name == "CreateVpcPeeringConnection"
            and not e.error_code
            and settings.is_connector_role(e.issuer_arn)
        ),
        None,
    )


def not_held(found: Found, record: PeeringRecord) -> Found:
    """What the record does not hold yet (intents included: configure is making them)."""
    peering = found.group if found.group and record.peering is None else None
    return found._replace(
        routes=tuple(r for r in found.routes if r not in record.routes),
        rules=tuple(r for r in found.rules if r not in record.rules),
        group=peering,
    )


# ------------------------------------------------------------------------------- the sweep's part
class Adoption:
    """One sweep's adoption: `place()` for each place read in full, `finish()` once every place
    was: the history entries (one per peering), and the counts for the sweep's report."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.recorder = ctx.recorder  # made here, once: the places run in threads
        self._lock = threading.Lock()
        self._marked: frozenset[str] | None = None
        self._unreadable = False
        self._adopted: dict[str, dict[str, Any]] = {}  # peering id -> what was adopted, on what evidence
        self.unproven: list[str] = []  # group-tagged peerings CloudTrail does not show the connector made
        self.problems: list[str] = []
        self.places = 0

    def _markers(self) -> frozenset[str] | None:
        store = self.ctx.aws.record_store()
        with self._lock:
            if self._marked is None and store is not None and not self._unreadable:
                try:
                    self._marked = frozenset(str(i.get("sk")) for i in store.items(META))
                except RecordUnavailableError as e:
                    self.problems.append(f"adoption waits: the record cannot be read ({e})")
                    self._unreadable = True
            return self._marked

    def place(self, read: PlaceRead) -> None:
        ctx = self.ctx
        store = ctx.aws.record_store()
        if store is None or ctx.settings.dry_run:
            return
        marked = self._markers()
        key = marker_key(read.account_id, read.region)
        if marked is None or key in marked:
            return
        where = f"{read.account_id}/{read.region}"
        recorder = self.recorder
        adopted: list[tuple[Found, TrailEvent | None]] = []
        unproven: list[str] = []
        for found in candidates(read, ctx.settings.peer_ranges):
            record = recorder.peering(found.peering_id)
            if record.unreadable:
                self._problem(f"adoption in {where} waits: the record cannot be read ({record.unreadable})")
                return
            found = not_held(found, record)
            proof = None
            if found.group is not None:
                try:
                    events = ctx.aws.trail(read.account_id, read.region).creations(found.peering_id)
                except AutopilotError as e:
                    self._problem(f"adoption in {where} waits: CloudTrail's history cannot be read ({e})")
                    return
                proof = connector_creation(events, ctx.settings)
                if proof is None:
                    unproven.append(found.peering_id)
                    found = found._replace(group=None)
            if found.routes or found.rules or found.group:
                adopted.append((found, proof))
        for found, _ in adopted:
            if found.routes or found.rules:
                recorder.confirm(found.peering_id, found.routes, found.rules, how=ADOPTED)
            if found.group is not None:
                recorder.own_peering(found.peering_id, found.group, how=ADOPTED)
        counts = {
            "routes": sum(len(f.routes) for f, _ in adopted),
            "rules": sum(len(f.rules) for f, _ in adopted),
            "peerings": sum(1 for f, _ in adopted if f.group),
        }
        try:
            store.put_new(marker_item(read.account_id, read.region, recorder.now(), counts))
        except RecordConflictError:
            return  # another sweep adopted this place: its history says so
        except RecordUnavailableError as e:
            self._problem(f"adoption in {where} is not marked done ({e}): the next sweep looks again")
            return
        with self._lock:
            self.places += 1
            self.unproven += unproven
            for found, proof in adopted:
                self._note(found, proof, read, ctx.settings.peer_ranges)
                if found.peering_id in unproven:
                    self._adopted[found.peering_id]["peeringNotAdopted"] = (
                        f"tagged {CREATED_FOR_TAG}, but CloudTrail's history in {where} shows no creation by the "
                        "connector role: a person's"
                    )

    def _note(self, found: Found, proof: TrailEvent | None, read: PlaceRead, policy: Ranges) -> None:
        entry = self._adopted.setdefault(found.peering_id, {"routes": [], "rules": [], "places": []})
        entry["places"].append(f"{read.account_id}/{read.region}")
        entry["routes"] += [
            {"account": r.account_id, "region": r.region, "table": r.route_table_id, "destination": r.destination}
            for r in found.routes
        ]
        entry["rules"] += [
            {"account": r.account_id, "region": r.region, "group": r.group_id, "rule": str(r.rule)} for r in found.rules
        ]
        entry["allowedPeerCidrs"] = policy.of(read.account_id).describe()
        if found.group is not None and proof is not None:
            entry["peering"] = {
                "group": found.group.group,
                "requester": found.group.requester,
                "accepter": found.group.accepter,
                "cloudTrailEventId": proof.event_id,
                "createdAt": proof.event_time,
                "createdBy": proof.issuer_arn,
            }

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def finish(self) -> dict[str, Any]:
        """One `adopted` history entry per peering; the counts for the sweep's report."""
        recorder = self.recorder
        for peering_id, evidence in sorted(self._adopted.items()):
            parts = [f"{len(evidence['routes'])} route(s)", f"{len(evidence['rules'])} rule(s)"]
            if "peering" in evidence:
                parts.append(f"the peering (group {evidence['peering']['group']!r}, created by the connector role)")
            evidence["evidence"] = (
                "routes: exactly what configure creates (managed table, through this active peering, to a peer "
                "block the judge routes); rules: the autopilot's description and asked for by the allow tag; "
                "the peering: CloudTrail's CreateVpcPeeringConnection by the connector role"
            )
            recorder.log(peering_id, ADOPTED, "adopted from an earlier version: " + ", ".join(parts), evidence)
        described: dict[str, Any] = {
            "places": self.places,
            "peerings": len(self._adopted),
            "routes": sum(len(e["routes"]) for e in self._adopted.values()),
            "rules": sum(len(e["rules"]) for e in self._adopted.values()),
            "groupPeerings": sum(1 for e in self._adopted.values() if "peering" in e),
        }
        if self.unproven:
            described["notProven"] = sorted(self.unproven)
        if self.problems:
            described["problems"] = list(self.problems)
        return described
