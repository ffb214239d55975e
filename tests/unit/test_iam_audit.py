"""What `make parliament` audits: every inline policy of every role of both templates, the ones SAM
generates for the functions included, with no intrinsic function left unresolved."""

from __future__ import annotations

import json
from pathlib import Path

from autopilot_local import iam_audit


def test_every_role_of_both_templates_is_written_out_resolved(tmp_path: Path) -> None:
    assert iam_audit.main([str(tmp_path / "iam")]) == 0
    written = {p.name: json.loads(p.read_text()) for p in (tmp_path / "iam").glob("*.json")}
    roles = {name.split(".")[0] + "." + name.split(".")[1] for name in written}
    assert roles == {
        "hub.AcceptPeeringFunctionRole",
        "hub.ConfigurePeeringFunctionRole",
        "hub.VerifyPeeringFunctionRole",
        "hub.CleanupPeeringFunctionRole",
        "hub.SweepFunctionRole",
        "hub.HubForwardRole",
        "hub.RecordReaderRole",
        "member.ReaderRole",
        "member.AccepterRole",
        "member.ConfigurerRole",
        "member.VerifierRole",
        "member.CleanerRole",
        "member.ConnectorRole",
        "hub.ConnectPeeringFunctionRole",
        "member.ForwardRole",
        "org-reader.OrganizationsReaderRole",
    }
    text = json.dumps(written)
    assert "Fn::" not in text and '"Ref"' not in text and "${" not in text
    # SAM's own policy for the failed-events destination is among them
    assert any("EventInvokeConfigOnFailureSQSPolicy" in name for name in written)
