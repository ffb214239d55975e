"""Every file in events/ through the built artifacts from `sam build`: handler resolved from the
built template, the built layer on the path, the environment from the template (overlaid with
events/env.json, as `sam local invoke --env-vars` does, then events/env.emulator.json, which turns
DryRun off: the samples act only on an emulator), AWS emulated by moto's server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from autopilot_local.template import Stack
from peering_autopilot.aws.dynamodb import RecordStore
from peering_autopilot.record import MADE, OwnedRoute, OwnedRule, route_item, rule_item
from peering_autopilot.security_groups import Rule, rule_description

PROJECT = Path(__file__).resolve().parents[2]
BUILD = PROJECT / ".aws-sam" / "build"
EVENTS = PROJECT / "events"
ENABLED = [{"Key": "peering-autopilot:enabled", "Value": "true"}]


@dataclass(frozen=True)
class Case:
    """What the world must hold for an event file, and what the function must do with it."""

    status: str
    peering_after: str | None = None  # the peering's state after the call, when one is created
    requester: tuple[str, str, str] | None = None  # account, region, CIDR
    accepter: tuple[str, str, str] | None = None
    error_names: str = ""  # words the error must contain
    accepted_first: bool = False  # the peering is accepted before the event (configure's cases)
    configured_first: bool = False  # ... and its routes and rules are in place (verify's cases)
    deleted_first: bool = False  # ... and then it is deleted (clean-up's cases)
    sample_ids: tuple[str, str, str] | None = None  # the file's peering, requester VPC, accepter VPC ids
    group: str | None = None  # both VPCs tagged peering-autopilot:group with it, and no request between them


SAMPLE = ("pcx-0f1e2d3c4b5a69788", "vpc-0a1b2c3d4e5f60789", "vpc-0b2c3d4e5f6a70891")
HUB_SIDE = ("123456789012", "us-east-1", "10.0.0.0/16")
MEMBER_SIDE = ("222222222222", "us-east-1", "10.1.0.0/16")


CASES: dict[str, Case] = {
    "accept_peering/create-cross-account.json": Case(
        "accepted", "active", ("123456789012", "us-east-1", "10.0.0.0/16"), ("222222222222", "us-east-1", "10.1.0.0/16")
    ),
    "accept_peering/create-cross-region.json": Case(
        "accepted", "active", ("123456789012", "us-east-1", "10.0.0.0/16"), ("222222222222", "us-west-2", "10.1.0.0/16")
    ),
    "accept_peering/create-same-account.json": Case(
        "accepted", "active", ("123456789012", "us-east-1", "10.0.0.0/16"), ("123456789012", "us-east-1", "10.5.0.0/16")
    ),
    "accept_peering/create-unapproved-requester.json": Case(
        "declined",
        "pending-acceptance",
        ("333333333333", "us-east-1", "10.2.0.0/16"),
        ("222222222222", "us-east-1", "10.1.0.0/16"),
    ),
    "accept_peering/create-failed-call.json": Case("ignored", error_names="Client.InvalidParameterValue"),
    "accept_peering/malformed-peering-id.json": Case("invalid", error_names="vpcPeeringConnectionId is not valid"),
    "accept_peering/malformed-account-type.json": Case("invalid", error_names="must be a string, got int"),
    "accept_peering/unknown-peering.json": Case("error", error_names="peering pcx-0badc0ffee0badc0f not found"),
    "configure_peering/peering-accepted.json": Case(
        "configured", "active", HUB_SIDE, MEMBER_SIDE, accepted_first=True, sample_ids=SAMPLE
    ),
    "configure_peering/accepted-by-person.json": Case(
        "configured", "active", HUB_SIDE, MEMBER_SIDE, accepted_first=True, sample_ids=SAMPLE
    ),
    "configure_peering/accept-failed-call.json": Case("ignored", error_names="Client.OperationNotPermitted"),
    "configure_peering/malformed-missing-accepter.json": Case("invalid", error_names="detail.accepter is missing"),
    "verify_peering/peering-configured.json": Case(
        "verified", "active", HUB_SIDE, MEMBER_SIDE, accepted_first=True, configured_first=True, sample_ids=SAMPLE
    ),
    "verify_peering/malformed-one-side.json": Case(
        "invalid", error_names="detail.sides must be a list of the two sides"
    ),
    "accept_peering/request-found.json": Case("accepted", "active", HUB_SIDE, MEMBER_SIDE, sample_ids=SAMPLE),
    "configure_peering/drift-found.json": Case(
        "configured", "active", HUB_SIDE, MEMBER_SIDE, accepted_first=True, sample_ids=SAMPLE
    ),
    "cleanup_peering/delete-peering.json": Case(
        "cleaned-up",
        "deleted",
        HUB_SIDE,
        MEMBER_SIDE,
        accepted_first=True,
        configured_first=True,
        deleted_first=True,
        sample_ids=SAMPLE,
    ),
    "cleanup_peering/leftovers-found.json": Case(
        "cleaned-up",
        "deleted",
        HUB_SIDE,
        MEMBER_SIDE,
        accepted_first=True,
        configured_first=True,
        deleted_first=True,
        sample_ids=SAMPLE,
    ),
    "cleanup_peering/malformed-wrong-work.json": Case(
        "invalid", error_names="detail.work is 'configure', not 'clean-up'"
    ),
    # Peering groups: the connect function requests what the sweep planned, and withdraws only its own
    "connect_peering/request-found.json": Case(
        "requested", "pending-acceptance", HUB_SIDE, MEMBER_SIDE, sample_ids=SAMPLE, group="shared-services"
    ),
    "connect_peering/withdraw-found.json": Case(
        "skipped", "active", HUB_SIDE, MEMBER_SIDE, accepted_first=True, sample_ids=SAMPLE
    ),
    "connect_peering/malformed-wrong-work.json": Case(
        "invalid", error_names="detail.work is 'configure', not 'request' or 'withdraw'"
    ),
    "sweep/scheduled.json": Case("sweep"),
    "sweep/vpc-opted-in.json": Case("opt-in", "active", HUB_SIDE, MEMBER_SIDE, accepted_first=True, sample_ids=SAMPLE),
    "sweep/malformed-not-a-vpc.json": Case("invalid", error_names="the tag change is not on a VPC"),
}
# Which function gets the files of each folder: the template's CodeUri says.
FUNCTION_OF_FOLDER = {
    spec.code_dir.name: spec.logical_id
    for spec in Stack(PROJECT / "template.yaml", {}, "123456789012", "us-east-1").functions()
}


def test_every_event_file_has_a_case() -> None:
    files = {str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json") if p.parent != EVENTS}
    assert files == set(CASES)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    why_not = _build_missing_or_stale()
    if why_not:
        pytest.skip(f"{why_not}: `make build` (sam build) makes them; `make test` always does first")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # The hub stack's bus, as deployed: the functions publish their decisions on it.
    bus = json.loads((EVENTS / "env.json").read_text())["Parameters"]["EVENT_BUS_NAME"]
    _session(url, "123456789012").client("events", endpoint_url=url).create_event_bus(Name=bus)
    table = json.loads((EVENTS / "env.json").read_text())["Parameters"]["RECORD_TABLE"]
    _session(url, "123456789012").client("dynamodb", endpoint_url=url).create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield url
    server.stop()


def _build_missing_or_stale() -> str:
    """Why the built artifacts cannot be tested: none, or older than the code they are built from."""
    built = BUILD / "template.yaml"
    if not built.is_file():
        return "no built artifacts"
    sources = [PROJECT / "template.yaml", *(PROJECT / "functions").rglob("*.py"), *(PROJECT / "layers").rglob("*.py")]
    newer = [p for p in sources if p.stat().st_mtime > built.stat().st_mtime]
    return f"the built artifacts are older than {newer[0].relative_to(PROJECT)}" if newer else ""


def _session(endpoint: str, account: str) -> boto3.Session:
    base = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    if account == "123456789012":
        return base
    creds = base.client("sts", endpoint_url=endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="artifact-test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def _ec2(endpoint: str, account: str, region: str) -> Any:
    return _session(endpoint, account).client("ec2", region_name=region, endpoint_url=endpoint)


def _vpc(endpoint: str, where: tuple[str, str, str], opted_in: bool = True) -> str:
    """An opted-in VPC with a subnet, an instance, and a group that allows ICMP from its peers."""
    account, region, cidr = where
    ec2 = _ec2(endpoint, account, region)
    vpc_id = str(ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])
    if opted_in:
        ec2.create_tags(Resources=[vpc_id], Tags=ENABLED)
    group = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc_id)["GroupId"]
    ec2.create_tags(Resources=[group], Tags=[{"Key": "peering-autopilot:allow", "Value": "icmp"}])
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr.replace(".0.0/16", ".1.0/24"))["Subnet"]["SubnetId"]
    ec2.run_instances(
        ImageId="ami-12c6146b",
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        SecurityGroupIds=[group],
    )
    return vpc_id


def _configure_by_hand(
    endpoint: str, where: tuple[str, str, str], vpc_id: str, peer_cidr: str, peering_id: str
) -> None:
    """What the configure step leaves behind: a route in each table, ICMP in from the peer with its
    marker, and both in the autopilot's record (what is not there is a person's, and stays)."""
    account, region, _ = where
    ec2 = _ec2(endpoint, account, region)
    owned: list[dict[str, Any]] = []
    for table in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]:
        ec2.create_route(
            RouteTableId=table["RouteTableId"], DestinationCidrBlock=peer_cidr, VpcPeeringConnectionId=peering_id
        )
        route = OwnedRoute(account, region, table["RouteTableId"], peer_cidr)
        owned.append(route_item(peering_id, route, MADE, "2026-12-07T09:00:00.000Z", "created"))
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["app"]}]
    )
    group_id = groups["SecurityGroups"][0]["GroupId"]
    ranges = [{"CidrIp": peer_cidr, "Description": rule_description(peering_id)}]
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=[{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": ranges}]
    )
    rule = OwnedRule(account, region, group_id, Rule("icmp", -1, -1, peer_cidr))
    owned.append(rule_item(peering_id, rule, MADE, "2026-12-07T09:00:00.000Z", "created"))
    table_name = json.loads((EVENTS / "env.json").read_text())["Parameters"]["RECORD_TABLE"]
    dynamodb = _session(endpoint, "123456789012").client("dynamodb", endpoint_url=endpoint)
    RecordStore(dynamodb, table_name).write(puts=owned)


def _routes_via(endpoint: str, where: tuple[str, str, str], vpc_id: str, peering_id: str) -> list[str]:
    ec2 = _ec2(endpoint, where[0], where[1])
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    return [
        r["DestinationCidrBlock"] for t in tables for r in t["Routes"] if r.get("VpcPeeringConnectionId") == peering_id
    ]


def _invoke(endpoint: str, function: str, event: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "POWERTOOLS_", "PYTHON")) and k != "MOTO_ACCOUNT_ID"
    }
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONDONTWRITEBYTECODE": "1",  # leave the build as sam built it: no .pyc to deploy
        }
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "autopilot_local.invoke_built",
            function,
            str(event_file),
            "--template",
            str(BUILD / "template.yaml"),
            "--env-vars",
            str(EVENTS / "env.json"),
            "--env-vars",
            str(EVENTS / "env.emulator.json"),
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    output: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return output


@pytest.mark.parametrize("name", sorted(CASES))
def test_built_function_handles_event_file(endpoint: str, name: str, tmp_path: Path) -> None:
    case = CASES[name]
    text = (EVENTS / name).read_text()
    event = json.loads(text)
    peering_id = None
    if case.requester and case.accepter:
        # GIVEN the VPCs the event speaks of, and a real request between them in the emulator
        if case.sample_ids:
            sample_ids = case.sample_ids
        else:
            connection = event["detail"]["responseElements"]["vpcPeeringConnection"]
            sample_ids = (
                connection["vpcPeeringConnectionId"],
                connection["requesterVpcInfo"]["vpcId"],
                connection["accepterVpcInfo"]["vpcId"],
            )
        requester_vpc = _vpc(endpoint, case.requester)
        accepter_vpc = _vpc(endpoint, case.accepter)
        if case.group:
            for where, vpc_id in ((case.requester, requester_vpc), (case.accepter, accepter_vpc)):
                _ec2(endpoint, where[0], where[1]).create_tags(
                    Resources=[vpc_id], Tags=[{"Key": "peering-autopilot:group", "Value": case.group}]
                )
            peering_id = sample_ids[0]  # none yet: the function is to request it
        else:
            peering_id = _ec2(endpoint, case.requester[0], case.requester[1]).create_vpc_peering_connection(
                VpcId=requester_vpc, PeerVpcId=accepter_vpc, PeerOwnerId=case.accepter[0], PeerRegion=case.accepter[1]
            )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        if case.accepted_first:
            _ec2(endpoint, case.accepter[0], case.accepter[1]).accept_vpc_peering_connection(
                VpcPeeringConnectionId=peering_id
            )
        if case.configured_first:
            _configure_by_hand(endpoint, case.requester, requester_vpc, case.accepter[2], peering_id)
            _configure_by_hand(endpoint, case.accepter, accepter_vpc, case.requester[2], peering_id)
        if case.deleted_first:
            _ec2(endpoint, case.requester[0], case.requester[1]).delete_vpc_peering_connection(
                VpcPeeringConnectionId=peering_id
            )
        # ... the event file's ids standing for the emulator's
        for old, new in zip(sample_ids, (peering_id, requester_vpc, accepter_vpc), strict=True):
            text = text.replace(old, new)
        event = json.loads(text)

    # WHEN the built function gets the event
    function = FUNCTION_OF_FOLDER[name.split("/")[0]]
    output = _invoke(endpoint, function, event, tmp_path)

    # THEN it ran from the build, not from the sources, and did what the case says
    assert output["handler_file"].startswith(str(BUILD / function))
    assert output["domain_file"].startswith(str(BUILD / "DomainLayer" / "python"))
    assert output["powertools_file"].startswith(str(BUILD / "DomainLayer" / "python"))
    # ... and the AWS SDK from the environment, as Lambda's runtime provides it: the layer has none
    assert output["boto3_file"] and not output["boto3_file"].startswith(str(BUILD / "DomainLayer"))
    result = output["result"]
    assert result["status"] == case.status, result
    if case.error_names:
        assert case.error_names in (result.get("error") or result.get("reason") or "")
    if case.group and case.requester:
        peering_id = result["peeringId"]  # the request it sent, tagged for the group in the requester's account
        requester = _ec2(endpoint, case.requester[0], case.requester[1])
        [sent] = requester.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])[
            "VpcPeeringConnections"
        ]
        assert {t["Key"]: t["Value"] for t in sent["Tags"]} == {"peering-autopilot:created-for-group": case.group}
    if peering_id and case.accepter:
        account, region, _ = case.accepter
        ec2 = _session(endpoint, account).client("ec2", region_name=region, endpoint_url=endpoint)
        found = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])["VpcPeeringConnections"]
        [peering] = [p for p in found if p["VpcPeeringConnectionId"] == peering_id]
        assert peering["Status"]["Code"] == case.peering_after
    if peering_id and case.status == "cleaned-up" and case.requester and case.accepter:
        assert _routes_via(endpoint, case.requester, requester_vpc, peering_id) == []
        assert _routes_via(endpoint, case.accepter, accepter_vpc, peering_id) == []
    if peering_id and case.status == "configured" and case.requester and case.accepter:
        assert _routes_via(endpoint, case.requester, requester_vpc, peering_id) == [case.accepter[2]]
        assert _routes_via(endpoint, case.accepter, accepter_vpc, peering_id) == [case.requester[2]]


def test_the_emulator_of_make_emulator_runs_the_sample_events_and_the_doctor(tmp_path: Path) -> None:
    why_not = _build_missing_or_stale()
    if why_not:
        pytest.skip(f"{why_not}: `make build` (sam build) makes them; `make test` always does first")
    # GIVEN the emulator as `make emulator` runs it: its own process (moto's state is per process)
    emulator = subprocess.Popen(
        [sys.executable, "-m", "autopilot_local.emulator", "--port", "0", "--out", str(tmp_path / "emulator")],
        cwd=PROJECT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        printed = []
        for line in emulator.stdout:
            printed.append(line.rstrip())
            if line.startswith("Ctrl-C stops it"):
                break
        url = printed[0].split(" on ")[-1]
        world = {words[0]: words for words in (line.split() for line in printed) if words[:1] in (["VPC-A"], ["VPC-B"])}
        (_, vpc_a, cidr_a, _, account_a, region), (_, vpc_b, cidr_b, _, account_b, _) = (
            world["VPC-A"][:6],
            world["VPC-B"][:6],
        )
        [peering_id] = {w.rstrip(":") for line in printed for w in line.split() if w.startswith("pcx-")}
        events = tmp_path / "emulator" / "events"
        written = {str(p.relative_to(events)) for p in events.rglob("*.json")}
        assert "accept_peering/create-cross-account.json" in written
        assert "accept_peering/create-cross-region.json" not in written  # the world has one region

        # WHEN the sample events, with the emulator's ids, go through the built functions in order
        results = []
        for function, name in [
            ("AcceptPeeringFunction", "accept_peering/create-cross-account.json"),
            ("ConfigurePeeringFunction", "configure_peering/peering-accepted.json"),
            ("VerifyPeeringFunction", "verify_peering/peering-configured.json"),
        ]:
            event = json.loads((events / name).read_text())
            results.append(_invoke(url, function, event, tmp_path)["result"]["status"])

        # THEN they act on its world: accepted, configured, verified
        assert results == ["accepted", "configured", "verified"]
        # (each VPC of the world has its main table and a subnet's: both route the peer)
        assert _routes_via(url, (account_a, region, cidr_a), vpc_a, peering_id) == [cidr_b] * 2
        assert _routes_via(url, (account_b, region, cidr_b), vpc_b, peering_id) == [cidr_a] * 2
        # ... and the doctor, as the emulator prints it, reads the same world and says so
        line = next(x for x in printed if "peering-autopilot doctor" in x)
        command = line.split()[1:]
        assert command[:2] == ["doctor", peering_id]
        doctor = subprocess.run(
            [sys.executable, "-m", "peering_autopilot.cli", *command],
            cwd=PROJECT,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert f"Peering {peering_id} (active)" in doctor.stdout
    finally:
        emulator.terminate()
    # ... and it stops cleanly when told to
    assert emulator.wait(timeout=30) == 0
