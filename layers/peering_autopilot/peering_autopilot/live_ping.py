"""The runbook's own test, when the probe instances are managed by SSM: Run Command
`ping -c 3 <peer ip>` on the source instance, and read what ping says."""

from __future__ import annotations

import re
from typing import Any

from peering_autopilot.aws.ssm import SsmGateway
from peering_autopilot.context import Budget
from peering_autopilot.errors import AwsCallError
from peering_autopilot.model import Described
from peering_autopilot.structs import struct

_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_DONE = {"Success", "Failed", "TimedOut", "Cancelled", "Undeliverable", "Terminated"}


@struct(frozen=True)
class PingResult(Described):
    status: str  # replied, no-reply, unavailable, timed-out
    detail: str
    transmitted: int = 0
    received: int = 0


def ping(
    gateway: SsmGateway,
    instance_id: str,
    target_ip: str,
    budget: Budget,
) -> PingResult:
    try:
        if not gateway.is_online(instance_id):
            return PingResult("unavailable", f"{instance_id} is not an online SSM managed instance")
        command_id = gateway.send_ping(instance_id, target_ip)
    except AwsCallError as e:
        return PingResult("unavailable", f"{e.code}: {e.message}")

    delay = 1.0
    while True:
        if not budget.can_wait(delay):
            return PingResult("timed-out", f"command {command_id} on {instance_id} not finished within the time budget")
        budget.sleep(delay)
        delay = min(delay * 2, 4.0)
        try:
            invocation = gateway.invocation(command_id, instance_id)
        except AwsCallError as e:
            return PingResult("unavailable", f"{e.code}: {e.message}")
        if invocation is not None and invocation.get("Status") in _DONE:
            return _read(invocation, instance_id, target_ip)


def _read(invocation: dict[str, Any], instance_id: str, target_ip: str) -> PingResult:
    output = str(invocation.get("StandardOutputContent", ""))
    match = _SUMMARY.search(output)
    if not match:
        return PingResult("unavailable", f"ping on {instance_id} ended {invocation.get('Status')} without a summary")
    sent, got = int(match.group(1)), int(match.group(2))
    words = f"ping {target_ip} from {instance_id}: {got}/{sent} replies"
    return PingResult("replied" if got else "no-reply", words, sent, got)
