"""Configure routes and security-group rules on both sides of an accepted peering."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from peering_autopilot.configure import configure_peering
from peering_autopilot.handling import handle
from peering_autopilot.hints import PeeringHint, peering_hint
from peering_autopilot.runtime import runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()
METRIC = {"configured": "PeeringsConfigured", "partially-configured": "PeeringsPartiallyConfigured"}


@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, peering_hint, configure, lambda h: h.peering_id, logger, metrics)


def configure(hint: PeeringHint) -> dict[str, Any]:
    rt = runtime()
    result = configure_peering(hint, rt.settings, rt.aws, rt.publisher)
    logger.info(
        f"peering {result.outcome}",
        extra={"outcome": result.outcome, "summary": result.explanation, "dry_run": result.dry_run},
    )
    metrics.add_metric(name=METRIC.get(result.outcome, "ConfigureSkipped"), unit=MetricUnit.Count, value=1)
    return {
        "status": result.outcome,
        "peeringId": result.peering_id,
        "summary": result.explanation,
        "dryRun": result.dry_run,
    }
