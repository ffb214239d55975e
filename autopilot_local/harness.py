"""Run the autopilot locally as AWS would: CloudTrail events forwarded by the templates' rules to
the hub's bus, matched against the functions' rules in template.yaml, and delivered to the
template's handlers with the template's environment, until nothing is left to do.

Where moto differs from AWS, the harness does what AWS does (and says so here):
- EventBridge delivers an event to every rule that matches it, each delivery on its own and
  asynchronously: the harness queues one delivery per matching rule, not one per event.
- Delivery is at least once and in no guaranteed order: tests may ask for extra copies
  (`redeliver`) and a shuffled order (`shuffle`).
- CloudTrail records the functions' own calls too, with the caller's identity (the function's
  execution role in the hub, the member role elsewhere), and the forwarding rules carry them to
  the hub like anyone's: the harness records the functions' peering calls as CloudTrail would.
- PutEvents from another account is judged by the hub's bus policy (the template's
  EventBusPolicy statements, with their conditions), and EventBridge sets the envelope's
  `account` to the sender's: no sender chooses it. Members forward as their forwarding role.
- Blackhole routes and the blocks a peering describes: see `aws_semantics`, applied on import.
- DescribeVpcPeeringConnections is eventually consistent: a peering just requested may be missing
  from the list for a while. moto lists it at once; with `listing_lag` (`ListingLag`) the harness
  hides a peering the functions created from the describe calls of the next invocations, so tests
  can show what a list read alone cannot guard.
- IAM's Deny on the record's history keys (`dynamodb:LeadingKeys` `history#*`: no UpdateItem,
  DeleteItem or BatchWriteItem there): moto checks no IAM; the harness refuses such a call as
  AWS would (autopilot_local/access.py), and records what each history write carried.
- Service Quotas answers an applied (granted) quota where one was granted (`grant_quota`); moto
  knows only the defaults: see `aws_semantics`.
- CloudTrail's event history (`LookupEvents`), which moto does not implement, answers from the
  events the harness recorded (`LocalCloud.history`), as AWS does: see `lookup_events`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import re
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import boto3
import botocore.client
from moto.cloudtrail.responses import CloudTrailResponse
from moto.ec2.models import ec2_backends
from moto.events.models import EventPattern

from autopilot_local import aws_semantics
from autopilot_local.access import PEERING_CONDITIONED, Grants, history_write, iam_action, leading_keys
from autopilot_local.cloudtrail import RECORDED_CALLS, Identity, cloudtrail_event, record_calls, record_events
from autopilot_local.metering import CallLog, count_calls
from autopilot_local.template import SCHEDULE, FunctionSpec, Rule, Stack
from peering_autopilot import runtime as domain_runtime

aws_semantics.apply()
# The world's instances launch from one fixed image id, and nothing lists images: moto's catalogue
# of default AMIs (tens of thousands, loaded for every account and region it meets) only costs time,
# about half of an integration test's. A user may still ask for it.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

PROJECT = Path(__file__).resolve().parent.parent
HUB_TEMPLATE = PROJECT / "template.yaml"
MEMBER_TEMPLATE = PROJECT / "member" / "template.yaml"
ORG_READER_TEMPLATE = PROJECT / "org-reader" / "template.yaml"
DEFAULT_HUB_ACCOUNT = "123456789012"  # moto's own account: what plain credentials map to


def use_fake_credentials(region: str) -> None:
    """For in-process moto: fake keys, and no profile or endpoint that would send requests past
    the mock. MOTO_ACCOUNT_ID would override the accounts assumed roles map to: refuse it."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        raise SystemExit("error: MOTO_ACCOUNT_ID is set: it overrides the accounts assumed roles map to; unset it")
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")] + ["AWS_PROFILE", "AWS_SESSION_TOKEN"]:
        os.environ.pop(name, None)
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": region}
    )


class LocalCloud:
    current: LocalCloud | None = None

    """Accounts in the emulator. A session per account comes from assuming a role there, which
    moto maps to that account; the hub account uses the plain (default) credentials."""

    def __init__(self, hub_account_id: str = DEFAULT_HUB_ACCOUNT) -> None:
        self.hub_account_id = hub_account_id
        self._sessions: dict[str, boto3.Session] = {}
        self._ec2_clients: dict[tuple[str, str, bool, Identity | None], Any] = {}
        self.trail: deque[dict[str, Any]] = deque()
        self.assumed: dict[str, Identity] = {}  # access key id -> who assumed it (for the echo)
        self.history: list[dict[str, Any]] = []  # every CloudTrail event recorded, delivered or not
        LocalCloud.current = self  # CloudTrail's event history answers from this cloud's (lookup_events)
        aws_semantics.clear_granted_quotas()  # a new cloud: no quota increase granted yet

    def grant_quota(self, account_id: str, region: str, quota_code: str, value: float) -> None:
        """An approved VPC quota increase (Service Quotas' applied value), as AWS grants one:
        GetServiceQuota answers it in that account and region (see aws_semantics)."""
        aws_semantics.grant_quota(account_id, region, "vpc", quota_code, value)

    def expire_peering(self, peering_id: str) -> None:
        """The request expires, as AWS expires one nobody accepted within 7 days (moto never does)."""
        from moto.ec2.models import EC2Backend

        backend: Any  # moto annotates these as peerings: they are the EC2 backends that hold them
        for backend in EC2Backend.get_vpc_pcx_refs():
            pcx = backend.vpc_pcxs.get(peering_id)
            if pcx is not None:
                aws_semantics.expire(pcx)
                return
        raise KeyError(f"no peering {peering_id} in the emulator")

    def record(self, event: dict[str, Any]) -> None:
        """CloudTrail records an event: it waits on the trail for the forwarding rules."""
        self.trail.append(event)
        self.history.append(event)

    def session(self, account_id: str) -> boto3.Session:
        # One session per account for the whole test: a botocore session loads its handlers and
        # service models anew, which had been a third of a short integration test's time.
        if account_id == self.hub_account_id:
            if account_id not in self._sessions:
                self._sessions[account_id] = boto3.Session()
            return self._sessions[account_id]
        if account_id not in self._sessions:
            sts = boto3.client("sts", region_name="us-east-1")
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
                RoleSessionName="local-admin",
            )["Credentials"]
            self._sessions[account_id] = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
        return self._sessions[account_id]

    def tag_vpc(self, account_id: str, region: str, vpc_id: str, tags: Mapping[str, str]) -> None:
        """Tag a VPC as its owner would; EventBridge reports it as "Tag Change on Resource"."""
        ec2 = self.session(account_id).client("ec2", region_name=region)
        ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        self._tag_changed(ec2, account_id, region, vpc_id, sorted(tags))

    def untag_vpc(self, account_id: str, region: str, vpc_id: str, keys: list[str]) -> None:
        """Remove tags from a VPC as its owner would; EventBridge reports that as a change too."""
        ec2 = self.session(account_id).client("ec2", region_name=region)
        ec2.delete_tags(Resources=[vpc_id], Tags=[{"Key": k} for k in keys])
        self._tag_changed(ec2, account_id, region, vpc_id, sorted(keys))

    def _tag_changed(self, ec2: Any, account_id: str, region: str, vpc_id: str, changed: list[str]) -> None:
        current = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["Tags"]
        self.trail.append(
            {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Tag Change on Resource",
                "source": "aws.tag",
                "account": account_id,
                "time": "2026-11-27T09:20:00Z",
                "region": region,
                "resources": [f"arn:aws:ec2:{region}:{account_id}:vpc/{vpc_id}"],
                "detail": {
                    "changed-tag-keys": changed,
                    "service": "ec2",
                    "resource-type": "vpc",
                    "version": 2,
                    "tags": {t["Key"]: t["Value"] for t in current},
                },
            }
        )

    def ec2(self, account_id: str, region: str, *, record: bool = False, identity: Identity | None = None) -> Any:
        """An EC2 client acting in `account_id`; with `record`, its peering calls go to the trail
        as CloudTrail events, as a person's calls in the console or CLI would: made by `identity`
        (default: a NetworkAdmin person of the account)."""
        key = (account_id, region, record, identity)
        client = self._ec2_clients.get(key)
        if client is None:  # one client per account, region and kind, as a person keeps one CLI profile
            client = self.session(account_id).client("ec2", region_name=region)
            if record:
                record_calls(client, account_id, self.record, identity=identity)
            self._ec2_clients[key] = client
        return client

    def person_session(self, identity: Identity, region: str) -> boto3.Session:
        """A person's own session (their role in their account, assumed as AWS would sign them in),
        whose peering calls, from any client made of it, CloudTrail records with their identity:
        what a person's `peering-autopilot approve` runs with."""
        sts = boto3.client("sts", region_name=region)
        creds = sts.assume_role(RoleArn=identity.role_arn, RoleSessionName=identity.session_name)["Credentials"]
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=region,
        )
        record_events(
            session.events,
            lambda context: str(context.get("client_region") or region),
            identity.account_id,
            self.record,
            identity,
        )
        return session


@dataclass
class Delivery:
    """One event handed to one function: how it reached the bus, the rule that matched, and what
    the function returned."""

    function: str
    rule: str
    via: str
    event: dict[str, Any]
    result: Any
    calls: CallLog = field(default_factory=CallLog)  # the AWS calls this invocation made


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


_in_call = threading.local()  # per thread: the sweep calls from a pool


@dataclass
class ListingLag:
    """EC2's listing lag, as the harness plays it: AWS's DescribeVpcPeeringConnections is eventually
    consistent, so a peering just requested may not be listed for a while (moto lists it at once).
    With `invocations` above 0, a peering a function creates is left out of the describe calls of
    the next `invocations` invocations of any function (the creating one still sees it): counted in
    deliveries, not seconds, so a test is deterministic."""

    invocations: int = 0
    count: int = 0  # invocations begun
    created: dict[str, int] = field(default_factory=dict)  # peering id -> the invocation that created it
    hidden: list[tuple[int, str]] = field(default_factory=list)  # (invocation, peering id) left out of a list

    def begin(self) -> int:
        self.count += 1
        return self.count

    def note(self, operation: str, response: dict[str, Any], invocation: int) -> dict[str, Any]:
        """Note a peering created; answer a describe as a lagging EC2 would."""
        if operation == "CreateVpcPeeringConnection":
            self.created[response["VpcPeeringConnection"]["VpcPeeringConnectionId"]] = invocation
        elif operation == "DescribeVpcPeeringConnections" and self.invocations > 0:
            listed = []
            for peering in response.get("VpcPeeringConnections", []):
                pcx = peering["VpcPeeringConnectionId"]
                made = self.created.get(pcx)
                if made is not None and made < invocation <= made + self.invocations:
                    self.hidden.append((invocation, pcx))
                    continue
                listed.append(peering)
            return {**response, "VpcPeeringConnections": listed}
        return response


class LocalFunction:
    """A template function run in this process: its handler module loaded from its CodeUri."""

    # The domain builds its runtime() once per process, as Lambda does once per container. Each
    # LocalFunction is a new container: its first invocation, or another function's in between,
    # starts that runtime afresh.
    _warm: LocalFunction | None = None

    def __init__(
        self,
        spec: FunctionSpec,
        region: str,
        log_stream: TextIO,
        cloud: LocalCloud,
        role: Identity,
        grants: Grants,
        lag: ListingLag | None = None,
    ) -> None:
        self.spec = spec
        self.lag = lag if lag is not None else ListingLag()
        self._invocation = 0  # this invocation's number in `lag`
        self.grants = grants  # what IAM lets it do (moto lets anything through)
        self.region = region
        self.log_stream = log_stream
        self.cloud = cloud
        self.role = role  # its execution role, as CloudTrail names the caller
        self._handler: Callable[[Any, Any], Any] | None = None
        self.env = {
            **spec.environment,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        }

    def invoke(self, event: dict[str, Any]) -> Any:
        self._invocation = self.lag.begin()
        with _environ(self.env), contextlib.redirect_stdout(self.log_stream), self._echoed():
            if LocalFunction._warm is not self:
                domain_runtime.runtime.cache_clear()
                LocalFunction._warm = self
            handler = self._load()
            return handler(event, LambdaContext(function_name=self.spec.logical_id))

    @contextlib.contextmanager
    def _echoed(self) -> Iterator[None]:
        """Record the function's own peering calls on the trail as CloudTrail would: in the
        caller's account and region, with the caller's identity (its execution role, or the role
        it assumed there). moto records nothing of the kind. Before each call, IAM's refusal where
        the templates grant no such action or trust (autopilot_local/access.py); moto checks none."""
        client_class: Any = botocore.client.BaseClient  # _make_api_call is private: untyped on purpose
        original = client_class._make_api_call
        cloud, role, grants, name = self.cloud, self.role, self.grants, self.spec.logical_id

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if getattr(_in_call, "active", False):
                # A call made while one of the function's is on the wire (a test's other writer,
                # in a fault): someone else's, not the function's. Functions never nest calls.
                return original(client, operation, params)
            _in_call.active = True
            try:
                return checked_call(client, operation, params)
            finally:
                _in_call.active = False

        def checked_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            # Tags given at creation are authorized as ec2:CreateTags too, as AWS does.
            actions = [iam_action(client, operation)] + (["ec2:CreateTags"] if "TagSpecifications" in params else [])
            assumed = cloud.assumed.get(client._request_signer._credentials.access_key)
            service = client.meta.service_model.service_name
            # IAM's dynamodb:LeadingKeys: the keys a call names, for the template's Deny on history.
            keys = leading_keys(operation, params) if service == "dynamodb" else []
            written = history_write(operation, params) if service == "dynamodb" else ""
            for action in actions:
                if assumed is None:
                    grants.check_hub_call(name, role.user_identity()["arn"], action, keys, written)
                    if action == "sts:AssumeRole":
                        grants.check_assume_role(name, role.role_arn, params["RoleArn"])
                else:
                    grants.check_member_call(name, assumed.role_name, assumed.user_identity()["arn"], action)
            for action in PEERING_CONDITIONED.intersection(actions):
                caller = assumed or role
                account = caller.account_id
                resource, context = peering_context(operation, params, account, client.meta.region_name)
                where = name if assumed is None else assumed.role_name
                grants.check_peering_conditions(where, action, caller.user_identity()["arn"], resource, context)
            response = original(client, operation, params)
            if service == "ec2":
                response = self.lag.note(operation, response, self._invocation)
            if service == "sts" and operation == "AssumeRole":
                account, role_name = params["RoleArn"].split(":")[4], params["RoleArn"].rsplit("/", 1)[1]
                key = response["Credentials"]["AccessKeyId"]
                cloud.assumed[key] = Identity(account, role_name, params["RoleSessionName"])
            elif service == "ec2" and operation in RECORDED_CALLS:
                key = client._request_signer._credentials.access_key
                caller = cloud.assumed.get(key, role)
                answer = {k: v for k, v in response.items() if k != "ResponseMetadata"}
                event = cloudtrail_event(
                    operation, caller.account_id, client.meta.region_name, params, answer, caller=caller
                )
                cloud.record(event)
            return response

        client_class._make_api_call = call
        try:
            yield
        finally:
            client_class._make_api_call = original

    def _load(self) -> Callable[[Any, Any], Any]:
        if self._handler is None:
            module_file, func = self.spec.handler.rsplit(".", 1)
            path = self.spec.code_dir / f"{module_file.replace('.', '/')}.py"
            module_spec = importlib.util.spec_from_file_location(f"{self.spec.logical_id}_{module_file}", path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"cannot load handler {self.spec.handler} from {self.spec.code_dir}")
            module: ModuleType = importlib.util.module_from_spec(module_spec)
            for layer in self.spec.layer_dirs:
                if str(layer) not in sys.path:
                    sys.path.append(str(layer))
            module_spec.loader.exec_module(module)
            self._handler = getattr(module, func)
        return self._handler


class LocalAutopilot:
    """The hub stack 'deployed' into the emulator, with member stacks in `member_accounts`."""

    def __init__(
        self,
        cloud: LocalCloud,
        parameters: Mapping[str, str],
        region: str = "us-east-1",
        member_accounts: tuple[str, ...] = (),
        template: Path = HUB_TEMPLATE,
        log_stream: TextIO | None = None,
        stack_name: str = "peering-autopilot",  # another name: another stack beside it in the same emulator
        member_parameters: Mapping[str, str] | None = None,  # what `make member-stackset` is given besides the hub's
    ) -> None:
        self.cloud = cloud
        self.region = region
        self.stack = Stack(template, parameters, cloud.hub_account_id, region, name=stack_name)
        specs = self.stack.functions()
        roles = {spec.logical_id: self.execution_role(spec) for spec in specs}
        # The member stack as `make member-stackset` fills it in: from the hub's outputs by name.
        self.member_stack = Stack(
            MEMBER_TEMPLATE,
            {
                **self.stack.resolve(
                    {k: v["Value"] for k, v in self.stack.body.get("Outputs", {}).items() if k.endswith("RoleArn")}
                ),
                "HubAccountId": cloud.hub_account_id,
                "HubRegion": region,
                "HubEventBusName": self.stack.physical_name("AutopilotBus"),
                "MemberRoleName": self.stack.values["MemberRoleName"],
                "LivePing": self.stack.values["LivePing"],
                "OrganizationId": self.stack.values.get("OrganizationId", ""),
                "ApprovedAccountIds": ",".join(self.stack.values.get("ApprovedAccountIds", [])),
                "ManagedOrganizationalUnitIds": ",".join(self.stack.values.get("ManagedOrganizationalUnitIds", [])),
                **(member_parameters or {}),
            },
            cloud.hub_account_id,
            region,
        )
        # The management account's read-only role (org-reader/template.yaml), where the hub names
        # one: trusting the sweep's role alone, as `make org-reader` deploys it.
        org_role = str(self.stack.values.get("OrganizationsReadRoleArn", ""))
        self.org_reader_stack = (
            Stack(
                ORG_READER_TEMPLATE,
                {
                    "SweepFunctionRoleArn": self.stack.resolve(
                        self.stack.body["Outputs"]["SweepFunctionRoleArn"]["Value"]
                    ),
                    "RoleName": org_role.rsplit("/", 1)[-1],
                },
                org_role.split(":")[4],
                region,
            )
            if org_role
            else None
        )
        extra = (self.org_reader_stack,) if self.org_reader_stack else ()
        self.grants = Grants.of(self.stack, self.member_stack, *extra)
        self.member_accounts = frozenset(member_accounts)
        # The organization's accounts, when the hub names one: the hub's and the members' here.
        organization = self.stack.values.get("OrganizationId", "")
        in_organization = {cloud.hub_account_id, *member_accounts} if organization else set()
        self.organization_of = dict.fromkeys(in_organization, organization)
        self.grants.principal_orgs.update(self.organization_of)  # IAM's aws:PrincipalOrgID in trust policies
        self.bus_name = self.stack.physical_name("AutopilotBus")
        log = log_stream if log_stream is not None else sys.stdout
        # EC2's listing lag (off: moto's list at once); a test sets `listing_lag.invocations`.
        self.listing_lag = ListingLag()
        self.functions = [
            LocalFunction(spec, region, log, cloud, roles[spec.logical_id], self.grants, self.listing_lag)
            for spec in specs
        ]
        self.published: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self.dropped: list[tuple[dict[str, Any], str]] = []
        # One entry per delivery still to make: (event, how it reached the bus, function, rule).
        self._pending: deque[tuple[dict[str, Any], str, LocalFunction, Rule]] = deque()
        # At least once, in no guaranteed order: extra copies of a delivery, and a shuffled queue.
        self.redeliver: Callable[[dict[str, Any], str], int] = lambda event, rule: 0
        self.shuffle: random.Random | None = None
        self._queue_url = self._deploy_bus()
        self._deploy_record()

    def assume_member_role(self, caller: Identity, role_arn: str) -> boto3.Session:
        """A person's or pipeline's `sts:AssumeRole` of a member role (the reader, for `doctor` and
        `status`), refused as IAM would where the role's trust policy does not admit the caller
        (access.Grants.check_trust: named, and in the Organization it requires); moto checks no
        trust policy."""
        self.grants.check_trust(caller.role_arn, role_arn)
        sts = self.cloud.person_session(caller, self.region).client("sts")
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=caller.session_name)["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.region,
        )

    def execution_role(self, spec: FunctionSpec) -> Identity:
        """The role SAM makes for a function (the template's RolePath), and the session Lambda
        names after the function."""
        role_name = self.stack.function_role_name(spec.logical_id)
        session = f"{self.stack.name}-{spec.logical_id}-LOCAL0000"
        return Identity(self.cloud.hub_account_id, role_name, session, self.stack.function_role_path())

    # ------------------------------------------------------------------ deployment
    def _deploy_bus(self) -> str:
        """Create the hub's bus as CloudFormation would, plus a queue that receives everything the
        functions publish on it, so the harness can route their events onwards. The whole event,
        `account` included (moto's default target input leaves the envelope's account out; AWS
        delivers it, and the rules match on it)."""
        events = self.cloud.session(self.cloud.hub_account_id).client("events", region_name=self.region)
        sqs = self.cloud.session(self.cloud.hub_account_id).client("sqs", region_name=self.region)
        events.create_event_bus(Name=self.bus_name)
        queue_url = sqs.create_queue(QueueName=f"{self.bus_name}-local-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="local-tap", EventBusName=self.bus_name, EventPattern='{"source": ["peering-autopilot"]}')
        events.put_targets(
            Rule="local-tap",
            EventBusName=self.bus_name,
            Targets=[
                {
                    "Id": "tap",
                    "Arn": queue_arn,
                    "InputTransformer": {"InputPathsMap": {"id": "$.id"}, "InputTemplate": "<aws.events.event.json>"},
                }
            ],
        )
        return str(queue_url)

    def _deploy_record(self) -> None:
        """The record table and its backlog queue, as the template declares them."""
        deploy_record(self.stack, self.cloud.session(self.cloud.hub_account_id), self.region)

    # ------------------------------------------------------------------ events in
    def forward_trail(self) -> None:
        """Move what CloudTrail recorded onto the hub's bus, through the forwarding rules."""
        while self.cloud.trail:
            self.submit_cloudtrail(self.cloud.trail.popleft())

    def submit_cloudtrail(self, event: dict[str, Any]) -> None:
        account = event.get("account", "")
        if account == self.cloud.hub_account_id:
            patterns, via = self.stack.forwarding_patterns(), "template.yaml HubForwardRule"
        elif account in self.member_accounts:
            patterns, via = self.member_stack.forwarding_patterns(), f"member stack ForwardRule in {account}"
        else:
            self.dropped.append((event, f"account {account} has no member stack forwarding its events"))
            return
        if not any(_matches(p, event) for p in patterns):
            self.dropped.append((event, "no forwarding rule matches"))
        elif account == self.cloud.hub_account_id:
            self.put(event, via)
        else:
            self.put_as(event, account, self.forwarding_role_arn(account), via)

    def forwarding_role_arn(self, account_id: str) -> str:
        """The role a member stack's forwarding rules put events with: its path from the member
        template, the name CloudFormation would generate."""
        path = self.member_stack.resources["ForwardRole"]["Properties"].get("Path", "/")
        return f"arn:aws:iam::{account_id}:role{path}{self.member_stack.name}-member-ForwardRole-LOCAL0000"

    def put_as(self, event: dict[str, Any], account_id: str, principal_arn: str, via: str = "") -> list[str]:
        """PutEvents on the hub's bus by `principal_arn` of `account_id`. EventBridge sets the
        envelope's account to the sender's, whatever the entry says; from another account the bus
        policy must allow it (the hub's own principals are allowed by their IAM policies). Returns
        the rules that matched, as `put` does; a refused event is kept in `dropped`, with why."""
        sent = {**event, "account": account_id}
        if account_id != self.cloud.hub_account_id:
            refusal = self.bus_policy_refusal(sent, principal_arn)
            if refusal:
                self.dropped.append((sent, refusal))
                return []
        return self.put(sent, via or f"PutEvents by {principal_arn}")

    def bus_policy_refusal(self, event: Mapping[str, Any], principal_arn: str) -> str | None:
        """Why the hub's bus policy refuses `principal_arn` (of another account) putting `event`;
        None when a statement the stack deploys allows it."""
        account = principal_arn.split(":")[4]
        context = {
            "aws:principalarn": principal_arn,
            "aws:principalaccount": account,
            "aws:principalorgid": self.organization_of.get(account),
            "events:source": event.get("source"),
            "events:detail-type": event.get("detail-type"),
        }
        for logical_id, resource in self.stack.resources.items():
            if resource.get("Type") != "AWS::Events::EventBusPolicy" or not self.stack.deploys(logical_id):
                continue
            if _statement_allows(self.stack.resolve(resource["Properties"]["Statement"]), account, context):
                return None
        return (
            f"the hub's bus policy does not let {principal_arn} put "
            f"{event.get('source')!r} {event.get('detail-type')!r} events"
        )

    def put(self, event: dict[str, Any], via: str = "put on the bus directly") -> list[str]:
        """Put an event straight on the hub's bus (as a member's forwarding rule would): one
        delivery for each rule on the bus that matches it. Returns the names of those rules."""
        matched = self._rules_matching(event)
        self._pending.extend((event, via, function, rule) for function, rule in matched)
        return [rule.name for _, rule in matched]

    def rules_matching(self, event: Mapping[str, Any]) -> list[str]:
        """The rules on the hub's bus that would deliver `event` (nothing is delivered)."""
        return [rule.name for _, rule in self._rules_matching(event)]

    def _rules_matching(self, event: Mapping[str, Any]) -> list[tuple[LocalFunction, Rule]]:
        return [
            (function, rule)
            for function in self.functions
            for rule in function.spec.rules
            if rule.bus == self.bus_name and _matches(rule.pattern, event)
        ]

    def tick(self) -> list[Delivery]:
        """The schedule fires: deliver a "Scheduled Event" to the scheduled functions, then run
        whatever they published until nothing is left to do."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.cloud.hub_account_id,
            "time": "2026-11-27T09:30:00Z",
            "region": self.region,
            "resources": [f"arn:aws:events:{self.region}:{self.cloud.hub_account_id}:rule/sweep"],
            "detail": {},
        }
        done: list[Delivery] = []
        for function in self.functions:
            for rule in function.spec.rules:
                if rule.bus == SCHEDULE:
                    with count_calls() as calls:
                        result = function.invoke(event)
                    done.append(Delivery(function.spec.logical_id, rule.name, "the schedule", event, result, calls))
        self.deliveries.extend(done)
        self._publish_pending()
        return done + self.run_until_idle()

    def hand_to_every_function(self, event: dict[str, Any]) -> list[Delivery]:
        """Hand `event` to every function's handler, past the rules (as a rule edited by hand or a
        replay would), then run what they publish until nothing is pending."""
        done: list[Delivery] = []
        for function in self.functions:
            with count_calls() as calls:
                result = function.invoke(event)
            done.append(Delivery(function.spec.logical_id, "(none)", "handed to the function", event, result, calls))
        self.deliveries.extend(done)
        self._publish_pending()
        return done + self.run_until_idle()

    def run_until_idle_with(self, event: dict[str, Any], via: str) -> list[Delivery]:
        self.put(event, via)
        return self.run_until_idle()

    # ------------------------------------------------------------------ delivery
    def run_until_idle(self, max_deliveries: int = 1000) -> list[Delivery]:
        """Deliver events to every function whose rule matches, collect what they publish, and
        deliver that too, until nothing is pending."""
        self.forward_trail()
        done: list[Delivery] = []
        while self._pending:
            if len(done) >= max_deliveries:
                raise RuntimeError(f"more than {max_deliveries} deliveries: is a function looping on its own events?")
            if self.shuffle is not None:
                self._pending.rotate(-self.shuffle.randrange(len(self._pending)))
            event, via, function, rule = self._pending.popleft()
            for _ in range(1 + self.redeliver(event, rule.name)):
                with count_calls() as calls:
                    result = function.invoke(event)
                delivery = Delivery(function.spec.logical_id, rule.name, via, event, result, calls)
                done.append(delivery)
                self.deliveries.append(delivery)
            self._publish_pending()
            self.forward_trail()
        return done

    def _publish_pending(self) -> None:
        for event in self._drain_published():
            self.put(event, f"published on {self.bus_name}")

    def _drain_published(self) -> list[dict[str, Any]]:
        sqs = self.cloud.session(self.cloud.hub_account_id).client("sqs", region_name=self.region)
        out: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                event = json.loads(message["Body"])
                event.pop("ingestion-time", None)  # moto's own bookkeeping, not in what AWS delivers
                self.published.append(event)
                out.append(event)
                sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])


# ---------------------------------------------------------------------------- CloudTrail's history
_HISTORY_DAYS = 90  # what CloudTrail's event history keeps


def _resource_names(detail: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The resources CloudTrail indexes for a peering call: the peering and its VPCs."""
    request = detail.get("requestParameters") or {}
    response = (detail.get("responseElements") or {}).get("vpcPeeringConnection") or {}
    names = [("AWS::EC2::VPCPeeringConnection", request.get("vpcPeeringConnectionId", ""))]
    names.append(("AWS::EC2::VPCPeeringConnection", response.get("vpcPeeringConnectionId", "")))
    names += [("AWS::EC2::VPC", request.get(k, "")) for k in ("vpcId", "peerVpcId")]
    return list(dict.fromkeys((kind, name) for kind, name in names if name))


def lookup_events(self: CloudTrailResponse) -> str:
    """`cloudtrail:LookupEvents` as AWS answers it, which moto does not: the management events of
    the caller's account and region from the last 90 days (or StartTime/EndTime), newest first,
    filtered by one lookup attribute (ResourceName, EventName, EventId, Username), each with its
    record as `CloudTrailEvent` JSON. The events are those the harness recorded on the trail
    (people's recorded clients and the functions' own calls)."""
    cloud = LocalCloud.current
    params = json.loads(self.body or "{}")
    now = datetime.now(UTC)
    start = (
        datetime.fromtimestamp(params["StartTime"], UTC)
        if "StartTime" in params
        else now - timedelta(days=_HISTORY_DAYS)
    )
    end = datetime.fromtimestamp(params["EndTime"], UTC) if "EndTime" in params else now
    [attribute] = params.get("LookupAttributes") or [{"AttributeKey": "", "AttributeValue": ""}]
    key, value = attribute["AttributeKey"], attribute["AttributeValue"]
    found = []
    for event in reversed(cloud.history if cloud else []):
        detail = event.get("detail", {})
        if event.get("account") != self.current_account or event.get("region") != self.region:
            continue
        at = datetime.strptime(detail["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if not start <= at <= end:
            continue
        resources = _resource_names(detail)
        identity = detail.get("userIdentity", {})
        username = identity.get("arn", "").rsplit("/", 1)[-1]
        matches = {
            "ResourceName": any(name == value for _, name in resources),
            "EventName": detail.get("eventName") == value,
            "EventId": detail.get("eventID") == value,
            "Username": username == value,
            "": True,
        }
        if not matches.get(key, False):
            continue
        found.append(
            {
                "EventId": detail["eventID"],
                "EventName": detail["eventName"],
                "ReadOnly": "false",
                "EventTime": at.timestamp(),
                "EventSource": detail.get("eventSource", ""),
                "Username": username,
                "Resources": [{"ResourceType": kind, "ResourceName": name} for kind, name in resources],
                "CloudTrailEvent": json.dumps(detail),
            }
        )
    return json.dumps({"Events": found[: int(params.get("MaxResults", 50))]})


CloudTrailResponse.lookup_events = lookup_events  # type: ignore[attr-defined]


def deploy_record(stack: Stack, session: boto3.Session, region: str) -> None:
    """Create the template's RecordTable (keys, billing, TTL) and RecordBacklogQueue in the emulator."""
    table = stack.resolve(stack.resources["RecordTable"]["Properties"])
    dynamodb = session.client("dynamodb", region_name=region)
    dynamodb.create_table(
        TableName=table["TableName"],
        AttributeDefinitions=table["AttributeDefinitions"],
        KeySchema=table["KeySchema"],
        BillingMode=table["BillingMode"],
    )
    ttl = table["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(TableName=table["TableName"], TimeToLiveSpecification=ttl)
    session.client("sqs", region_name=region).create_queue(QueueName=stack.physical_name("RecordBacklogQueue"))


def peering_context(operation: str, params: Mapping[str, Any], account: str, region: str) -> tuple[str, dict[str, str]]:
    """The peering a call names, and IAM's request context for it, as AWS builds it: for
    CreateVpcPeeringConnection the new peering in the caller's account, with the accepter VPC's ARN
    (ec2:AccepterVpc: PeerOwnerId, else the caller's account; PeerRegion, else the call's region)
    and the tags requested for it (aws:RequestTag); for a call on an existing peering its tags in
    the caller's account and region (aws:ResourceTag: each account's own, as aws_semantics keeps
    them; read from moto's backend, not by an API call the function would be counted for)."""
    if operation == "CreateVpcPeeringConnection":
        peer_region, peer_account = params.get("PeerRegion") or region, params.get("PeerOwnerId") or account
        requested = {
            tag["Key"]: tag["Value"]
            for spec in params.get("TagSpecifications", [])
            if spec.get("ResourceType") == "vpc-peering-connection"
            for tag in spec.get("Tags", [])
        }
        context = {
            "ec2:AccepterVpc": f"arn:aws:ec2:{peer_region}:{peer_account}:vpc/{params['PeerVpcId']}",
            **{f"aws:RequestTag/{k}": v for k, v in requested.items()},
        }
        return f"arn:aws:ec2:{region}:{account}:vpc-peering-connection/*", context
    peering_id = str(params["VpcPeeringConnectionId"])
    tags = ec2_backends[account][region].describe_tags(filters={"resource-id": [peering_id]})
    resource = f"arn:aws:ec2:{region}:{account}:vpc-peering-connection/{peering_id}"
    return resource, {f"aws:ResourceTag/{t['key']}": t["value"] for t in tags}


def _statement_allows(statement: Mapping[str, Any], account: str, context: Mapping[str, Any]) -> bool:
    """One statement of a resource policy, for events:PutEvents by a principal of `account`: an
    Allow whose principal, action and every condition hold. An operator or key the templates do
    not use is an error, never a guess."""
    if statement.get("Effect") != "Allow" or "events:PutEvents" not in _listed(statement.get("Action")):
        return False
    principal = statement.get("Principal")
    if principal != "*":
        allowed = _listed(principal.get("AWS") if isinstance(principal, Mapping) else None)
        if not any(p in (account, f"arn:aws:iam::{account}:root") for p in allowed):
            return False
    for operator, tests in statement.get("Condition", {}).items():
        for key, expected in tests.items():
            if key.lower() not in context:
                raise ValueError(f"condition key {key} is not evaluated locally")
            value = context[key.lower()]
            if operator == "StringEquals":
                held = value in _listed(expected)
            elif operator in ("ArnLike", "StringLike"):
                held = isinstance(value, str) and any(_like(pattern, value) for pattern in _listed(expected))
            else:
                raise ValueError(f"condition operator {operator} is not evaluated locally")
            if not held:
                return False
    return True


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _like(pattern: str, value: str) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def _matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(dict(event)))  # type: ignore[arg-type]


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
