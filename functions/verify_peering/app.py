"""Verify a configured peering both ways, as the runbook's last step does, and explain the verdict."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from peering_autopilot.handling import handle
from peering_autopilot.hints import PeeringHint, peering_hint
from peering_autopilot.runtime import runtime
from peering_autopilot.verify import VERIFIED, verify_peering

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, peering_hint, verify, lambda h: h.peering_id, logger, metrics)


def verify(hint: PeeringHint) -> dict[str, Any]:
    rt = runtime()
    result = verify_peering(hint, rt.settings, rt.aws, rt.publisher)
    level = logger.info if result.outcome in (VERIFIED, "skipped") else logger.warning
    level(f"peering {result.outcome}", extra={"outcome": result.outcome, "report": result.report})
    if result.outcome != "skipped":
        name = "PeeringsVerified" if result.outcome == VERIFIED else "PeeringVerificationsFailed"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return {"status": result.outcome, "peeringId": result.peering_id, "report": result.report}
