"""Accept peering requests: CloudTrail CreateVpcPeeringConnection events from the hub or a member,
and requests a sweep or an opt-in found."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from peering_autopilot.accept import handle_peering_request
from peering_autopilot.handling import handle
from peering_autopilot.hints import PeeringRequestHint, peering_request_hint
from peering_autopilot.runtime import runtime

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, peering_request_hint, accept, lambda h: h.peering_id, logger, metrics)


def accept(hint: PeeringRequestHint) -> dict[str, Any]:
    rt = runtime()
    result = handle_peering_request(hint, rt.settings, rt.aws, rt.publisher)
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
