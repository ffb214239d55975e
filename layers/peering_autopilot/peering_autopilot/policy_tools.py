"""`peering-autopilot policy …`: the tools of the people who own the network team's policy.

- `policy check FILE`: the document (YAML or JSON) validated as the functions validate it at load;
  exit 0 with a one-line summary, 2 printing each fault by rule and field.
- `policy test FILE CASES`: the outcome of each listed pair against its expected one (for a policy
  change's review); exit 0 all pass, 1 any fails, 2 a file that cannot be used.
- `policy explain --from ACCOUNT/REGION/VPC --to ACCOUNT/REGION/VPC`: which rule decides and why,
  rule by rule, and each side's ranges, against the live estate (the operator's credentials, other
  accounts through the `-reader` member role, as `status` reads them) or a saved
  `status --json --with-vpcs`; exit 0, 2 when the policy or a VPC cannot be read.
- `policy deploy FILE --parameter-name NAME`: checked as `check` does (exit 2 on any fault, nothing
  written), then stored in Parameter Store as JSON (Advanced tier past 4 KB), a new version.

The document's meaning is `policy.py`'s; here it is only read, shown and stored.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from peering_autopilot.aws.sessions import (
    AwsAccess,
    caller_account,
    credentials_problem,
    operator_session,
    parameter_store,
)
from peering_autopilot.aws.ssm import ADVANCED_TIER_BYTES, STANDARD_TIER_BYTES
from peering_autopilot.command_options import aws_options, aws_options_problem, profile_source
from peering_autopilot.errors import AutopilotError, SettingsError
from peering_autopilot.organization import ACCOUNT_ID, OU_ID, ROOT_ID, parse_units
from peering_autopilot.policy import (
    OUTCOMES,
    Party,
    Policy,
    PolicyError,
    check_units,
    from_json,
    from_parameters,
    parse,
)
from peering_autopilot.settings import DEFAULT_PEER_CIDRS, REGION, PeerCidrPolicy, Settings
from peering_autopilot.structs import NamedTuple

# The template's PolicyParameterName pattern (a path: the grant's ARN is `parameter` + the name),
# and the name its grant uses when there is no document: never written.
PARAMETER_NAME = re.compile(r"(/[\w.-]+)+", re.ASCII)
NO_POLICY_PARAMETER = "/peering-autopilot-no-policy"
VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}", re.ASCII)
EXIT_OK, EXIT_FAILED, EXIT_BAD = 0, 1, 2


class FileFault(Exception):
    """A file that cannot be used: the message says which and why."""


def add_commands(commands: Any) -> None:
    """The `policy` command and its subcommands, on the main parser's subparsers."""
    policy = commands.add_parser("policy", help="check, test, explain and deploy the network team's policy")
    sub = policy.add_subparsers(dest="policy_command", required=True)
    cidrs_help = "the hub's AllowedPeerCidrs: the ranges of an account the document gives none (default: %(default)s)"
    units_help = "comma-separated OU and root ids the Organization has: any other OU the document names is a fault"

    check = sub.add_parser("check", help="validate a policy document (YAML or JSON)")
    check.add_argument("file")
    check.add_argument("--allowed-peer-cidrs", default=DEFAULT_PEER_CIDRS, help=cidrs_help)
    check.add_argument("--known-ous", default=None, help=units_help)

    test = sub.add_parser("test", help="check listed pairs' outcomes against the expected ones")
    test.add_argument("file")
    test.add_argument(
        "cases", help="YAML or JSON list of {from: {account, ous, account_tags, vpc_tags}, to: {…}, expect, at}"
    )
    test.add_argument("--allowed-peer-cidrs", default=DEFAULT_PEER_CIDRS, help=cidrs_help)

    explain = sub.add_parser("explain", help="which rule decides a pair of VPCs, and why")
    explain.add_argument("--from", dest="requester", required=True, help="the requester: ACCOUNT/REGION/VPC")
    explain.add_argument("--to", dest="accepter", required=True, help="the accepter: ACCOUNT/REGION/VPC")
    source = explain.add_mutually_exclusive_group()
    source.add_argument("--policy", default=None, help="the document, a file (default: the parameters' policy)")
    source.add_argument("--parameter-name", default=None, help="the deployed document: its SSM parameter")
    explain.add_argument("--status-json", default=None, help="a saved `status --json --with-vpcs` (default: live)")
    explain.add_argument("--at", default=None, help="judge at this ISO 8601 time (default: now)")
    explain.add_argument(
        "--ou-path",
        action="append",
        default=[],
        metavar="ACCOUNT=r-…/ou-…/ou-…",
        help="an account's OU path, root first (repeat per account; default: the status file's, else none)",
    )
    explain.add_argument(
        "--account-tags",
        action="append",
        default=[],
        metavar="ACCOUNT=KEY=VALUE,KEY=VALUE",
        help="an account's tags in the Organization (repeat per account; ACCOUNT= for none; default: the "
        "status file's accountTags, else not known: rules by account tags do not match it)",
    )
    explain.add_argument("--allowed-peer-cidrs", default=DEFAULT_PEER_CIDRS, help=cidrs_help)
    explain.add_argument(
        "--member-role-name",
        default="PeeringAutopilotMember-reader",
        help="role to assume to read a VPC in another account (default: %(default)s)",
    )
    aws_options(explain, "the hub's region, for --parameter-name (default: your session's)")

    deploy = sub.add_parser("deploy", help="validate, then store the document in its SSM parameter")
    deploy.add_argument("file")
    deploy.add_argument("--parameter-name", required=True, help="the hub's PolicyParameterName (/a/path)")
    aws_options(deploy, "the hub's region (default: your session's)")
    deploy.add_argument("--allowed-peer-cidrs", default=DEFAULT_PEER_CIDRS, help=cidrs_help)
    deploy.add_argument("--known-ous", default=None, help=units_help)


def run_policy(args: argparse.Namespace) -> int:
    runs = {"check": run_check, "test": run_test, "explain": run_explain, "deploy": run_deploy}
    return runs[args.policy_command](args)


# ---------------------------------------------------------------------------- check
def run_check(args: argparse.Namespace) -> int:
    checked = _checked(args.file, args.allowed_peer_cidrs, args.known_ous)
    if checked is None:
        return EXIT_BAD
    print(f"{args.file}: valid: {summary(checked.policy)}; {checked.size} bytes as JSON")
    return EXIT_OK


class Checked(NamedTuple):
    policy: Policy
    text: str  # the document as stored: JSON
    size: int


def _checked(path: str, allowed_peer_cidrs: str, known_ous: str | None) -> Checked | None:
    """The document validated as the functions validate it at load (and its JSON within Parameter
    Store's size); None after printing every fault."""
    try:
        ranges = PeerCidrPolicy.parse(allowed_peer_cidrs, name="--allowed-peer-cidrs")
        known = parse_units(known_ous, "--known-ous") if known_ous is not None else None
        document = read_document(path)
    except (SettingsError, FileFault) as e:
        print(f"error: {e}", file=sys.stderr)
        return None
    try:
        policy = parse(document, ranges, source=path)
        text = json.dumps(document, default=_json_value, separators=(",", ":"))
        policy = from_json(text, ranges, source=path)  # what the functions will read
        if known is not None:
            check_units(policy, known)
    except PolicyError as e:
        _print_faults(path, e.problems)
        return None
    size = len(text.encode())
    if size > ADVANCED_TIER_BYTES:
        _print_faults(
            path, [f"the document is {size} bytes as JSON: Parameter Store holds at most {ADVANCED_TIER_BYTES}"]
        )
        return None
    return Checked(policy, text, size)


def summary(policy: Policy) -> str:
    names = ", ".join(rule.name for rule in policy.rules)
    groups = "any group may be joined" if policy.groups is None else f"{len(policy.groups)} group(s)"
    return (
        f"{len(policy.rules)} rule(s) ({names or 'none'}), default outcome {policy.default_outcome}, "
        f"{len(policy.ranges)} range entr{'y' if len(policy.ranges) == 1 else 'ies'}, {groups}"
    )


def _print_faults(path: str, problems: Sequence[str]) -> None:
    print(f"error: {path}: {len(problems)} fault(s), nothing used:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)


def read_document(path: str) -> Any:
    """A YAML or JSON file's content (JSON by its `.json` name; YAML reads JSON too)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FileFault(f"cannot read {path}: {e}") from None
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise FileFault(f"{path}: not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    try:
        import yaml  # the operator's tools only: the Lambda layer reads the stored JSON
    except ImportError:
        raise FileFault(
            f"{path}: reading YAML needs PyYAML (pip install pyyaml); or give the document as .json"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise FileFault(f"{path}: not YAML{where}: {problem}") from None


def _json_value(value: Any) -> Any:
    """What YAML reads that JSON has no type for: an unquoted timestamp."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} {value!r} cannot be stored as JSON")


# ---------------------------------------------------------------------------- test
class Case(NamedTuple):
    number: int
    name: str
    requester: Party
    accepter: Party
    expect: str
    at: float


def run_test(args: argparse.Namespace) -> int:
    checked = _checked(args.file, args.allowed_peer_cidrs, None)
    if checked is None:
        return EXIT_BAD
    try:
        cases = read_cases(read_document(args.cases), args.cases)
    except FileFault as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD
    failed = 0
    for case in cases:
        verdict = checked.policy.verdict(case.requester, case.accepter, case.at)
        pair = f"{_party(case.requester)} -> {_party(case.accepter)}"
        label = f"case {case.number}{f' {case.name!r}' if case.name else ''}"
        if verdict.outcome == case.expect:
            print(f"PASS  {label}: {pair}: {verdict.outcome} (rule {verdict.rule!r})")
        else:
            failed += 1
            print(f"FAIL  {label}: {pair}: expected {case.expect}, got {verdict.outcome}: {verdict.why}")
    print(f"{len(cases)} case(s): {len(cases) - failed} passed, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


def read_cases(document: Any, path: str) -> list[Case]:
    """The cases file: a list of {name?, from, to, expect, at?}; every fault named by case and field."""
    if not isinstance(document, list) or not document:
        raise FileFault(f"{path}: must be a non-empty list of cases")
    problems: list[str] = []
    cases: list[Case] = []
    for i, item in enumerate(document):
        where = f"case {i + 1}"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping of from, to, expect (and name, at)")
            continue
        unknown = sorted(str(k) for k in item if k not in {"name", "from", "to", "expect", "at"})
        if unknown:
            problems.append(f"{where}: unknown field(s) {unknown}")
        expect = item.get("expect")
        if expect not in OUTCOMES:
            problems.append(f"{where}: field 'expect': must be one of {', '.join(OUTCOMES)}, got {expect!r}")
        sides = [_case_party(item.get(key), f"{where}: field {key!r}", problems) for key in ("from", "to")]
        at = _when(item.get("at"), f"{where}: field 'at'", problems) if "at" in item else time.time()
        if sides[0] and sides[1] and at is not None and expect in OUTCOMES:
            cases.append(Case(i + 1, str(item.get("name", "")), sides[0], sides[1], str(expect), at))
    if problems:
        raise FileFault(f"{path}: " + "; ".join(problems))
    return cases


def _case_party(item: Any, where: str, problems: list[str]) -> Party | None:
    if not isinstance(item, Mapping):
        problems.append(f"{where}: must be a mapping of account, ous, account_tags, vpc_tags (and vpc)")
        return None
    unknown = sorted(str(k) for k in item if k not in {"account", "ous", "account_tags", "vpc_tags", "vpc"})
    if unknown:
        problems.append(f"{where}: unknown field(s) {unknown}")
    account = item.get("account")
    if not isinstance(account, str) or not ACCOUNT_ID.fullmatch(account):
        problems.append(f"{where}.account: must be a 12-digit account id in quotes, got {account!r}")
        return None
    ous = item.get("ous", [])
    if not isinstance(ous, list) or not all(
        isinstance(o, str) and (OU_ID.fullmatch(o) or ROOT_ID.fullmatch(o)) for o in ous
    ):
        problems.append(f"{where}.ous: must be the account's OU path, a list of OU or root ids, root first")
        return None
    tags = item.get("vpc_tags", {})
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        problems.append(f"{where}.vpc_tags: must map tag keys to string values")
        return None
    # Absent: the account's tags were not read from the Organization (a rule naming some does not match).
    account_tags = item.get("account_tags")
    if account_tags is not None and (
        not isinstance(account_tags, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in account_tags.items())
    ):
        problems.append(f"{where}.account_tags: must map tag keys to string values")
        return None
    return Party(
        account,
        tuple(ous),
        str(item.get("vpc", "")),
        dict(tags),
        None if account_tags is None else dict(account_tags),
    )


def _when(value: Any, where: str, problems: list[str]) -> float | None:
    when = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
    if when is None or when.tzinfo is None:
        problems.append(f"{where}: must be an ISO 8601 time with its zone (2026-12-18T00:00:00Z), got {value!r}")
        return None
    return when.timestamp()


def _party(party: Party) -> str:
    tags = ",".join(f"{k}={v}" for k, v in sorted(party.vpc_tags.items()))
    account = ",".join(f"{k}={v}" for k, v in sorted((party.account_tags or {}).items()))
    return (
        f"{party.account_id}{f' {{{account}}}' if account else ''}"
        f"{f' {party.vpc_id}' if party.vpc_id else ''}{f' [{tags}]' if tags else ''}"
    )


# ---------------------------------------------------------------------------- explain
class Side(NamedTuple):
    account_id: str
    region: str
    vpc_id: str


class Found(NamedTuple):
    """A VPC as explain judges it: its blocks and tags, and its owner's OU path and account tags
    (None: not known)."""

    cidrs: tuple[str, ...]
    tags: Mapping[str, str]
    ou_path: tuple[str, ...]
    account_tags: Mapping[str, str] | None = None


def run_explain(args: argparse.Namespace) -> int:
    try:
        requester, accepter = _side("--from", args.requester), _side("--to", args.accepter)
        ranges = PeerCidrPolicy.parse(args.allowed_peer_cidrs, name="--allowed-peer-cidrs")
        paths = _ou_paths(args.ou_path)
        account_tags = _account_tags(args.account_tags)
        at = time.time() if args.at is None else _explain_time(args.at)
        problem = aws_options_problem(args)  # the endpoint used only once everything else is right
        if problem:
            raise SettingsError(problem)
        policy = _explain_policy(args, ranges)
        found = _found_in_status(args.status_json, (requester, accepter)) if args.status_json else None
        if found is None:
            found = _found_live(args, (requester, accepter))
    except (SettingsError, FileFault, AutopilotError) as e:
        print(f"error: {_credentials(e, args) or e}", file=sys.stderr)
        return EXIT_BAD
    except PolicyError as e:
        _print_faults(e.source, e.problems)
        return EXIT_BAD
    parties = []
    for side in (requester, accepter):
        seen = found[side]
        path = paths.get(side.account_id, seen.ou_path)
        tags = account_tags.get(side.account_id, seen.account_tags)
        parties.append(Party(side.account_id, path, side.vpc_id, seen.tags, tags))
    print(explain_text(policy, parties[0], parties[1], [found[requester], found[accepter]], at))
    return EXIT_OK


def explain_text(policy: Policy, requester: Party, accepter: Party, found: Sequence[Found], at: float) -> str:
    """Each side (OU path, tags, blocks against its owner's ranges), each rule in order up to the one
    that decides, and the outcome."""
    lines = [f"Policy: {policy.source}; at {datetime.fromtimestamp(at).astimezone().isoformat(timespec='seconds')}"]
    outside_any = False
    # The accounts' tags are shown where the policy matches by them, or they are known.
    shows_account_tags = policy.uses_account_tags() or any(p.account_tags is not None for p in (requester, accepter))
    for role, party, seen in (("Requester", requester, found[0]), ("Accepter", accepter, found[1])):
        path = "/".join(party.ou_path) if party.ou_path else "unknown (not given: rules by OU do not match it)"
        tags = ", ".join(f"{k}={v}" for k, v in sorted(party.vpc_tags.items())) or "none"
        account_tags = (
            (party.tags_unknown or "not known (not given: rules by account tags do not match it)")
            if party.account_tags is None
            else ", ".join(f"{k}={v}" for k, v in sorted(party.account_tags.items())) or "none"
        )
        allowed = policy.ranges_of(party.account_id, party.ou_path)
        blocks = [_network(b) for b in seen.cidrs]
        outside = allowed.outside(blocks)
        outside_any = outside_any or bool(outside)
        inside = (
            "every block inside"
            if not outside
            else f"OUTSIDE: {', '.join(map(str, outside))}: never accepted, routed or allowed"
        )
        lines += [
            f"{role}: account {party.account_id} VPC {party.vpc_id}",
            f"  OU path: {path}",
            *([f"  account tags: {account_tags}"] if shows_account_tags else []),
            f"  tags: {tags}",
            f"  blocks: {', '.join(seen.cidrs) or 'none'}",
            f"  ranges ({allowed.label}): {allowed.describe()}: {inside}",
        ]
    lines.append("Rules, in order:")
    for number, (rule, why) in enumerate(policy.explain(requester, accepter, at), start=1):
        lines.append(f"  {number}. {rule}: {why}")
    verdict = policy.verdict(requester, accepter, at)
    lines.append(f"Outcome: {verdict.outcome} (rule {verdict.rule!r})")
    if outside_any:
        lines.append("But a block is outside its owner's ranges: the request is not accepted whatever the rules say.")
    return "\n".join(lines)


def _network(block: str) -> Any:
    import ipaddress

    return ipaddress.ip_network(block, strict=False)


def _side(option: str, text: str) -> Side:
    parts = text.split("/")
    if (
        len(parts) != 3
        or not ACCOUNT_ID.fullmatch(parts[0])
        or not REGION.fullmatch(parts[1])
        or not VPC_ID.fullmatch(parts[2])
    ):
        raise SettingsError(f"{option} {text!r} is not ACCOUNT/REGION/VPC (123456789012/us-east-1/vpc-…)")
    return Side(*parts)


def _ou_paths(items: Sequence[str]) -> dict[str, tuple[str, ...]]:
    paths: dict[str, tuple[str, ...]] = {}
    for item in items:
        account, _, path = item.partition("=")
        units = tuple(u for u in path.split("/") if u)
        if (
            not ACCOUNT_ID.fullmatch(account)
            or not units
            or not all(OU_ID.fullmatch(u) or ROOT_ID.fullmatch(u) for u in units)
        ):
            raise SettingsError(f"--ou-path {item!r} is not ACCOUNT=r-…/ou-…/… (the account's OU path, root first)")
        paths[account] = units
    return paths


def _account_tags(items: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for item in items:
        account, _, text = item.partition("=")
        pairs = [p.partition("=") for p in text.split(",") if p]
        if not ACCOUNT_ID.fullmatch(account) or "=" not in item or any(not k or not sep for k, sep, _ in pairs):
            raise SettingsError(
                f"--account-tags {item!r} is not ACCOUNT=KEY=VALUE,KEY=VALUE (the account's tags in the Organization)"
            )
        found[account] = {k: v for k, _, v in pairs}
    return found


def _explain_time(text: str) -> float:
    problems: list[str] = []
    at = _when(text, "--at", problems)
    if at is None:
        raise SettingsError(problems[0])
    return at


def _explain_policy(args: argparse.Namespace, ranges: PeerCidrPolicy) -> Policy:
    if args.policy:
        return parse(read_document(args.policy), ranges, source=args.policy)
    if args.parameter_name:
        return _deployed(operator_session(args.region, args.profile), args.parameter_name, ranges)
    return from_parameters(ranges)


def _deployed(session: Any, name: str, ranges: PeerCidrPolicy) -> Policy:
    stored = parameter_store(session).read(name)
    if stored is None:
        raise FileFault(f"no parameter {name} in region {session.region_name}")
    return from_json(stored.value, ranges, source=f"parameter {stored.name} version {stored.version}")


class PolicyOptionError(Exception):
    """A policy option (`status --policy`, `--policy-parameter-name`) that cannot be used."""


def policy_option(path: str | None, parameter: str | None, ranges: PeerCidrPolicy, session: Any) -> Policy | None:
    """The document a command's option names (a file, or the deployed parameter read with
    `session`); None when none is named. Raises PolicyOptionError saying every fault."""
    try:
        if path:
            return parse(read_document(path), ranges, source=path)
        if parameter:
            return _deployed(session, parameter, ranges)
    except PolicyError as e:
        raise PolicyOptionError(f"{e.source}: " + "; ".join(e.problems)) from None
    except (FileFault, AutopilotError) as e:
        raise PolicyOptionError(str(e)) from None
    return None


def _found_in_status(path: str, sides: Sequence[Side]) -> dict[Side, Found]:
    document = read_document(path)
    vpcs = document.get("vpcs") if isinstance(document, Mapping) else None
    if not isinstance(vpcs, list):
        raise FileFault(f"{path}: no VPCs listed: save it with `peering-autopilot status --json --with-vpcs`")
    found: dict[Side, Found] = {}
    for side in sides:
        match = [
            v
            for v in vpcs
            if isinstance(v, Mapping)
            and (v.get("accountId"), v.get("region"), v.get("vpcId")) == (side.account_id, side.region, side.vpc_id)
        ]
        if not match:
            raise FileFault(
                f"{path}: VPC {side.vpc_id} of account {side.account_id} in {side.region} is not listed "
                "(only opted-in VPCs of the places read are)"
            )
        vpc = match[0]
        account_tags = vpc.get("accountTags")
        found[side] = Found(
            tuple(str(c) for c in vpc.get("cidrs", [])),
            {str(k): str(v) for k, v in dict(vpc.get("tags", {})).items()},
            tuple(str(u) for u in vpc.get("ouPath", [])),
            None if account_tags is None else {str(k): str(v) for k, v in dict(account_tags).items()},
        )
    return found


def _found_live(args: argparse.Namespace, sides: Sequence[Side]) -> dict[Side, Found]:
    """Each VPC read in its owner's account: the operator's own, or through the reader role."""
    session = operator_session(args.region or sides[0].region, args.profile)
    account = caller_account(session)
    settings = Settings(
        hub_account_id=account,
        hub_region=session.region_name or sides[0].region,
        approved_account_ids=frozenset(s.account_id for s in sides) - {account},
        member_role_name=args.member_role_name,
        managed_regions=tuple(sorted({s.region for s in sides})),
        event_bus_name="unused",
    )
    aws = AwsAccess(settings, session)
    found: dict[Side, Found] = {}
    for side in sides:
        vpc = aws.ec2(side.account_id, side.region).get_vpc(side.vpc_id)
        cidrs = tuple(str(b) for b in (*vpc.cidrs.ipv4, *vpc.cidrs.ipv6))
        found[side] = Found(cidrs, dict(vpc.tags), ())
    return found


# ---------------------------------------------------------------------------- deploy
def _credentials(error: Exception, args: argparse.Namespace) -> str | None:
    """What is wrong with the operator's credentials, when they are why `error` happened."""
    return credentials_problem(error, profile_source(args))


def run_deploy(args: argparse.Namespace) -> int:
    name = args.parameter_name
    if not PARAMETER_NAME.fullmatch(name) or name == NO_POLICY_PARAMETER:
        print(
            f"error: --parameter-name {name!r} is not the hub's PolicyParameterName: a path such as "
            "/peering-autopilot/policy (letters, digits, '_', '.', '-')",
            file=sys.stderr,
        )
        return EXIT_BAD
    checked = _checked(args.file, args.allowed_peer_cidrs, args.known_ous)
    if checked is None:
        return EXIT_BAD
    problem = aws_options_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD
    try:
        session = operator_session(args.region, args.profile)
        if not session.region_name:
            print("error: no region: pass --region or set AWS_REGION", file=sys.stderr)
            return EXIT_BAD
        version = parameter_store(session).write(
            name, checked.text, description="Peering Autopilot policy (peering-autopilot policy deploy)"
        )
    except AutopilotError as e:
        print(f"error: {args.file} was not deployed: {_credentials(e, args) or e}", file=sys.stderr)
        return EXIT_BAD
    tier = "Standard" if checked.size <= STANDARD_TIER_BYTES else "Advanced"
    print(
        f"{args.file}: deployed to {name} version {version} in {session.region_name} ({tier} tier, "
        f"{checked.size} bytes): {summary(checked.policy)}. In force within 60 seconds."
    )
    return EXIT_OK
