"""Invoke a function from the built artifacts (`sam build`), as Lambda would, in this process.

    python -m autopilot_local.invoke_built FUNCTION EVENT.json [--template .aws-sam/build/template.yaml]
        [--env-vars events/env.json ...] [--parameter KEY=VALUE ...] [--real-aws]

The handler is resolved from the built template, its code dir and the built layer's `python/`
go first on sys.path (as /var/task and /opt/python do in Lambda), and its environment comes from
the template, overlaid with the env-vars files in order like `sam local invoke --env-vars`. AWS calls
go wherever the environment points: an emulator (AWS_ENDPOINT_URL, as `make emulator` prints it),
or, only when asked with --real-aws, the account the caller's credentials reach. Prints one JSON
object: the handler's result and the files the domain and Powertools were imported from.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
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
    args = parser.parse_args(argv)

    refusal = real_aws_refusal(os.environ, args.real_aws)
    if refusal:
        parser.exit(2, f"error: {refusal}\n")
    if "peering_autopilot" in sys.modules:
        raise SystemExit("peering_autopilot is already imported: the built layer would not be the one tested")
    parameters = dict(p.split("=", 1) for p in args.parameter)
    stack = Stack(args.template, parameters, args.account, args.region)
    spec = next((f for f in stack.functions() if f.logical_id == args.function), None)
    if spec is None:
        raise SystemExit(f"{args.template} has no function {args.function}")

    env = dict(spec.environment)
    for env_file in args.env_vars:
        overrides = json.loads(env_file.read_text())
        env.update(overrides.get("Parameters", {}))
        env.update(overrides.get(args.function, {}))
    os.environ.update(env)
    os.environ.update(
        {"AWS_REGION": args.region, "AWS_LAMBDA_FUNCTION_NAME": args.function, "POWERTOOLS_TRACE_DISABLED": "true"}
    )

    sys.path[:0] = [str(spec.code_dir), *(str(d) for d in spec.layer_dirs)]
    module_name, handler_name = spec.handler.rsplit(".", 1)
    module = importlib.import_module(module_name)
    event = json.loads(args.event.read_text())
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
