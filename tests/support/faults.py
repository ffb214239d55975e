"""Faults on the wire for the in-process emulator, for every function the harness runs.

A fault sees each request of the chosen services just before it would be sent (botocore's
`before-send` event, named for the service: more specific than the `before-send` moto answers on,
so the fault is asked first) and may answer in AWS's place. The answer then goes through botocore
as AWS's would: parsed, retried (the `standard` mode's back-off waits are recorded by
`record_backoff`, not slept), translated by the gateways.

Installed in botocore's built-in handlers, the fault reaches every session created afterwards:
the functions' own (their runtime is started afresh on install) and the member-role sessions
they assume. Sessions made before (the test's own, through LocalCloud) stay unfaulted, so the test
builds its world and reads back the emulator freely. Requests are named by the account whose
credentials signed them (a role assumed outside the functions, as the command line does, too)
and the region of their signature.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.endpoint
import botocore.handlers
import pytest
from botocore.awsrequest import AWSResponse
from moto.iam.models import iam_backends

from autopilot_local.harness import LocalCloud, LocalFunction
from peering_autopilot import runtime as domain_runtime


@dataclass(frozen=True)
class Request:
    service: str  # as botocore names it in events: ec2, eventbridge, sts, ...
    operation: str
    account_id: str  # whose credentials signed it ("?" when the harness does not know the key)
    region: str


Fault = Callable[[Request], AWSResponse | None]  # an answer in AWS's place, or None to send it


@dataclass
class WireLog:
    sent: list[Request] = field(default_factory=list)  # attempts, not calls: a retry counts again
    answered_by_fault: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # the sweep's threads


def install_fault(
    monkeypatch: pytest.MonkeyPatch, cloud: LocalCloud, fault: Fault, services: tuple[str, ...] = ("ec2",)
) -> WireLog:
    """Put `fault` on the wire for `services`, for every session created from now on."""
    log = WireLog()

    def before_send(request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        _event, service, operation = event_name.split(".", 2)
        scope = _header(request, "Authorization").split("Credential=")[-1].split("/")
        key, region = scope[0], scope[2] if len(scope) > 2 else "?"
        seen = Request(service, operation, _account_of(cloud, key), region)
        answer = fault(seen)
        with log.lock:
            log.sent.append(seen)
            if answer is not None:
                log.answered_by_fault.append(seen)
        return answer

    handlers = list(botocore.handlers.BUILTIN_HANDLERS)
    handlers += [(f"before-send.{service}", before_send) for service in services]
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)
    # The functions' sessions are made by their runtime: start it afresh, as a new container would.
    domain_runtime.runtime.cache_clear()
    monkeypatch.setattr(LocalFunction, "_warm", None)
    return log


def _header(request: Any, name: str) -> str:
    value = request.headers.get(name, "")
    return value.decode() if isinstance(value, bytes) else str(value)


def _account_of(cloud: LocalCloud, access_key: str) -> str:
    # The plain credentials (the tests' own, or the ones mock_aws puts in the environment): moto's
    # own account, the hub's.
    if access_key in ("testing", os.environ.get("AWS_ACCESS_KEY_ID")):
        return cloud.hub_account_id
    identity = cloud.assumed.get(access_key)  # a role a function assumed (the harness records them)
    if identity:
        return identity.account_id
    # A role assumed outside the functions (a person's command line, through the reader role):
    # moto knows whose account the key belongs to.
    for account_id, backend in list(iam_backends.items()):
        if access_key in backend["aws"].access_keys:
            return str(account_id)
    return "?"


class _RecordingTime:
    """The `time` module as botocore.endpoint sees it, with sleep() recording instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def record_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's back-off waits between attempts, recorded instead of slept (only botocore's:
    the name `time` in botocore.endpoint points at a stand-in, the module itself is untouched)."""
    stand_in = _RecordingTime()
    monkeypatch.setattr(botocore.endpoint, "time", stand_in)
    return stand_in.waits
