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

    @needs("sns:Publish")
    def notify_each(self, subject: str, message: str) -> None:
        """`message` is SNS's per-protocol JSON (MessageStructure='json'): its `default` goes to every
        protocol not named (chat, through Amazon Q Developer in chat applications), `email` to email."""
        with translated("sns"):
            self.client.publish(
                TopicArn=self.topic_arn, Subject=subject[:_SUBJECT_LIMIT], Message=message, MessageStructure="json"
            )
