"""The runbook's own test, when the probe instances are managed by SSM: Run Command
`ping -c 3 <peer ip>` on the source instance, and read what ping says."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_DONE = {"Success", "Failed", "TimedOut", "Cancelled", "Undeliverable", "Terminated"}


@dataclass(frozen=True)
class PingResult:
    status: str  # replied, no-reply, unavailable, timed-out
    detail: str
    transmitted: int = 0
    received: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "transmitted": self.transmitted,
            "received": self.received,
        }


def ping(
    client: Any,
    instance_id: str,
    target_ip: str,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> PingResult:
    try:
        managed = client.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])[
            "InstanceInformationList"
        ]
        if not managed or managed[0].get("PingStatus") != "Online":
            return PingResult("unavailable", f"{instance_id} is not an online SSM managed instance")
        command_id = client.send_command(
            InstanceIds=[instance_id],
            DocumentName="AWS-RunShellScript",
            Comment="peering-autopilot verification ping",
            Parameters={"commands": [f"ping -c 3 -W 2 {target_ip}"]},
            TimeoutSeconds=30,
        )["Command"]["CommandId"]
    except ClientError as e:
        error = e.response.get("Error", {})
        return PingResult("unavailable", f"{error.get('Code')}: {error.get('Message')}")

    delay = 1.0
    while True:
        if clock() + delay > deadline:
            return PingResult("timed-out", f"command {command_id} on {instance_id} not finished within the time budget")
        sleep(delay)
        delay = min(delay * 2, 4.0)
        try:
            invocation = client.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        except ClientError as e:
            error = e.response.get("Error", {})
            if error.get("Code") == "InvocationDoesNotExist":
                continue  # SSM registers the invocation a moment after SendCommand
            return PingResult("unavailable", f"{error.get('Code')}: {error.get('Message')}")
        if invocation.get("Status") in _DONE:
            return _read(invocation, instance_id, target_ip)


def _read(invocation: dict[str, Any], instance_id: str, target_ip: str) -> PingResult:
    output = str(invocation.get("StandardOutputContent", ""))
    match = _SUMMARY.search(output)
    if not match:
        return PingResult("unavailable", f"ping on {instance_id} ended {invocation.get('Status')} without a summary")
    sent, got = int(match.group(1)), int(match.group(2))
    words = f"ping {target_ip} from {instance_id}: {got}/{sent} replies"
    return PingResult("replied" if got else "no-reply", words, sent, got)
