"""Find what the events missed: on a schedule, over every managed account and region; and at once
for a VPC that just opted in. Publishes the work it finds; other functions do it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from peering_autopilot.errors import InvalidEventError, RoleAssumptionError
from peering_autopilot.hints import vpc_tag_hint
from peering_autopilot.runtime import runtime
from peering_autopilot.sweep import sweep, sweep_vpc

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    if isinstance(event, dict) and event.get("detail-type") == "Scheduled Event":
        report = sweep(rt.settings, rt.aws, rt.publisher)
        kind = "sweep"
    else:
        try:
            hint = vpc_tag_hint(event)
        except InvalidEventError as e:
            logger.error("invalid event", extra={"error": str(e)})
            metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=1)
            return {"status": "invalid", "error": str(e)}
        logger.set_correlation_id(hint.vpc_id)
        try:
            report = sweep_vpc(hint, rt.settings, rt.aws, rt.publisher)
        except RoleAssumptionError as e:
            logger.error("cannot sweep VPC", extra={"error": str(e)})
            return {"status": "error", "error": str(e)}
        kind = "opt-in" if hint.opted_in else "opt-out"
    summary = report.describe()
    for problem in report.problems:
        logger.error("cannot sweep", extra={"error": problem})
    logger.info(f"{kind} done", extra=summary)
    metrics.add_metric(name="WorkFound", unit=MetricUnit.Count, value=len(report.work))
    return {"status": kind, **summary}
