"""The network team's policy: which requests are accepted, asked of a person or rejected; which
address ranges each account may bring; who may join each peering group. Pure: `parse()` turns the
document (a dict, from YAML or JSON) into a `Policy` or raises `PolicyError` listing every fault by
rule and field; the steps ask the `Policy` and nothing else.

The document (docs/governance.md "Policy" has a worked example)::

    version: 1
    defaults:
      outcome: ask                 # when no rule matches: accept | ask | reject (default: ask)
      ranges: [10.0.0.0/8]         # an account no `ranges` entry names (default: AllowedPeerCidrs)
      approvers: [arn:aws:iam::111111111111:role/NetworkApprover]
    rules:                         # in order; the first that matches decides
      - name: change-freeze
        window: {start: "2026-12-18T00:00:00Z", end: "2027-01-04T00:00:00Z"}
        outcome: reject
      - name: prod-with-prod
        requester: {ous: [ou-abcd-11111111], account_tags: {env: prod}}
        accepter: {account_tags: {env: prod}, vpc_tags: {tier: shared}}
        outcome: accept
    ranges:                        # in order; the first entry naming the account or one of its OUs
      - {accounts: ["222222222222"], cidrs: [10.64.0.0/16]}
      - {ous: [ou-abcd-11111111], cidrs: [10.0.0.0/12]}
    groups:                        # with a document, only a listed group can be joined
      shared-services: {ous: [ou-abcd-22222222]}

Without a document, the parameters act as a one-rule policy (`from_parameters`): every request
between managed accounts is accepted, every account may bring `AllowedPeerCidrs`, any managed VPC
may join any group: what the autopilot did before policies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from peering_autopilot.organization import ACCOUNT_ID, OU_ID, ROOT_ID
from peering_autopilot.settings import PeerCidrPolicy
from peering_autopilot.structs import NamedTuple, struct

ACCEPT, ASK, REJECT = "accept", "ask", "reject"
OUTCOMES = (ACCEPT, ASK, REJECT)
PARAMETERS_RULE = "parameters"  # the one rule of the policy the parameters make
DEFAULT_RULE = "defaults"  # what `rule` says when no rule matched
RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)
GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/+=@-]{0,62}", re.ASCII)  # model.GROUP_NAME's spelling
PRINCIPAL_ARN = re.compile(r"arn:aws[\w-]*:iam::[0-9]{12}:(role|user)/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}", re.ASCII)
VERSION = 1


class PolicyError(ValueError):
    """The document is not a policy; `problems` names each fault by rule and field."""

    def __init__(self, problems: Sequence[str], source: str = "policy") -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__(f"{source}: " + "; ".join(self.problems))


class Party(NamedTuple):
    """One side of a request, as the policy sees it: who owns the VPC, where in the Organization,
    the VPC's tags (read in EC2, never taken from an event; written by the VPC's own account), and
    the account's tags in the Organization (written only by its management: the walk reads them).
    `account_tags` None: not known, so no rule naming account tags matches; `tags_unknown` says why
    when it is not "not read" (read too long ago: docs/governance.md "Managed by the Organization")."""

    account_id: str
    ou_path: tuple[str, ...] = ()
    vpc_id: str = ""
    vpc_tags: Mapping[str, str] = MappingProxyType({})
    account_tags: Mapping[str, str] | None = None
    tags_unknown: str = ""

    def why_tags_unknown(self) -> str:
        return self.tags_unknown or TAGS_NOT_KNOWN


ACCOUNT_TAGS_NOT_KNOWN = "account tags not known"
TAGS_NOT_KNOWN = f"{ACCOUNT_TAGS_NOT_KNOWN} (not read from the Organization)"


def _with_unknown(said: str, unknown: Sequence[str]) -> str:
    return f"{said} ({'; '.join(unknown)})" if unknown else said


@struct(frozen=True)
class Selector:
    """Which parties a rule's side matches: the account is one of `accounts` or sits under one of
    `ous` (either, when both are given; any account when neither is), the account carries every
    tag of `account_tags` with that value in the Organization, and its VPC every tag of
    `vpc_tags`."""

    accounts: frozenset[str] = frozenset()
    ous: frozenset[str] = frozenset()
    vpc_tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    account_tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def owner_matches(self, party: Party) -> bool:
        if not self.accounts and not self.ous:
            return True
        return party.account_id in self.accounts or any(ou in self.ous for ou in party.ou_path)

    def mismatch(self, party: Party) -> str:
        """Why the party does not match, in words; "" when it does."""
        if not self.owner_matches(party):
            return f"account {party.account_id} is not {self.describe_owner()}"
        if self.account_tags and party.account_tags is None:
            return f"account {party.account_id}: {party.why_tags_unknown()}"
        for key, value in self.account_tags.items():
            found = (party.account_tags or {}).get(key)
            if found != value:
                seen = f"has no tag {key}" if found is None else f"has {key}={found!r}"
                return f"account {party.account_id} {seen}, not {key}={value!r}"
        for key, value in self.vpc_tags.items():
            found = party.vpc_tags.get(key)
            if found != value:
                seen = "has no such tag" if found is None else f"has {key}={found!r}"
                return f"VPC {party.vpc_id or '?'} {seen}, not {key}={value!r}"
        return ""

    def describe_owner(self) -> str:
        named = [*sorted(self.accounts), *(f"under {ou}" for ou in sorted(self.ous))]
        return " or ".join(named) if named else "any account"

    def units(self) -> frozenset[str]:
        return self.ous


ANY = Selector()


class Window(NamedTuple):
    """A time window, start included, end excluded (seconds since the epoch)."""

    start: float
    end: float
    text: str

    def contains(self, now: float) -> bool:
        return self.start <= now < self.end


@struct(frozen=True)
class Rule:
    name: str
    outcome: str
    requester: Selector = ANY
    accepter: Selector = ANY
    same_vpc_tags: tuple[str, ...] = ()
    window: Window | None = None
    approvers: tuple[str, ...] = ()
    same_account_tags: tuple[str, ...] = ()

    def uses_account_tags(self) -> bool:
        return bool(self.requester.account_tags or self.accepter.account_tags or self.same_account_tags)

    def mismatch(self, requester: Party, accepter: Party, now: float) -> str:
        """Why this rule does not match the pair, in words; "" when it does."""
        if self.window is not None and not self.window.contains(now):
            return f"outside its window {self.window.text}"
        for role, selector, party in (("requester", self.requester, requester), ("accepter", self.accepter, accepter)):
            why = selector.mismatch(party)
            if why:
                return f"{role}: {why}"
        for key in self.same_vpc_tags:
            a, b = requester.vpc_tags.get(key), accepter.vpc_tags.get(key)
            if a is None or a != b:
                return f"the VPCs' {key} tags differ ({a!r}, {b!r})"
        for role, party in (("requester", requester), ("accepter", accepter)):
            if self.same_account_tags and party.account_tags is None:
                return f"{role}: account {party.account_id}: {party.why_tags_unknown()}"
        for key in self.same_account_tags:
            a, b = (requester.account_tags or {}).get(key), (accepter.account_tags or {}).get(key)
            if a is None or a != b:
                return f"the accounts' {key} tags differ ({a!r}, {b!r})"
        return ""


class RangeEntry(NamedTuple):
    owner: Selector
    cidrs: PeerCidrPolicy
    position: int  # in the document, for messages


class Verdict(NamedTuple):
    """What the policy says of a request: the outcome, the rule that decided (or `defaults`), why in
    words, and who may approve it when it asks (empty: whoever may accept in the accepter account)."""

    outcome: str
    rule: str
    why: str
    approvers: tuple[str, ...] = ()

    def approver_allowed(self, principal_arn: str) -> bool:
        return not self.approvers or principal_arn in self.approvers


@struct(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    default_outcome: str
    default_ranges: PeerCidrPolicy
    ranges: tuple[RangeEntry, ...] = ()
    # None: no document, any managed account may join any group (the parameters' policy).
    groups: Mapping[str, Selector] | None = None
    default_approvers: tuple[str, ...] = ()
    source: str = "parameters"  # where it came from: "parameters", or the SSM parameter and version

    def verdict(self, requester: Party, accepter: Party, now: float) -> Verdict:
        """The first rule that matches decides; none matching, the default outcome. A rule passed
        over because an account's tags are not known is named in the words (the outcome may change
        once the sweep reads them)."""
        unknown: list[str] = []
        for rule in self.rules:
            why = rule.mismatch(requester, accepter, now)
            if not why:
                approvers = rule.approvers or self.default_approvers
                said = f"rule {rule.name!r} matches: {rule.outcome}"
                return Verdict(rule.outcome, rule.name, _with_unknown(said, unknown), approvers)
            if ACCOUNT_TAGS_NOT_KNOWN in why:
                unknown.append(f"rule {rule.name!r} not matched: {why}")
        return Verdict(
            self.default_outcome,
            DEFAULT_RULE,
            _with_unknown(f"no rule matches: the default outcome, {self.default_outcome}", unknown),
            self.default_approvers,
        )

    def verdict_for_outsider(self, requester: Party, accepter: Party, now: float) -> Verdict | None:
        """For a requester the hub does not manage (outside ApprovedAccountIds and the managed OUs):
        only a rule that names its account in `requester.accounts` may speak for it (anyone on AWS
        can send a request: no default or broad rule asks people on a stranger's behalf), and since
        its VPC cannot be read in its own account, never `accept`: a rule that would accept asks a
        person instead. None: no rule names it (declined, as before)."""
        for rule in self.rules:
            if requester.account_id not in rule.requester.accounts or rule.mismatch(requester, accepter, now):
                continue
            if rule.outcome == REJECT:
                return Verdict(REJECT, rule.name, f"rule {rule.name!r} matches: reject")
            why = f"rule {rule.name!r} matches: {rule.outcome}"
            if rule.outcome == ACCEPT:
                why += "; the requester is outside the managed accounts, its VPC unread: a person decides"
            return Verdict(ASK, rule.name, why, rule.approvers or self.default_approvers)
        return None

    def explain(self, requester: Party, accepter: Party, now: float) -> list[tuple[str, str]]:
        """Each rule in order with why it does or does not match, up to the one that decides."""
        lines: list[tuple[str, str]] = []
        for rule in self.rules:
            why = rule.mismatch(requester, accepter, now)
            lines.append((rule.name, why or f"matches: {rule.outcome}"))
            if not why:
                return lines
        lines.append((DEFAULT_RULE, f"no rule matched: {self.default_outcome}"))
        return lines

    def ranges_of(self, account_id: str, ou_path: tuple[str, ...] = ()) -> PeerCidrPolicy:
        """The address ranges the account may bring: the first `ranges` entry naming it or one of its
        OUs, else the default ranges."""
        party = Party(account_id, ou_path)
        for entry in self.ranges:
            if entry.owner.owner_matches(party):
                return entry.cidrs
        return self.default_ranges

    def group_member(self, group: str, account_id: str, ou_path: tuple[str, ...] = ()) -> str:
        """Why the account may not join the group, in words; "" when it may."""
        if self.groups is None:
            return ""
        selector = self.groups.get(group)
        if selector is None:
            return f"group {group!r} is not in the policy's groups ({self.source})"
        if not selector.owner_matches(Party(account_id, ou_path)):
            return f"account {account_id} may not join group {group!r}: members are {selector.describe_owner()}"
        return ""

    def uses_account_tags(self) -> bool:
        """Whether any rule matches by the accounts' tags in the Organization: then the sweep's walk
        reads every managed account's tags (one ListTagsForResource call each)."""
        return any(rule.uses_account_tags() for rule in self.rules)

    def units(self) -> frozenset[str]:
        """Every OU the document names (checked against the Organization at load)."""
        named: set[str] = set()
        for rule in self.rules:
            named |= rule.requester.ous | rule.accepter.ous
        for entry in self.ranges:
            named |= entry.owner.ous
        for selector in (self.groups or {}).values():
            named |= selector.ous
        return frozenset(named)


def from_parameters(allowed_peer_cidrs: PeerCidrPolicy) -> Policy:
    """The policy without a document: accept every request between managed accounts (the caller
    has checked both are managed), AllowedPeerCidrs for everyone, groups open to any managed VPC."""
    return Policy((Rule(PARAMETERS_RULE, ACCEPT),), REJECT, allowed_peer_cidrs, source="parameters")


def check_units(policy: Policy, known: Iterable[str]) -> None:
    """Every OU the policy names must be one the Organization's walk read; raise naming the others."""
    unknown = sorted(policy.units() - set(known))
    if unknown:
        raise PolicyError(
            [f"unknown OU {ou}: not in the managed part of the Organization" for ou in unknown], policy.source
        )


# ---------------------------------------------------------------------------- the document
def from_json(text: str, default_ranges: PeerCidrPolicy, source: str = "policy") -> Policy:
    """The document as stored (JSON: the Lambda layer has no YAML reader), parsed and validated."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise PolicyError([f"not JSON: {e.msg} at line {e.lineno} column {e.colno}"], source) from None
    return parse(document, default_ranges, source)


TOP_FIELDS = {"version", "defaults", "rules", "ranges", "groups"}
DEFAULTS_FIELDS = {"outcome", "ranges", "approvers"}
RULE_FIELDS = {
    "name",
    "description",
    "requester",
    "accepter",
    "same_vpc_tags",
    "same_account_tags",
    "window",
    "outcome",
    "approvers",
}
SELECTOR_FIELDS = {"accounts", "ous", "vpc_tags", "account_tags"}
RANGE_FIELDS = {"accounts", "ous", "cidrs"}
WINDOW_FIELDS = {"start", "end"}


def parse(document: Any, default_ranges: PeerCidrPolicy, source: str = "policy") -> Policy:
    """The document as a Policy; every fault is collected and raised at once, each naming where it is
    (`rules[2] 'prod-with-prod': field 'outcome': …`), so nothing is used from a document with any."""
    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise PolicyError(
            [f"the document must be a mapping of {sorted(TOP_FIELDS)}, got {type(document).__name__}"], source
        )
    _unknown(document, TOP_FIELDS, "the document", problems)
    if document.get("version") != VERSION:
        problems.append(f"field 'version': must be {VERSION}, got {document.get('version')!r}")

    defaults = document.get("defaults", {})
    outcome, ranges, approvers = ASK, default_ranges, tuple[str, ...]()
    if not isinstance(defaults, Mapping):
        problems.append("field 'defaults': must be a mapping")
    else:
        _unknown(defaults, DEFAULTS_FIELDS, "defaults", problems)
        outcome = _outcome(defaults.get("outcome", ASK), "defaults: field 'outcome'", problems)
        if "ranges" in defaults:
            ranges = (
                _cidrs(defaults["ranges"], "defaults: field 'ranges'", problems, "the policy's default ranges")
                or default_ranges
            )
        approvers = _principals(defaults.get("approvers", []), "defaults: field 'approvers'", problems)

    rules = _rules(document.get("rules", []), problems)
    range_entries = _ranges(document.get("ranges", []), problems)
    groups = _groups(document.get("groups", {}), problems)
    if problems:
        raise PolicyError(problems, source)
    return Policy(rules, outcome, ranges, range_entries, groups, approvers, source)


def _rules(items: Any, problems: list[str]) -> tuple[Rule, ...]:
    if not isinstance(items, list):
        problems.append("field 'rules': must be a list of rules")
        return ()
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"rules[{i}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not RULE_NAME.fullmatch(name):
            problems.append(f"{where}: field 'name': must be 1-64 letters, digits, '_', '.' or '-', got {name!r}")
            name = f"#{i}"
        elif name in seen:
            problems.append(f"{where} {name!r}: field 'name': used by an earlier rule")
        seen.add(name)
        where = f"{where} {name!r}"
        _unknown(item, RULE_FIELDS, where, problems)
        if "outcome" not in item:
            problems.append(f"{where}: field 'outcome': required (accept, ask or reject)")
        outcome = _outcome(item.get("outcome", REJECT), f"{where}: field 'outcome'", problems)
        same = _keys(item.get("same_vpc_tags", []), f"{where}: field 'same_vpc_tags'", problems)
        same_accounts = _keys(item.get("same_account_tags", []), f"{where}: field 'same_account_tags'", problems)
        approvers = _principals(item.get("approvers", []), f"{where}: field 'approvers'", problems)
        if approvers and outcome != ASK:
            problems.append(f"{where}: field 'approvers': only a rule whose outcome is ask has approvers")
        rules.append(
            Rule(
                name,
                outcome,
                _selector(item.get("requester", {}), f"{where}: field 'requester'", problems, SELECTOR_FIELDS),
                _selector(item.get("accepter", {}), f"{where}: field 'accepter'", problems, SELECTOR_FIELDS),
                tuple(same),
                _window(item["window"], f"{where}: field 'window'", problems) if "window" in item else None,
                approvers,
                tuple(same_accounts),
            )
        )
    return tuple(rules)


def _keys(values: Any, where: str, problems: list[str]) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(k, str) and k for k in values):
        problems.append(f"{where}: must be a list of tag keys")
        return []
    return values


def _ranges(items: Any, problems: list[str]) -> tuple[RangeEntry, ...]:
    if not isinstance(items, list):
        problems.append("field 'ranges': must be a list of {accounts, ous, cidrs}")
        return ()
    entries: list[RangeEntry] = []
    for i, item in enumerate(items):
        where = f"ranges[{i}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        _unknown(item, RANGE_FIELDS, where, problems)
        owner = _selector({k: v for k, v in item.items() if k in ("accounts", "ous")}, where, problems, RANGE_FIELDS)
        if not owner.accounts and not owner.ous:
            problems.append(f"{where}: must name accounts or ous")
        if "cidrs" not in item:
            problems.append(f"{where}: field 'cidrs': required")
            continue
        cidrs = _cidrs(item["cidrs"], f"{where}: field 'cidrs'", problems, f"the policy's {where}")
        if cidrs is not None:
            entries.append(RangeEntry(owner, cidrs, i))
    return tuple(entries)


def _groups(items: Any, problems: list[str]) -> Mapping[str, Selector] | None:
    if not isinstance(items, Mapping):
        problems.append("field 'groups': must be a mapping of group name to {accounts, ous}")
        return {}
    groups: dict[str, Selector] = {}
    for name, item in items.items():
        where = f"groups {name!r}"
        if not isinstance(name, str) or not GROUP_NAME.fullmatch(name):
            problems.append(f"{where}: not a group name (what the peering-autopilot:group tag may hold)")
            continue
        selector = _selector(item, where, problems, {"accounts", "ous"})
        if not selector.accounts and not selector.ous:
            problems.append(f"{where}: must name accounts or ous")
        groups[name] = selector
    return MappingProxyType(groups)


def _selector(item: Any, where: str, problems: list[str], allowed: set[str]) -> Selector:
    if not isinstance(item, Mapping):
        problems.append(f"{where}: must be a mapping of {sorted(allowed)}")
        return ANY
    _unknown(item, allowed, where, problems)
    accounts = _ids(item.get("accounts", []), f"{where}.accounts", ACCOUNT_ID, "12-digit account ids", problems)
    ous = _ids(item.get("ous", []), f"{where}.ous", OU_ID, "OU ids (ou-…) or root ids (r-…)", problems, ROOT_ID)
    vpc_tags = _tags(item.get("vpc_tags", {}), f"{where}.vpc_tags", problems)
    account_tags = _tags(item.get("account_tags", {}), f"{where}.account_tags", problems)
    return Selector(frozenset(accounts), frozenset(ous), vpc_tags, account_tags)


def _tags(tags: Any, where: str, problems: list[str]) -> Mapping[str, str]:
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        problems.append(f"{where}: must map tag keys to string values (quote numbers and booleans)")
        return MappingProxyType({})
    return MappingProxyType(dict(tags))


def _ids(
    values: Any,
    where: str,
    pattern: re.Pattern[str],
    what: str,
    problems: list[str],
    also: re.Pattern[str] | None = None,
) -> list[str]:
    if not isinstance(values, list):
        problems.append(f"{where}: must be a list of {what}")
        return []
    bad = [v for v in values if not isinstance(v, str) or not (pattern.fullmatch(v) or (also and also.fullmatch(v)))]
    if bad:
        problems.append(f"{where}: not {what}: {bad}")
    return [v for v in values if v not in bad]


def _cidrs(values: Any, where: str, problems: list[str], label: str) -> PeerCidrPolicy | None:
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        problems.append(f"{where}: must be a non-empty list of CIDR blocks")
        return None
    ranges, bad = PeerCidrPolicy.of_items(values, label)
    if bad:
        problems.append(f"{where}: not CIDR blocks (network/prefix, host bits zero): {bad}")
        return None
    return ranges


def _principals(values: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(values, list):
        problems.append(f"{where}: must be a list of IAM role or user ARNs")
        return ()
    bad = [v for v in values if not isinstance(v, str) or not PRINCIPAL_ARN.fullmatch(v)]
    if bad:
        problems.append(f"{where}: not IAM role or user ARNs (no wildcards): {bad}")
    return tuple(v for v in values if v not in bad)


def _window(item: Any, where: str, problems: list[str]) -> Window | None:
    if not isinstance(item, Mapping):
        problems.append(f"{where}: must be a mapping of start and end")
        return None
    _unknown(item, WINDOW_FIELDS, where, problems)
    times: list[float] = []
    for key in ("start", "end"):
        value = item.get(key)
        if isinstance(value, datetime):  # YAML reads an unquoted timestamp as one
            when: datetime | None = value
        else:
            try:
                when = datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                when = None
        if when is None or when.tzinfo is None:
            problems.append(
                f"{where}.{key}: must be an ISO 8601 time with its zone (2026-12-18T00:00:00Z), got {value!r}"
            )
            return None
        times.append(when.timestamp())
    if times[0] >= times[1]:
        problems.append(f"{where}: start must come before end")
        return None
    return Window(times[0], times[1], f"{item['start']} to {item['end']}")


def _outcome(value: Any, where: str, problems: list[str]) -> str:
    if value not in OUTCOMES:
        problems.append(f"{where}: must be one of {', '.join(OUTCOMES)}, got {value!r}")
        return REJECT
    return str(value)


def _unknown(item: Mapping[str, Any], allowed: set[str], where: str, problems: list[str]) -> None:
    unknown = sorted(str(k) for k in item if k not in allowed)
    if unknown:
        problems.append(f"{where}: unknown field(s) {unknown} (allowed: {', '.join(sorted(allowed))})")
