"""`make emulator`: the demo's world in moto's server, kept running, to try things on by hand.

The hub stack and the member stacks are "deployed" (the bus, the member roles), the seed's VPCs are
built, and VPC-A asks to peer with VPC-B; nothing is run. The sample events of `events/` are written
out again with the ids of this world (build/emulator/events/), so that

    make invoke FN=AcceptPeeringFunction EVENT=build/emulator/events/accept_peering/create-cross-account.json

runs the built function on this world, and `peering-autopilot doctor` can read it. The endpoint and
the variables to point a shell at it are printed; Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from moto.server import ThreadedMotoServer

from autopilot_local.harness import PROJECT, LocalAutopilot, LocalCloud
from autopilot_local.world import HUB_ACCOUNT, MEMBER_ACCOUNT, OUTSIDER_ACCOUNT, REGION, SeedWorld, build_seed_world

EVENTS = PROJECT / "events"
OUT = PROJECT / "build" / "emulator"
# The ids the sample events are written with: the peering, its requester VPC, its accepter VPC.
SAMPLE_IDS = ("pcx-0f1e2d3c4b5a69788", "vpc-0a1b2c3d4e5f60789", "vpc-0b2c3d4e5f6a70891")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "emulator", "AWS_SECRET_ACCESS_KEY": "emulator", "AWS_DEFAULT_REGION": REGION}


@dataclass
class Emulator:
    server: ThreadedMotoServer
    url: str
    world: SeedWorld
    peering_id: str  # VPC-A's pending request to VPC-B
    events_dir: Path

    def stop(self) -> None:
        self.server.stop()


def start(port: int = 5000, out: Path = OUT) -> Emulator:
    """Start the server, deploy the stacks, build the world, write the events. This process's
    environment is pointed at the emulator (fake keys, no profile), as the demo's is."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server.start()
    host, bound = server.get_host_and_port()
    url = f"http://{host}:{bound}"
    os.environ.update({"AWS_ENDPOINT_URL": url, **CREDENTIALS})
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "MOTO_ACCOUNT_ID"):
        os.environ.pop(name, None)

    cloud = LocalCloud(HUB_ACCOUNT)
    world = build_seed_world(cloud)
    parameters = {"ApprovedAccountIds": MEMBER_ACCOUNT, "ManagedRegions": REGION, "OrganizationId": "o-demoorg0001"}
    autopilot = LocalAutopilot(cloud, parameters, region=REGION, member_accounts=(MEMBER_ACCOUNT, OUTSIDER_ACCOUNT))
    bus = json.loads((EVENTS / "env.json").read_text())["Parameters"]["EVENT_BUS_NAME"]
    if autopilot.bus_name != bus:  # the env-vars file and the stack must agree, or publishing fails
        raise SystemExit(f"events/env.json names bus {bus}, the stack makes {autopilot.bus_name}")
    a, b = world.vpc_a, world.vpc_b
    peering_id = cloud.ec2(a.account, a.region).create_vpc_peering_connection(
        VpcId=a.vpc_id, PeerVpcId=b.vpc_id, PeerOwnerId=b.account, PeerRegion=b.region
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    write_events(out / "events", (peering_id, a.vpc_id, b.vpc_id))
    return Emulator(server, url, world, peering_id, out / "events")


def write_events(target: Path, ids: tuple[str, str, str]) -> list[Path]:
    """Every sample event about VPC-A and VPC-B in one region, with this world's ids in place of
    the samples'. Cross-region samples are left out: the world has one region."""
    written = []
    for source in sorted(EVENTS.rglob("*.json")):
        text = source.read_text()
        if source.parent == EVENTS or SAMPLE_IDS[0] not in text or "us-west-2" in text:
            continue
        for old, new in zip(SAMPLE_IDS, ids, strict=True):
            text = text.replace(old, new)
        path = target / source.relative_to(EVENTS)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def describe(emulator: Emulator) -> str:
    world, url = emulator.world, emulator.url
    events = (
        emulator.events_dir.relative_to(PROJECT) if emulator.events_dir.is_relative_to(PROJECT) else emulator.events_dir
    )
    lines = [
        f"AWS emulator (moto server) with the demo's world on {url}",
        "",
        "Point a shell at it:",
        "  export AWS_ENDPOINT_URL=" + url + " " + " ".join(f"{k}={v}" for k, v in CREDENTIALS.items()),
        "",
        "The world:",
    ]
    for net in (world.vpc_a, world.vpc_b, world.vpc_c, world.vpc_d):
        opted = "opted in" if net.opted_in else "not opted in"
        lines.append(f"  {net.name}  {net.vpc_id}  {net.cidr:<12} account {net.account} {net.region}  {opted}")
    lines += [
        f"  {emulator.peering_id}: VPC-A asks to peer with VPC-B (pending acceptance)",
        "",
        f"The sample events, with these ids: {events}/",
        "Try, in another shell with the export above:",
        f"  make invoke FN=AcceptPeeringFunction EVENT={events}/accept_peering/create-cross-account.json",
        f"  make invoke FN=ConfigurePeeringFunction EVENT={events}/configure_peering/peering-accepted.json",
        f"  make invoke FN=VerifyPeeringFunction EVENT={events}/verify_peering/peering-configured.json",
        "  make invoke FN=SweepFunction EVENT=events/sweep/scheduled.json",
        f"  .venv/bin/peering-autopilot doctor {emulator.peering_id} --region {REGION} --endpoint-url {url}",
        f"  .venv/bin/peering-autopilot status --accounts {world.vpc_a.account},{world.vpc_b.account} "
        f"--regions {REGION} --endpoint-url {url}",
        "",
        "Ctrl-C stops it (the world is gone with it).",
    ]
    return "\n".join(lines)


def port_in_use(port: int) -> str:
    """Why the emulator cannot listen on `port` (another `make emulator` there, say), or "". Without
    this check the server's thread would fail alone and the world would be built in whatever
    answers on that port."""
    if not 0 <= port <= 65535:
        return f"--port {port} is not a TCP port (0 to 65535; 0: any free one)"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no use
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as e:
            return (
                f"port {port} on 127.0.0.1 is in use ({e.strerror}): another `make emulator`? "
                "Stop it, or choose another port: make emulator EMULATOR_PORT=5001"
            )
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=int(os.environ.get("EMULATOR_PORT", "5000")), help="0: any")
    parser.add_argument("--out", type=Path, default=OUT, help="where the events with this world's ids go")
    args = parser.parse_args(argv)
    busy = port_in_use(args.port)
    if busy:
        parser.exit(2, f"error: {busy}\n")
    emulator = start(args.port, args.out)
    print(describe(emulator), flush=True)
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    stopped.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
