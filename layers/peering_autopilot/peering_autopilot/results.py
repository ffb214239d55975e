"""What every step returns, and what the Lambda adapter reads of it to report the outcome: the log
line's message and level, the places it could not act in, and the metrics it counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import Enum
from typing import Any, ClassVar

from peering_autopilot.structs import struct


@struct(frozen=True)
class StepResult[O: Enum]:
    # The metric each outcome counts as (namespace PeeringAutopilot); outcomes not listed count nothing.
    METRICS: ClassVar[Mapping[Enum, str]] = {}

    peering_id: str
    outcome: O
    summary: str  # one line a person reads in the log
    dry_run: bool = False
    detail: dict[str, Any] = field(default_factory=dict)  # the event published, if any

    def response(self) -> dict[str, Any]:
        """What the function returns to Lambda."""
        return {
            "status": self.outcome.value,
            "peeringId": self.peering_id,
            "summary": self.summary,
            "dryRun": self.dry_run,
        }

    def log_fields(self) -> dict[str, Any]:
        """What the function's log line says beside the outcome."""
        return {"summary": self.summary, "dry_run": self.dry_run}

    @property
    def message(self) -> str:
        """The log line's message."""
        return f"peering {self.outcome.value}"

    @property
    def warning(self) -> bool:
        """Whether the log line is a warning rather than information."""
        return False

    def metrics(self) -> Mapping[str, int]:
        """Metric name -> count."""
        name = self.METRICS.get(self.outcome)
        return {name: 1} if name else {}

    def problem_lines(self) -> list[str]:
        """Places the step could not act in, one error log line each."""
        return []
