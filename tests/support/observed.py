"""What the functions report outside EC2, read back as an operator would: the metrics they emit
(Powertools' EMF lines on stdout) and the messages an SNS topic delivers to a subscribed queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from autopilot_local.harness import LocalAutopilot, LocalCloud

METRIC_NAMES = (
    "WorkFound",
    "SweepPlacesFailed",
    "PeeringsVerified",
    "PeeringVerificationsFailed",
    "PeeringsConfigured",
    "PeeringsPartiallyConfigured",
)


def metrics_emitted(autopilot: LocalAutopilot) -> list[dict[str, Any]]:
    """Per invocation that emitted any of METRIC_NAMES, in order: those metrics and their values
    (each EMF line is one invocation's flush)."""
    text = autopilot.functions[0].log_stream.getvalue()  # type: ignore[attr-defined]  # a StringIO in tests
    blobs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    emitted = [{name: blob[name] for name in METRIC_NAMES if name in blob} for blob in blobs if "_aws" in blob]
    return [metrics for metrics in emitted if metrics]


@dataclass
class Inbox:
    """A queue subscribed to an SNS topic: what people would be told."""

    topic_arn: str
    queue_url: str
    cloud: LocalCloud
    region: str

    @classmethod
    def subscribed(cls, cloud: LocalCloud, region: str, name: str = "network-oncall") -> Inbox:
        session = cloud.session(cloud.hub_account_id)
        sns, sqs = session.client("sns", region_name=region), session.client("sqs", region_name=region)
        topic = sns.create_topic(Name=name)["TopicArn"]
        queue = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return cls(topic, queue, cloud, region)

    def take(self) -> list[dict[str, Any]]:
        """The notifications delivered since the last take: SNS's envelope (Subject, Message, ...)."""
        sqs = self.cloud.session(self.cloud.hub_account_id).client("sqs", region_name=self.region)
        out: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
