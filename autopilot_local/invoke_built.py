"""Invoke a function from the built artifacts (`sam build`), as Lambda would, in this process.

    python -m autopilot_local.invoke_built FUNCTION EVENT.json [--template .aws-sam/build/template.yaml]
        [--env-vars events/env.json ...] [--parameter KEY=VALUE ...] [--profile NAME] [--real-aws]

The handler is resolved from the built template, its code dir and the built layer's `python/`
go first on sys.path (as /var/task and /opt/python do in Lambda), and its environment comes from
the template, overlaid with the env-vars files in order like `sam local invoke --env-vars`. AWS calls
go wherever the environment points: an emulator (AWS_ENDPOINT_URL, as `make emulator` prints it),
or, only when asked with --real-aws, the account the caller's credentials reach. Prints one JSON
object: the handler's result and the files the domain and Powertools were imported from.

Every-day mistakes stop it before the handler runs, with one line naming the fault and exit status 2:
a missing, empty or non-JSON event or env-vars file; an env-vars file not in `sam local invoke`'s
shape ({"Parameters": {...}} and/or {"<FunctionLogicalId>": {...}}, each NAME: "string"); a value the
functions' settings refuse (DryRun not true/false, ...); an unknown AWS_PROFILE; with --real-aws,
no or expired credentials.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autopilot_local.template import Stack


class _Context:
    def __init__(self, name: str) -> None:
        self.function_name = name
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Invoke a built function locally")
    parser.add_argument("function")
    parser.add_argument("event", type=Path)
    parser.add_argument("--template", type=Path, default=Path(".aws-sam/build/template.yaml"))
    parser.add_argument("--env-vars", type=Path, action="append", default=[], help="applied in order")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--account", default="123456789012")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument(
        "--real-aws", action="store_true", help="allow calls to real AWS when no emulator endpoint is set"
    )
    parser.add_argument(
        "--profile", default=None, help="the AWS profile the function's calls use (default: AWS_PROFILE)"
    )
    args = parser.parse_args(argv)

    refusal = real_aws_refusal(os.environ, args.real_aws)
    if refusal:
        parser.exit(2, f"error: {refusal}\n")
    try:
        event, env, spec = _prepared(args)
    except Mistake as e:
        parser.exit(2, f"error: {e}\n")
    if "peering_autopilot" in sys.modules:
        raise SystemExit("peering_autopilot is already imported: the built layer would not be the one tested")
    os.environ.update(env)
    os.environ.update(
        {"AWS_REGION": args.region, "AWS_LAMBDA_FUNCTION_NAME": args.function, "POWERTOOLS_TRACE_DISABLED": "true"}
    )

    sys.path[:0] = [str(spec.code_dir), *(str(d) for d in spec.layer_dirs)]
    # The built layer's own settings parse and credentials check, before the handler: a fault is one line.
    if args.profile:
        os.environ["AWS_PROFILE"] = args.profile  # the handler's boto3 reads it, as it reads the rest
    source = "--profile" if args.profile else "AWS_PROFILE"
    problem = _environment_problem(dict(os.environ), env.sources) or _credentials_problem(
        args.real_aws, source, args.region
    )
    if problem:
        parser.exit(2, f"error: {problem}\n")
    module_name, handler_name = spec.handler.rsplit(".", 1)
    module = importlib.import_module(module_name)
    result: Any = getattr(module, handler_name)(event, _Context(args.function))
    print(
        json.dumps(
            {
                "result": result,
                "handler_file": module.__file__,
                "domain_file": sys.modules["peering_autopilot"].__file__,
                "powertools_file": sys.modules["aws_lambda_powertools"].__file__,
                "boto3_file": sys.modules["boto3"].__file__ if "boto3" in sys.modules else None,
            }
        )
    )
    return 0


class Mistake(Exception):
    """A fault in what was given (the files, the function's name), said in one line."""


class Environment(dict[str, str]):
    """The function's environment, remembering which env-vars file set each variable."""

    def __init__(self, base: Mapping[str, str]) -> None:
        super().__init__(base)
        self.sources: dict[str, Path] = {}


def _prepared(args: argparse.Namespace) -> tuple[Any, Environment, Any]:
    """The event, the environment (the template's, overlaid with the env-vars files) and the function."""
    event = read_json(args.event, "event file")
    try:
        parameters = dict(p.split("=", 1) for p in args.parameter)
    except ValueError:
        raise Mistake(f"--parameter {next(p for p in args.parameter if '=' not in p)!r} is not KEY=VALUE") from None
    if not args.template.is_file():
        raise Mistake(f"template {args.template}: not found (run `sam build`, or `make build`, first)")
    stack = Stack(args.template, parameters, args.account, args.region)
    functions = {f.logical_id: f for f in stack.functions()}
    spec = functions.get(args.function)
    if spec is None:
        raise Mistake(f"{args.template} has no function {args.function!r} (it has: {', '.join(sorted(functions))})")
    env = Environment(spec.environment)
    for env_file in args.env_vars:
        for name, value in env_vars(env_file, args.function, set(functions)).items():
            env[name] = value
            env.sources[name] = env_file
    return event, env, spec


def read_json(path: Path, what: str) -> Any:
    """A JSON file's content; a missing, unreadable, empty or non-JSON file is a Mistake naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Mistake(f"{what} {path}: not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise Mistake(f"{what} {path}: cannot be read: {getattr(e, 'strerror', None) or e}") from None
    if not text.strip():
        raise Mistake(f"{what} {path} is empty: it must hold a JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise Mistake(f"{what} {path} is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


ENV_VARS_SHAPE = '{"Parameters": {"NAME": "value", ...}} and/or {"<FunctionLogicalId>": {"NAME": "value", ...}}'


def env_vars(path: Path, function: str, functions: set[str]) -> dict[str, str]:
    """The variables an env-vars file sets for `function`, read as `sam local invoke --env-vars`
    reads it: `Parameters` for every function, then the function's own object. A file in any other
    shape (the variables without their wrapper, which sam would silently ignore) is refused."""
    document = read_json(path, "env-vars file")
    if not isinstance(document, dict) or not document:
        raise Mistake(f"env-vars file {path}: expected {ENV_VARS_SHAPE}")
    for key, value in document.items():
        if key != "Parameters" and key not in functions:
            unwrapped = "" if isinstance(value, dict) else f" (is {key!r} a variable without its wrapper?)"
            raise Mistake(
                f"env-vars file {path}: {key!r} is neither Parameters nor a function of the template{unwrapped};"
                f" expected {ENV_VARS_SHAPE}"
            )
        if not isinstance(value, dict):
            raise Mistake(
                f'env-vars file {path}: {key!r} must be an object of NAME: "value"; expected {ENV_VARS_SHAPE}'
            )
        for name, text in value.items():
            if not isinstance(text, str):
                raise Mistake(f"env-vars file {path}: {key}.{name} must be a string, got {json.dumps(text)}")
    return {**document.get("Parameters", {}), **document.get(function, {})}


def _environment_problem(environ: Mapping[str, str], sources: Mapping[str, Path]) -> str:
    """What the function's settings parse (the built layer's, as the handler runs it at cold start)
    refuses in this environment; naming the env-vars file when a variable of one is at fault."""
    from peering_autopilot.errors import SettingsError
    from peering_autopilot.settings import Settings

    try:
        Settings.from_env(environ)
    except SettingsError as e:
        named = [name for name in sources if re.search(rf"\b{re.escape(name)}\b", str(e))]
        return f"env-vars file {sources[named[0]]}: {e}" if named else f"the function's environment: {e}"
    return ""


def _credentials_problem(real_aws: bool, profile_source: str, region: str) -> str:
    """An unknown AWS_PROFILE or no credentials at all, always (the handler's boto3 would fail
    on either); with --real-aws, expired ones too (an STS GetCallerIdentity, which needs no permission)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from peering_autopilot.aws.sessions import credentials_problem

    try:
        session = boto3.Session(region_name=region)
        if session.get_credentials() is None:
            raise NoCredentialsError()
        if real_aws and not any(name.startswith("AWS_ENDPOINT_URL") and value for name, value in os.environ.items()):
            session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as e:  # what is not about the credentials is the handler's to meet
        return credentials_problem(e, profile_source) or ""
    return ""


def real_aws_refusal(environ: Mapping[str, str], real_aws: bool) -> str:
    """Why this invocation must not run: with no emulator endpoint, botocore would call the real
    AWS account the credentials reach, acting on people's networks. Never by default."""
    if real_aws or any(value for name, value in environ.items() if name.startswith("AWS_ENDPOINT_URL")):
        return ""
    return (
        "AWS_ENDPOINT_URL is not set, so this would call the real AWS account your credentials reach: "
        "run `make emulator` and export the AWS_ENDPOINT_URL it prints, or pass --real-aws "
        "(make invoke ... REAL_AWS=1) if that is what you mean"
    )


if __name__ == "__main__":
    sys.exit(main())
