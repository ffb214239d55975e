"""Accept peering requests: CloudTrail CreateVpcPeeringConnection events from the hub or a member."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from peering_autopilot.accept import handle_peering_request
from peering_autopilot.errors import (
    InvalidEventError,
    PeeringNotFoundError,
    RoleAssumptionError,
    VpcNotFoundError,
)
from peering_autopilot.hints import EventNotActionableError, peering_request_hint
from peering_autopilot.runtime import runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        hint = peering_request_hint(event)
    except EventNotActionableError as e:
        logger.info("event ignored", extra={"reason": str(e)})
        return {"status": "ignored", "reason": str(e)}
    except InvalidEventError as e:
        # Not raised: a malformed event would fail the same way on every retry.
        logger.error(
            "invalid event", extra={"error": str(e), "event_id": event.get("id") if isinstance(event, dict) else None}
        )
        metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=1)
        return {"status": "invalid", "error": str(e)}

    logger.set_correlation_id(hint.peering_id)
    rt = runtime()
    try:
        result = handle_peering_request(hint, rt.settings, rt.aws, rt.publisher)
    except (RoleAssumptionError, PeeringNotFoundError, VpcNotFoundError) as e:
        # Final for this event: retrying the delivery would fail alike. Sweeps pick it up later.
        logger.error("cannot decide on peering", extra={"error": str(e), "error_type": type(e).__name__})
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        return {"status": "error", "peeringId": hint.peering_id, "error": str(e)}

    logger.info(
        f"peering {result.outcome.value}",
        extra={
            "outcome": result.outcome.value,
            "reason_code": result.reason_code,
            "reason": result.explanation,
            "dry_run": result.dry_run,
        },
    )
    metrics.add_metric(name=f"Peerings{result.outcome.value.capitalize()}", unit=MetricUnit.Count, value=1)
    return {
        "status": result.outcome.value,
        "peeringId": result.peering_id,
        "reasonCode": result.reason_code,
        "reason": result.explanation,
        "dryRun": result.dry_run,
    }
