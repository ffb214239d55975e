"""Each gateway method declares the IAM actions it calls; each step lists the methods it uses, so
its actions are derived, not kept by hand, and a test checks the templates grant exactly those."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def needs(*actions: str) -> Callable[[F], F]:
    """Declare the IAM actions a gateway method calls."""

    def mark(method: F) -> F:
        method.iam_actions = frozenset(actions)  # type: ignore[attr-defined]
        return method

    return mark


def actions_of(*methods: Callable[..., Any]) -> frozenset[str]:
    """The IAM actions the given gateway methods declare: what an entry point of the domain needs."""
    return frozenset(action for method in methods for action in getattr(method, "iam_actions", ()))
