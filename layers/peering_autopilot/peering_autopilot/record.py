"""The autopilot's own record, as values: what it made (ownership) and what it decided (history).
Pure: the items as the DynamoDB table holds them, and the hash chain of a peering's history.

The table (template.yaml RecordTable) is written only by the hub's functions. Its partitions:
- `own#<pcx>`: what the autopilot made for one peering: the peering itself when it requested it
  for a group (sort key `peering`), each route (`route#<account>#<region>#<table>#<destination>`)
  and each ingress rule (`rule#<account>#<region>#<group>#<protocol>#<from>#<to>#<cidr>`). Written
  as an intent before the EC2 call and confirmed after it: an intent left by a crash is resolved by
  the next run against what EC2 shows. Only what this partition holds is ever removed.
- `history#<pcx>`: the peering's timeline, sort key the entry's sequence number. Each entry carries
  the hash of the one before: the chain shows an entry changed or taken out. Never updated or
  deleted by the functions (IAM denies it on these keys); put only where the key is new.
- `pair#<requester>|<accepter>`: the lock of a group request for one pair of VPCs.
- `meta`: one item per account and region adopted when the record first met it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from peering_autopilot.security_groups import Rule
from peering_autopilot.structs import NamedTuple

OWN = "own#"
HISTORY = "history#"
PAIR = "pair#"
META = "meta"
PEERING_ITEM = "peering"
INTENT, MADE = "intent", "made"  # an ownership item before and after the EC2 call
ZERO_HASH = "0" * 64  # the `prev` of a peering's first history entry
SEQ_DIGITS = 8


class Origin(NamedTuple):
    """What started this invocation, as the history names it."""

    event_id: str = ""
    function: str = ""  # `peering-autopilot:<Function>`: the actor of what the autopilot does
    person: str = ""  # the identity CloudTrail recorded, when a person's call is the trigger


# ---------------------------------------------------------------------------------------- ownership
class OwnedRoute(NamedTuple):
    """A route the autopilot created (or took over from a dead target): to the peering it names."""

    account_id: str
    region: str
    route_table_id: str
    destination: str

    @property
    def sort_key(self) -> str:
        return f"route#{self.account_id}#{self.region}#{self.route_table_id}#{self.destination}"


class OwnedRule(NamedTuple):
    """An ingress rule the autopilot authorized. A group holds one rule per protocol, ports and
    CIDR whatever the description, so these name it; the rule id AWS gave it is kept beside."""

    account_id: str
    region: str
    group_id: str
    rule: Rule

    @property
    def sort_key(self) -> str:
        r = self.rule
        return (
            f"rule#{self.account_id}#{self.region}#{self.group_id}#{r.ip_protocol}#{r.from_port}#{r.to_port}#{r.cidr}"
        )


class OwnedPeering(NamedTuple):
    """A peering the autopilot requested for a group."""

    group: str
    requester: str  # account/region/vpc
    accepter: str


class Owned(NamedTuple):
    """What the record says the autopilot made on one side (one account and region) of one
    peering. `unreadable` says why the record could not be read: then nothing counts as its own."""

    routes: frozenset[tuple[str, str]] = frozenset()  # (route table, destination)
    rules: frozenset[tuple[str, Rule]] = frozenset()  # (group, rule)
    unreadable: str = ""

    def holds_route(self, route_table_id: str, destination: str) -> bool:
        return (route_table_id, destination) in self.routes

    def holds_rule(self, group_id: str, rule: Rule) -> bool:
        return (group_id, rule) in self.rules


NOT_READ = Owned(unreadable="the autopilot's record was not read")


class PeeringRecord(NamedTuple):
    """Everything the `own#` partition of one peering holds, intents included."""

    peering_id: str
    routes: Mapping[OwnedRoute, Mapping[str, Any]]  # -> the item (state, rule id, how, at)
    rules: Mapping[OwnedRule, Mapping[str, Any]]
    peering: OwnedPeering | None
    peering_state: str = ""  # intent or made
    unreadable: str = ""

    def side(self, account_id: str, region: str) -> Owned:
        """What is the autopilot's own on one side: confirmed items only (an intent is resolved
        against EC2 first)."""
        if self.unreadable:
            return Owned(unreadable=self.unreadable)
        return Owned(
            frozenset(
                (r.route_table_id, r.destination)
                for r, item in self.routes.items()
                if (r.account_id, r.region) == (account_id, region) and item.get("state") == MADE
            ),
            frozenset(
                (r.group_id, r.rule)
                for r, item in self.rules.items()
                if (r.account_id, r.region) == (account_id, region) and item.get("state") == MADE
            ),
        )

    def intents(self) -> list[OwnedRoute | OwnedRule]:
        routes: list[OwnedRoute | OwnedRule] = [k for k, item in self.routes.items() if item.get("state") == INTENT]
        return routes + [k for k, item in self.rules.items() if item.get("state") == INTENT]

    @property
    def owns_peering(self) -> bool:
        return self.peering is not None and self.peering_state == MADE


def unreadable_record(peering_id: str, why: str) -> PeeringRecord:
    return PeeringRecord(peering_id, {}, {}, None, unreadable=why)


def own_key(peering_id: str) -> str:
    return f"{OWN}{peering_id}"


def route_item(peering_id: str, route: OwnedRoute, state: str, at: str, how: str) -> dict[str, Any]:
    return {
        "pk": own_key(peering_id),
        "sk": route.sort_key,
        "kind": "route",
        "account": route.account_id,
        "region": route.region,
        "table": route.route_table_id,
        "destination": route.destination,
        "target": peering_id,
        "state": state,
        "how": how,
        "at": at,
    }


def rule_item(peering_id: str, rule: OwnedRule, state: str, at: str, how: str, rule_id: str = "") -> dict[str, Any]:
    item = {
        "pk": own_key(peering_id),
        "sk": rule.sort_key,
        "kind": "rule",
        "account": rule.account_id,
        "region": rule.region,
        "group": rule.group_id,
        "protocol": rule.rule.ip_protocol,
        "from": rule.rule.from_port,
        "to": rule.rule.to_port,
        "cidr": rule.rule.cidr,
        "state": state,
        "how": how,
        "at": at,
    }
    if rule_id:
        item["ruleId"] = rule_id
    return item


def peering_item(peering_id: str, owned: OwnedPeering, state: str, at: str, how: str) -> dict[str, Any]:
    return {
        "pk": own_key(peering_id),
        "sk": PEERING_ITEM,
        "kind": "peering",
        "group": owned.group,
        "requester": owned.requester,
        "accepter": owned.accepter,
        "state": state,
        "how": how,
        "at": at,
    }


def parse_own_items(peering_id: str, items: Iterable[Mapping[str, Any]]) -> PeeringRecord:
    """The `own#` partition's items, read back. An item of a shape it does not know is skipped:
    it counts as nothing the autopilot owns."""
    routes: dict[OwnedRoute, Mapping[str, Any]] = {}
    rules: dict[OwnedRule, Mapping[str, Any]] = {}
    peering: OwnedPeering | None = None
    peering_state = ""
    for item in items:
        try:
            kind = item.get("kind")
            if kind == "route":
                routes[OwnedRoute(item["account"], item["region"], item["table"], item["destination"])] = item
            elif kind == "rule":
                rule = Rule(str(item["protocol"]), int(item["from"]), int(item["to"]), str(item["cidr"]))
                rules[OwnedRule(item["account"], item["region"], item["group"], rule)] = item
            elif kind == "peering":
                peering = OwnedPeering(item["group"], item["requester"], item["accepter"])
                peering_state = str(item.get("state", ""))
        except (KeyError, TypeError, ValueError):
            continue
    return PeeringRecord(peering_id, routes, rules, peering, peering_state)


# ---------------------------------------------------------------------------------------- history
class HistoryEntry(NamedTuple):
    """One decision or change on a peering, as the record keeps it."""

    peering_id: str
    seq: int
    at: str  # ISO 8601, UTC
    kind: str  # requested, accepted, declined, rejected, configured, retracted, verified, blocked, ...
    actor: str  # the function, or the person whose CloudTrail identity triggered it
    event_id: str  # the triggering event's id
    summary: str  # one line a person reads
    evidence: str  # canonical JSON: the blocks, tags and settings it decided on, what it changed
    prev: str  # the hash of the entry before (ZERO_HASH for the first)
    hash: str

    def as_item(self, expires_at: int) -> dict[str, Any]:
        return {
            "pk": f"{HISTORY}{self.peering_id}",
            "sk": f"{self.seq:0{SEQ_DIGITS}d}",
            **{k: getattr(self, k) for k in ("seq", "at", "kind", "actor", "summary", "evidence", "prev", "hash")},
            "eventId": self.event_id,
            "expires_at": expires_at,
        }

    @classmethod
    def from_item(cls, peering_id: str, item: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            peering_id,
            int(item.get("seq", -1)),
            str(item.get("at", "")),
            str(item.get("kind", "")),
            str(item.get("actor", "")),
            str(item.get("eventId", "")),
            str(item.get("summary", "")),
            str(item.get("evidence", "")),
            str(item.get("prev", "")),
            str(item.get("hash", "")),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "actor": self.actor,
            "eventId": self.event_id,
            "summary": self.summary,
            "evidence": json.loads(self.evidence) if self.evidence else {},
            "prev": self.prev,
            "hash": self.hash,
        }


def canonical(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(
    peering_id: str, seq: int, at: str, kind: str, actor: str, event_id: str, summary: str, evidence: str, prev: str
) -> str:
    import hashlib  # here, not at the top: only writing or checking history pays for OpenSSL's load

    fields = [peering_id, seq, at, kind, actor, event_id, summary, evidence, prev]
    return hashlib.sha256(canonical(fields).encode()).hexdigest()


def next_entry(
    previous: HistoryEntry | None,
    peering_id: str,
    at: str,
    kind: str,
    actor: str,
    event_id: str,
    summary: str,
    evidence: Mapping[str, Any],
) -> HistoryEntry:
    """The entry after `previous` (None: the first), chained to it."""
    seq = previous.seq + 1 if previous else 1
    prev = previous.hash if previous else ZERO_HASH
    text = canonical(evidence)
    digest = entry_hash(peering_id, seq, at, kind, actor, event_id, summary, text, prev)
    return HistoryEntry(peering_id, seq, at, kind, actor, event_id, summary, text, prev, digest)


class ChainBreak(NamedTuple):
    seq: int
    why: str


class ChainCheck(NamedTuple):
    """Whether a peering's history is as written: every entry's hash matches its content, and
    names the hash of the entry before it, with no sequence number missing."""

    entries: int
    first_seq: int
    breaks: tuple[ChainBreak, ...]

    @property
    def intact(self) -> bool:
        return not self.breaks

    def describe(self) -> str:
        if not self.entries:
            return "no history recorded"
        if self.intact:
            start = "" if self.first_seq == 1 else f" (entries before {self.first_seq} expired)"
            return f"intact: {self.entries} entries, each chained to the one before{start}"
        return "BROKEN: " + "; ".join(f"entry {b.seq}: {b.why}" for b in self.breaks)


def verify_chain(entries: Sequence[HistoryEntry]) -> ChainCheck:
    """Check the chain. Entries before the first one kept may have expired (the table's TTL): the
    check starts at the oldest entry there is, and says so."""
    ordered = sorted(entries, key=lambda e: e.seq)
    breaks: list[ChainBreak] = []
    previous: HistoryEntry | None = None
    for entry in ordered:
        digest = entry_hash(
            entry.peering_id,
            entry.seq,
            entry.at,
            entry.kind,
            entry.actor,
            entry.event_id,
            entry.summary,
            entry.evidence,
            entry.prev,
        )
        if digest != entry.hash:
            breaks.append(ChainBreak(entry.seq, "its content does not match its hash (changed after it was written)"))
        if previous is None:
            if entry.seq == 1 and entry.prev != ZERO_HASH:
                breaks.append(ChainBreak(entry.seq, "the first entry does not start the chain"))
        elif entry.seq != previous.seq + 1:
            breaks.append(ChainBreak(entry.seq, f"entries {previous.seq + 1} to {entry.seq - 1} are missing"))
        elif entry.prev != previous.hash:
            breaks.append(ChainBreak(entry.seq, f"it does not name the hash of entry {previous.seq}"))
        previous = entry
    return ChainCheck(len(ordered), ordered[0].seq if ordered else 0, tuple(breaks))


def pair_key(requester: str, accepter: str) -> str:
    """The lock of a group request for one pair of VPCs (account/region/vpc each)."""
    return f"{PAIR}{requester}|{accepter}"
