"""What `make parliament` audits: every inline policy of every role of both templates, the ones SAM
generates for the functions included, with no intrinsic function left unresolved."""

from __future__ import annotations

import json
import re
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


def test_each_of_parliaments_explanations_names_the_statements_it_explains(tmp_path: Path) -> None:
    """parliament.yaml: every ignore rule names policy files and the statements (`sid`) of them it
    covers, and each statement it names is one those files hold (a Sid renamed in a template
    leaves no explanation covering whatever takes its place)."""
    from autopilot_local.template import load_yaml

    assert iam_audit.main([str(tmp_path / "iam")]) == 0
    written = {p.name: json.loads(p.read_text()) for p in (tmp_path / "iam").glob("*.json")}
    rules = load_yaml(Path(iam_audit.PROJECT) / "parliament.yaml")
    for issue, spec in rules.items():
        for rule in spec["ignore_locations"]:
            assert set(rule) == {"filepath", "sid"}, (issue, rule)
            files = [n for n in written if re.fullmatch(rule["filepath"], f"build/iam/{n}", re.IGNORECASE)]
            assert files, (issue, rule["filepath"])
            for name in files:
                sids = {s.get("Sid", "") for s in _listed(written[name]["Statement"])}
                for sid in rule["sid"].split("|") if rule["sid"] else []:
                    assert sid in sids, (issue, name, sid)


def _listed(value: object) -> list[dict[str, str]]:
    return value if isinstance(value, list) else [value]  # type: ignore[return-value]
