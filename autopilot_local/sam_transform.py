"""The hub template as CloudFormation sees it after the SAM transform (the roles, permissions and
rules SAM generates included), for the checks that read plain CloudFormation (checkov).

    python -m autopilot_local.sam_transform [template.yaml] [build/template.cfn.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]

from autopilot_local.template import load_yaml


class _NoManagedPolicies:
    """The templates name no AWS managed policy by name, so there is none to look up in IAM."""

    def load(self) -> dict[str, str]:
        return {}


def transform(template: Path) -> dict[str, Any]:
    body = load_yaml(template)
    # As `sam package` leaves it: code uploaded, the local paths replaced by S3 locations.
    for resource in body.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://packaged-artifacts/{properties[key].strip('/')}.zip"
    # The region only fills pseudo parameters SAM resolves itself; no AWS call is made.
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="none", aws_secret_access_key="none")
    translator = Translator(_NoManagedPolicies(), Parser(), boto_session=session)
    result: dict[str, Any] = translator.translate(sam_template=body, parameter_values={})
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0]) if args else Path("template.yaml")
    target = Path(args[1]) if len(args) > 1 else Path("build/template.cfn.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(transform(source), indent=1, default=str) + "\n")
    print(f"{source} -> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
