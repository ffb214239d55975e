"""Reachability Analyzer and SSM Run Command for the in-process emulator, which has neither.

moto answers none of EC2's Network Insights calls and not `ssm:DescribeInstanceInformation`; its
`SendCommand` runs nothing. Here they answer as AWS does, in AWS's response shapes, per account
and region: paths and analyses are kept (with the tags given at creation) until deleted, an
analysis finishes `succeeded` with the path found, an instance is `Online` in SSM when the test
registered it (`online`: its agent is up), and a command's invocation prints what Linux ping prints for three replies.
What the tests check is what the autopilot asked for and what it left behind; the verdicts these
services give are fixed (`path_found`, `replies`), since neither is computed here.

Installed like a fault (botocore's built-in handlers): every session made afterwards, the
functions' and the member-role sessions they assume, sees it. `before-parameter-build` keeps the
call's own parameters in its request context; `before-call` answers from them without sending.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.handlers
import pytest
from botocore.exceptions import ClientError

from autopilot_local.harness import LocalCloud, LocalFunction
from peering_autopilot import runtime as domain_runtime

EMULATED = {
    "ec2": {
        "CreateNetworkInsightsPath",
        "StartNetworkInsightsAnalysis",
        "DescribeNetworkInsightsAnalyses",
        "DeleteNetworkInsightsAnalysis",
        "DeleteNetworkInsightsPath",
    },
    "ssm": {"DescribeInstanceInformation", "SendCommand", "GetCommandInvocation"},
}
_PARAMS = "emulated-service-params"


@dataclass(frozen=True)
class _Answer:
    status_code: int = 200  # all botocore reads of the HTTP response when a handler answers


@dataclass
class Place:
    """One account-region's Reachability Analyzer paths and analyses, and Run Command commands."""

    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    analyses: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    created_paths: list[dict[str, Any]] = field(default_factory=list)  # every one, deleted or not
    created_analyses: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MissingServices:
    cloud: LocalCloud
    path_found: bool = True
    replies: int = 3
    online: set[str] = field(default_factory=set)  # instance ids whose SSM agent is up
    places: dict[tuple[str, str], Place] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def place(self, account_id: str, region: str) -> Place:
        return self.places.setdefault((account_id, region), Place())

    # --------------------------------------------------------------- botocore handlers
    def keep_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS] = dict(params)

    def answer(self, model: Any, context: dict[str, Any], request_signer: Any, **_: Any) -> Any:
        service = model.service_model.endpoint_prefix
        if model.name not in EMULATED.get(service, ()):
            return None
        key = request_signer._credentials.access_key
        assumed = self.cloud.assumed.get(key)
        account = assumed.account_id if assumed else self.cloud.hub_account_id
        region = request_signer._region_name
        params = context.get(_PARAMS, {})
        with self._lock:
            parsed = getattr(self, f"_{model.name}")(self.place(account, region), account, region, params)
        return _Answer(), parsed

    # --------------------------------------------------------------- Reachability Analyzer
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):017x}"

    def _CreateNetworkInsightsPath(self, place: Place, account: str, region: str, params: dict[str, Any]) -> Any:
        path_id = self._new_id("nip")
        path = {
            "NetworkInsightsPathId": path_id,
            "NetworkInsightsPathArn": f"arn:aws:ec2:{region}:{account}:network-insights-path/{path_id}",
            "Source": params["Source"],
            "Destination": params["Destination"],
            "Protocol": params["Protocol"],
            "Tags": _tags(params, "network-insights-path"),
        }
        if "DestinationPort" in params:
            path["DestinationPort"] = params["DestinationPort"]
        place.paths[path_id] = path
        place.created_paths.append(path)
        return {"NetworkInsightsPath": path}

    def _StartNetworkInsightsAnalysis(self, place: Place, account: str, region: str, params: dict[str, Any]) -> Any:
        path_id = params["NetworkInsightsPathId"]
        if path_id not in place.paths:
            raise _error("InvalidNetworkInsightsPathId.NotFound", f"The path {path_id} does not exist", model="Start")
        analysis_id = self._new_id("nia")
        analysis = {
            "NetworkInsightsAnalysisId": analysis_id,
            "NetworkInsightsPathId": path_id,
            "Status": "succeeded",
            "NetworkPathFound": self.path_found,
            "StartDate": datetime.now(UTC),
            "Tags": _tags(params, "network-insights-analysis"),
        }
        if not self.path_found:
            analysis["Explanations"] = [{"ExplanationCode": "ENI_SG_RULES_MISMATCH", "Direction": "ingress"}]
        place.analyses[analysis_id] = analysis
        place.created_analyses.append(analysis)
        return {"NetworkInsightsAnalysis": {**analysis, "Status": "running"}}

    def _DescribeNetworkInsightsAnalyses(self, place: Place, account: str, region: str, params: dict[str, Any]) -> Any:
        wanted = params.get("NetworkInsightsAnalysisIds", [])
        return {"NetworkInsightsAnalyses": [place.analyses[i] for i in wanted if i in place.analyses]}

    def _DeleteNetworkInsightsAnalysis(self, place: Place, account: str, region: str, params: dict[str, Any]) -> Any:
        analysis_id = params["NetworkInsightsAnalysisId"]
        place.analyses.pop(analysis_id)
        return {"NetworkInsightsAnalysisId": analysis_id}

    def _DeleteNetworkInsightsPath(self, place: Place, account: str, region: str, params: dict[str, Any]) -> Any:
        path_id = params["NetworkInsightsPathId"]
        place.paths.pop(path_id)
        return {"NetworkInsightsPathId": path_id}

    # --------------------------------------------------------------- SSM Run Command
    def _DescribeInstanceInformation(self, place: Place, account: str, region: str, params: dict[str, Any]) -> Any:
        ids = next((f["Values"] for f in params.get("Filters", []) if f["Key"] == "InstanceIds"), [])
        return {
            "InstanceInformationList": [
                {"InstanceId": i, "PingStatus": "Online", "PlatformType": "Linux"} for i in ids if i in self.online
            ]
        }

    def _SendCommand(self, place: Place, account: str, region: str, params: dict[str, Any]) -> Any:
        command = {"CommandId": f"{next(self._ids):08x}-0000-4000-8000-000000000000", **params, "Status": "Pending"}
        place.commands.append(command)
        return {"Command": command}

    def _GetCommandInvocation(self, place: Place, account: str, region: str, params: dict[str, Any]) -> Any:
        command = next(c for c in place.commands if c["CommandId"] == params["CommandId"])
        [target] = command["Parameters"]["TargetIp"]
        lost = 100 * (3 - self.replies) // 3
        output = (
            f"PING {target} ({target}) 56(84) bytes of data.\n\n--- {target} ping statistics ---\n"
            f"3 packets transmitted, {self.replies} received, {lost}% packet loss, time 2003ms\n"
        )
        return {
            "CommandId": command["CommandId"],
            "InstanceId": params["InstanceId"],
            "Status": "Success" if self.replies else "Failed",
            "StandardOutputContent": output,
        }


def _tags(params: dict[str, Any], resource_type: str) -> list[dict[str, str]]:
    return [
        t for spec in params.get("TagSpecifications", []) if spec["ResourceType"] == resource_type for t in spec["Tags"]
    ]


def _error(code: str, message: str, model: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, model)


def install_missing_services(monkeypatch: pytest.MonkeyPatch, cloud: LocalCloud, **behaviour: Any) -> MissingServices:
    """Reachability Analyzer and Run Command for every session created from now on."""
    services = MissingServices(cloud, **behaviour)
    handlers = list(botocore.handlers.BUILTIN_HANDLERS)
    for service, operations in EMULATED.items():
        for operation in operations:
            handlers.append((f"before-parameter-build.{service}.{operation}", services.keep_params))
            handlers.append((f"before-call.{service}.{operation}", services.answer))
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)
    # The functions' sessions are made by their runtime: start it afresh, as a new container would.
    domain_runtime.runtime.cache_clear()
    monkeypatch.setattr(LocalFunction, "_warm", None)
    return services
