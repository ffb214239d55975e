"""The gateway: every AWS call the domain makes goes through here.

Clients are made lazily and share one botocore Config with the `standard` retry mode, which
absorbs throttling (RequestLimitExceeded) with backoff. Sessions in member accounts come from
assuming the member role; credentials are cached per account until shortly before they expire.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from peering_autopilot import __version__, reachability
from peering_autopilot.allow import ALLOW_TAG, Traffic
from peering_autopilot.errors import ChangeRefusedError, PeeringNotFoundError, RoleAssumptionError, VpcNotFoundError
from peering_autopilot.model import ENABLED_TAG, PROBE_TAG, Peering, Vpc
from peering_autopilot.probe import Endpoint
from peering_autopilot.reachability import AnalyzerResult
from peering_autopilot.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_events import EventBridgeClient

BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    user_agent_extra=f"peering-autopilot/{__version__}",
)
EVENT_SOURCE = "peering-autopilot"
_CREDENTIAL_MARGIN_SECONDS = 300
_PEERING_NOT_FOUND = {"InvalidVpcPeeringConnectionID.NotFound", "InvalidVpcPeeringConnectionId.NotFound"}
_VPC_NOT_FOUND = {"InvalidVpcID.NotFound"}
_SWEPT_STATES = {"pending-acceptance", "provisioning", "active", "deleted", "rejected", "expired", "failed"}
# Refusals that concern one resource only: reported by name, never retried in a loop.
_REFUSALS = {
    "RouteLimitExceeded",
    "RouteAlreadyExists",
    "RulesPerSecurityGroupLimitExceeded",
    "InvalidPermission.Duplicate",
}


F = TypeVar("F", bound=Callable[..., Any])


def needs(*actions: str) -> Callable[[F], F]:
    """Declare the IAM actions a gateway method calls; a test checks the templates grant them."""

    def mark(method: F) -> F:
        method.iam_actions = frozenset(actions)  # type: ignore[attr-defined]
        return method

    return mark


def actions_of(*methods: Callable[..., Any]) -> frozenset[str]:
    """The IAM actions the given gateway methods declare: what an entry point of the domain needs."""
    return frozenset(action for method in methods for action in getattr(method, "iam_actions", ()))


@dataclass
class _CachedSession:
    session: boto3.Session
    expires_at: float


class AwsAccess:
    """Hands out EC2 gateways per account and region, assuming the member role where needed."""

    def __init__(
        self,
        settings: Settings,
        base_session: boto3.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._base = base_session or boto3.Session()
        self._clock = clock
        self._sessions: dict[str, _CachedSession] = {}

    @needs("sts:AssumeRole")
    def session_for(self, account_id: str) -> boto3.Session:
        if account_id == self._settings.hub_account_id:
            return self._base
        cached = self._sessions.get(account_id)
        if cached and cached.expires_at - _CREDENTIAL_MARGIN_SECONDS > self._clock():
            return cached.session
        role_arn = self._settings.member_role_arn(account_id)
        sts = self._base.client("sts", region_name=self._settings.hub_region, config=BOTO_CONFIG)
        try:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="peering-autopilot")["Credentials"]
        except ClientError as e:
            error = e.response.get("Error", {})
            raise RoleAssumptionError(account_id, role_arn, f"{error.get('Code')}: {error.get('Message')}") from e
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        self._sessions[account_id] = _CachedSession(session, creds["Expiration"].timestamp())
        return session

    def ec2(self, account_id: str, region: str) -> Ec2Gateway:
        client = self.session_for(account_id).client("ec2", region_name=region, config=BOTO_CONFIG)
        return Ec2Gateway(client, account_id, region)

    @needs("ssm:DescribeInstanceInformation", "ssm:SendCommand", "ssm:GetCommandInvocation")
    def ssm(self, account_id: str, region: str) -> Any:
        """SSM in an account and region, for the live ping from a probe instance."""
        return self.session_for(account_id).client("ssm", region_name=region, config=BOTO_CONFIG)

    @needs("sns:Publish")
    def notify(self, topic_arn: str, subject: str, message: str) -> None:
        """Tell people, in the words of the report, through the optional SNS topic."""
        region = topic_arn.split(":")[3]
        client = self._base.client("sns", region_name=region, config=BOTO_CONFIG)
        client.publish(TopicArn=topic_arn, Subject=subject[:100], Message=message)

    def publisher(self) -> EventPublisher:
        client = self._base.client("events", region_name=self._settings.hub_region, config=BOTO_CONFIG)
        return EventPublisher(client, self._settings.event_bus_name)


class Ec2Gateway:
    """EC2 in one account and region, in the domain's terms."""

    def __init__(self, client: EC2Client, account_id: str, region: str) -> None:
        self.client = client
        self.account_id = account_id
        self.region = region

    @needs("ec2:DescribeVpcPeeringConnections")
    def find_peering(self, peering_id: str) -> Peering | None:
        """The peering as this account sees it, or None when EC2 does not know it (yet)."""
        try:
            response = self.client.describe_vpc_peering_connections(VpcPeeringConnectionIds=[peering_id])
        except ClientError as e:
            if _code(e) in _PEERING_NOT_FOUND:
                return None
            raise
        # Match the id in code too: emulators (and filters in general) may return more than asked.
        for item in response.get("VpcPeeringConnections", []):
            if item.get("VpcPeeringConnectionId") == peering_id:
                return Peering.from_api(item, self.region)
        return None

    @needs("ec2:DescribeVpcs")
    def get_vpc(self, vpc_id: str) -> Vpc:
        try:
            response = self.client.describe_vpcs(VpcIds=[vpc_id])
        except ClientError as e:
            if _code(e) in _VPC_NOT_FOUND:
                raise VpcNotFoundError(vpc_id, self.account_id, self.region) from e
            raise
        for item in response.get("Vpcs", []):
            if item.get("VpcId") == vpc_id:
                return Vpc.from_api(item, self.region)
        raise VpcNotFoundError(vpc_id, self.account_id, self.region)

    @needs("ec2:AcceptVpcPeeringConnection")
    def accept_peering(self, peering_id: str) -> str:
        try:
            response = self.client.accept_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
        except ClientError as e:
            if _code(e) in _PEERING_NOT_FOUND:
                raise PeeringNotFoundError(peering_id, self.account_id, self.region) from e
            raise
        return response["VpcPeeringConnection"].get("Status", {}).get("Code", "unknown")

    @needs("ec2:RejectVpcPeeringConnection")
    def reject_peering(self, peering_id: str) -> None:
        try:
            self.client.reject_vpc_peering_connection(VpcPeeringConnectionId=peering_id)
        except ClientError as e:
            if _code(e) in _PEERING_NOT_FOUND:
                raise PeeringNotFoundError(peering_id, self.account_id, self.region) from e
            raise

    @needs("ec2:DescribeRouteTables")
    def route_tables(self, vpc_id: str) -> list[dict[str, Any]]:
        """All route tables of the VPC: one filtered, paginated read, never one call per table."""
        return self.route_tables_of([vpc_id])

    @needs("ec2:DescribeSecurityGroups")
    def tagged_security_groups(self, vpc_id: str) -> list[dict[str, Any]]:
        """The VPC's groups that carry the allow tag, filtered server-side (an unfiltered
        DescribeSecurityGroups falls into a smaller throttling bucket)."""
        pages = self.client.get_paginator("describe_security_groups").paginate(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "tag-key", "Values": [ALLOW_TAG]}]
        )
        return [
            dict(g)
            for page in pages
            for g in page["SecurityGroups"]
            if g.get("VpcId") == vpc_id and any(t["Key"] == ALLOW_TAG for t in g.get("Tags", []))
        ]

    @needs("ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")
    def probe_endpoint(self, vpc_id: str, isolated_subnets: frozenset[str] = frozenset()) -> Endpoint | None:
        """Where to probe in the VPC: an instance tagged probe=true, else an interface tagged so,
        else a representative running instance, else a representative subnet. Representatives
        come from subnets not in `isolated_subnets` (those its owner kept out of peering routes)
        when there are any."""
        vpc_filter: Any = {"Name": "vpc-id", "Values": [vpc_id]}
        pages = self.client.get_paginator("describe_instances").paginate(
            Filters=[vpc_filter, {"Name": "instance-state-name", "Values": ["running"]}]
        )
        instances = sorted(
            (i for page in pages for r in page["Reservations"] for i in r["Instances"] if i.get("PrivateIpAddress")),
            key=lambda i: str(i["InstanceId"]),
        )
        for instance in instances:
            if _tags(instance).get(PROBE_TAG) == "true":
                return _instance_endpoint(instance, "probe instance")
        interfaces = self.client.describe_network_interfaces(
            Filters=[vpc_filter, {"Name": f"tag:{PROBE_TAG}", "Values": ["true"]}]
        )["NetworkInterfaces"]
        for interface in sorted(interfaces, key=lambda n: str(n["NetworkInterfaceId"])):
            if interface.get("VpcId") == vpc_id and _tags(interface, "TagSet").get(PROBE_TAG) == "true":
                return Endpoint(
                    "probe interface",
                    str(interface["NetworkInterfaceId"]),
                    str(interface["PrivateIpAddress"]),
                    str(interface["SubnetId"]),
                    tuple(str(g["GroupId"]) for g in interface.get("Groups", [])),
                )
        if instances:
            preferred = [i for i in instances if i["SubnetId"] not in isolated_subnets] or instances
            return _instance_endpoint(preferred[0], "instance")
        subnets = sorted(
            (s for s in self.client.describe_subnets(Filters=[vpc_filter])["Subnets"] if s.get("VpcId") == vpc_id),
            key=lambda s: (s["SubnetId"] in isolated_subnets, str(s["SubnetId"])),
        )
        if not subnets:
            return None
        first_usable = ipaddress.ip_network(subnets[0]["CidrBlock"]).network_address + 4  # AWS reserves .0-.3
        return Endpoint("subnet", str(subnets[0]["SubnetId"]), str(first_usable), str(subnets[0]["SubnetId"]))

    @needs("ec2:DescribeNetworkAcls")
    def network_acls(self, vpc_id: str) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("describe_network_acls").paginate(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )
        return [dict(a) for page in pages for a in page["NetworkAcls"] if a.get("VpcId") == vpc_id]

    @needs("ec2:DescribeSecurityGroups")
    def security_groups(self, group_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = sorted(set(group_ids))
        if not ids:
            return {}
        groups = self.client.describe_security_groups(GroupIds=ids)["SecurityGroups"]
        return {str(g["GroupId"]): dict(g) for g in groups if g["GroupId"] in ids}

    @needs(
        "ec2:CreateNetworkInsightsPath",
        "ec2:StartNetworkInsightsAnalysis",
        "ec2:DescribeNetworkInsightsAnalyses",
        "ec2:DeleteNetworkInsightsAnalysis",
        "ec2:DeleteNetworkInsightsPath",
    )
    def analyze_path(
        self,
        source_id: str,
        destination_id: str,
        traffic: Traffic,
        deadline: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> AnalyzerResult:
        return reachability.analyze(self.client, source_id, destination_id, traffic, deadline, sleep, clock)

    @needs("ec2:DescribeVpcPeeringConnections")
    def all_peerings(self) -> list[Peering]:
        """Every peering this account sees here, in any state the autopilot cares about: one
        paginated, filtered read per account and region."""
        pages = self.client.get_paginator("describe_vpc_peering_connections").paginate(
            Filters=[{"Name": "status-code", "Values": sorted(_SWEPT_STATES)}]
        )
        return [
            Peering.from_api(item, self.region)
            for page in pages
            for item in page["VpcPeeringConnections"]
            if item.get("Status", {}).get("Code") in _SWEPT_STATES  # emulators may ignore the filter
        ]

    @needs("ec2:DescribeVpcs")
    def opted_in_vpcs(self) -> dict[str, Vpc]:
        pages = self.client.get_paginator("describe_vpcs").paginate(
            Filters=[{"Name": f"tag:{ENABLED_TAG}", "Values": ["true"]}]
        )
        vpcs = (Vpc.from_api(item, self.region) for page in pages for item in page["Vpcs"])
        return {v.vpc_id: v for v in vpcs if v.opted_in}

    @needs("ec2:DescribeRouteTables")
    def route_tables_of(self, vpc_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The route tables of many VPCs, in as few paginated reads as the filter allows."""
        return [t for chunk in _chunks(sorted(set(vpc_ids))) for t in self._route_tables(chunk)]

    def _route_tables(self, vpc_ids: list[str]) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("describe_route_tables").paginate(
            Filters=[{"Name": "vpc-id", "Values": vpc_ids}]
        )
        return [dict(t) for page in pages for t in page["RouteTables"] if t.get("VpcId") in vpc_ids]

    @needs("ec2:DescribeSecurityGroups")
    def allow_tagged_groups_of(self, vpc_ids: Iterable[str]) -> list[dict[str, Any]]:
        groups = []
        for chunk in _chunks(sorted(set(vpc_ids))):
            pages = self.client.get_paginator("describe_security_groups").paginate(
                Filters=[{"Name": "vpc-id", "Values": chunk}, {"Name": "tag-key", "Values": [ALLOW_TAG]}]
            )
            groups += [
                dict(g)
                for page in pages
                for g in page["SecurityGroups"]
                if g.get("VpcId") in chunk and any(t["Key"] == ALLOW_TAG for t in g.get("Tags", []))
            ]
        return groups

    @needs("ec2:DeleteRoute")
    def delete_route(self, route_table_id: str, destination: str) -> None:
        key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
        params: dict[str, Any] = {"RouteTableId": route_table_id, key: destination}
        try:
            self.client.delete_route(**params)
        except ClientError as e:
            if _code(e) != "InvalidRoute.NotFound":  # already gone: the goal is reached
                raise

    @needs("ec2:RevokeSecurityGroupIngress")
    def revoke_ingress(self, group_id: str, permissions: list[dict[str, Any]]) -> None:
        try:
            self.client.revoke_security_group_ingress(GroupId=group_id, IpPermissions=permissions)  # type: ignore[arg-type]
        except ClientError as e:
            if _code(e) != "InvalidPermission.NotFound":
                raise

    @needs("ec2:CreateRoute")
    def create_route(self, route_table_id: str, destination: str, peering_id: str) -> None:
        key = "DestinationIpv6CidrBlock" if ":" in destination else "DestinationCidrBlock"
        params: dict[str, Any] = {
            "RouteTableId": route_table_id,
            key: destination,
            "VpcPeeringConnectionId": peering_id,
        }
        self._refusable(route_table_id, lambda: self.client.create_route(**params))

    @needs("ec2:AuthorizeSecurityGroupIngress")
    def authorize_ingress(self, group_id: str, permissions: list[dict[str, Any]]) -> None:
        self._refusable(
            group_id,
            lambda: self.client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permissions),  # type: ignore[arg-type]
        )

    def _refusable(self, resource_id: str, call: Callable[[], Any]) -> None:
        try:
            call()
        except ClientError as e:
            if _code(e) in _REFUSALS:
                message = str(e.response.get("Error", {}).get("Message", ""))
                raise ChangeRefusedError(_code(e), resource_id, message) from e
            raise

    @needs("ec2:CreateTags")
    def tag(self, resource_id: str, tags: Mapping[str, str]) -> None:
        self.client.create_tags(Resources=[resource_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


class EventPublisher:
    """Publishes the autopilot's own events (source `peering-autopilot`) on the hub's bus."""

    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self.client = client
        self.bus_name = bus_name

    @needs("events:PutEvents")
    def publish(self, detail_type: str, detail: Mapping[str, Any], resources: Iterable[str] = ()) -> None:
        self.publish_many(detail_type, [(detail, list(resources))])

    @needs("events:PutEvents")
    def publish_many(self, detail_type: str, items: Sequence[tuple[Mapping[str, Any], list[str]]]) -> None:
        """PutEvents takes 10 entries a call: batch them, and fail loudly on any refused entry."""
        for start in range(0, len(items), 10):
            entries: list[Any] = [
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, sort_keys=True),
                    "Resources": resources,
                    "EventBusName": self.bus_name,
                }
                for detail, resources in items[start : start + 10]
            ]
            response = self.client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                failed = [e for e in response["Entries"] if e.get("ErrorCode")]
                raise RuntimeError(
                    f"event bus {self.bus_name} refused {len(failed)} {detail_type!r} event(s): "
                    f"{failed[0].get('ErrorCode')}: {failed[0].get('ErrorMessage')}"
                )


def _chunks(values: list[str], size: int = 200) -> list[list[str]]:
    """EC2 takes at most 200 values in one filter."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def _tags(resource: Mapping[str, Any], key: str = "Tags") -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get(key, [])}


def _instance_endpoint(instance: Mapping[str, Any], kind: str) -> Endpoint:
    return Endpoint(
        kind,
        str(instance["InstanceId"]),
        str(instance["PrivateIpAddress"]),
        str(instance["SubnetId"]),
        tuple(str(g["GroupId"]) for g in instance.get("SecurityGroups", [])),
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
