"""Count the AWS API calls made in this process: calls are what AWS throttles and bills."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.client

MUTATING_PREFIXES = ("Accept", "Reject", "Create", "Delete", "Authorize", "Revoke", "Replace", "Modify", "Associate")


@dataclass
class CallLog:
    calls: list[tuple[str, str]] = field(default_factory=list)  # (service, operation), in order

    @property
    def names(self) -> list[str]:
        return [operation for _, operation in self.calls]

    def clear(self) -> None:
        self.calls.clear()

    def by_action(self, service: str = "ec2") -> Counter[str]:
        return Counter(op for svc, op in self.calls if svc == service)

    def mutating(self, service: str = "ec2") -> list[str]:
        """Calls that change something (the harness's own queue reads are another service)."""
        return [op for svc, op in self.calls if svc == service and op.startswith(MUTATING_PREFIXES)]


@contextlib.contextmanager
def count_calls() -> Iterator[CallLog]:
    """Record every botocore call made while the block runs, whatever client made it."""
    log = CallLog()
    client_class: Any = botocore.client.BaseClient  # _make_api_call is private: untyped on purpose
    original = client_class._make_api_call

    def recording(self: Any, operation_name: str, api_params: Any) -> Any:
        log.calls.append((self.meta.service_model.service_name, operation_name))
        return original(self, operation_name, api_params)

    client_class._make_api_call = recording
    try:
        yield log
    finally:
        client_class._make_api_call = original
