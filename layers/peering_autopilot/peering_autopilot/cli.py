"""`peering-autopilot doctor pcx-…`: the verification checklist for any peering, from a terminal.
`peering-autopilot status`: every peering of the listed accounts and regions, in one table.

Uses the operator's own credentials (the usual AWS_PROFILE / environment); reads other accounts
through the member role (the read-only `-reader`, by default). Works against an emulator too:
`--endpoint-url http://127.0.0.1:5000` (or AWS_ENDPOINT_URL).
Doctor's exit status: 0 verified, 1 blocked or not verifiable, 2 the peering could not be read
(or --reachability-analyzer's API answered an error: one line names it).
Status's: 0 every place read, 1 some place (or the record, with --record-table) not read, 2 bad
options or no identity. Its text fits 120 columns; --wide shows every column.
Every command that talks to AWS takes --profile, --region (status: --regions) and --endpoint-url
alike (`aws_options`); a mistake (a bad option, an unknown profile, no or expired credentials) is
one line on stderr and exit status 2, never a traceback.
`peering-autopilot history pcx-…`: the peering's timeline from the autopilot's record (its table in
the hub), read with the operator's credentials or the hub's record reader role (`--role-arn`);
`--verify` checks the hash chain. Exit status: 0 read (and intact), 1 the chain is broken, 2 the
record could not be read or bad options.
`peering-autopilot policy check|test|explain|deploy`: the network team's policy (`policy_tools`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

from peering_autopilot import approval, estate, estate_page, places, policy_tools
from peering_autopilot.aws.service_quotas import QuotaReaders
from peering_autopilot.aws.sessions import (
    AwsAccess,
    assumed_session,
    caller_account,
    credentials_problem,
    operator_session,
    organizations_reader,
    record_reader,
)
from peering_autopilot.command_options import aws_options, aws_options_problem, profile_source
from peering_autopilot.context import Context
from peering_autopilot.decision import decide
from peering_autopilot.errors import AutopilotError, AwsCallError, RecordUnavailableError, SettingsError
from peering_autopilot.events import PEERING_ID
from peering_autopilot.mesh import withdraw_only_recorded
from peering_autopilot.organization import parse_units
from peering_autopilot.policy import Policy, PolicyError
from peering_autopilot.policy import parse as parse_policy
from peering_autopilot.record import HISTORY, HistoryEntry, PeeringRecord, unreadable_record, verify_chain
from peering_autopilot.recorder import Recorder, RecordReads
from peering_autopilot.settings import (
    ACCOUNT_ID,
    BUDGET_VARIABLES,
    DEFAULT_PEER_CIDRS,
    REGION,
    ROLE_ARN,
    ROLE_NAME,
    TABLE_NAME,
    PeerCidrPolicy,
    Settings,
    budget_limits,
)
from peering_autopilot.triggers import PeeringHint
from peering_autopilot.verify import diagnose, report_text

DEFAULT_RECORD_TABLE = "peering-autopilot-record"  # the default stack's RecordTable
DEFAULT_RANGES = PeerCidrPolicy.parse(DEFAULT_PEER_CIDRS)


RECORD_ROLE_HELP = (
    "assume this role to read the record (the hub's RecordReaderArn output; default: your own credentials)"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peering-autopilot", description="Peering Autopilot tools")
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="walk the runbook's checklist for a peering, both ways")
    doctor.add_argument("peering_id", help="the peering, pcx-…")
    doctor.add_argument(
        "--member-role-name",
        default="PeeringAutopilotMember-reader",
        help="role to assume to read a side in another account (default: %(default)s)",
    )
    doctor.add_argument("--reachability-analyzer", action="store_true", help="also run VPC Reachability Analyzer")
    doctor.add_argument("--ping", action="store_true", help="also ping from SSM-managed probe instances")
    aws_options(doctor, "region where your account sees the peering (default: your session's)")
    doctor.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    status = commands.add_parser("status", help="every peering of the accounts and regions, in one table")
    status.add_argument("--accounts", default=None, help="comma-separated account ids (default: your own)")
    status.add_argument("--regions", default=None, help="comma-separated regions (default: your session's)")
    status.add_argument(
        "--member-role-name",
        default="PeeringAutopilotMember-reader",
        help="role to assume in the listed accounts other than yours (default: %(default)s)",
    )
    status.add_argument(
        "--peering-quota",
        default=str(estate.DEFAULT_PEERING_QUOTA),
        help="active peerings allowed per VPC, for the headroom column (default: %(default)s, AWS's default)",
    )
    status.add_argument(
        "--allowed-peer-cidrs",
        default=DEFAULT_PEER_CIDRS,
        help="the hub's AllowedPeerCidrs, to judge what is due as it does (default: %(default)s)",
    )
    for variable, parameter, default, _, _ in BUDGET_VARIABLES:
        status.add_argument(
            f"--{_kebab(parameter)}",
            dest=variable.lower(),
            default=str(default),
            help=f"the hub's {parameter}, to judge what the budgets hold as it does (default: %(default)s)",
        )
    status.add_argument(
        "--mesh-threshold",
        default="10",
        help="the hub's MeshAdvisorThreshold: a peering group of more VPCs gets the advice (default: %(default)s)",
    )
    status.add_argument(
        "--record-table",
        default=None,
        help="the hub's record table (its RecordTableName output): show each peering's last decision",
    )
    status.add_argument(
        "--record-role-arn",
        default=None,
        help=RECORD_ROLE_HELP,
    )
    status.add_argument(
        "--organizational-units",
        default=None,
        help="the hub's ManagedOrganizationalUnitIds (ou-…, or r-… for the whole Organization): their ACTIVE"
        " accounts are read too, walked with your credentials (the management account or a delegated"
        " administrator) or --organizations-role-arn",
    )
    status.add_argument(
        "--organizations-role-arn",
        default=None,
        help="the hub's OrganizationsReadRoleArn, to assume for the walk of --organizational-units",
    )
    aws_options(status, None)
    status.add_argument(
        "--wide",
        action="store_true",
        help="every column, nothing shortened: accounts, regions, blocks, status tags, groups, headroom",
    )
    status_policy = status.add_mutually_exclusive_group()
    status_policy.add_argument(
        "--policy",
        default=None,
        help="the network team's policy, a file: judge each side's blocks by its owner's ranges as the hub does",
    )
    status_policy.add_argument(
        "--policy-parameter-name",
        default=None,
        help="the same, from the hub's deployed policy (its PolicyParameterName, in your session's region)",
    )
    status.add_argument("--json", action="store_true", help="print the table as JSON")
    status.add_argument(
        "--with-vpcs",
        action="store_true",
        help="with --json, also list the opted-in VPCs with their blocks and tags (for `policy explain --status-json`)",
    )
    status.add_argument(
        "--html",
        default=None,
        metavar="FILE",
        help="also write the estate as one self-contained page: a map of the VPCs and their peerings, and the table",
    )
    history = commands.add_parser("history", help="a peering's timeline, from the autopilot's record")
    history.add_argument("peering_id", help="the peering, pcx-…")
    history.add_argument(
        "--table",
        default=DEFAULT_RECORD_TABLE,
        help="the hub's record table, its RecordTableName output (default: %(default)s, the default stack's)",
    )
    history.add_argument(
        "--role-arn",
        default=None,
        help=RECORD_ROLE_HELP,
    )
    aws_options(history, "the hub's region (default: your session's)")
    history.add_argument("--json", action="store_true", help="print the timeline as JSON")
    history.add_argument(
        "--verify", action="store_true", help="check the hash chain: exit 0 intact, 1 broken (says where)"
    )
    for name, words in (("approve", "accept"), ("reject", "reject")):
        command = commands.add_parser(
            name, help=f"{words} a request the policy asks a person about, with your own AWS identity"
        )
        command.add_argument("peering_id", help="the peering, pcx-…")
        command.add_argument("--reason", required=True, help="why: tagged on the peering and kept in the record")
        aws_options(command, "the accepter's region (default: your session's)")
        command.add_argument(
            "--role-arn", default=None, help="assume this role in the accepter account first (your approver role)"
        )
        command.add_argument(
            "--member-role-name",
            default="PeeringAutopilotMember-reader",
            help="role to assume to read the requester's VPC in its account (default: %(default)s)",
        )
        command.add_argument(
            "--policy", default=None, help="the network team's policy file (JSON or YAML), to check it as the hub does"
        )
        command.add_argument(
            "--allowed-peer-cidrs",
            default=DEFAULT_PEER_CIDRS,
            help="the hub's AllowedPeerCidrs (default: %(default)s)",
        )
    policy_tools.add_commands(commands)
    args = parser.parse_args(argv)
    runs = {
        "doctor": run_doctor,
        "status": run_status,
        "history": run_history,
        "policy": policy_tools.run_policy,
        "approve": run_person_decides,
        "reject": run_person_decides,
    }
    try:
        return runs[args.command](args)
    except Exception as e:  # the operator's credentials at fault, wherever that shows: one line, no traceback
        problem = credentials_problem(e, profile_source(args))
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return 2


def _error(e: BaseException, args: argparse.Namespace, say: str | None = None) -> int:
    """Say on one line why the command stopped: the credentials, when they are why; otherwise `say`
    (default: the error itself). Exit status 2."""
    print(f"error: {credentials_problem(e, profile_source(args)) or say or e}", file=sys.stderr)
    return 2


def run_person_decides(args: argparse.Namespace) -> int:
    """`approve` / `reject`: a person's decision on an asked request, made with their own AWS
    identity so that CloudTrail, not this command, tells the hub who decided. Re-reads the peering
    and both VPCs and asks the same decide() the accept step asks (with `--policy`, the network
    team's document; the hub checks again with its own when CloudTrail brings the call); refuses
    with exit 2 and the reason when a gate other than the person's word fails. Then tags the reason
    (`peering-autopilot:approval-reason`: words for the record, never authority) and calls
    AcceptVpcPeeringConnection or RejectVpcPeeringConnection. Exit 0 done, 2 refused or not done."""
    approve = args.command == "approve"
    reason = approval.clean_reason(args.reason or "")
    problem = None
    if not PEERING_ID.fullmatch(args.peering_id):
        problem = f"{args.peering_id!r} is not a peering id (pcx- and 8 to 17 hex digits)"
    elif not ROLE_NAME.fullmatch(args.member_role_name):
        problem = f"--member-role-name {args.member_role_name!r} is not a valid role name"
    elif args.role_arn and not ROLE_ARN.fullmatch(args.role_arn):
        problem = f"--role-arn {args.role_arn!r} is not an IAM role ARN"
    elif not reason:
        problem = "--reason must say why, in words"
    ranges, document = DEFAULT_RANGES, None
    if problem is None:
        try:
            ranges = PeerCidrPolicy.parse(args.allowed_peer_cidrs, name="--allowed-peer-cidrs")
            document = _policy_file(args.policy, ranges) if args.policy else None
        except (SettingsError, PolicyError, OSError, ValueError) as e:
            problem = str(e)
    problem = problem or aws_options_problem(args)  # the endpoint used only once everything else is right
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        session = operator_session(args.region, args.profile)
        if args.role_arn:
            session = assumed_session(session, args.role_arn, "peering-autopilot-approver")
        region = session.region_name
        if not region:
            print("error: no region: pass --region or set AWS_REGION", file=sys.stderr)
            return 2
        account = caller_account(session)
        done = person_decides(session, account, region, args.peering_id, approve, reason, args, ranges, document)
    except AutopilotError as e:
        return _error(e, args)
    if done:
        print(f"error: {done}", file=sys.stderr)
        return 2
    verb = "accepted" if approve else "rejected"
    print(
        f"{args.peering_id} {verb} by your identity in account {account}: the autopilot reads who decided "
        "from CloudTrail and re-checks every gate before it configures anything"
    )
    return 0


def person_decides(
    session: Any,
    account: str,
    region: str,
    peering_id: str,
    approve: bool,
    reason: str,
    args: argparse.Namespace,
    ranges: PeerCidrPolicy,
    document: Policy | None,
) -> str:
    """The decision made with `session` (the person's own); why it was refused, or "" when done."""
    settings = Settings(
        hub_account_id=account,
        hub_region=region,
        approved_account_ids=frozenset(),
        member_role_name=args.member_role_name,
        managed_regions=(region,),
        event_bus_name="unused",
        allowed_peer_cidrs=ranges,
        policy=document,
    )
    aws = AwsAccess(settings, session)
    ec2 = aws.ec2(account, region)
    peering = ec2.find_peering(peering_id)
    if peering is None:
        return f"{peering_id} is not visible to account {account} in {region}"
    if peering.accepter.account_id != account or peering.accepter.region != region:
        return (
            f"{peering_id} is accepted in account {peering.accepter.account_id} region {peering.accepter.region}: "
            f"run this there, with your identity in that account (yours is {account} in {region})"
        )
    if not peering.pending:
        return f"{peering_id} is {peering.status}, not pending acceptance: nothing to decide"
    if approve:
        # Both owners count as managed here (the hub re-checks its own scope): the request is
        # judged like the accept step judges it, the requester's VPC read in its own account.
        settings = dataclasses.replace(settings, approved_account_ids=frozenset({peering.requester.account_id}))
        aws = AwsAccess(settings, session)
        accepter_vpc = ec2.get_vpc(peering.accepter.vpc_id)
        requester_vpc = None
        try:
            requester_vpc = aws.ec2(peering.requester.account_id, peering.requester.region).get_vpc(
                peering.requester.vpc_id
            )
        except AutopilotError as e:
            return f"the requester's VPC {peering.requester.vpc_id} cannot be read, so overlap cannot be ruled out: {e}"
        decision = decide(peering, accepter_vpc, requester_vpc.cidrs, settings, None, time.time(), requester_vpc)
        if not (decision.accept or decision.asks):
            return f"refused: a gate fails: {decision.explanation}"
    ec2.tag(peering_id, {approval.REASON_TAG: reason})
    if approve:
        ec2.accept_peering(peering_id)
    else:
        ec2.reject_peering(peering_id)
    return ""


def _policy_file(path: str, ranges: PeerCidrPolicy) -> Policy:
    """The policy document in a file: JSON, or YAML where PyYAML is installed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        try:
            import yaml
        except ImportError as e:
            raise ValueError(f"{path} is not JSON, and PyYAML is not installed to read YAML") from e
        document = yaml.safe_load(text)
    return parse_policy(document, ranges, source=path)


def run_doctor(args: argparse.Namespace) -> int:
    if not PEERING_ID.fullmatch(args.peering_id):
        print(f"error: {args.peering_id!r} is not a peering id (pcx- and 8 to 17 hex digits)", file=sys.stderr)
        return 2
    if not ROLE_NAME.fullmatch(args.member_role_name):
        print(f"error: --member-role-name {args.member_role_name!r} is not a valid role name", file=sys.stderr)
        return 2
    problem = aws_options_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        session = operator_session(args.region, args.profile)
    except AwsCallError as e:
        return _error(e, args)
    region = session.region_name
    if not region:
        print("error: no region: pass --region or set AWS_REGION", file=sys.stderr)
        return 2
    try:
        account = caller_account(session)
        # The operator's account acts as the hub; a settings object for reading this one peering.
        reader = AwsAccess(_doctor_settings(args, account, region, set(), {region}), session)
        peering = reader.ec2(account, region).find_peering(args.peering_id)
    except AwsCallError as e:
        return _error(e, args, f"cannot read {args.peering_id} in {region}: {e}")
    if peering is None:
        print(f"error: {args.peering_id} is not visible to account {account} in {region}", file=sys.stderr)
        return 2

    # Both owners are "approved" so the other side is read through the member role (reported
    # plainly if that role cannot be assumed).
    owners = {peering.requester.account_id, peering.accepter.account_id}
    regions = {peering.requester.region, peering.accepter.region}
    settings = _doctor_settings(args, account, region, owners - {account}, regions)
    try:
        context = Context(settings, AwsAccess(settings, session))
        diagnosis, _ = diagnose(PeeringHint(args.peering_id, account, region), context)
    except AutopilotError as e:
        return _error(e, args)
    if args.json:
        print(
            json.dumps(
                {
                    "peeringId": args.peering_id,
                    "verdict": diagnosis.status_value,
                    "unreadableSides": diagnosis.unreadable,
                    "directions": [d.describe() for d in diagnosis.directions],
                },
                indent=2,
            )
        )
    else:
        print(report_text(diagnosis))
    # The analyzer was asked for and its API refused: said on one line (the report above shows the rest).
    refused = [d.analyzer.api_error for d in diagnosis.directions if d.analyzer and d.analyzer.api_error]
    if refused:
        print(f"error: --reachability-analyzer: the API answered {refused[0]}", file=sys.stderr)
        return 2
    return 0 if diagnosis.verified else 1


def _doctor_settings(
    args: argparse.Namespace, account: str, region: str, others: set[str], regions: set[str]
) -> Settings:
    return Settings(
        hub_account_id=account,
        hub_region=region,
        approved_account_ids=frozenset(others),
        member_role_name=args.member_role_name,
        managed_regions=tuple(sorted(regions)),
        event_bus_name="unused",
        reachability_analyzer=args.reachability_analyzer,
        live_ping=args.ping,
    )


def run_status(args: argparse.Namespace) -> int:
    try:
        accounts = _listed("--accounts", args.accounts, ACCOUNT_ID, "a 12-digit account id")
        regions = _listed("--regions", args.regions, REGION, "a region name")
        quota = _quota(args.peering_quota)
        threshold = _threshold(args.mesh_threshold)
        policy = PeerCidrPolicy.parse(args.allowed_peer_cidrs, name="--allowed-peer-cidrs")
        limits = budget_limits({v: getattr(args, v.lower()) for v, *_ in BUDGET_VARIABLES})
        units = parse_units(args.organizational_units or "", "--organizational-units")
        if args.organizations_role_arn and not ROLE_ARN.fullmatch(args.organizations_role_arn):
            raise SettingsError(f"--organizations-role-arn {args.organizations_role_arn!r} is not an IAM role ARN")
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not ROLE_NAME.fullmatch(args.member_role_name):
        print(f"error: --member-role-name {args.member_role_name!r} is not a valid role name", file=sys.stderr)
        return 2
    problem = _record_options(args.record_table, args.record_role_arn, "--record-table", "--record-role-arn")
    problem = problem or _html_target(args.html) or aws_options_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        session = operator_session(None, args.profile)
    except AwsCallError as e:
        return _error(e, args)
    regions = regions or ([session.region_name] if session.region_name else [])
    if not regions:
        print("error: no region: pass --regions or set AWS_REGION", file=sys.stderr)
        return 2
    try:
        account = caller_account(session)
    except AwsCallError as e:
        return _error(e, args, f"cannot tell which account your credentials belong to: {e}")
    accounts = accounts or [account]
    walk_problems: tuple[str, ...] = ()
    if units:  # the accounts the sweep manages through the Organization, as it walks them
        try:
            snapshot = organizations_reader(session, args.organizations_role_arn).walk(units)
        except AutopilotError as e:
            return _error(e, args, f"cannot read the Organization: {e}")
        accounts = list(dict.fromkeys([*accounts, *sorted(snapshot.paths)]))
        walk_problems = snapshot.problems
        for problem in walk_problems:
            print(f"warning: the Organization's walk is incomplete: {problem}", file=sys.stderr)
    try:
        document = policy_tools.policy_option(args.policy, args.policy_parameter_name, policy, session)
    except policy_tools.PolicyOptionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # The caller's account acts as the hub: the other listed accounts are read through the member role.
    settings = Settings(
        hub_account_id=account,
        hub_region=session.region_name or regions[0],
        approved_account_ids=frozenset(accounts) - {account},
        member_role_name=args.member_role_name,
        managed_regions=tuple(regions),
        event_bus_name="unused",
        allowed_peer_cidrs=policy,
        budgets=limits,
        policy=document,
    )
    ranges = settings.peer_ranges  # AllowedPeerCidrs, or the document's ranges by account
    where = [(a, r) for a in accounts for r in regions]
    aws = AwsAccess(settings, session)
    quotas = QuotaReaders(aws.service_quotas)  # read only where a budget's default would be passed
    reads, unread = places.read_estate(aws, where)
    # The record, when asked for: read with the operator's credentials or the reader role's.
    recorder, record_problem = None, None
    if args.record_table:
        try:
            recorder = _record_recorder(session, args.record_table, args.record_role_arn)
        except AutopilotError as e:
            record_problem = str(e)
    # What the record holds of each peering (one Query each, only where something would be removed
    # or withdrawn); without the record nothing counts as the autopilot's, as in the functions.
    read_record = RecordReads(recorder) if recorder is not None else None
    groups = places.group_plan(reads, quota, ranges, threshold, settings.group_refusal)
    if groups is not None:
        withdraw_only_recorded(groups, read_record or _record_not_read)
    gone: dict[places.Place, places.GoneRead] = {}  # each place's blackhole targets read once
    report = estate.EstateReport(
        [r.place for r in reads],
        estate.survey(
            reads,
            quota,
            ranges,
            time.time(),
            places.PeerVpcs(reads, places.vpc_reader(aws, settings)),
            read_record,
            lambda place, judged: gone.setdefault(place, places.gone_once(aws.ec2(*place).gone_targets))(judged),
            limits,
            lambda place, code: quotas.reader(*place)(code),
        ),
        unread,
        groups,
        record_read=read_record is not None,
        vpcs=[v for r in reads for v in r.vpcs.values()] if args.with_vpcs else None,
        approvals=estate.pending_approvals(reads, time.time()),
    )
    if args.record_table:
        report.decisions, report.record_not_read = _last_decisions(recorder, report.peerings, record_problem)
    if args.html:
        generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        page = estate_page.render(report, [v for r in reads for v in r.vpcs.values()], generated)
        if problem := _write_page(args.html, page):
            print(f"error: {problem}", file=sys.stderr)
            return 2
    print(json.dumps(report.describe(), indent=2) if args.json else estate.report_text(report, wide=args.wide))
    return 1 if unread or report.record_not_read or walk_problems else 0


def _record_not_read(peering_id: str) -> PeeringRecord:
    return unreadable_record(peering_id, "the record was not read (--record-table)")


def _last_decisions(
    recorder: Recorder | None, rows: Sequence[estate.PeeringRow], problem: str | None
) -> tuple[dict[str, HistoryEntry | None], str | None]:
    """Each peering's last history entry; after the first read the record refuses, none more."""
    found: dict[str, HistoryEntry | None] = {}
    for row in rows:
        if recorder is None or recorder.store is None or problem:
            break
        try:
            item = recorder.store.last(f"{HISTORY}{row.peering_id}")
        except RecordUnavailableError as e:
            problem = str(e)
            break
        found[row.peering_id] = HistoryEntry.from_item(row.peering_id, item) if item else None
    return found, problem


def run_history(args: argparse.Namespace) -> int:
    """The peering's timeline from the record; with --verify, whether its hash chain is intact."""
    if not PEERING_ID.fullmatch(args.peering_id):
        print(f"error: {args.peering_id!r} is not a peering id (pcx- and 8 to 17 hex digits)", file=sys.stderr)
        return 2
    problem = _record_options(args.table, args.role_arn, "--table", "--role-arn") or aws_options_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        session = operator_session(args.region, args.profile)
    except AwsCallError as e:
        return _error(e, args)
    if not session.region_name:
        print("error: no region: pass --region or set AWS_REGION", file=sys.stderr)
        return 2
    try:
        recorder = _record_recorder(session, args.table, args.role_arn)
        entries = recorder.history(args.peering_id)
    except RecordUnavailableError as e:
        return _error(e, args, f"cannot read the history of {args.peering_id}: {_record_reason(e)}")
    except AutopilotError as e:
        return _error(e, args)
    check = verify_chain(entries) if args.verify else None
    if args.json:
        out: dict[str, Any] = {
            "peeringId": args.peering_id,
            "table": args.table,
            "entries": [_entry(e) for e in entries],
        }
        if check is not None:
            out["chain"] = {
                "intact": check.intact,
                "entries": check.entries,
                "firstSeq": check.first_seq,
                "breaks": [{"seq": b.seq, "why": b.why} for b in check.breaks],
                "summary": check.describe(),
            }
        print(json.dumps(out, indent=2))
    else:
        print(history_text(args.peering_id, entries))
        if check is not None:
            print("")
            print(f"Chain: {check.describe()}")
    return 1 if check is not None and not check.intact else 0


HISTORY_COLUMNS = ("SEQ", "TIME", "KIND", "ACTOR", "SUMMARY")


def history_text(peering_id: str, entries: Sequence[HistoryEntry]) -> str:
    """The timeline as a table, oldest first."""
    if not entries:
        return f"No history recorded for {peering_id}."
    rows = [HISTORY_COLUMNS, *((str(e.seq), e.at, e.kind, e.actor, e.summary) for e in entries)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HISTORY_COLUMNS) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip() for r in rows)


def _entry(entry: HistoryEntry) -> dict[str, Any]:
    """An entry as JSON; evidence that is not JSON any more (changed by hand) is shown as it is."""
    try:
        return entry.describe()
    except ValueError:
        return {**entry._asdict(), "eventId": entry.event_id, "evidence": entry.evidence}


def _record_recorder(session: Any, table: str, role_arn: str | None) -> Recorder:
    """A read-only Recorder on the record table: the operator's session, or the reader role's."""
    reading = assumed_session(session, role_arn) if role_arn else session
    return Recorder(record_reader(reading, table), None, dry_run=True)


def _record_reason(error: RecordUnavailableError) -> str:
    reason = str(getattr(error, "reason", error))
    if reason.startswith("ResourceNotFoundException"):
        return f"no table {error.table} here (--table: the hub's RecordTableName output; --region: the hub's region)"
    if reason.startswith(("AccessDenied", "UnrecognizedClient")):
        return f"access denied to {error.table} ({reason}); pass --role-arn, the hub's RecordReaderArn output"
    return str(error)


def _record_options(table: str | None, role_arn: str | None, table_option: str, role_option: str) -> str | None:
    if table is not None and not TABLE_NAME.fullmatch(table):
        return f"{table_option} {table!r} is not a DynamoDB table name"
    if role_arn is not None:
        if not ROLE_ARN.fullmatch(role_arn):
            return f"{role_option} {role_arn!r} is not an IAM role ARN"
        if table is None:
            return f"{role_option} reads the record: give {table_option} too"
    return None


def _html_target(path: str | None) -> str | None:
    """Check --html's FILE before anything is read: its directory exists and it is not one."""
    if path is None:
        return None
    if not path:
        return "--html needs a file name"
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"--html {path!r} is a directory, not a file to write"
    if not os.path.isdir(folder):
        return f"--html {path!r}: no directory {folder}"
    return None


def _write_page(path: str, page: str) -> str | None:
    """Write the page whole (a temporary file beside it, renamed over it); the problem, if any."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(page)
        os.replace(temporary, path)
    except OSError as e:
        if os.path.exists(temporary):
            os.unlink(temporary)
        return f"cannot write --html {path!r}: {e.strerror or e}"
    return None


def _listed(option: str, text: str | None, pattern: re.Pattern[str], what: str) -> list[str]:
    """A comma list of the option, each item matching `pattern`, once each in order; [] when not given."""
    if text is None:
        return []
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise SettingsError(f"{option} lists nothing")
    bad = [item for item in items if not pattern.fullmatch(item)]
    if bad:
        raise SettingsError(f"{option}: {bad[0]!r} is not {what}")
    return list(dict.fromkeys(items))


def _kebab(parameter: str) -> str:
    """A template parameter's name as an option: QuotaHeadroomPercent -> quota-headroom-percent."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", parameter).lower()


def _quota(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,4}", text, re.ASCII) or int(text) < 1:
        raise SettingsError(f"--peering-quota must be a whole number of peerings per VPC, at least 1, got {text!r}")
    return int(text)


def _threshold(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,4}", text, re.ASCII) or int(text) < 2:
        raise SettingsError(f"--mesh-threshold must be a whole number of VPCs, at least 2, got {text!r}")
    return int(text)


if __name__ == "__main__":
    sys.exit(main())
