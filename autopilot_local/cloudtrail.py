"""Record API calls as CloudTrail would, as "AWS API Call via CloudTrail" EventBridge events.

Attached to the clients of the demo's (and tests') users: when they create, accept, reject or
delete a peering, the event lands where AWS would deliver it, in the caller's account and region.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

RECORDED_CALLS = frozenset(
    {
        "CreateVpcPeeringConnection",
        "AcceptVpcPeeringConnection",
        "RejectVpcPeeringConnection",
        "DeleteVpcPeeringConnection",
    }
)

Sink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Identity:
    """Who made a call, as CloudTrail's userIdentity says: an assumed role and its session."""

    account_id: str
    role_name: str
    session_name: str
    role_path: str = "/"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role{self.role_path}{self.role_name}"

    def user_identity(self) -> dict[str, Any]:
        return {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE{self.role_name[:8].upper()}:{self.session_name}",
            "arn": f"arn:aws:sts::{self.account_id}:assumed-role/{self.role_name}/{self.session_name}",
            "accountId": self.account_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROAEXAMPLE{self.role_name[:8].upper()}",
                    "arn": self.role_arn,
                    "accountId": self.account_id,
                    "userName": self.role_name,
                },
                "attributes": {"mfaAuthenticated": "false"},
            },
        }


def person(account_id: str, name: str = "network-engineer") -> Identity:
    """A person signed in through an SSO permission set or an admin role."""
    return Identity(account_id, "NetworkAdmin", name)


def record_calls(
    client: Any, account_id: str, sink: Sink, principal: str = "network-engineer", identity: Identity | None = None
) -> None:
    """Make `client` report each recorded EC2 call to `sink` as a CloudTrail event, made by
    `identity` (default: a NetworkAdmin person of the account, session `principal`)."""
    record_events(
        client.meta.events,
        lambda context: str(client.meta.region_name),
        account_id,
        sink,
        identity or person(account_id, principal),
    )


def record_events(
    events: Any, region_of: Callable[[dict[str, Any]], str], account_id: str, sink: Sink, caller: Identity
) -> None:
    """Register on a client's (or a whole session's) event hooks: each recorded EC2 call goes to
    `sink` as CloudTrail records it, with `caller` as its userIdentity (AWS establishes who signed
    the call; here the identity the session was made for)."""

    def keep_params(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["cloudtrail_params"] = dict(params)

    def after_call(parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.name not in RECORDED_CALLS:
            return
        error = parsed.get("Error") if isinstance(parsed.get("Error"), dict) else None
        sink(
            cloudtrail_event(
                event_name=model.name,
                account_id=account_id,
                region=region_of(context),
                request=context.get("cloudtrail_params", {}),
                response=None if error else {k: v for k, v in parsed.items() if k != "ResponseMetadata"},
                error_code=error.get("Code") if error else None,
                caller=caller,
            )
        )

    events.register("before-parameter-build.ec2", keep_params)
    events.register("after-call.ec2", after_call)


def cloudtrail_event(
    event_name: str,
    account_id: str,
    region: str,
    request: dict[str, Any],
    response: dict[str, Any] | None,
    error_code: str | None = None,
    caller: Identity | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    request_id = str(uuid.uuid4())
    detail: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": (caller or person(account_id)).user_identity(),
        "eventTime": now,
        "eventSource": "ec2.amazonaws.com",
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.22.35 Python/3.12.6 Linux/6.1 exe/x86_64 command/ec2.create-vpc-peering-connection",
        "requestParameters": _camel(request),
        "responseElements": None,
        "requestID": request_id,
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
    }
    if error_code:
        detail["errorCode"] = error_code
        detail["errorMessage"] = f"The call failed with {error_code}"
    elif response is not None:
        detail["responseElements"] = {"requestId": request_id, **_camel(response)}
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": account_id,
        "time": now,
        "region": region,
        "resources": [],
        "detail": detail,
    }


def _camel(value: Any) -> Any:
    """boto3's shapes to CloudTrail's: lowerCamel keys, lists wrapped in {"items": [...]}."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = "tagSet" if key == "Tags" else key[:1].lower() + key[1:]
            out[name] = _camel(item)
        return out
    if isinstance(value, list):
        return {"items": [_camel(v) for v in value]}
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value
