"""What IAM lets the functions do, as the templates grant it, for the local harness.

moto does not check who may call what: a function could call any action, and assume any role,
and the tests would pass. AWS refuses both. Here, as there, a function's call in the hub account
must be an action its execution role's policies name; `sts:AssumeRole` into a member account works
only for a role of member/template.yaml that trusts that function's role; and a call made with a
member role's credentials must be an action that role's policy names. Checked at the level of
actions, with three exceptions IAM's conditions decide as AWS evaluates them: a role's trust
(the principals it names and the Organization it requires them in, `aws:PrincipalOrgID`: also for
a person assuming the reader role, `LocalAutopilot.assume_member_role`), a peering request's
accepter (`ec2:AccepterVpc`) and an options change's peering tags (`aws:ResourceTag`)
(PEERING_CONDITIONED). Other resource ARNs and conditions (the owners' tags) are what
tests/unit/test_permissions.py checks in the templates.

Every checked call is also recorded (function, where, action). With RECORD_CALLS_ENV naming a
directory (`make test` sets it for the whole suite), each distinct record is appended there as a
JSON line, one file per process, so tests/recorded/ can hold what the templates grant against
what the functions called in all the integration runs together.
"""

from __future__ import annotations

import fnmatch
import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from autopilot_local.template import Stack

# The plumbing's actions, not the code's: Lambda's OnFailure destination sends to the queue.
PLUMBING_ACTIONS = frozenset({"sqs:SendMessage"})
# Actions whose grants on the peering (the vpc-peering-connection resource) the harness also holds
# to their conditions, as IAM evaluates them on the call (Grants.check_peering_conditions): the
# accepter's account (ec2:AccepterVpc) of a request, the peering's own tags (aws:ResourceTag) of
# an options change. Other conditions are what tests/unit/test_permissions.py checks in the templates.
PEERING_CONDITIONED = frozenset({"ec2:CreateVpcPeeringConnection", "ec2:ModifyVpcPeeringConnectionOptions"})
RECORD_CALLS_ENV = "AUTOPILOT_RECORD_CALLS"
_recorded: set[CallRecord] = set()
_recording = threading.Lock()  # the sweep calls from threads


def iam_action(client: Any, operation: str) -> str:
    """The IAM action of an API call: the service's signing prefix and the operation's name."""
    model = client.meta.service_model
    prefix = model.signing_name or model.endpoint_prefix
    return f"{prefix}:{operation}"


def statement_actions(statements: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    found: set[str] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return frozenset(found)


@dataclass(frozen=True)
class Trust:
    """One Allow statement of a role's trust policy: the principal ARNs it names and, where it
    has one, the Organization it requires them to belong to (`aws:PrincipalOrgID`)."""

    principals: frozenset[str]
    organization: str | None = None

    @classmethod
    def of(cls, statement: Mapping[str, Any]) -> Trust:
        """An operator or key the templates do not use is an error, never a guess."""
        organization = None
        for operator, tests in statement.get("Condition", {}).items():
            for key, expected in tests.items():
                if operator != "StringEquals" or key.lower() != "aws:principalorgid":
                    raise ValueError(f"trust condition {operator} {key} is not evaluated locally")
                organization = str(expected)
        return cls(frozenset(_listed(statement["Principal"]["AWS"])), organization)

    def admits(self, caller_arn: str, caller_org: str | None) -> bool:
        """As IAM evaluates it: the caller is named, and is in the Organization the statement
        requires (a principal of an account outside every Organization has no aws:PrincipalOrgID,
        and StringEquals on a missing key is false)."""
        if caller_arn not in self.principals:
            return False
        return self.organization is None or caller_org == self.organization


@dataclass(frozen=True)
class MemberRoleGrant:
    logical_id: str  # in member/template.yaml
    name: str
    trusts: tuple[Trust, ...]  # its trust policy's Allow statements
    actions: frozenset[str]

    @property
    def trusted(self) -> frozenset[str]:
        """Every principal ARN its trust policy names (whatever the conditions)."""
        return frozenset(p for t in self.trusts for p in t.principals)


@dataclass(frozen=True)
class CallRecord:
    function: str  # logical id
    where: str  # "hub" (its execution role) or the member role's logical id in member/template.yaml
    action: str
    # A write to the record's history (`history#` keys): "PutItem if attribute_not_exists(pk)" (or
    # whatever condition it carried), "UpdateItem", "DeleteItem", "BatchWriteItem"; "" otherwise.
    history_write: str = ""


def leading_keys(operation: str, params: Mapping[str, Any]) -> list[str]:
    """The partition keys (`pk`) a DynamoDB call names, as IAM's dynamodb:LeadingKeys sees them."""
    if operation == "BatchWriteItem":
        requests = [r for items in params.get("RequestItems", {}).values() for r in items]
        keys = [r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") or {} for r in requests]
    else:
        keys = [params.get("Item") or params.get("Key") or {}]
    return [str(k["pk"]["S"]) for k in keys if "pk" in k and "S" in k["pk"]]


def history_write(operation: str, params: Mapping[str, Any]) -> str:
    """What a call writes to the history partitions, for the record of calls (see CallRecord)."""
    if operation not in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
        return ""
    if not any(k.startswith("history#") for k in leading_keys(operation, params)):
        return ""
    if operation == "PutItem":
        return f"PutItem if {params.get('ConditionExpression', '(no condition)')}"
    return operation


def record(call: CallRecord) -> None:
    directory = os.environ.get(RECORD_CALLS_ENV)
    if not directory:
        return
    with _recording:
        if call in _recorded:
            return
        _recorded.add(call)
        Path(directory).mkdir(parents=True, exist_ok=True)
        with (Path(directory) / f"{os.getpid()}.jsonl").open("a") as out:
            out.write(json.dumps(asdict(call)) + "\n")


def recorded_calls(directory: Path) -> set[CallRecord]:
    return {
        CallRecord(**json.loads(line))
        for path in sorted(directory.glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    }


@dataclass
class Grants:
    """The hub functions' and the member roles' grants, resolved from the two stacks."""

    functions: Mapping[str, frozenset[str]]  # logical id -> actions of its execution role
    member_roles: Mapping[str, MemberRoleGrant]  # role name -> grant
    calls: list[CallRecord] = field(default_factory=list)
    # logical id -> its role's Deny statements on DynamoDB keys: (actions, dynamodb:LeadingKeys patterns)
    key_denials: Mapping[str, list[tuple[frozenset[str], tuple[str, ...]]]] = field(default_factory=dict)
    # account id -> the id of the Organization it belongs to (IAM's aws:PrincipalOrgID); absent: none
    principal_orgs: dict[str, str] = field(default_factory=dict)
    # logical id (hub) or member role name -> action of PEERING_CONDITIONED -> each granting
    # statement's Condition ({} for none)
    peering_conditions: Mapping[str, Mapping[str, tuple[Mapping[str, Any], ...]]] = field(default_factory=dict)

    @classmethod
    def of(cls, hub: Stack, member: Stack, *others: Stack) -> Grants:
        """`others`: more stacks whose named roles the functions assume (org-reader/template.yaml
        in the management account)."""
        functions = {}
        denials = {}
        conditions = {}
        for spec in hub.functions():
            policies = hub.resolve(hub.resources[spec.logical_id]["Properties"].get("Policies", []))
            functions[spec.logical_id] = statement_actions(s for p in policies for s in p["Statement"])
            denials[spec.logical_id] = key_denials(s for p in policies for s in p["Statement"])
            conditions[spec.logical_id] = peering_conditions([s for p in policies for s in p["Statement"]])
        roles = {}
        for stack in (member, *others):
            for logical_id, resource in stack.resources.items():
                properties = resource.get("Properties", {})
                if resource["Type"] != "AWS::IAM::Role" or "RoleName" not in properties:
                    continue  # the forwarding role: EventBridge's, never the functions'
                name = stack.resolve(properties["RoleName"])
                trust = stack.resolve(properties["AssumeRolePolicyDocument"])["Statement"]
                trusts = tuple(Trust.of(s) for s in trust if s.get("Effect") == "Allow")
                policies = stack.resolve(properties.get("Policies", []))
                actions = statement_actions(s for p in policies for s in p["PolicyDocument"]["Statement"])
                roles[name] = MemberRoleGrant(logical_id, name, trusts, actions)
                conditions[name] = peering_conditions([s for p in policies for s in p["PolicyDocument"]["Statement"]])
        return cls(functions, roles, key_denials=denials, peering_conditions=conditions)

    def _record(self, call: CallRecord) -> None:
        self.calls.append(call)
        record(call)

    def check_hub_call(
        self, function: str, caller_arn: str, action: str, keys: Iterable[str] = (), history: str = ""
    ) -> None:
        """`keys`: the DynamoDB partition keys the call names (IAM's dynamodb:LeadingKeys)."""
        self._record(CallRecord(function, "hub", action, history))
        for actions, patterns in self.key_denials.get(function, []):  # an explicit deny wins, as in IAM
            if action in actions and any(fnmatch.fnmatchcase(k, p) for k in keys for p in patterns):
                raise _denied(action, caller_arn, "", "an explicit deny in an identity-based policy")
        if action not in self.functions[function] and action not in PLUMBING_ACTIONS:
            raise _denied(action, caller_arn, "", "no identity-based policy allows the action")

    def check_assume_role(self, function: str, caller_arn: str, role_arn: str) -> None:
        self.check_trust(caller_arn, role_arn)

    def check_trust(self, caller_arn: str, role_arn: str) -> None:
        """sts:AssumeRole of a role these stacks deploy, by anyone (a function's role, a person's):
        refused unless a statement of its trust policy admits the caller, its aws:PrincipalOrgID
        condition included (the caller account's Organization, `principal_orgs`)."""
        role_name = role_arn.rsplit("/", 1)[-1]
        grant = self.member_roles.get(role_name)
        if grant is None or caller_arn not in grant.trusted:
            raise _denied("sts:AssumeRole", caller_arn, role_arn, "the role's trust policy does not name the caller")
        caller_org = self.principal_orgs.get(caller_arn.split(":")[4])
        if not any(t.admits(caller_arn, caller_org) for t in grant.trusts):
            raise _denied(
                "sts:AssumeRole",
                caller_arn,
                role_arn,
                "the caller is not in the Organization the role's trust requires",
            )

    def check_peering_conditions(
        self, where: str, action: str, caller_arn: str, resource: str, context: Mapping[str, str]
    ) -> None:
        """`where`: the function's logical id (its execution role) or the member role's name.
        `context`: IAM's request context for the call's peering (keys as AWS spells them). As IAM
        does, the action is allowed on the peering only when a statement granting it there has
        every condition hold; none: refused, in AWS's words for an action no policy allows."""
        granted = self.peering_conditions.get(where, {}).get(action)
        if granted is None:
            return
        known = {k.lower(): v for k, v in context.items()}
        if not any(conditions_hold(condition, known) for condition in granted):
            raise _denied(action, caller_arn, resource, "no identity-based policy allows the action")

    def check_member_call(self, function: str, role_name: str, caller_arn: str, action: str) -> None:
        grant = self.member_roles[role_name]
        self._record(CallRecord(function, grant.logical_id, action))
        if action not in grant.actions:
            raise _denied(action, caller_arn, "", "no identity-based policy allows the action")


def peering_conditions(statements: list[Mapping[str, Any]]) -> dict[str, tuple[Mapping[str, Any], ...]]:
    """For each action of PEERING_CONDITIONED: the Condition of each Allow statement that grants it
    on vpc-peering-connection resources."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if not any(":vpc-peering-connection/" in str(r) for r in _listed(statement.get("Resource", []))):
            continue
        for action in set(_listed(statement["Action"])) & PEERING_CONDITIONED:
            found.setdefault(action, []).append(statement.get("Condition", {}))
    return {action: tuple(conditions) for action, conditions in found.items()}


# The condition keys the harness evaluates (lower case, as IAM compares keys); any other is an error.
_CONTEXT_KEYS = ("aws:resourcetag/", "aws:requesttag/", "ec2:acceptervpc")


def conditions_hold(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """One statement's Condition, as IAM evaluates it against the request context (`context`'s
    keys in lower case): every operator's every key holds. A key missing from the request makes
    StringEquals and ArnLike false; Null tests that. An operator or key the templates do not use
    here is an error, never a guess."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            name = key.lower()
            if not name.startswith(_CONTEXT_KEYS):
                raise ValueError(f"condition key {key} is not evaluated locally")
            value = context.get(name)
            if operator == "StringEquals":
                held = value is not None and value in _listed(expected)
            elif operator == "Null":
                held = (value is None) == (str(expected).lower() == "true")
            elif operator == "ArnLike":
                held = value is not None and any(arn_like(str(p), value) for p in _listed(expected))
            else:
                raise ValueError(f"condition operator {operator} is not evaluated locally")
            if not held:
                return False
    return True


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ArnLike: the six colon-separated parts matched each on its own (`*` any run of
    characters, `?` one), so a wildcard never reaches past a colon into the next part."""
    parts, wanted = arn.split(":", 5), pattern.split(":", 5)
    if len(parts) != 6 or len(wanted) != 6:
        return False
    return all(fnmatch.fnmatchcase(part, glob.replace("[", "[[]")) for part, glob in zip(parts, wanted, strict=True))


def key_denials(statements: Iterable[Mapping[str, Any]]) -> list[tuple[frozenset[str], tuple[str, ...]]]:
    """The Deny statements conditioned on dynamodb:LeadingKeys (ForAnyValue:StringLike), as AWS
    applies them: the action is refused when any key the call names matches a pattern."""
    found = []
    for statement in statements:
        if statement.get("Effect") != "Deny":
            continue
        patterns = statement.get("Condition", {}).get("ForAnyValue:StringLike", {}).get("dynamodb:LeadingKeys")
        if patterns:
            found.append((frozenset(_listed(statement["Action"])), tuple(_listed(patterns))))
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _denied(action: str, caller_arn: str, resource: str, why: str) -> ClientError:
    """The refusal AWS gives: EC2 says UnauthorizedOperation, the other services AccessDenied."""
    code = "UnauthorizedOperation" if action.startswith("ec2:") else "AccessDenied"
    on = f" on resource: {resource}" if resource else ""
    message = f"User: {caller_arn} is not authorized to perform: {action}{on} because {why}"
    return ClientError({"Error": {"Code": code, "Message": message}}, action.split(":", 1)[1])
