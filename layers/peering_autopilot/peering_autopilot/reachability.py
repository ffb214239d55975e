"""VPC Reachability Analyzer, when enabled: a path and an analysis per direction, polled within the
function's time budget, its explanation codes mapped onto the runbook's checklist.

It models configuration without sending packets, works in one region only, and across accounts
only inside one AWS Organization with sharing on; anything it cannot do is said, not guessed.
Each analysis is billed by AWS, so the path and the analysis are deleted afterwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from peering_autopilot.allow import Traffic

logger = logging.getLogger(__name__)
_NOT_PERMITTED = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "OptInRequired"}


@dataclass(frozen=True)
class Finding:
    step: str  # one of probe.STEPS, or "other"
    code: str
    component: str

    def describe(self) -> dict[str, str]:
        return {"step": self.step, "code": self.code, "component": self.component}


@dataclass
class AnalyzerResult:
    status: str  # reachable, blocked, unavailable, timed-out
    detail: str
    findings: list[Finding] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "findings": [f.describe() for f in self.findings]}


def step_of(code: str) -> str:
    """Which checklist step an explanation code speaks of."""
    if "ACL" in code:
        return "network-acls"
    if "SG" in code or "SECURITY_GROUP" in code:
        return "security-groups"
    if "ROUTE" in code:
        return "routes"
    if code.startswith("BAD_STATE") or "PCX" in code or "PEERING" in code:
        return "peering"
    return "other"


def analyze(
    client: Any,
    source_id: str,
    destination_id: str,
    traffic: Traffic,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> AnalyzerResult:
    path_args: dict[str, Any] = {"Source": source_id, "Destination": destination_id, "Protocol": "tcp"}
    if traffic.protocol in ("tcp", "udp"):
        path_args.update(Protocol=traffic.protocol, DestinationPort=traffic.from_port)
    # The analyzer models TCP and UDP only: ICMP is judged as "any TCP" reachability here.
    try:
        path_id = client.create_network_insights_path(**path_args)["NetworkInsightsPath"]["NetworkInsightsPathId"]
    except ClientError as e:
        return _unavailable(e)
    analysis_id = ""
    try:
        analysis = client.start_network_insights_analysis(NetworkInsightsPathId=path_id)["NetworkInsightsAnalysis"]
        analysis_id = analysis["NetworkInsightsAnalysisId"]
        delay = 1.0
        while analysis.get("Status") == "running":
            if clock() + delay > deadline:
                return AnalyzerResult(
                    "timed-out", f"analysis {analysis_id} still running at the end of the time budget"
                )
            sleep(delay)
            delay = min(delay * 2, 5.0)
            found = client.describe_network_insights_analyses(NetworkInsightsAnalysisIds=[analysis_id])[
                "NetworkInsightsAnalyses"
            ]
            if not found:
                return AnalyzerResult("unavailable", f"analysis {analysis_id} is no longer listed")
            analysis = found[0]
        if analysis.get("Status") != "succeeded":
            return AnalyzerResult(
                "unavailable", f"analysis {analysis_id} {analysis.get('Status')}: {analysis.get('StatusMessage', '')}"
            )
        if analysis.get("NetworkPathFound"):
            return AnalyzerResult("reachable", f"analysis {analysis_id} found a path")
        findings = [_finding(e) for e in analysis.get("Explanations", [])]
        codes = ", ".join(f.code for f in findings) or "no explanation given"
        return AnalyzerResult("blocked", f"analysis {analysis_id} found no path: {codes}", findings)
    except ClientError as e:
        return _unavailable(e)
    finally:
        _clean_up(client, path_id, analysis_id)


def _finding(explanation: Mapping[str, Any]) -> Finding:
    code = str(explanation.get("ExplanationCode", "UNKNOWN"))
    component = ""
    for key in (
        "Acl",
        "SecurityGroup",
        "SecurityGroups",
        "RouteTable",
        "VpcPeeringConnection",
        "Component",
        "Subnet",
        "Vpc",
    ):
        value = explanation.get(key)
        ids = [v.get("Id") for v in value if isinstance(v, dict)] if isinstance(value, list) else []
        if isinstance(value, dict) and value.get("Id"):
            component = str(value["Id"])
            break
        if any(ids):
            component = ", ".join(str(i) for i in ids if i)
            break
    rule = explanation.get("AclRule")
    if isinstance(rule, dict) and rule.get("RuleNumber") is not None:
        component = f"{component} rule {rule['RuleNumber']}"
    return Finding(step_of(code), code, component)


def _unavailable(error: ClientError) -> AnalyzerResult:
    code = str(error.response.get("Error", {}).get("Code", ""))
    message = str(error.response.get("Error", {}).get("Message", ""))
    if code in _NOT_PERMITTED:
        return AnalyzerResult("unavailable", f"not permitted ({code}): {message}")
    return AnalyzerResult("unavailable", f"{code}: {message}")


def _clean_up(client: Any, path_id: str, analysis_id: str) -> None:
    """Leave nothing behind; a failed delete is logged, not worth failing the verification for."""
    for call, key, value in (
        (client.delete_network_insights_analysis, "NetworkInsightsAnalysisId", analysis_id),
        (client.delete_network_insights_path, "NetworkInsightsPathId", path_id),
    ):
        if value:
            try:
                call(**{key: value})
            except ClientError as e:
                logger.warning("could not delete %s %s: %s", key, value, e)
