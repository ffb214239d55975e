"""VPC Reachability Analyzer, when enabled: a path and an analysis per direction, polled within the
function's time budget, its explanation codes mapped onto the runbook's checklist.

It models configuration without sending packets, works in one region only, and across accounts
only inside one AWS Organization with sharing on; anything it cannot do is said, not guessed.
Each analysis is billed by AWS, so the path and the analysis are deleted afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from peering_autopilot.allow import Traffic
from peering_autopilot.aws.network_insights import NetworkInsightsGateway
from peering_autopilot.context import Budget
from peering_autopilot.errors import AccessDeniedError, AwsCallError
from peering_autopilot.model import Described
from peering_autopilot.structs import struct

logger = logging.getLogger(__name__)


@struct(frozen=True)
class Finding(Described):
    step: str  # one of probe.STEPS, or "other"
    code: str
    component: str


@struct
class AnalyzerResult(Described):
    status: str  # reachable, blocked, unavailable, timed-out
    detail: str
    findings: list[Finding] = field(default_factory=list)
    # The API's refusal when the analyzer could not run (code, call, message), for the doctor's one
    # line; not part of the events (the detail says it there).
    api_error: str = field(default="", compare=False, metadata={"event": False})


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
    gateway: NetworkInsightsGateway,
    source_id: str,
    destination_id: str,
    traffic: Traffic,
    budget: Budget,
) -> AnalyzerResult:
    # The analyzer models TCP and UDP only: ICMP is judged as "any TCP" reachability here.
    protocol, port = (traffic.protocol, traffic.from_port) if traffic.protocol in ("tcp", "udp") else ("tcp", None)
    try:
        path_id = gateway.create_path(source_id, destination_id, protocol, port)
    except AwsCallError as e:
        return _unavailable(e)
    analysis_id = ""
    try:
        analysis = gateway.start_analysis(path_id)
        analysis_id = analysis["NetworkInsightsAnalysisId"]
        delay = 1.0
        while analysis.get("Status") == "running":
            if not budget.can_wait(delay):
                return AnalyzerResult(
                    "timed-out", f"analysis {analysis_id} still running at the end of the time budget"
                )
            budget.sleep(delay)
            delay = min(delay * 2, 5.0)
            found = gateway.analysis(analysis_id)
            if found is None:
                return AnalyzerResult("unavailable", f"analysis {analysis_id} is no longer listed")
            analysis = found
        if analysis.get("Status") != "succeeded":
            return AnalyzerResult(
                "unavailable", f"analysis {analysis_id} {analysis.get('Status')}: {analysis.get('StatusMessage', '')}"
            )
        if analysis.get("NetworkPathFound"):
            return AnalyzerResult("reachable", f"analysis {analysis_id} found a path")
        findings = [_finding(e) for e in analysis.get("Explanations", [])]
        codes = ", ".join(f.code for f in findings) or "no explanation given"
        return AnalyzerResult("blocked", f"analysis {analysis_id} found no path: {codes}", findings)
    except AwsCallError as e:
        return _unavailable(e)
    finally:
        _clean_up(gateway, path_id, analysis_id)


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


def _unavailable(error: AwsCallError) -> AnalyzerResult:
    api_error = f"{error.code} to {error.service} {error.operation}: {error.message}"
    if isinstance(error, AccessDeniedError):
        return AnalyzerResult("unavailable", f"not permitted ({error.code}): {error.message}", api_error=api_error)
    return AnalyzerResult("unavailable", f"{error.code}: {error.message}", api_error=api_error)


def _clean_up(gateway: NetworkInsightsGateway, path_id: str, analysis_id: str) -> None:
    """Leave nothing behind; a failed delete is logged, not worth failing the verification for."""
    for delete, kind, resource_id in (
        (gateway.delete_analysis, "NetworkInsightsAnalysisId", analysis_id),
        (gateway.delete_path, "NetworkInsightsPathId", path_id),
    ):
        if resource_id:
            try:
                delete(resource_id)
            except AwsCallError as e:
                logger.warning("could not delete %s %s: %s", kind, resource_id, e)
