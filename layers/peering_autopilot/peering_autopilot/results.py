"""What every step returns, and the part of every step's event that says which peering it is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from peering_autopilot.model import Peering


@dataclass(frozen=True)
class StepResult[O: Enum]:
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


def peering_detail(
    peering: Peering, outcome: Enum | str, dry_run: bool, sides: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The detail of a step's event about a peering and its two sides."""
    return {
        "peeringId": peering.peering_id,
        "peeringStatus": peering.status,
        "outcome": outcome.value if isinstance(outcome, Enum) else outcome,
        "dryRun": dry_run,
        "sides": list(sides),
    }
