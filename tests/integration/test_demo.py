"""`make demo` is the first thing a new user runs: it must tell the story and end well."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def test_demo_accepts_the_cross_account_request_and_explains_the_declined_ones(tmp_path: Path) -> None:
    log_file = tmp_path / "function-logs.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    completed = subprocess.run(
        [sys.executable, "-m", "autopilot_local.demo", "--log-file", str(log_file)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr[-2000:]

    accepted = re.search(r"OK (pcx-[0-9a-f]+) is active; tag peering-autopilot:status = verified", out)
    assert accepted, out
    peering_id = accepted.group(1)
    # Steps 3 and 4, read back from EC2: every route table of both VPCs, and both tagged groups
    assert len(re.findall(rf"OK VPC-A rtb-[0-9a-f]+ \((main|subnet)\): 10.1.0.0/16 -> {peering_id}", out)) == 2
    assert len(re.findall(rf"OK VPC-B rtb-[0-9a-f]+ \((main|subnet)\): 10.0.0.0/16 -> {peering_id}", out)) == 2
    assert re.search(r"OK VPC-A sg-[0-9a-f]+ inbound: icmp from 10.1.0.0/16", out)
    assert re.search(r"OK VPC-B sg-[0-9a-f]+ inbound: icmp from 10.0.0.0/16", out)
    # ... the verdict for both directions, in the runbook's order ...
    first_run = out.split("a second time")[0]
    assert first_run.count("=> OK") == 2
    for step in ("peering", "routes", "security-groups", "network-acls", "addresses"):
        assert len(re.findall(rf"\|   {step} +ok ", first_run)) == 2, step
    # ... a second delivery changes nothing
    assert "ConfigurePeeringFunction: 4 routes and 2 rules already in place" in out
    assert "then VerifyPeeringFunction: verified" in out
    assert re.search(r"OK \d+ EC2 reads, 0 changes", out)
    # ... a route deleted by hand is put back by the next sweep, which then finds nothing to do ...
    assert "SweepFunction: sweep work found: {'configure': 1}" in out
    assert re.search(r"OK rtb-[0-9a-f]+: 10.0.0.0/16 -> peering is back", out)
    assert "OK the sweep after that finds nothing to do and changes nothing" in out
    # ... deleting the peering leaves no trace of the autopilot on either side ...
    assert re.search(r"OK VPC-A: no route through pcx-[0-9a-f]+, no autopilot rule left", out)
    assert re.search(r"OK VPC-B: no route through pcx-[0-9a-f]+, no autopilot rule left", out)
    # ... and the doctor, run against the demo's emulator, names the ACL rule that blocks
    blocked = re.search(r"(acl-[0-9a-f]+) inbound rule 90: deny ICMP from 10.0.0.0/16", out)
    assert blocked, out
    acl = blocked.group(1)
    assert f"network-acls     FAIL        {acl} rule 90 denies icmp echo request in from 10.0.1.4" in out
    assert f"{acl} rule 90 denies icmp echo reply in (return) back from 10.0.1.4" in out
    assert "| Verdict: blocked:network-acls" in out
    assert f"OK the doctor names {acl} rule 90 (exit status 1)" in out
    assert "member stack ForwardRule in 333333333333 -> hub bus -> rule AcceptPeeringFunction.PeeringRequested" in out
    assert "because requester account 333333333333 is not in ApprovedAccountIds" in out
    assert "is pending-acceptance; tag peering-autopilot:status = declined:requester-not-approved" in out
    assert "tag peering-autopilot:enabled is missing, not 'true'" in out
    assert "is pending-acceptance; tag peering-autopilot:status = declined:accepter-not-opted-in" in out
    assert "!!" not in out
    # the peering group: no person requests anything, and leaving it takes its peerings along
    # a member's range the hub already sends on-premises is held, and the hold is named
    assert re.search(
        r"-> 'Peering Held': 10.50.0.0/16 in rtb-[0-9a-f]+: 10.50.0.0/16 already goes to vgw-[0-9a-f]+", out
    )
    assert re.search(
        r"OK rtb-[0-9a-f]+: 10.50.0.0/16 still goes to vgw-[0-9a-f]+: the older claim keeps its traffic", out
    )
    assert re.search(r"OK VPC-A's side of pcx-[0-9a-f]+: peering-autopilot:status = held:routed-elsewhere", out)
    # the policy's ask: the request waits, people are told what approval adds, the approver's own
    # accept is configured and recorded with the identity CloudTrail gives
    assert re.search(r"OK pcx-[0-9a-f]+ waits: peering-autopilot:status = awaiting-approval:into-partner-vpcs", out)
    assert (
        "-> 'Peering Approval Requested': rule into-partner-vpcs, who may approve: "
        "['arn:aws:iam::222222222222:role/NetworkApprover']" in out
    )
    assert len(re.findall(r"approval would add in vpc-[0-9a-f]+: routes \['rtb-", out)) == 2
    assert "OK configured both ways and verified" in out
    assert (
        "OK the record: approved under rule into-partner-vpcs by arn:aws:iam::222222222222:role/NetworkApprover" in out
    )
    assert "OK 3 peerings, all active, for 3 VPCs: n(n-1)/2 = 3; no request by a person" in out
    assert "OK 2 peerings of VPC-G withdrawn; 1 left (VPC-E <-> VPC-F)" in out
    assert "OK no route through the withdrawn peerings on either side" in out
    # the narration says what happened in words, and nothing else reaches the terminal
    assert "SweepFunction: 3 tag changes planned" in out
    assert "ConnectPeeringFunction: 3 requested, 3 already requested" in out
    assert "VerifyPeeringFunction: VERIFIED both ways (a configuration check: no live ping ran)" in out
    assert "skipped" not in out and "group-change" not in out
    assert "Warning" not in out + completed.stderr, completed.stderr[-2000:]

    logs = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    decisions = [line for line in logs if line.get("message", "").startswith("peering ")]
    first_group_line = next(
        i for i, d in enumerate(decisions) if d["outcome"] in ("requested", "skipped") and "group" in str(d)
    )
    decisions, group = decisions[:first_group_line], decisions[first_group_line:]
    assert [d["outcome"] for d in decisions] == [
        "accepted",
        "configured",
        "verified",
        "configured",  # the redelivery
        "verified",
        "configured",  # the sweep's repair
        "verified",
        "cleaned-up",
        "declined",
        "declined",
        "accepted",  # the member's on-premises range: accepted, held in one table
        "partially-configured",
        "failed",  # verify's outcome; its verdict, held:routed-elsewhere, is checked above
        "awaiting-approval",  # the policy asks a person
        "configured",  # the approver's own accept
        "verified",
    ]
    # ... then the peering group: its decisions come after those (3 VPCs: 3 peerings, then 2 withdrawn)
    assert [d["outcome"] for d in group].count("requested") == 3
    assert [d["outcome"] for d in group].count("withdrawn") == 2
    assert [d["outcome"] for d in group].count("verified") == 3
    assert {d["correlation_id"] for d in decisions[:5]} == {peering_id}
