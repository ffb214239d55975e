"""What every step is given: the settings, access to AWS, and how to wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from peering_autopilot.aws.eventbridge import EventPublisher
from peering_autopilot.aws.sessions import AwsAccess
from peering_autopilot.record import Origin
from peering_autopilot.recorder import NO_ORIGIN, Recorder
from peering_autopilot.settings import Settings
from peering_autopilot.structs import struct

if TYPE_CHECKING:
    from peering_autopilot.aws.service_quotas import QuotaReaders


@struct(frozen=True)
class Budget:
    """Time left for polls (Reachability Analyzer, the live ping) within the function's timeout."""

    deadline: float
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def can_wait(self, seconds: float) -> bool:
        return self.clock() + seconds <= self.deadline


@struct(frozen=True)
class Context:
    settings: Settings
    aws: AwsAccess
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    backoff: tuple[float, ...] | None = None  # re-reads of a peering EC2 does not show yet; None: lookup's
    now: Callable[[], float] = time.time  # wall-clock seconds: when a held refusal may be retried
    origin: Origin = NO_ORIGIN  # the triggering event and who caused it, for the record's history

    @classmethod
    def of(cls, settings: Settings) -> Context:
        """A context on the default credentials (the function's own, in Lambda)."""
        return cls(settings, AwsAccess(settings))

    @property
    def publisher(self) -> EventPublisher:
        return self.aws.publisher()

    @cached_property
    def recorder(self) -> Recorder:
        """The autopilot's record, for this invocation (one per context: its problems are this run's)."""
        settings = self.settings
        return Recorder(
            self.aws.record_store(),
            self.aws.backlog(),
            self.origin,
            self.now,
            settings.history_retention_days,
            settings.dry_run,
        )

    @cached_property
    def quotas(self) -> QuotaReaders:
        """Service Quotas' applied values, read at most once per account, region and quota in this
        invocation (one per context, as the recorder)."""
        from peering_autopilot.aws.service_quotas import QuotaReaders

        return QuotaReaders(lambda account_id, region: self.aws.service_quotas(account_id, region))

    def budget(self, seconds: float) -> Budget:
        return Budget(self.clock() + seconds, self.sleep, self.clock)
