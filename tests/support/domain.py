"""The domain's own objects for tests that call a step directly: settings, a context, and answers
that stand in for AWS's on the wire (faults injected before a request is sent)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.context import Context
from peering_autopilot.settings import Settings
from tests.support.world import HUB, MEMBER, OTHER_REGION, REGION

BUS = "peering-autopilot-bus"
RECORD_TABLE = "peering-autopilot-record"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "hub_account_id": HUB,
        "hub_region": REGION,
        "approved_account_ids": frozenset({MEMBER}),
        "member_role_name": "PeeringAutopilotMember",
        "managed_regions": (REGION, OTHER_REGION),
        "event_bus_name": BUS,
        "record_table": RECORD_TABLE,
    }
    values.update(overrides)
    return Settings(**values)


def create_bus() -> str:
    """The hub's event bus and the autopilot's record table, for steps called directly (the
    harness makes its own, from the template)."""
    boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
    create_record_table()
    return BUS


def create_record_table() -> str:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=RECORD_TABLE,
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return RECORD_TABLE


def context(chosen: Settings | None = None, base_session: Any = None, **waits: Any) -> Context:
    """A step's context on the emulator: `base_session` for the hub's own calls (faults hooked on
    it), `waits` (sleep, clock, backoff) instead of real waiting."""
    chosen = chosen or settings()
    return Context(chosen, AwsAccess(chosen, base_session=base_session), **waits)


class Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def ec2_error(status: int, code: str, message: str) -> AWSResponse:
    body = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
        "<RequestID>fault-injected</RequestID></Response>"
    ).encode()
    return AWSResponse("https://ec2.amazonaws.com/", status, {}, Body(body))  # type: ignore[arg-type]
