"""`peering-autopilot doctor pcx-…`: the verification checklist for any peering, from a terminal.
`peering-autopilot status`: every peering of the listed accounts and regions, in one table.

Uses the operator's own credentials (the usual AWS_PROFILE / environment); reads other accounts
through the member role (the read-only `-reader`, by default). Works against an emulator too:
`--endpoint-url http://127.0.0.1:5000` (or AWS_ENDPOINT_URL).
Doctor's exit status: 0 verified, 1 blocked or not verifiable, 2 the peering could not be read.
Status's: 0 every place read, 1 some place not read, 2 bad options or no identity.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from peering_autopilot import estate, places
from peering_autopilot.aws.sessions import AwsAccess, caller_account, operator_session
from peering_autopilot.context import Context
from peering_autopilot.errors import AutopilotError, AwsCallError, SettingsError
from peering_autopilot.events import PEERING_ID
from peering_autopilot.settings import ACCOUNT_ID, DEFAULT_PEER_CIDRS, REGION, ROLE_NAME, PeerCidrPolicy, Settings
from peering_autopilot.triggers import PeeringHint
from peering_autopilot.verify import diagnose, report_text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="peering-autopilot", description="Peering Autopilot tools")
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="walk the runbook's checklist for a peering, both ways")
    doctor.add_argument("peering_id", help="the peering, pcx-…")
    doctor.add_argument("--region", default=None, help="region where your account sees the peering")
    doctor.add_argument(
        "--member-role-name",
        default="PeeringAutopilotMember-reader",
        help="role to assume to read a side in another account (default: %(default)s)",
    )
    doctor.add_argument("--reachability-analyzer", action="store_true", help="also run VPC Reachability Analyzer")
    doctor.add_argument("--ping", action="store_true", help="also ping from SSM-managed probe instances")
    doctor.add_argument("--endpoint-url", default=None, help="talk to this endpoint (an emulator) instead of AWS")
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
    status.add_argument(
        "--mesh-threshold",
        default="10",
        help="the hub's MeshAdvisorThreshold: a peering group of more VPCs gets the advice (default: %(default)s)",
    )
    status.add_argument("--endpoint-url", default=None, help="talk to this endpoint (an emulator) instead of AWS")
    status.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    return run_doctor(args) if args.command == "doctor" else run_status(args)


def run_doctor(args: argparse.Namespace) -> int:
    if not PEERING_ID.fullmatch(args.peering_id):
        print(f"error: {args.peering_id!r} is not a peering id (pcx- and 8 to 17 hex digits)", file=sys.stderr)
        return 2
    if not ROLE_NAME.fullmatch(args.member_role_name):
        print(f"error: --member-role-name {args.member_role_name!r} is not a valid role name", file=sys.stderr)
        return 2
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    session = operator_session(args.region)
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
        print(f"error: cannot read {args.peering_id} in {region}: {e}", file=sys.stderr)
        return 2
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
        print(f"error: {e}", file=sys.stderr)
        return 2
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
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not ROLE_NAME.fullmatch(args.member_role_name):
        print(f"error: --member-role-name {args.member_role_name!r} is not a valid role name", file=sys.stderr)
        return 2
    if args.endpoint_url is not None:
        url = urlsplit(args.endpoint_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            print(f"error: --endpoint-url {args.endpoint_url!r} is not an http(s) URL", file=sys.stderr)
            return 2
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    session = operator_session()
    regions = regions or ([session.region_name] if session.region_name else [])
    if not regions:
        print("error: no region: pass --regions or set AWS_REGION", file=sys.stderr)
        return 2
    try:
        account = caller_account(session)
    except AwsCallError as e:
        print(f"error: cannot tell which account your credentials belong to: {e}", file=sys.stderr)
        return 2
    accounts = accounts or [account]
    # The caller's account acts as the hub: the other listed accounts are read through the member role.
    settings = Settings(
        hub_account_id=account,
        hub_region=session.region_name or regions[0],
        approved_account_ids=frozenset(accounts) - {account},
        member_role_name=args.member_role_name,
        managed_regions=tuple(regions),
        event_bus_name="unused",
        allowed_peer_cidrs=policy,
    )
    where = [(a, r) for a in accounts for r in regions]
    aws = AwsAccess(settings, session)
    reads, unread = places.read_estate(aws, where)
    report = estate.EstateReport(
        [r.place for r in reads],
        estate.survey(reads, quota, policy, time.time(), places.PeerVpcs(reads, places.vpc_reader(aws, settings))),
        unread,
        places.group_plan(reads, quota, policy, threshold),
    )
    print(json.dumps(report.describe(), indent=2) if args.json else estate.report_text(report))
    return 1 if unread else 0


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
