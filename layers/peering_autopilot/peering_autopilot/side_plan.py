"""The one judge of a side: everything due on one side of one peering, and why. Pure.

Its values are NamedTuples (immutable, compared by value, and far cheaper to define than frozen
dataclasses: every handler pays for the definitions at cold start).

Configure executes the plan; the sweep asks it whether there is work; the status command renders
it; verify asks it which tables must route which blocks and which subnets the owner kept out. Each
fact has one rule, here or in the planner it calls:
- the blocks the peer is proven to hold: only its VPC as read in its own account proves them; the
  peering's own description of the peer is enough to route to, never to take a route away;
- the tables the owner excluded: `peering-autopilot:routes` with any value but `true`, any case
  (`routes.excluded_by_owner`), and the subnets behind them (`kept_out_subnets`);
- the remote-DNS option that is the autopilot's to turn off: only one it turned on itself
  (`side_options.plan_dns`, by the mark written before it turned it on);
- what a quota refusal holds back (`holds`): not work until the hold ends;
- what the budgets hold back (`budgets`: a table or a group that would pass its quota less the
  headroom, a peering over a cap): not work, `held:quota`, until room is made or a cap raised;
- what is the autopilot's to remove: only what its own record holds (`SideFacts.owned`, read
  from the record table; `settle_intents` resolves an intent a crash left). A route through the
  peering or a marked rule the record does not hold is a person's, and stays; when the record
  could not be read, nothing is removed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from peering_autopilot import budgets
from peering_autopilot.budgets import NOT_HELD, QUOTA, Budget
from peering_autopilot.decision import retry_state
from peering_autopilot.holds import Hold, holding, holds_in, sizes_of
from peering_autopilot.model import (
    ACCEPTER,
    ACTIVE,
    HELD,
    REQUESTER,
    STATUS_TAG,
    VERIFIED,
    Peering,
    PeeringSide,
    QuotaRead,
    RouteTable,
    SecurityGroup,
    Vpc,
)
from peering_autopilot.record import NOT_READ, Owned, OwnedRoute, OwnedRule, PeeringRecord
from peering_autopilot.routes import (
    PEER_UNPROVEN,
    RefusedBlock,
    Route,
    RouteConflict,
    RoutePlan,
    blackholes_to_judge,
    excluded_by_owner,
    peer_destinations,
    plan_routes,
    routes_through,
)
from peering_autopilot.security_groups import GroupPlan, Rule, own_rules, plan_group
from peering_autopilot.settings import BudgetLimits, Ranges
from peering_autopilot.side_options import DnsPlan, name_needed, peering_name, plan_dns, vpc_label
from peering_autopilot.structs import NamedTuple

NOTHING = "nothing"


class SideFacts(NamedTuple):
    """What is known of one side of a peering: all the judge needs, none of it read by the judge."""

    role: str  # requester or accepter
    view: Peering  # the peering as this side's account sees it: its tags (status, holds, marks, Name)
    vpc: Vpc  # this side's VPC, read in its own account
    tables: Sequence[RouteTable]  # the VPC's route tables
    groups: Sequence[SecurityGroup]  # the VPC's security groups (all of them: an untagged one may hold our rules)
    peer_vpc: Vpc | None = None  # the peer's VPC read in its own account; None when it was not read
    owned: Owned = NOT_READ  # what the autopilot's record says it made on this side
    # Blackhole targets read as gone for good (ended, deleted): their routes claim nothing. None
    # when not read: every blackhole may come back, and its route still claims its range.
    gone: frozenset[str] | None = None
    # Service Quotas' applied values of this side's account and region, by quota code, as read;
    # None when not read: every quota counts its AWS default (`budgets`).
    quotas: Mapping[str, QuotaRead] | None = None

    @property
    def own(self) -> PeeringSide:
        return self.view.requester if self.role == REQUESTER else self.view.accepter

    @property
    def peer(self) -> PeeringSide:
        return self.view.accepter if self.role == REQUESTER else self.view.requester


class SidePlan(NamedTuple):
    """What is due on one side, what is held back, and what is left alone (in `routes` and
    `groups`: conflicts, skipped tables, routes not provably unwanted, rules kept for an unclear tag)."""

    facts: SideFacts
    routes: RoutePlan
    groups: tuple[GroupPlan, ...]
    refused_blocks: tuple[RefusedBlock, ...]  # peer blocks neither routed nor allowed, and why
    holds: Mapping[str, Hold]  # the holds this side's view carries, by resource id
    held: frozenset[str]  # resources whose additions wait for their hold to end
    dns: DnsPlan | None  # active peerings only
    name: str | None  # the Name this side's view of the peering lacks; None when it has one
    budget: Budget = NOT_HELD  # what the budgets hold back (`held:quota`)

    # ------------------------------------------------------------------ what is due
    @property
    def withheld(self) -> frozenset[str]:
        """The tables and groups nothing is added to: held after a quota refusal (`held`) or by
        the budgets (every one of them while the peer brings more blocks than MaxPeerBlocks)."""
        if self.budget.everything:
            return frozenset({r.route_table_id for r in self.routes.add} | {g.group_id for g in self.groups})
        return self.held | self.budget.held

    @property
    def route_additions(self) -> list[Route]:
        withheld = self.withheld
        return [r for r in self.routes.add if r.route_table_id not in withheld]

    @property
    def rule_additions(self) -> dict[str, list[Rule]]:
        withheld = self.withheld
        return {g.group_id: g.add for g in self.groups if g.add and g.group_id not in withheld}

    @property
    def rule_removals(self) -> dict[str, list[Rule]]:
        return {g.group_id: g.remove for g in self.groups if g.remove}

    @property
    def dns_due(self) -> bool:
        return self.dns is not None and (self.dns.turn is not None or self.dns.mark is not None)

    @property
    def route_changes(self) -> int:
        return len(self.route_additions) + len(self.routes.replace) + len(self.routes.remove)

    @property
    def rule_changes(self) -> int:
        return sum(len(r) for r in self.rule_additions.values()) + sum(len(r) for r in self.rule_removals.values())

    @property
    def held_changes(self) -> int:
        """Additions held back after a quota refusal (`holds`)."""
        held_routes = sum(1 for r in self.routes.add if r.route_table_id in self.held)
        return held_routes + sum(len(g.add) for g in self.groups if g.group_id in self.held)

    @property
    def budget_held_changes(self) -> int:
        """Additions the budgets hold back (beyond those held after a refusal)."""
        held, withheld = self.held, self.withheld
        routes = sum(1 for r in self.routes.add if r.route_table_id in withheld and r.route_table_id not in held)
        return routes + sum(len(g.add) for g in self.groups if g.group_id in withheld and g.group_id not in held)

    @property
    def removal_candidates(self) -> bool:
        """Whether anything through the peering (a route, a marked rule) is no longer wanted:
        whose it is, the record says."""
        return self.routes.removal_candidates or any(g.removal_candidates for g in self.groups)

    @property
    def record_unread(self) -> int:
        """Routes and rules left in place because the record could not be read."""
        unread = sum(1 for r in self.routes.left_alone if r.reason.startswith(RECORD_UNREAD))
        return unread + sum(len(g.unread) for g in self.groups)

    @property
    def persons_rules(self) -> int:
        return sum(len(g.persons) for g in self.groups)

    @property
    def has_work(self) -> bool:
        """Whether configure would change anything on this side."""
        return bool(self.route_changes or self.rule_changes or self.dns_due or self.name)

    # ------------------------------------------------------------------ what verify asks
    def missing_routes(self) -> dict[tuple[str, str], str]:
        """(table, block) -> why, for each managed table that does not route a wanted peer block
        through the peering though it may: none there (held back after a refusal, or not), or a
        blackhole whose target is gone for good. What a hold keeps back (routed elsewhere, a
        budget) is not missing: `held_routes()`, `held_budgets()` say it."""
        by_budget = self.withheld - self.held
        return {
            **{
                (r.route_table_id, r.destination): "no route"
                for r in self.routes.add
                if r.route_table_id not in by_budget
            },
            **{(r.route_table_id, r.destination): "blackhole" for r in self.routes.replace},
        }

    def held_routes(self) -> list[str]:
        """Each peer block held in a table because a live route there already sends (part of) it
        elsewhere, in words naming the table, the block, the route and its target."""
        return [held_words(c) for c in self.routes.conflicts]

    @property
    def held_code(self) -> str | None:
        """What the status tag says while something of this side is held for a person: `held:<code>`."""
        if self.routes.conflicts:
            return ROUTED_ELSEWHERE
        if self.budget.holds or self.held_changes:
            return QUOTA  # the budgets, or a refusal at the quota held (`holds`)
        return None

    def held_budgets(self) -> list[str]:
        """Each budget hold in words: the resource, the numbers (in use, to add, the limit and the
        quota, and where its value came from), or the cap passed."""
        return self.budget.words()

    @property
    def carries_nothing(self) -> bool:
        """Every peer block is held in every managed table of this side: the peering could carry
        nothing here (the accept step declines such a request)."""
        routes = self.routes
        return bool(routes.conflicts) and not (routes.add or routes.present or routes.replace)

    @property
    def traffic_elsewhere(self) -> bool:
        """Whether some of the peer's traffic does not go through the peering on this side: a
        block held, or a person's newer route sending a slice of a routed block elsewhere."""
        return bool(self.routes.conflicts or self.routes.path_changes)

    @property
    def side_finding(self) -> str | None:
        """What this side's own tables say, ahead of the probe's verdict, in the status tag's words:
        `held:<code>` while a block is held here, `blocked:routed-elsewhere` while a person's newer
        route takes a slice of a routed block; None when neither. Each side's tag carries its own
        (verify writes it per side), so each side can tell alone when it no longer stands."""
        if self.held_code:
            return f"{HELD}{self.held_code}"
        return BLOCKED_ROUTED_ELSEWHERE if self.routes.path_changes else None

    @property
    def reverify_due(self) -> bool:
        """The side's status tag no longer says what its tables say: tagged `verified` while its
        traffic partly goes elsewhere, or tagged with a hold or a path change that is gone (or
        another): verified again, never left standing."""
        tag = self.facts.view.tags.get(STATUS_TAG, "")
        if tag == VERIFIED:
            return self.side_finding is not None
        if tag.startswith(HELD) or tag == BLOCKED_ROUTED_ELSEWHERE:
            return tag != self.side_finding
        return False

    # ------------------------------------------------------------------ in words
    def summary(self) -> str:
        """What is due and what waits, in the status command's and the sweep's words."""
        vpc_id = self.facts.vpc.vpc_id
        due = counts((self.route_changes, "route"), (self.rule_changes, "rule"))
        parts = [f"{due} due in {vpc_id}"] if due else []
        if self.held_changes:
            parts.append(f"{plural(self.held_changes, 'change')} held back after a quota refusal")
        if self.routes.conflicts:
            parts.append(f"held ({ROUTED_ELSEWHERE}): " + "; ".join(self.held_routes()))
        if self.budget.holds:
            held = plural(self.budget_held_changes, "change")
            parts.append(f"{held} held ({QUOTA}): " + "; ".join(self.held_budgets()))
        if self.refused_blocks:
            parts.append(f"{plural(len(self.refused_blocks), 'peer block')} refused")
        if self.routes.path_changes:
            slices = ", ".join(sorted({p.destination for p in self.routes.path_changes}))
            parts.append(f"a person's route changes the path ({slices} not through the peering)")
        if self.record_unread:
            why = self.facts.owned.unreadable
            parts.append(f"{plural(self.record_unread, 'removal')} left alone: the record could not be read ({why})")
        if self.dns is not None and self.dns.turn is not None:
            parts.append(f"remote DNS {'on' if self.dns.turn else 'off'} due")
        elif self.dns_due:
            parts.append("remote DNS mark to clear")
        if self.name:
            parts.append("Name due")
        return "; ".join(parts) or NOTHING


RECORD_UNREAD = "the record could not be read"
ROUTED_ELSEWHERE = "routed-elsewhere"
BLOCKED_ROUTED_ELSEWHERE = f"blocked:{ROUTED_ELSEWHERE}"  # a person's newer route takes a slice


def held_words(conflict: RouteConflict) -> str:
    """One held block in words: the table, the block, and the route that already claims it."""
    return (
        f"{conflict.destination} in {conflict.route_table_id}: "
        f"{conflict.existing_destination} already goes to {conflict.existing_target}"
    )


def plan_side(
    facts: SideFacts,
    policy: Ranges,
    now: float,
    read_peer: Callable[[], Vpc | None] | None = None,
    read_owned: Callable[[], Owned] | None = None,
    read_gone: Callable[[set[tuple[str, str]]], frozenset[str]] | None = None,
    limits: BudgetLimits = budgets.DEFAULT_LIMITS,
    read_quota: Callable[[str], QuotaRead] | None = None,
) -> SidePlan:
    """Everything due on `facts`' side of a configurable peering (or a pending one, in a dry run).
    Where a route through the peering or a marked rule is not wanted and the record was not read,
    `read_owned` may read it (once): only what it holds is removed. Where such a route is the
    autopilot's and the peer's VPC was not read, `read_peer` may read it (once) for the proof;
    without either, the route is left alone, reported. Where a block is held and the table has a
    blackhole route whose target a read can prove gone, `read_gone` reads those targets (once): a
    route to a target gone for good claims nothing. Where an addition would pass a quota's AWS
    default less the headroom (`limits`), `read_quota` reads the applied value of that quota (once
    per code) in this side's account and region; without it, the default stands."""
    plan = _plan(facts, policy, now, limits)
    if facts.owned is NOT_READ and read_owned is not None and plan.removal_candidates:
        facts = facts._replace(owned=read_owned())
        plan = _plan(facts, policy, now, limits)
    if facts.gone is None and read_gone is not None and plan.routes.conflicts:
        judged = blackholes_to_judge(facts.tables)
        if judged:
            facts = facts._replace(gone=read_gone(judged))
            plan = _plan(facts, policy, now, limits)
    unproven = any(r.reason == PEER_UNPROVEN for r in plan.routes.left_alone)
    if facts.peer_vpc is None and unproven and read_peer is not None:
        peer_vpc = read_peer()
        if peer_vpc is not None:
            facts = facts._replace(peer_vpc=peer_vpc)
            plan = _plan(facts, policy, now, limits)
    if facts.quotas is None and read_quota is not None and plan.budget.to_read:
        facts = facts._replace(quotas={code: read_quota(code) for code in sorted(plan.budget.to_read)})
        plan = _plan(facts, policy, now, limits)
    return plan


def _plan(facts: SideFacts, policy: Ranges, now: float, limits: BudgetLimits = budgets.DEFAULT_LIMITS) -> SidePlan:
    own, peer, view = facts.own, facts.peer, facts.view
    own_cidrs = own.cidrs.union(facts.vpc.cidrs)
    peer_cidrs = peer.cidrs.union(facts.peer_vpc.cidrs) if facts.peer_vpc else peer.cidrs
    # IPv6 routes and rules only make sense when both VPCs speak IPv6.
    wanted, refused = peer_destinations(
        own_cidrs, peer_cidrs, policy.of(peer.account_id), bool(own_cidrs.ipv6 and peer_cidrs.ipv6)
    )
    pid = view.peering_id
    # Taking a route away needs proof the peer gave the block up: its VPC as its own account reads it.
    owned = facts.owned
    routes = plan_routes(
        facts.tables,
        wanted,
        pid,
        facts.peer_vpc.cidrs if facts.peer_vpc else None,
        None if owned.unreadable else owned.holds_route,
        owned.unreadable,
        facts.gone or frozenset(),
    )
    owns_rule = None if owned.unreadable else owned.holds_rule
    # A block held in every managed table of this side is not routed here at all: no group is
    # opened for it either (its range's traffic belongs to the route that claims it).
    routed = {r.destination for r in (*routes.add, *routes.present, *routes.replace)}
    held_everywhere = {c.destination for c in routes.conflicts} - routed
    allowed = [block for block in wanted if str(block) not in held_everywhere]
    groups = tuple(plan_group(group, allowed, pid, owns_rule, owned.unreadable) for group in facts.groups)
    holds = holds_in(view.tags)
    held = holding(holds, sizes_of(facts.tables, facts.groups), now)
    dns = plan_dns(facts.vpc.tags, own.remote_dns, view.tags, facts.role) if view.status == ACTIVE else None
    name = (
        peering_name(vpc_label(facts.vpc.tags, own.vpc_id), vpc_label(_tags(facts.peer_vpc), peer.vpc_id))
        if name_needed(view.tags)
        else None
    )
    budget = budgets.judge(
        facts.tables,
        [(r.route_table_id, _version(r.destination)) for r in routes.add if r.route_table_id not in held],
        facts.groups,
        {g.group_id: [_version(r.cidr) for r in g.add] for g in groups if g.add and g.group_id not in held},
        {g.group_id: [_version(r.cidr) for r in (*g.present, *g.add)] for g in groups if g.add},
        wanted,
        peer.vpc_id,
        limits,
        facts.quotas,
    )
    return SidePlan(facts, routes, groups, tuple(refused), holds, frozenset(held), dns, name, budget)


def _version(cidr: str) -> int:
    return 6 if ":" in cidr else 4


def _tags(vpc: Vpc | None) -> Mapping[str, str] | None:
    return vpc.tags if vpc else None


# ---------------------------------------------------------------------- a pending request
def acceptance_due(view: Peering, role: str, now: float, reconsider: bool = False) -> bool:
    """A pending request is the accept step's to decide on the accepter's side while it carries no
    status tag there (undecided), or once the back-off after a decline for a reason that may pass
    is over (`decision.retry_state`); any other decided one waits for a person, unless
    `reconsider` (its VPC just opted in) asks for a new decision."""
    if role != ACCEPTER:
        return False
    retry = retry_state(view.tags, now)
    return reconsider or STATUS_TAG not in view.tags or (retry is not None and retry.due)


def acceptance_summary(view: Peering, role: str, now: float) -> str:
    """A pending request in the status command's words, by the rule the sweep asks."""
    retry = retry_state(view.tags, now) if role == ACCEPTER else None
    if retry is not None:
        return retry.describe()
    return "acceptance due" if acceptance_due(view, role, now) else "awaiting acceptance"


# ---------------------------------------------------------------------- an ended peering
class Leftovers(NamedTuple):
    """What an ended peering left on one side: the routes through it and the marked rules for it
    that the record holds (clean-up removes these), and those it does not (a person's: kept).
    Routes in a table its owner kept out (`peering-autopilot:routes` not `true`) are never touched,
    whoever made them: the owner's word covers clean-up too (`kept_out`)."""

    routes: tuple[Route, ...]
    rules: tuple[tuple[str, tuple[Rule, ...]], ...]  # (group id, rules to revoke)
    persons_routes: tuple[Route, ...] = ()
    persons_rules: tuple[tuple[str, tuple[Rule, ...]], ...] = ()
    unreadable: str = ""  # the record could not be read: nothing is removed
    kept_out: tuple[Route, ...] = ()  # in tables the owner excluded: left, whatever the record says

    @property
    def rule_count(self) -> int:
        return sum(len(rules) for _, rules in self.rules)

    @property
    def kept_count(self) -> int:
        return len(self.persons_routes) + sum(len(rules) for _, rules in self.persons_rules)

    def __bool__(self) -> bool:
        return bool(self.routes or self.rules)

    def summary(self, vpc_id: str) -> str:
        left = counts((len(self.routes), "route"), (self.rule_count, "rule"))
        parts = [f"{left} to clean up in {vpc_id}"] if left else []
        if self.kept_count and self.unreadable:
            parts.append(f"{plural(self.kept_count, 'leftover')} left alone: {RECORD_UNREAD} ({self.unreadable})")
        elif self.kept_count:
            parts.append(f"{plural(self.kept_count, 'route or rule')} of a person's kept")
        if self.kept_out:
            parts.append(f"{plural(len(self.kept_out), 'route')} left in tables their owner kept out")
        return "; ".join(parts) or NOTHING


def leftovers(
    tables: Sequence[RouteTable],
    groups: Sequence[SecurityGroup],
    peering_id: str,
    owned: Owned = NOT_READ,
    read_owned: Callable[[], Owned] | None = None,
) -> Leftovers:
    """The clean-up due on one side once `peering_id` ended: what the record holds of the routes
    through it and the rules marked for it, never a route in a table its owner kept out
    (`routes.excluded_by_owner`, the rule configure obeys). `read_owned` reads the record (once)
    only when there is something to ask it about; unread or unreadable, nothing is the autopilot's."""
    kept_out_tables = {t.route_table_id for t in tables if excluded_by_owner(t.tags)}
    every = routes_through(tables, peering_id)
    kept_out = tuple(r for r in every if r.route_table_id in kept_out_tables)
    through = [r for r in every if r.route_table_id not in kept_out_tables]
    marked = [(g.group_id, sorted(own_rules(g, peering_id))) for g in groups]
    marked = [(group_id, rules) for group_id, rules in marked if rules]
    if (through or marked) and owned is NOT_READ and read_owned is not None:
        owned = read_owned()
    if owned.unreadable:
        rules_kept = tuple((g, tuple(r)) for g, r in marked)
        return Leftovers((), (), tuple(through), rules_kept, owned.unreadable, kept_out)
    routes = tuple(r for r in through if owned.holds_route(r.route_table_id, r.destination))
    persons = tuple(r for r in through if not owned.holds_route(r.route_table_id, r.destination))
    rules = tuple((g, tuple(r for r in rs if owned.holds_rule(g, r))) for g, rs in marked)
    kept = tuple((g, tuple(r for r in rs if not owned.holds_rule(g, r))) for g, rs in marked)
    return Leftovers(routes, tuple(x for x in rules if x[1]), persons, tuple(x for x in kept if x[1]), "", kept_out)


# ---------------------------------------------------------------------- an intent a crash left
class Settled(NamedTuple):
    """Intents of one side resolved against what EC2 shows: made exactly as intended (a route
    through the peering, a rule with the marker) are confirmed, the others released."""

    confirm_routes: tuple[OwnedRoute, ...] = ()
    confirm_rules: tuple[OwnedRule, ...] = ()
    release_routes: tuple[OwnedRoute, ...] = ()
    release_rules: tuple[OwnedRule, ...] = ()

    def __bool__(self) -> bool:
        return any(self)

    def owned(self, owned: Owned) -> Owned:
        """`owned` with the confirmed intents counted as the autopilot's."""
        if owned.unreadable or not (self.confirm_routes or self.confirm_rules):
            return owned
        return owned._replace(
            routes=owned.routes | {(r.route_table_id, r.destination) for r in self.confirm_routes},
            rules=owned.rules | {(r.group_id, r.rule) for r in self.confirm_rules},
        )


def settle_intents(
    record: PeeringRecord,
    account_id: str,
    region: str,
    tables: Sequence[RouteTable],
    groups: Sequence[SecurityGroup],
) -> Settled:
    """The record's intents on this side (account, region; the tables and groups given, as one
    side of a peering within one place holds its own VPC's only) resolved against EC2."""
    if record.unreadable:
        return Settled()
    pid = record.peering_id
    table_ids, group_ids = {t.route_table_id for t in tables}, {g.group_id for g in groups}
    made_routes = {(r.route_table_id, r.destination) for r in routes_through(tables, pid)}
    made_rules = {(g.group_id, rule) for g in groups for rule in own_rules(g, pid)}
    confirm_routes: list[OwnedRoute] = []
    release_routes: list[OwnedRoute] = []
    confirm_rules: list[OwnedRule] = []
    release_rules: list[OwnedRule] = []
    for intent in record.intents():
        if (intent.account_id, intent.region) != (account_id, region):
            continue
        if isinstance(intent, OwnedRoute) and intent.route_table_id in table_ids:
            made = (intent.route_table_id, intent.destination) in made_routes
            (confirm_routes if made else release_routes).append(intent)
        elif isinstance(intent, OwnedRule) and intent.group_id in group_ids:
            made = (intent.group_id, intent.rule) in made_rules
            (confirm_rules if made else release_rules).append(intent)
    return Settled(tuple(confirm_routes), tuple(confirm_rules), tuple(release_routes), tuple(release_rules))


# ---------------------------------------------------------------------- the probe's paths
class KeptOut:
    """The subnets whose route table its owner excluded from peering routes: no path the autopilot
    configures leads there, so the probe never starts or ends in them. A subnet without an explicit
    association uses the main table."""

    __slots__ = ("explicit", "main_excluded")

    def __init__(self, explicit: Mapping[str, bool], main_excluded: bool) -> None:
        self.explicit = explicit  # subnet id -> its table is excluded
        self.main_excluded = main_excluded

    def __contains__(self, subnet_id: object) -> bool:
        return self.explicit.get(str(subnet_id), self.main_excluded)


def kept_out_subnets(tables: Sequence[RouteTable]) -> KeptOut:
    explicit: dict[str, bool] = {}
    main_excluded = False
    for table in tables:
        excluded = excluded_by_owner(table.tags)
        for association in table.associations:
            if association.main:
                main_excluded = main_excluded or excluded
            elif association.subnet_id:
                explicit[association.subnet_id] = excluded
    return KeptOut(explicit, main_excluded)


# ---------------------------------------------------------------------- words
def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def counts(*counted: tuple[int, str]) -> str:
    """`2 routes, 1 rule`: the counts that are not zero."""
    return ", ".join(plural(n, noun) for n, noun in counted if n)
