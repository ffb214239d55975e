"""What every function does around its domain call, in one place: refuse a bad event without
letting Lambda retry it, set the correlation id, and report faults that a retry would not cure.
The handlers pass their Powertools logger and metrics in; nothing here knows of Lambda."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from peering_autopilot.errors import InvalidEventError, PeeringNotFoundError, RoleAssumptionError, VpcNotFoundError
from peering_autopilot.hints import EventNotActionableError

# Final for this event: the same delivery would fail alike. The sweep comes back to it later.
FINAL_FAULTS = (RoleAssumptionError, PeeringNotFoundError, VpcNotFoundError)


def handle[H](
    event: Mapping[str, Any],
    parse: Callable[[Mapping[str, Any]], H],
    act: Callable[[H], dict[str, Any]],
    correlation_id: Callable[[H], str],
    logger: Any,
    metrics: Any,
) -> dict[str, Any]:
    try:
        hint = parse(event)
    except EventNotActionableError as e:
        logger.info("event ignored", extra={"reason": str(e)})
        return {"status": "ignored", "reason": str(e)}
    except InvalidEventError as e:
        # Not raised: a malformed event would fail the same way on every retry.
        logger.error(
            "invalid event",
            extra={"error": str(e), "event_id": event.get("id") if isinstance(event, Mapping) else None},
        )
        metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=1)
        return {"status": "invalid", "error": str(e)}

    logger.set_correlation_id(correlation_id(hint))
    try:
        return act(hint)
    except FINAL_FAULTS as e:
        logger.error("cannot act", extra={"error": str(e), "error_type": type(e).__name__})
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        return {"status": "error", "peeringId": correlation_id(hint), "error": str(e)}
