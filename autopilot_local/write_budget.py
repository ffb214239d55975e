"""`make write-budget`: why each function's reserved concurrency is what it is.

EC2 throttles per account and region with token buckets (the EC2 API reference, "Request
throttling for the Amazon EC2 API"): peering accepts and security-group ingress refill at 5 per
second, routes at 5, tags at 10. The budget holds all the autopilot's writes together under 5 per
second, the strictest of those, so none of the buckets drains. A burst of new peerings runs accept, configure and verify at
their reserved concurrency for as long as the backlog lasts; in the account both sides of most
peerings share (the hub's, in hub-and-spoke) their writes per second must stay under that refill,
or every other writer in that account (people, pipelines) is throttled too.

An invocation's duration is not measurable here (the emulator answers in microseconds), so it is
modelled from its EC2 calls, which are measured (`make peering-calls`; the test re-measures them):
each call takes at least READ_S or WRITE_S, one after the other, plus the step's own wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autopilot_local.template import Stack

REFILL_PER_S = 5.0  # EC2 write tokens per second, per account and region
BUCKET = 200  # EC2's bucket of mutating-action tokens (its capacity): what a short burst may borrow
READ_S, WRITE_S = 0.1, 0.25  # assumed floor of one EC2 call's latency (reads, writes), seconds


@dataclass(frozen=True)
class Step:
    reads: int  # EC2 reads of one invocation (one cross-account peering)
    writes: int  # EC2 writes of one invocation, both accounts
    writes_in_one_account: int  # the most of them in one account (configure and verify: half, a side each)
    wait_s: float = 0.0  # time the step spends waiting besides its EC2 calls

    @property
    def seconds(self) -> float:
        return self.reads * READ_S + self.writes * WRITE_S + self.wait_s

    @property
    def writes_per_second(self) -> float:
        """One execution's writes per second in the busiest account, back to back."""
        return self.writes_in_one_account / self.seconds


# The burst of new peerings: request -> accept -> configure -> verify.
BURST = {
    # AcceptVpcPeeringConnection and the status tag, both in the accepter's account; the reads:
    # the peering, both VPCs, and each side's route tables (is any peer block not routed elsewhere?)
    "AcceptPeeringFunction": Step(reads=5, writes=2, writes_in_one_account=2),
    # per side: a route in each of 2 tables, one Authorize for the tagged group, the status tag,
    # and (once, on a new peering) its Name
    "ConfigurePeeringFunction": Step(reads=8, writes=10, writes_in_one_account=5),
    # the status tag on each side; LivePing's `ping -c 3` takes about 3 s
    "VerifyPeeringFunction": Step(reads=14, writes=2, writes_in_one_account=1, wait_s=3.0),
}


# Peering groups add the connect function's requests (one CreateVpcPeeringConnection each, after
# reading both VPCs and the pair's peerings) to the same burst, for as long as it has requests.
CONNECT = Step(reads=3, writes=1, writes_in_one_account=1)


def group_burst(vpcs: int, concurrency: dict[str, int]) -> tuple[int, float, float]:
    """A group of `vpcs` joined at once: its requests, how long connect takes to send them, and
    the tokens the burst borrows from EC2's bucket meanwhile (above the refill)."""
    requests = vpcs * (vpcs - 1) // 2
    seconds = requests * CONNECT.seconds / concurrency["ConnectPeeringFunction"]
    rate = burst_writes_per_second(concurrency) + concurrency["ConnectPeeringFunction"] * CONNECT.writes_per_second
    return requests, seconds, max(0.0, rate - REFILL_PER_S) * seconds


def reserved(template: Path) -> dict[str, int]:
    stack = Stack(template, {}, "123456789012", "us-east-1")
    return {
        name: int(r["Properties"]["ReservedConcurrentExecutions"])
        for name, r in stack.resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    }


def burst_writes_per_second(concurrency: dict[str, int]) -> float:
    return sum(concurrency[name] * step.writes_per_second for name, step in BURST.items())


def main() -> int:
    concurrency = reserved(Path(__file__).resolve().parents[1] / "template.yaml")
    print(f"EC2 write refill: {REFILL_PER_S:g}/s per account-region; call floor {READ_S:g} s read, {WRITE_S:g} s write")
    print(
        f"{'function':<26} {'reads':>5} {'writes':>6} {'in 1 acct':>9} {'s/inv':>6} {'writes/s':>8} {'reserved':>8} {'total/s':>7}"
    )
    for name, step in BURST.items():
        c = concurrency[name]
        print(
            f"{name:<26} {step.reads:>5} {step.writes:>6} {step.writes_in_one_account:>9} {step.seconds:>6.2f}"
            f" {step.writes_per_second:>8.2f} {c:>8} {c * step.writes_per_second:>7.2f}"
        )
    total = burst_writes_per_second(concurrency)
    verdict = "under" if total <= REFILL_PER_S else "OVER"
    print(f"burst of new peerings: {total:.2f} writes/s in one account, {verdict} the refill of {REFILL_PER_S:g}/s")
    c = concurrency["ConnectPeeringFunction"]
    print(
        f"{'ConnectPeeringFunction':<26} {CONNECT.reads:>5} {CONNECT.writes:>6} {CONNECT.writes_in_one_account:>9}"
        f" {CONNECT.seconds:>6.2f} {CONNECT.writes_per_second:>8.2f} {c:>8} {c * CONNECT.writes_per_second:>7.2f}"
    )
    requests, seconds, borrowed = group_burst(10, concurrency)
    print(
        f"a peering group of 10 VPCs joined at once: {requests} requests sent in {seconds:.0f} s, the burst borrows "
        f"{borrowed:.0f} of EC2's {BUCKET} mutating tokens"
    )
    fits = total <= REFILL_PER_S and borrowed < BUCKET
    return 0 if fits else 1


if __name__ == "__main__":
    raise SystemExit(main())
