"""CloudTrail's event history (the last 90 days of management events, per account and region):
who created a peering, for the adoption of what an earlier version of the autopilot made."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from peering_autopilot.aws.calls import translated
from peering_autopilot.permissions import needs
from peering_autopilot.structs import NamedTuple

CREATE_PEERING = "CreateVpcPeeringConnection"


class TrailEvent(NamedTuple):
    """One CloudTrail record, as far as adoption reads it."""

    event_id: str
    event_name: str
    event_time: str
    issuer_arn: str  # userIdentity.sessionContext.sessionIssuer.arn: the role behind the session
    identity_arn: str  # userIdentity.arn
    error_code: str


class TrailGateway:
    def __init__(self, client: Any, account_id: str, region: str) -> None:
        self.client = client
        self.account_id = account_id
        self.region = region

    @needs("cloudtrail:LookupEvents")
    def creations(self, peering_id: str) -> list[TrailEvent]:
        """The CreateVpcPeeringConnection records of this peering in this account and region's event
        history (LookupEvents takes one attribute: the peering's id as ResourceName; the event
        name is filtered here). Empty when the history no longer holds it (90 days)."""
        found: list[TrailEvent] = []
        with translated("cloudtrail", f"{self.account_id}/{self.region}"):
            pages = self.client.get_paginator("lookup_events").paginate(
                LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": peering_id}]
            )
            for page in pages:
                for event in page.get("Events", []):
                    if event.get("EventName") == CREATE_PEERING:
                        found.append(_parse(event))
        return found


def _parse(event: dict[str, Any]) -> TrailEvent:
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    identity = record.get("userIdentity") or {}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    when = event.get("EventTime")
    return TrailEvent(
        str(event.get("EventId", "")),
        str(event.get("EventName", "")),
        when.isoformat() if isinstance(when, datetime) else str(when or ""),
        str(issuer.get("arn", "")),
        str(identity.get("arn", "")),
        str(record.get("errorCode", "")),
    )
