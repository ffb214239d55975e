"""The hub's event bus: where the autopilot publishes its own events (source `peering-autopilot`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from peering_autopilot.aws.calls import translated
from peering_autopilot.errors import PublishError
from peering_autopilot.permissions import needs

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

EVENT_SOURCE = "peering-autopilot"
_ENTRIES_PER_CALL = 10  # PutEvents' own limit


class EventPublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self.client = client
        self.bus_name = bus_name

    @needs("events:PutEvents")
    def publish(self, detail_type: str, detail: Mapping[str, Any], resources: Iterable[str] = ()) -> None:
        self.publish_many(detail_type, [(detail, list(resources))])

    @needs("events:PutEvents")
    def publish_many(self, detail_type: str, items: Sequence[tuple[Mapping[str, Any], list[str]]]) -> None:
        """Batched, 10 entries a call; any refused entry fails loudly (PublishError)."""
        for start in range(0, len(items), _ENTRIES_PER_CALL):
            entries: list[Any] = [
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, sort_keys=True),
                    "Resources": resources,
                    "EventBusName": self.bus_name,
                }
                for detail, resources in items[start : start + _ENTRIES_PER_CALL]
            ]
            with translated("events"):
                response = self.client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                failed = [e for e in response["Entries"] if e.get("ErrorCode")]
                first = failed[0] if failed else {}
                raise PublishError(
                    bus_name=self.bus_name,
                    detail_type=detail_type,
                    refused=str(len(failed)),
                    code=str(first.get("ErrorCode")),
                    message=str(first.get("ErrorMessage")),
                )
