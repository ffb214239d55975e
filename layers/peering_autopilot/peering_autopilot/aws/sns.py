"""The optional notification topic: people told, in the words of the report."""

from __future__ import annotations

from typing import Any

from peering_autopilot.aws.calls import translated
from peering_autopilot.permissions import needs

_SUBJECT_LIMIT = 100  # SNS refuses longer subjects


class Notifier:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self.client = client
        self.topic_arn = topic_arn

    @needs("sns:Publish")
    def notify(self, subject: str, message: str) -> None:
        with translated("sns"):
            self.client.publish(TopicArn=self.topic_arn, Subject=subject[:_SUBJECT_LIMIT], Message=message)
