"""Whatever anyone puts on the hub's bus, or hands a function directly, the autopilot never
- accepts a peering whose requester is not approved (the hub's account or ApprovedAccountIds),
- accepts or rejects a peering into a VPC that has not opted in (peering-autopilot:enabled = 'true'),
- makes a mutating call in an account it does not manage, nor tags anything but a peering's
  status (peering-autopilot:*) in one it does.

Hypothesis draws the events (any source, detail-type and envelope account, real and junk; details
naming the world's accounts, regions, VPCs and peerings, and junk), how each arrives (put on the
bus by a principal of its envelope's account, under the bus policy; placed on the bus as if a
policy let anything in, so only the rules filter; or handed to every function's handler), the
approved accounts, the bus policy's variant, the unapproved-request action and every VPC's opt-in
tag. Each example then runs until nothing is pending, with every AWS call recorded in the account
moto serves it from.

The world is built once (moto is slow to build it): five VPCs in the hub, an approved member, an
organization account and a stranger, and a peering request for each of eight requester/accepter
pairs. An example changes the world (accepts, rejects, routes), so the invariants are judged on
what changed during it, and a request a previous example decided is made again before the next.
Derandomized, without shrinking (a replay against a world the first run changed would not be the
same example): a failure is reported as the example that failed.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.iam.models import get_account_id_from

from autopilot_local.cloudtrail import Identity, person
from autopilot_local.harness import Delivery, LocalAutopilot, LocalCloud
from autopilot_local.world import Network, build_network
from tests.support.world import HUB, MEMBER, OTHER_REGION, OUTSIDER, REGION

STRANGER = "444444444444"  # no member stack, outside the organization, never approved
ENABLED = "peering-autopilot:enabled"
MUTATING = ("Create", "Delete", "Replace", "Authorize", "Revoke", "Accept", "Reject", "Modify", "Associate")
CLOUDTRAIL = "AWS API Call via CloudTrail"
DETAIL_TYPES = [
    CLOUDTRAIL,
    "Tag Change on Resource",
    "Scheduled Event",
    "Peering Work Found",
    "Peering Accepted",
    "Peering Rejected",
    "Peering Declined",
    "Peering Configured",
    "Peering Verified",
    "Nonsense",
]
SOURCES = ["aws.ec2", "aws.tag", "aws.events", "peering-autopilot", "peering-autopilot2", "acme.orders"]
ACCOUNTS = [HUB, MEMBER, OUTSIDER, STRANGER]
REGIONS = [REGION, OTHER_REGION, "eu-west-1"]
JUNK = st.sampled_from([None, "", "x", 12, ["a"], {"k": "v"}, "pcx-zz", "999999999999", "vpc-0000000000000000"])


# ---------------------------------------------------------------------------------------- world
LAYOUT = {  # VPC name: account, region, block
    "H1": (HUB, REGION, "10.0.0.0/16"),
    "H2": (HUB, OTHER_REGION, "10.10.0.0/16"),
    "M1": (MEMBER, REGION, "10.1.0.0/16"),
    "O1": (OUTSIDER, REGION, "10.2.0.0/16"),
    "S1": (STRANGER, REGION, "10.3.0.0/16"),
}


@dataclass(frozen=True)
class Pair:
    requester: str  # VPC names
    accepter: str


PAIRS = [
    Pair("M1", "H1"),  # approved member into the hub
    Pair("O1", "H1"),  # organization account, approved only in some examples
    Pair("S1", "H1"),  # stranger into the hub
    Pair("H1", "M1"),  # hub into the member
    Pair("O1", "M1"),
    Pair("H2", "M1"),  # across regions
    Pair("H1", "O1"),  # into an account managed only when approved
    Pair("M1", "S1"),  # into an account never managed
]


@dataclass
class World:
    cloud: LocalCloud
    vpcs: dict[str, Network]
    peerings: dict[str, Pair] = field(default_factory=dict)  # every peering ever requested
    current: dict[Pair, str] = field(default_factory=dict)  # the latest request of each pair
    tags: dict[str, str | None] = field(default_factory=dict)  # each VPC's opt-in tag now
    autopilots: dict[tuple[frozenset[str], bool, bool], LocalAutopilot] = field(default_factory=dict)
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # what a failing example shows of the fixture
        return f"World({len(self.vpcs)} VPCs, {len(self.peerings)} peerings, {len(self.autopilots)} stacks)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # Hypothesis's printer asks this first
        printer.text(repr(self))

    def ec2(self, account: str, region: str) -> Any:
        """The test's own EC2 client in an account and region, made once (making one is slow)."""
        if (account, region) not in self.clients:
            self.clients[account, region] = self.cloud.ec2(account, region)
        return self.clients[account, region]

    def request(self, pair: Pair) -> None:
        requester, accepter = self.vpcs[pair.requester], self.vpcs[pair.accepter]
        ec2 = self.ec2(requester.account, requester.region)  # not recorded: a request nobody reported
        peering = ec2.create_vpc_peering_connection(
            VpcId=requester.vpc_id, PeerVpcId=accepter.vpc_id, PeerOwnerId=accepter.account, PeerRegion=accepter.region
        )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
        self.peerings[peering] = pair
        self.current[pair] = peering

    def statuses(self) -> dict[str, str]:
        """Every peering's status, as its accepter's account and region see it."""
        out: dict[str, str] = {}
        for account, region in {(v.account, v.region) for v in self.vpcs.values()}:
            ec2 = self.ec2(account, region)
            for page in ec2.get_paginator("describe_vpc_peering_connections").paginate():
                for p in page["VpcPeeringConnections"]:
                    if p["AccepterVpcInfo"]["OwnerId"] == account and p["VpcPeeringConnectionId"] in self.peerings:
                        out[p["VpcPeeringConnectionId"]] = p["Status"]["Code"]
        return out

    def set_opt_in(self, name: str, value: str | None) -> None:
        """The owner's tag, set directly (no event: the events of an example are Hypothesis's)."""
        if self.tags.get(name, "absent") == value:
            return
        net = self.vpcs[name]
        ec2 = self.ec2(net.account, net.region)
        if value is None:
            ec2.delete_tags(Resources=[net.vpc_id], Tags=[{"Key": ENABLED}])
        else:
            ec2.create_tags(Resources=[net.vpc_id], Tags=[{"Key": ENABLED, "Value": value}])
        self.tags[name] = value

    def autopilot(self, approved: frozenset[str], organization: bool, reject: bool) -> LocalAutopilot:
        """A hub stack per configuration, side by side in the emulator (each with its own bus)."""
        key = (approved, organization, reject)
        if key not in self.autopilots:
            parameters = {
                "ApprovedAccountIds": ",".join(sorted(approved)),
                "ManagedRegions": f"{REGION},{OTHER_REGION}",
                "OrganizationId": "o-exampleorg1" if organization else "",
                "UnapprovedRequestAction": "reject" if reject else "leave-pending",
            }
            self.autopilots[key] = LocalAutopilot(
                self.cloud,
                parameters,
                region=REGION,
                member_accounts=(MEMBER, OUTSIDER),
                log_stream=io.StringIO(),
                stack_name=f"autopilot-{len(self.autopilots)}",
            )
        return self.autopilots[key]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    saved = dict(os.environ)
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    os.environ["AWS_DEFAULT_REGION"] = REGION
    try:
        with mock_aws():
            cloud = LocalCloud(HUB)
            vpcs = {
                name: build_network(cloud, Network(name, account, region, cidr))
                for name, (account, region, cidr) in LAYOUT.items()
            }
            built = World(cloud, vpcs, tags=dict.fromkeys(vpcs))
            for pair in PAIRS:
                built.request(pair)
            yield built
    finally:
        os.environ.clear()
        os.environ.update(saved)


# ---------------------------------------------------------------------------------------- calls
@dataclass(frozen=True)
class Call:
    account: str  # where moto serves it: the account of the caller's credentials
    region: str
    service: str
    operation: str
    params: dict[str, Any]


@contextlib.contextmanager
def recorded_calls() -> Iterator[list[Call]]:
    """Every AWS call made while the block runs, attempted or not, with the account it acts in."""
    calls: list[Call] = []
    client_class: Any = botocore.client.BaseClient  # _make_api_call is private: untyped on purpose
    original = client_class._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        key = client._request_signer._credentials.access_key
        service = client.meta.service_model.service_name
        calls.append(Call(get_account_id_from(key), client.meta.region_name, service, operation, dict(params)))
        return original(client, operation, params)

    client_class._make_api_call = recording
    try:
        yield calls
    finally:
        client_class._make_api_call = original


# ---------------------------------------------------------------------------------------- events
def identities(account: Any) -> st.SearchStrategy[Any]:
    """Who CloudTrail says made a call: a person, a hub function's role, member roles, junk."""
    owner = account if isinstance(account, str) and len(account) == 12 else HUB
    return st.sampled_from(
        [
            person(owner).user_identity(),
            Identity(HUB, "autopilot-0-AcceptPeeringFunctionRole-X", "s", "/peering-autopilot/").user_identity(),
            Identity(owner, "PeeringAutopilotMember-accepter", "peering-autopilot").user_identity(),
            Identity(owner, "PeeringAutopilotMember-reader", "peering-autopilot").user_identity(),
            Identity(owner, "PeeringAutopilotMember", "peering-autopilot").user_identity(),  # a person's, by name
            {"type": "Root", "arn": f"arn:aws:iam::{owner}:root"},
            "junk",
        ]
    )


def mostly[T](real: st.SearchStrategy[T], other: st.SearchStrategy[Any] = JUNK) -> st.SearchStrategy[T | Any]:
    """A real value, and junk (or `other`) one time in eight: an event whose every field is junk
    is refused before it gets anywhere."""
    return st.integers(0, 7).flatmap(lambda n: other if n == 0 else real)


# Each kind of event as its rules and triggers expect it: source and detail-type.
KINDS = {
    "cloudtrail": ("aws.ec2", CLOUDTRAIL),
    "tag change": ("aws.tag", "Tag Change on Resource"),
    "schedule": ("aws.events", "Scheduled Event"),
    "work": ("peering-autopilot", "Peering Work Found"),
    "accepted": ("peering-autopilot", "Peering Accepted"),
    "rejected": ("peering-autopilot", "Peering Rejected"),
    "configured": ("peering-autopilot", "Peering Configured"),
}


def one_of_growing[T](items: list[T]) -> st.SearchStrategy[T]:
    """One of a list that grows from example to example (every peering ever requested): drawn as
    an index in a fixed range, so that the same choices draw alike whatever the list's length
    (Hypothesis checks that data generation does not depend on outside state)."""
    return st.integers(0, 1023).map(lambda i: items[i % len(items)])


@dataclass(frozen=True)
class Place:
    """Strategies for where a side is: its account, region and VPC."""

    account: st.SearchStrategy[Any]
    region: st.SearchStrategy[Any]
    vpc: st.SearchStrategy[Any]


def place_of(net: Network) -> Place:
    return Place(st.just(net.account), st.just(net.region), st.just(net.vpc_id))


@st.composite
def events(draw: st.DrawFn, world: World) -> dict[str, Any]:
    """An event of one kind, its envelope and detail mostly as that kind's, sometimes another's or
    junk. Two in three name one of the world's peerings consistently (mostly the latest request of
    a pair; its id with its sides' accounts, regions and VPCs, the envelope one of theirs or the
    hub's): those get past the parsers to the steps. The others name anything."""
    kind = draw(st.sampled_from(sorted(KINDS)))
    source, detail_type = KINDS[kind]
    if draw(st.integers(0, 5)) == 0:  # another source or detail-type than the kind's
        source, detail_type = draw(st.sampled_from(SOURCES)), draw(st.sampled_from(DETAIL_TYPES))
    anywhere = Place(
        mostly(st.sampled_from(ACCOUNTS)),
        mostly(st.sampled_from(REGIONS)),
        mostly(st.sampled_from([v.vpc_id for v in world.vpcs.values()])),
    )
    if draw(st.integers(0, 2)) > 0:
        latest = [(p, world.peerings[p]) for p in world.current.values()]
        pcx, pair = draw(mostly(st.sampled_from(latest), one_of_growing(list(world.peerings.items()))))
        requester, accepter = world.vpcs[pair.requester], world.vpcs[pair.accepter]
        peering: st.SearchStrategy[Any] = st.just(pcx)
        req, acc = place_of(requester), place_of(accepter)
        where = draw(st.sampled_from([requester, accepter]))
        envelope_region = st.just(where.region)
        envelopes = [HUB, HUB, HUB, where.account] if source == "peering-autopilot" else [where.account]
    else:
        peering = mostly(one_of_growing(list(world.peerings)))
        req = acc = anywhere
        envelope_region = anywhere.region
        envelopes = ACCOUNTS
    envelope = draw(mostly(st.sampled_from(envelopes), st.sampled_from([*ACCOUNTS, None, "12345"])))

    def side(place: Place) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({"accountId": place.account, "region": place.region, "vpcId": place.vpc})

    def info(place: Place) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({"ownerId": place.account, "region": place.region, "vpcId": place.vpc})

    decided = st.fixed_dictionaries(
        {"peeringId": peering, "accepter": side(acc), "requester": side(req), "dryRun": st.sampled_from([False, True])}
    )
    details = {
        "cloudtrail": st.fixed_dictionaries(
            {
                "eventSource": st.just("ec2.amazonaws.com"),
                "eventName": st.sampled_from(
                    [
                        "CreateVpcPeeringConnection",
                        "AcceptVpcPeeringConnection",
                        "RejectVpcPeeringConnection",
                        "DeleteVpcPeeringConnection",
                        "RunInstances",
                    ]
                ),
                "userIdentity": identities(envelope),
                "requestParameters": st.fixed_dictionaries(
                    {"vpcPeeringConnectionId": peering},
                    optional={"peerOwnerId": acc.account, "peerRegion": acc.region, "peerVpcId": acc.vpc},
                ),
                "responseElements": st.one_of(
                    st.none(),
                    st.fixed_dictionaries(
                        {
                            "vpcPeeringConnection": st.fixed_dictionaries(
                                {"vpcPeeringConnectionId": peering},
                                optional={"accepterVpcInfo": info(acc), "requesterVpcInfo": info(req)},
                            )
                        }
                    ),
                ),
            },
            optional={"errorCode": st.just("Client.OperationNotPermitted")},
        ),
        "tag change": st.fixed_dictionaries(
            {
                "service": st.sampled_from(["ec2", "ec2", "s3"]),
                "resource-type": st.sampled_from(["vpc", "vpc", "subnet"]),
                "changed-tag-keys": st.just([ENABLED]),
                "tags": st.fixed_dictionaries({ENABLED: st.sampled_from(["true", "false", "TRUE"])}),
            }
        ),
        "schedule": st.just({}),
        "work": st.fixed_dictionaries(
            {
                "work": mostly(st.sampled_from(["accept", "configure", "clean-up"])),
                "peeringId": peering,
                "accountId": acc.account,
                "region": acc.region,
            }
        ),
        "accepted": decided,
        "rejected": decided,
        "configured": st.fixed_dictionaries(
            {
                "peeringId": peering,
                "sides": st.tuples(side(req), side(acc)).map(
                    lambda sides: [{"role": "requester", **sides[0]}, {"role": "accepter", **sides[1]}]
                ),
                "dryRun": st.booleans(),
            }
        ),
    }
    detail = draw(mostly(details[kind], st.one_of(*details.values(), JUNK)))
    return {
        "version": "0",
        "id": "0d4e5f6a-1b2c-4d3e-8f9a-0b1c2d3e4f5a",
        "detail-type": detail_type,
        "source": source,
        "account": envelope,
        "time": "2026-11-27T09:30:00Z",
        "region": draw(envelope_region),
        "resources": [f"arn:aws:ec2:{REGION}:{envelope}:vpc/{draw(acc.vpc)}"],
        "detail": detail,
    }


# ---------------------------------------------------------------------------------------- deliver
def deliver(autopilot: LocalAutopilot, event: dict[str, Any], how: str, principal: str) -> list[Delivery]:
    """Hand the event in, as `how` says, and run until nothing is left to do."""
    account = event["account"]
    if how == "handlers":
        return autopilot.hand_to_every_function(event)
    if how == "bus" and isinstance(account, str) and len(account) == 12 and account.isdigit():
        role = {
            "forwarding role": autopilot.forwarding_role_arn(account),
            "person": f"arn:aws:iam::{account}:role/NetworkAdmin",
        }[principal]
        autopilot.put_as(event, account, role)
    else:  # as if the bus admitted anything: only the rules filter
        autopilot.put(event)
    return autopilot.run_until_idle()


def forged(event: dict[str, Any]) -> bool:
    """An event of the autopilot's own kind that the hub's account did not put."""
    return event.get("source") == "peering-autopilot" and event.get("account") != HUB


# ---------------------------------------------------------------------------------------- property
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    approved=st.frozensets(st.sampled_from([MEMBER, OUTSIDER])),
    organization=st.booleans(),
    reject=st.booleans(),
    opt_in=st.fixed_dictionaries(
        {name: st.sampled_from(["true", "true", None, "false", "TRUE", "true "]) for name in sorted(LAYOUT)}
    ),
    sweep_after=st.integers(0, 2).map(lambda n: n == 0),  # one example in three
    data=st.data(),
)
def test_no_event_makes_the_autopilot_act_where_it_may_not(
    world: World,
    approved: frozenset[str],
    organization: bool,
    reject: bool,
    opt_in: dict[str, str | None],
    sweep_after: bool,
    data: st.DataObject,
) -> None:
    # GIVEN a configuration, the owners' tags, and a pending request for every pair
    autopilot = world.autopilot(approved, organization, reject)
    managed = {HUB, *approved}
    for name, value in opt_in.items():
        world.set_opt_in(name, value)
    before = world.statuses()
    for pair in PAIRS:
        if before[world.current[pair]] != "pending-acceptance":
            world.request(pair)
            before[world.current[pair]] = "pending-acceptance"
    world.cloud.trail.clear()
    drawn = data.draw(
        st.lists(
            st.tuples(
                events(world),
                st.sampled_from(["bus", "placed on the bus", "handlers"]),
                st.sampled_from(["forwarding role", "person"]),
            ),
            min_size=1,
            max_size=2,
        ),
        label="events, how each arrives, who puts it",
    )

    # WHEN each is handed in and everything runs until nothing is pending (then, maybe, the sweep)
    with recorded_calls() as calls:
        deliveries = [d for event, how, principal in drawn for d in deliver(autopilot, event, how, principal)]
        if sweep_after:
            deliveries += autopilot.tick()
    after = world.statuses()
    for status in sorted({f"{d.function}: {d.result.get('status')}" for d in deliveries}):
        hypothesis.event(f"result {status}")
    for change in sorted({f"{before.get(p)} -> {after.get(p)}" for p in after if before.get(p) != after.get(p)}):
        hypothesis.event(f"a peering changed: {change}")

    # THEN nothing was accepted or rejected that may not be, nothing changed where it may not, and
    # no event of the autopilot's kind that the hub did not put reached a step
    def opted_in(name: str) -> bool:
        return opt_in[name] == "true"

    problems: list[str] = []
    for peering, pair in world.peerings.items():
        if before.get(peering) != "pending-acceptance" or after.get(peering) == "pending-acceptance":
            continue
        requester, accepter = world.vpcs[pair.requester], world.vpcs[pair.accepter]
        if after[peering] in ("active", "provisioning") and requester.account not in managed:
            problems.append(f"{peering} from {requester.account} (not approved) was accepted")
        if not opted_in(pair.accepter) or accepter.account not in managed:
            problems.append(f"{peering} into {pair.accepter} (tag {opt_in[pair.accepter]!r}) became {after[peering]}")
    for call in calls:
        is_mutating = call.service == "ec2" and call.operation.startswith(MUTATING)
        if (is_mutating or (call.service, call.operation) == ("ssm", "SendCommand")) and call.account not in managed:
            problems.append(f"{call.operation} in {call.account}, which is not managed: {call.params}")
        if call.operation in ("AcceptVpcPeeringConnection", "RejectVpcPeeringConnection"):
            pair = world.peerings.get(call.params.get("VpcPeeringConnectionId", ""))
            if pair is None or not opted_in(pair.accepter):
                problems.append(f"{call.operation} into a VPC not opted in: {call.params}")
            elif call.operation == "AcceptVpcPeeringConnection" and world.vpcs[pair.requester].account not in managed:
                problems.append(f"{call.operation} of a request from an account not approved: {call.params}")
        if call.operation == "CreateTags":
            keys = {t["Key"] for t in call.params.get("Tags", [])}
            resources = call.params.get("Resources", [])
            # its own notes, and a Name (IAM lets it write one only where the peering has none)
            if not all(r.startswith("pcx-") for r in resources) or not all(
                k.startswith("peering-autopilot:") or k == "Name" for k in keys
            ):
                problems.append(f"CreateTags on {resources} with {sorted(keys)}")
    for d in deliveries:
        if forged(d.event) and d.rule != "(none)":
            problems.append(f"rule {d.rule} took a {d.event['detail-type']!r} event from account {d.event['account']}")
        if forged(d.event) and d.calls.calls:
            problems.append(f"{d.function} called {d.calls.names} for an event from account {d.event['account']}")
    assert problems == [], {"approved": sorted(approved), "organization": organization, "reject": reject}
