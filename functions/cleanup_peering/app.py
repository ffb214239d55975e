"""Tidy up after a peering ends: its routes and the autopilot's own rules, on both managed sides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from peering_autopilot.cleanup import clean_up_peering
from peering_autopilot.handling import handle
from peering_autopilot.hints import PeeringHint, peering_hint
from peering_autopilot.runtime import runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ENDING_CALLS = frozenset({"DeleteVpcPeeringConnection", "RejectVpcPeeringConnection"})


@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, parse, clean_up, lambda h: h.peering_id, logger, metrics)


def parse(event: Mapping[str, Any]) -> PeeringHint:
    return peering_hint(event, cloudtrail_calls=ENDING_CALLS, work="clean-up")


def clean_up(hint: PeeringHint) -> dict[str, Any]:
    rt = runtime()
    result = clean_up_peering(hint, rt.settings, rt.aws, rt.publisher)
    logger.info(f"peering {result.outcome}", extra={"outcome": result.outcome, "summary": result.explanation})
    if result.outcome == "cleaned-up":
        metrics.add_metric(name="PeeringsCleanedUp", unit=MetricUnit.Count, value=1)
    return {"status": result.outcome, "peeringId": result.peering_id, "summary": result.explanation}
