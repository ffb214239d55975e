"""Tidy up after a peering ends: its routes and the autopilot's own rules, on both managed sides."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from peering_autopilot.cleanup import clean_up_peering
from peering_autopilot.errors import InvalidEventError, RoleAssumptionError
from peering_autopilot.hints import EventNotActionableError, peering_hint
from peering_autopilot.runtime import runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ENDING_CALLS = frozenset({"DeleteVpcPeeringConnection", "RejectVpcPeeringConnection"})


@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        hint = peering_hint(event, cloudtrail_calls=ENDING_CALLS, work="clean-up")
    except EventNotActionableError as e:
        logger.info("event ignored", extra={"reason": str(e)})
        return {"status": "ignored", "reason": str(e)}
    except InvalidEventError as e:
        # Not raised: a malformed event would fail the same way on every retry.
        logger.error("invalid event", extra={"error": str(e)})
        metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=1)
        return {"status": "invalid", "error": str(e)}

    logger.set_correlation_id(hint.peering_id)
    rt = runtime()
    try:
        result = clean_up_peering(hint, rt.settings, rt.aws, rt.publisher)
    except RoleAssumptionError as e:
        logger.error("cannot clean up peering", extra={"error": str(e)})
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        return {"status": "error", "peeringId": hint.peering_id, "error": str(e)}

    logger.info(f"peering {result.outcome}", extra={"outcome": result.outcome, "summary": result.explanation})
    if result.outcome == "cleaned-up":
        metrics.add_metric(name="PeeringsCleanedUp", unit=MetricUnit.Count, value=1)
    return {"status": result.outcome, "peeringId": result.peering_id, "summary": result.explanation}
