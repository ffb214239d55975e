"""Verify a configured peering both ways, as the runbook's last step does, and explain the verdict."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from peering_autopilot.errors import InvalidEventError, PeeringNotFoundError, RoleAssumptionError
from peering_autopilot.hints import EventNotActionableError, peering_hint
from peering_autopilot.runtime import runtime
from peering_autopilot.verify import VERIFIED, verify_peering

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        hint = peering_hint(event)
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
        result = verify_peering(hint, rt.settings, rt.aws, rt.publisher)
    except (RoleAssumptionError, PeeringNotFoundError) as e:
        logger.error("cannot verify peering", extra={"error": str(e), "error_type": type(e).__name__})
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        return {"status": "error", "peeringId": hint.peering_id, "error": str(e)}

    level = logger.info if result.outcome in (VERIFIED, "skipped") else logger.warning
    level(f"peering {result.outcome}", extra={"outcome": result.outcome, "report": result.report})
    if result.outcome != "skipped":
        name = "PeeringsVerified" if result.outcome == VERIFIED else "PeeringVerificationsFailed"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return {"status": result.outcome, "peeringId": result.peering_id, "report": result.report}
