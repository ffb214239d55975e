"""Read a SAM template the way the harness needs it: functions, their rules and environment."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags (!Ref, !Sub, ...) into their long form."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


# Parsed templates by path and modification time: every harness deployment reads the same few
# templates, and parsing YAML was most of what deploying the hub into moto cost a test.
_parsed: dict[tuple[Path, int], dict[str, Any]] = {}


def load_yaml(path: Path) -> dict[str, Any]:
    """The template as data (a copy of its own: a caller may change it)."""
    key = (path.resolve(), path.stat().st_mtime_ns)
    if key not in _parsed:
        with path.open() as f:
            data = yaml.load(f, Loader=_CfnLoader)
        if not isinstance(data, dict):
            raise ValueError(f"{path} is not a CloudFormation template")
        _parsed[key] = data
    return copy.deepcopy(_parsed[key])


SCHEDULE = "(schedule)"  # a SAM Schedule event: EventBridge Scheduler / a scheduled rule
SCHEDULED_EVENT_PATTERN = {"source": ["aws.events"], "detail-type": ["Scheduled Event"]}


@dataclass(frozen=True)
class Rule:
    """An EventBridge rule that invokes a function: the bus it listens on and its pattern."""

    name: str
    bus: str
    pattern: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    environment: Mapping[str, str]
    rules: tuple[Rule, ...]
    layer_dirs: tuple[Path, ...] = field(default=())


@dataclass
class Stack:
    """A template with its parameters resolved, as CloudFormation would deploy it (locally)."""

    path: Path
    parameters: Mapping[str, str | list[str]]
    account_id: str
    region: str
    name: str = "peering-autopilot"

    def __post_init__(self) -> None:
        self.body = load_yaml(self.path)
        self.base_dir = self.path.parent
        declared = self.body.get("Parameters", {})
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise ValueError(f"{self.path} declares no parameter(s) {sorted(unknown)}")
        self.values: dict[str, Any] = {}
        for name, spec in declared.items():
            raw = self.parameters.get(name, spec.get("Default"))
            if raw is None:
                raise ValueError(f"parameter {name} of {self.path} has no default: give it a value")
            if spec.get("Type") == "CommaDelimitedList" and isinstance(raw, str):
                raw = [part.strip() for part in raw.split(",")] if raw else [""]
            self.values[name] = raw
        self._check_rules()

    def _check_rules(self) -> None:
        """The template's Rules, as CloudFormation checks them before it creates anything: a rule
        whose condition holds refuses the parameters when an assertion fails."""
        for name, rule in self.body.get("Rules", {}).items():
            outside = sorted(intrinsic_functions(rule) - RULE_FUNCTIONS)
            if outside:
                # cfn-lint lets these pass; CloudFormation documents only its rule functions here.
                raise ValueError(f"rule {name}: {', '.join(outside)} is not a rule function")
            if "RuleCondition" in rule and not self._truth(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self._truth(assertion["Assert"]):
                    raise ValueError(f"rule {name}: {assertion.get('AssertDescription', 'an assertion failed')}")

    @property
    def resources(self) -> Mapping[str, Any]:
        return dict(self.body.get("Resources", {}))

    def physical_name(self, logical_id: str) -> str:
        """The name CloudFormation would give a resource: its Name property or a stack-based one."""
        resource = self.resources[logical_id]
        properties = resource.get("Properties", {})
        name = properties.get("Name") or properties.get("LayerName") or properties.get("TableName")
        if name is not None:
            return str(self.resolve(name))
        return f"{self.name}-{logical_id}"

    def resolve(self, value: Any) -> Any:
        """Evaluate the intrinsic functions the harness meets (Ref, Sub, Join, Split, GetAtt, If)."""
        if isinstance(value, list):  # an item that is !Ref AWS::NoValue is left out, as CloudFormation does
            return [r for r in (self.resolve(v) for v in value) if r is not None]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(arg)
        if key == "Fn::Join":
            sep, items = arg
            return sep.join(str(i) for i in self._flatten(self.resolve(items)))
        if key == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text)).split(sep)
        if key == "Fn::Sub":
            text, names = (
                (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.resolve(v) for k, v in arg[1].items()})
            )
            return re.sub(
                r"\$\{([^}]+)\}",
                lambda m: str(names[m.group(1)] if m.group(1) in names else self._sub_var(m.group(1))),
                text,
            )
        if key == "Fn::GetAtt":
            return self._get_att(arg[0], arg[1])
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        return {key: self.resolve(arg)}

    def _flatten(self, items: Any) -> list[Any]:
        out: list[Any] = []
        for item in items if isinstance(items, list) else [items]:
            out.extend(item if isinstance(item, list) else [item])
        return out

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::StackName": self.name,
            "AWS::NoValue": None,  # the property is left out
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.values:
            return self.values[name]
        if name in self.resources:
            if self.resources[name].get("Type") == "AWS::SQS::Queue":  # a queue's Ref is its URL
                return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{self.physical_name(name)}"
            return self.physical_name(name)
        raise KeyError(f"!Ref {name}: no such parameter or resource in {self.path}")

    def _sub_var(self, name: str) -> Any:
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self._get_att(logical_id, attribute)
        return self._ref(name)

    def function_role_name(self, function: str) -> str:
        """The execution role SAM makes for a function without a Role (its logical id + "Role"),
        named here as CloudFormation would, stack name first and a random suffix."""
        return f"{self.name}-{function}Role-LOCAL0000"

    def function_role_path(self) -> str:
        return str(self.body.get("Globals", {}).get("Function", {}).get("RolePath", "/"))

    def _get_att(self, logical_id: str, attribute: str) -> str:
        function = logical_id.removesuffix("Role")
        if (
            logical_id not in self.resources
            and self.resources.get(function, {}).get("Type") == "AWS::Serverless::Function"
        ):
            path = self.function_role_path()
            return f"arn:aws:iam::{self.account_id}:role{path}{self.function_role_name(function)}"
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        if attribute == "Arn" and kind == "AWS::Events::EventBus":
            return f"arn:aws:events:{self.region}:{self.account_id}:event-bus/{name}"
        return f"arn:aws:local:{self.region}:{self.account_id}:{logical_id}/{name}/{attribute}"

    def condition(self, name: str) -> bool:
        """One of the template's Conditions, evaluated as CloudFormation would (the functions the
        templates use: Equals, Not, And, Or, Condition; in Rules also Contains and EachMemberEquals)."""
        conditions = self.body.get("Conditions", {})
        if name not in conditions:
            raise KeyError(f"condition {name}: not declared in {self.path}")
        return self._truth(conditions[name])

    def deploys(self, logical_id: str) -> bool:
        """Whether CloudFormation creates the resource: its Condition, if it has one, holds."""
        name = self.resources[logical_id].get("Condition")
        return name is None or self.condition(name)

    def _truth(self, expression: Any) -> bool:
        ((key, arg),) = expression.items()
        if key == "Fn::Equals":
            left, right = self.resolve(arg)
            return bool(left == right)
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(item) for item in arg)
        if key == "Fn::Or":
            return any(self._truth(item) for item in arg)
        if key == "Fn::Contains":  # Rules only: the string is one of the list's values
            values, string = self.resolve(arg)
            return string in (values if isinstance(values, list) else [values])
        if key == "Fn::EachMemberEquals":  # Rules only: every value of the list is the string
            values, string = self.resolve(arg)
            return all(value == string for value in (values if isinstance(values, list) else [values]))
        if key in ("Condition", "Fn::Condition"):
            return self.condition(arg)
        raise ValueError(f"condition function {key} is not evaluated locally ({self.path})")

    def functions(self) -> list[FunctionSpec]:
        globals_env = self.body.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        globals_layers = self.body.get("Globals", {}).get("Function", {}).get("Layers", [])
        specs = []
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            props = resource.get("Properties", {})
            env = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
            rules = tuple(
                Rule(
                    name=f"{logical_id}.{event_name}",
                    bus=str(self.resolve(event["Properties"].get("EventBusName", "default"))),
                    pattern=self.resolve(event["Properties"]["Pattern"]),
                )
                if event.get("Type") == "EventBridgeRule"
                else Rule(f"{logical_id}.{event_name}", SCHEDULE, SCHEDULED_EVENT_PATTERN)
                for event_name, event in props.get("Events", {}).items()
                if event.get("Type") in ("EventBridgeRule", "Schedule")
            )
            layers = [self._layer_dir(layer) for layer in [*globals_layers, *props.get("Layers", [])]]
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    code_dir=(self.base_dir / props["CodeUri"]).resolve(),
                    handler=props["Handler"],
                    environment={k: str(self.resolve(v)) for k, v in env.items()},
                    rules=rules,
                    layer_dirs=tuple(layers),
                )
            )
        return specs

    def _layer_dir(self, ref: Any) -> Path:
        """Where a layer's code is importable from: `python/` of a built layer, else its source."""
        logical_id = ref["Ref"] if isinstance(ref, dict) else ref
        content = self.base_dir / self.resources[logical_id]["Properties"]["ContentUri"]
        built = content / "python"
        chosen: Path = built if built.is_dir() else content
        return chosen.resolve()

    def forwarding_patterns(self) -> list[Mapping[str, Any]]:
        """Patterns of the plain rules that forward CloudTrail events to the autopilot's bus."""
        return [
            r["Properties"]["EventPattern"] for r in self.resources.values() if r.get("Type") == "AWS::Events::Rule"
        ]


# The functions CloudFormation documents for a rule's condition and assertions ("Rule functions").
RULE_FUNCTIONS = {
    "Ref",
    "Fn::And",
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::Equals",
    "Fn::Not",
    "Fn::Or",
    "Fn::RefAll",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
}


def intrinsic_functions(node: Any) -> set[str]:
    """Every intrinsic function named in a template fragment (keys Ref and Fn::…)."""
    if isinstance(node, list):
        return set().union(*map(intrinsic_functions, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    named = {key for key in node if key == "Ref" or key.startswith("Fn::")}
    return named.union(*map(intrinsic_functions, node.values()))
