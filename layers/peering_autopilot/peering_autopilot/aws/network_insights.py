"""VPC Reachability Analyzer (EC2's Network Insights API) in one account and region: paths and
analyses, created, read and deleted. What to ask and how to read the answer is `reachability`'s."""

from __future__ import annotations

from typing import Any

from peering_autopilot.aws.calls import translated
from peering_autopilot.permissions import needs

# Every path and analysis is tagged at creation: IAM lets the autopilot start and delete only
# what carries this tag, never a person's analyses.
MANAGED_TAG = {"Key": "peering-autopilot:managed", "Value": "true"}


def _tagged(resource_type: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": [MANAGED_TAG]}]


class NetworkInsightsGateway:
    def __init__(self, client: Any, account_id: str, region: str) -> None:  # an EC2 client
        self.client = client
        self.where = f"account {account_id} region {region}"

    @needs("ec2:CreateNetworkInsightsPath", "ec2:CreateTags")  # the tag at creation
    def create_path(self, source_id: str, destination_id: str, protocol: str, port: int | None) -> str:
        args: dict[str, Any] = {
            "Source": source_id,
            "Destination": destination_id,
            "Protocol": protocol,
            "TagSpecifications": _tagged("network-insights-path"),
        }
        if port is not None:
            args["DestinationPort"] = port
        with translated("ec2", self.where):
            path = self.client.create_network_insights_path(**args)["NetworkInsightsPath"]
        return str(path["NetworkInsightsPathId"])

    @needs("ec2:StartNetworkInsightsAnalysis", "ec2:CreateTags")
    def start_analysis(self, path_id: str) -> dict[str, Any]:
        with translated("ec2", self.where):
            return dict(
                self.client.start_network_insights_analysis(
                    NetworkInsightsPathId=path_id, TagSpecifications=_tagged("network-insights-analysis")
                )["NetworkInsightsAnalysis"]
            )

    @needs("ec2:DescribeNetworkInsightsAnalyses")
    def analysis(self, analysis_id: str) -> dict[str, Any] | None:
        with translated("ec2", self.where):
            found = self.client.describe_network_insights_analyses(NetworkInsightsAnalysisIds=[analysis_id])
        return next((dict(a) for a in found["NetworkInsightsAnalyses"]), None)

    @needs("ec2:DeleteNetworkInsightsAnalysis")
    def delete_analysis(self, analysis_id: str) -> None:
        with translated("ec2", self.where):
            self.client.delete_network_insights_analysis(NetworkInsightsAnalysisId=analysis_id)

    @needs("ec2:DeleteNetworkInsightsPath")
    def delete_path(self, path_id: str) -> None:
        with translated("ec2", self.where):
            self.client.delete_network_insights_path(NetworkInsightsPathId=path_id)
