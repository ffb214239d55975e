"""The options every `peering-autopilot` command that talks to AWS takes, set up and checked alike:
`--profile`, `--region` (where one region makes sense) and `--endpoint-url`; and where a profile's
name came from, for the one line that says it is unknown. Used by `cli` and `policy_tools`."""

from __future__ import annotations

import argparse
import os
from urllib.parse import urlsplit

from peering_autopilot.settings import REGION


def aws_options(parser: argparse.ArgumentParser, region_help: str | None) -> None:
    """Add --profile, --region (`region_help` None: the command has its own, such as status's
    --regions) and --endpoint-url to a command's parser."""
    parser.add_argument("--profile", default=None, help="your AWS profile (default: AWS_PROFILE, or the environment)")
    if region_help is not None:
        parser.add_argument("--region", default=None, help=region_help)
    parser.add_argument("--endpoint-url", default=None, help="talk to this endpoint (an emulator) instead of AWS")


def aws_options_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options aws_options added, if anything. When all is right the
    endpoint, if given, is used for every client from here on (AWS_ENDPOINT_URL)."""
    region = getattr(args, "region", None)
    if region is not None and not REGION.fullmatch(region):
        return f"--region {region!r} is not a region name (like us-east-1)"
    if getattr(args, "profile", None) == "":
        return "--profile is empty: give a profile's name"
    return use_endpoint(getattr(args, "endpoint_url", None))


def use_endpoint(endpoint_url: str | None) -> str | None:
    """Check an --endpoint-url and use it for every client; the problem, if any."""
    if endpoint_url is None:
        return None
    url = urlsplit(endpoint_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        return f"--endpoint-url {endpoint_url!r} is not an http(s) URL"
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    return None


def profile_source(args: argparse.Namespace) -> str:
    """Where the profile's name came from, for a message about it."""
    if getattr(args, "profile", None):
        return "--profile"
    return "AWS_PROFILE" if os.environ.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE"
