"""`peering-autopilot doctor pcx-…`: the verification checklist for any peering, from a terminal.

Uses the operator's own credentials (the usual AWS_PROFILE / environment); reads the other side
through the member role when it is in another account. Works against an emulator too:
`--endpoint-url http://127.0.0.1:5000` (or AWS_ENDPOINT_URL).
Exit status: 0 verified, 1 blocked or not verifiable, 2 the peering could not be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from peering_autopilot.aws.sessions import AwsAccess, caller_account, operator_session
from peering_autopilot.context import Context
from peering_autopilot.errors import AutopilotError, AwsCallError
from peering_autopilot.settings import ROLE_NAME, Settings
from peering_autopilot.triggers import PEERING_ID, PeeringHint
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
    args = parser.parse_args(argv)
    return run_doctor(args)


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


if __name__ == "__main__":
    sys.exit(main())
