"""The Lambda side of every function, in one place: the only module beside the handlers that
knows Powertools. A handler names its function here; the adapter parses the event with that
function's trigger, runs its step with the container's runtime, and reports the outcome (log line,
metric, return value). The steps below it know nothing of Lambda.

A malformed event is refused without letting Lambda retry it (it would fail alike every time), and
so is an autopilot event that the hub's account did not put (`triggers.check_publisher`);
faults a retry would not cure end the invocation reported, not raised; anything else is raised,
for Lambda and EventBridge to retry and the failed-events queue to keep.

A handler imports only its own step: `ACCEPT`, `CONFIGURE`, ... are built on first access (a
module `__getattr__`), so a cold start does not pay for the other functions' modules. No step is
special here: the trigger's hint names the subject (the log lines' correlation id), and the step's
result says what to log and count (`Result`; `results.StepResult` and the sweep's report).

In a Lambda container (LAMBDA_TASK_ROOT set) the cyclic garbage collector is paused while the
function's modules load, from this module's first import to the end of `lambda_handler()`, and what
they made (modules, classes, functions: alive as long as the container) is then frozen out of every
later collection (`gc.freeze`, as Python's documentation advises before a fork): the cold start
does not walk it again and again as it grows, and no later collection walks it at all. Elsewhere
(the tests, the local runner, the command line) modules load with the collector as it is.
"""

# ruff: noqa: E402  (the collector is paused before the imports below run)
from __future__ import annotations

import gc
import os

_collector_paused = "LAMBDA_TASK_ROOT" in os.environ and gc.isenabled()
if _collector_paused:
    gc.disable()

import dataclasses
import importlib
import warnings
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Protocol, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from peering_autopilot import triggers
from peering_autopilot.authority import with_authority
from peering_autopilot.context import Context
from peering_autopilot.errors import (
    InvalidEventError,
    PeeringNotFoundError,
    PolicyUnavailableError,
    RoleAssumptionError,
    VpcNotFoundError,
)
from peering_autopilot.runtime import runtime
from peering_autopilot.structs import struct
from peering_autopilot.triggers import EventNotActionableError

# Final for this event: the same delivery would fail alike. The sweep comes back to it later. A
# policy that cannot be read or used stops the step before it acts: nothing is done on a guess.
FINAL_FAULTS = (RoleAssumptionError, PeeringNotFoundError, VpcNotFoundError, PolicyUnavailableError)


# A step with nothing to count publishes no metric; Powertools then warns on stderr at every such
# invocation, which is noise in CloudWatch Logs (and in the demo), not news.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


class Hint(Protocol):
    @property
    def subject(self) -> str: ...  # the correlation id of the log lines, known before the step runs


class Result(Protocol):
    """What a step returns, as the adapter reports it."""

    @property
    def outcome(self) -> Enum: ...

    @property
    def message(self) -> str: ...  # the log line's message

    @property
    def warning(self) -> bool: ...  # logged as a warning, not information

    def response(self) -> dict[str, Any]: ...  # what the function returns

    def log_fields(self) -> dict[str, Any]: ...  # what the log line says beside the outcome

    def metrics(self) -> Mapping[str, int]: ...  # metric name -> count

    def problem_lines(self) -> list[str]: ...  # places it could not act in, one error line each


@struct(frozen=True)
class LambdaFunction[H: Hint, R: Result]:
    """One function of the template: its trigger and its step."""

    trigger: Callable[[Mapping[str, Any]], H]
    step: Callable[[H, Context], R]

    def lambda_handler(self) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
        """The handler Lambda calls, decorated as Powertools' own examples are (service name and
        namespace come from the template's Globals)."""
        # Tracer patches only botocore (the AWS calls, all the functions make): patching every
        # library X-Ray knows costs cold-start time for modules the functions never import.
        logger, tracer, metrics = Logger(), Tracer(patch_modules=["botocore"]), Metrics()

        @metrics.log_metrics(capture_cold_start_metric=True)
        @tracer.capture_lambda_handler
        @logger.inject_lambda_context(log_event=False)
        def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            return self.handle(event, logger, metrics)

        _resume_collector()  # the handler is the cold start's last import: Tracer's X-Ray SDK
        return cast(Callable[[dict[str, Any], LambdaContext], dict[str, Any]], lambda_handler)

    def handle(self, event: Mapping[str, Any], logger: Logger, metrics: Metrics) -> dict[str, Any]:
        try:
            hint = self.trigger(event)
            context = runtime()
            triggers.check_publisher(event, context.settings.hub_account_id)  # before any AWS call
        except EventNotActionableError as e:
            logger.info("event ignored", extra={"reason": str(e)})
            return {"status": "ignored", "reason": str(e)}
        except InvalidEventError as e:
            event_id = event.get("id") if isinstance(event, Mapping) else None
            logger.error("invalid event", extra={"error": str(e), "event_id": event_id})
            metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=1)
            return {"status": "invalid", "error": str(e)}

        subject = hint.subject
        logger.set_correlation_id(subject)
        caller = str(getattr(hint, "caller", ""))
        if caller and context.settings.is_own_role(caller):
            # CloudTrail echoes the autopilot's own calls; the step that made the call has already
            # published what comes next, so the echo is not a trigger.
            reason = f"the call was the autopilot's own ({caller})"
            logger.info("event ignored", extra={"reason": reason})
            return {"status": "ignored", "reason": reason}
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        context = dataclasses.replace(context, origin=triggers.origin(event, function))
        try:
            context = with_authority(context)  # who is managed, what the policy says: now
            membership = context.settings.membership
            # Fail safe, and said: docs/governance.md "Managed by the Organization".
            if membership is not None and membership.unknown:
                logger.warning("organization membership not known", extra={"reason": membership.unknown})
                metrics.add_metric(name="MembershipUnknown", unit=MetricUnit.Count, value=1)
            result = self.step(hint, context)
        except FINAL_FAULTS as e:
            logger.error("cannot act", extra={"error": str(e), "error_type": type(e).__name__})
            metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
            if isinstance(e, PolicyUnavailableError):  # every step stops until the document is fixed: alarmed
                metrics.add_metric(name="PolicyUnavailable", unit=MetricUnit.Count, value=1)
            return {"status": "error", "peeringId": subject, "error": str(e)}

        for problem in result.problem_lines():
            logger.error("cannot act here", extra={"error": problem})
        recorder = vars(context).get("recorder")  # made only where the step used the record
        if recorder is not None:
            for problem in recorder.problems:
                logger.error("not recorded", extra={"error": problem})
            if recorder.problems:
                metrics.add_metric(name="RecordWritesLost", unit=MetricUnit.Count, value=len(recorder.problems))
            if recorder.deferred:
                metrics.add_metric(name="RecordWritesDeferred", unit=MetricUnit.Count, value=recorder.deferred)
        log = logger.warning if result.warning else logger.info
        log(result.message, extra={"outcome": result.outcome.value, **result.log_fields()})
        for name, count in result.metrics().items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
        return result.response()


def _resume_collector() -> None:
    """The cold start's modules are loaded: what they made is frozen, and the collector runs again."""
    global _collector_paused
    if _collector_paused:
        _collector_paused = False
        gc.freeze()
        gc.enable()


def _build(name: str) -> LambdaFunction[Any, Any]:
    """The function `name` (ACCEPT, ...), its step module imported now."""
    step_module, trigger, step = STEPS[name]
    module = importlib.import_module(f"peering_autopilot.{step_module}")
    return LambdaFunction(getattr(triggers, trigger), getattr(module, step))


# Each function's step module, trigger (in triggers.py) and step.
STEPS: Mapping[str, tuple[str, str, str]] = {
    "ACCEPT": ("accept", "accept_trigger", "handle_peering_request"),
    "CONFIGURE": ("configure", "configure_trigger", "configure_peering"),
    "VERIFY": ("verify", "verify_trigger", "verify_peering"),
    "CLEANUP": ("cleanup", "cleanup_trigger", "clean_up_peering"),
    "CONNECT": ("connect", "connect_trigger", "handle_group_work"),
    "SWEEP": ("sweep", "sweep_trigger", "handle_sweep_trigger"),
}
_built: dict[str, LambdaFunction[Any, Any]] = {}


def __getattr__(name: str) -> LambdaFunction[Any, Any]:
    if name not in STEPS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _built:
        _built[name] = _build(name)
    return _built[name]
