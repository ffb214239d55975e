"""The README and docs/ hold together: the README's contents and every link resolve (file and
heading), every document under docs/ is listed in the README, the quick start fits one screen, and
what docs/deploying.md states about the Organization's prerequisites and uninstalling matches the
templates it describes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autopilot_local.template import load_yaml
from tests.support.docs import DOCUMENTS, section

PROJECT = Path(__file__).resolve().parents[2]
TEXT = {path: path.read_text() for path in DOCUMENTS}
README = TEXT[PROJECT / "README.md"]
DEPLOYING = TEXT[PROJECT / "docs" / "deploying.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    outside_code = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", outside_code, re.MULTILINE)}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(PROJECT)))
def test_every_relative_link_names_a_file_and_heading_that_exist(document: Path) -> None:
    broken = []
    for target in LINK.findall(TEXT[document]):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            broken.append(target)
            continue
        if anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
            broken.append(target)
    assert broken == []


def test_the_readme_contents_list_each_of_its_sections_in_order() -> None:
    listed = re.findall(r"^- \[[^\]]+\]\(#([^)]+)\)", section(README, "Contents"), re.MULTILINE)
    headings = [slug(h) for h in re.findall(r"^## (.+)$", README, re.MULTILINE) if h != "Contents"]
    assert listed == headings


def test_every_document_under_docs_is_listed_in_the_readme() -> None:
    listed = set(re.findall(r"\]\((docs/[^)#]+)\)", section(README, "Documentation")))
    assert listed == {f"docs/{path.name}" for path in (PROJECT / "docs").glob("*.md")}


def test_the_quick_start_fits_one_screen() -> None:
    lines = section(README, "Quick start").strip().splitlines()
    assert len(lines) <= 40, len(lines)
    assert max(map(len, lines)) <= 120
    # ... and still holds the two commands and the deployment in brief
    assert any(line.startswith("make demo ") for line in lines)
    assert any(line.startswith("make test ") for line in lines)
    assert "(docs/deploying.md)" in "\n".join(lines)


def test_the_prerequisites_give_a_command_for_each_thing_the_organization_needs() -> None:
    prerequisites = section(DEPLOYING, "Before you start: the Organization's prerequisites")
    for needed in (
        "aws cloudformation activate-organizations-access",
        "--service-principal member.org.stacksets.cloudformation.amazonaws.com",
        "--is-organization-trail --is-multi-region-trail",
        "aws cloudtrail get-trail-status",
        "aws ec2 enable-reachability-analyzer-organization-sharing",
        "make org-delegate",
        "aws lambda get-account-settings",
        "--service-code lambda",
    ):
        assert needed in prerequisites, needed


def test_the_concurrency_the_prerequisites_say_the_hub_reserves_is_the_templates() -> None:
    hub = load_yaml(PROJECT / "template.yaml")["Resources"]
    reserved = sum(
        r["Properties"].get("ReservedConcurrentExecutions", 0)
        for r in hub.values()
        if r["Type"] == "AWS::Serverless::Function"
    )
    said = re.search(r"The hub reserves (\d+) concurrent executions", DEPLOYING)
    assert said and int(said.group(1)) == reserved
    floor = re.search(r"raise it to [\d,]+ \(the usual default\) if it is below (\d+)", DEPLOYING)
    assert floor and int(floor.group(1)) == 100 + reserved  # Lambda keeps 100 unreserved


def test_uninstalling_says_how_to_remove_each_thing_that_stays_behind() -> None:
    uninstalling = section(DEPLOYING, "Uninstalling")
    rows = [row for row in uninstalling.splitlines() if row.startswith("| ") and not row.startswith("| what")]
    stays = "\n".join(rows)
    for thing in ("the record", "tags on peerings", "remote DNS", "peerings of peering groups", "SAM CLI's bucket"):
        assert thing in stays, thing
    hub = load_yaml(PROJECT / "template.yaml")
    retained = [name for name, r in hub["Resources"].items() if r.get("DeletionPolicy") == "Retain"]
    assert retained == ["RecordTable"]  # the one stack resource the table says stays
    assert "`RecordTableName`" in stays and "RecordTableName" in hub["Outputs"]
    for row in rows:
        assert row.rstrip("| ").split("|")[-1].strip(), f"no way to remove: {row}"
