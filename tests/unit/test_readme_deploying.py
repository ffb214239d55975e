"""The deployment guide (docs/deploying.md) works as written: every parameter and output it names is
one of the template it names, its tables list each template's parameters and outputs exactly, and
the make targets and samconfig environments the README and the docs tell people to use exist.
Also: the group names docs/how-it-works.md allows are the code's."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from autopilot_local.template import load_yaml
from peering_autopilot.mesh import parse_groups
from peering_autopilot.model import GROUP_NAME
from tests.support.docs import section

PROJECT = Path(__file__).resolve().parents[2]
README = (PROJECT / "README.md").read_text()
DOCS = {path.name: path.read_text() for path in sorted((PROJECT / "docs").glob("*.md"))}
EVERYTHING = "\n".join([README, *DOCS.values()])
TEMPLATES = {path: load_yaml(PROJECT / path) for path in ("template.yaml", "member/template.yaml")}


DEPLOYING = DOCS["deploying.md"]
# "## Hub parameters (`template.yaml`)" and the table under it.
TABLES = re.findall(r"\n## [^\n]*?(parameters|outputs) \(`([^`]+)`\)\n\n((?:\|[^\n]*\n)+)", DEPLOYING)


def first_column(table: str) -> set[str]:
    rows = table.strip().splitlines()[2:]  # past the header and the rule
    return {m.group(1) for row in rows if (m := re.match(r"\| `([A-Za-z0-9]+)` \|", row))}


def test_the_section_has_a_table_of_each_templates_parameters_and_the_hubs_outputs() -> None:
    assert sorted((kind, path) for kind, path, _ in TABLES) == [
        ("outputs", "template.yaml"),
        ("parameters", "member/template.yaml"),
        ("parameters", "template.yaml"),
    ]


@pytest.mark.parametrize(("kind", "path", "table"), TABLES, ids=[f"{k} of {p}" for k, p, _ in TABLES])
def test_each_table_lists_exactly_what_its_template_declares(kind: str, path: str, table: str) -> None:
    declared = set(TEMPLATES[path][kind.capitalize()])
    assert first_column(table) == declared


def test_the_defaults_the_parameter_tables_give_are_the_templates() -> None:
    for kind, path, table in TABLES:
        if kind != "parameters":
            continue
        for row in table.strip().splitlines()[2:]:
            name, default = (cell.strip() for cell in row.strip("|").split("|")[:2])
            spec = TEMPLATES[path]["Parameters"][name.strip("`")]
            if default.startswith("`"):
                written = default.strip("`")
                actual = spec.get("Default")
                assert written == (",".join(actual) if isinstance(actual, list) else str(actual)), (path, name)
            elif default == "(required)":
                assert "Default" not in spec, (path, name)


def test_every_parameter_or_output_named_in_the_section_is_one_of_a_template() -> None:
    names = set(re.findall(r"`([A-Z][A-Za-z0-9]+)`", DEPLOYING))
    known = {
        key
        for body in TEMPLATES.values()
        for kind in ("Parameters", "Outputs", "Resources")
        for key in body.get(kind, {})
    }
    defaults = {str(spec.get("Default")) for body in TEMPLATES.values() for spec in body["Parameters"].values()}
    tags = {"Name"}  # the EC2 tag a peering's side is given, named in "Uninstalling"
    sections = {"Rules"}  # the hub template's section that refuses samconfig.toml's examples
    recipe = re.search(r"^member-stackset:.*?(?=^\S)", (PROJECT / "Makefile").read_text(), re.MULTILINE | re.DOTALL)
    assert recipe
    make_variables = set(re.findall(r"\$\(([A-Z_]+)\)", recipe.group(0)))  # OU, REGION, ...
    call_as = {"SELF", "DELEGATED_ADMIN"}  # the CLI's --call-as values
    assert names - known - defaults - tags - sections - make_variables - call_as == set()


def test_the_make_targets_and_samconfig_environments_it_uses_exist() -> None:
    makefile = (PROJECT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    used = set(re.findall(r"(?:^|`)make ([a-z][a-z-]*)", EVERYTHING, re.MULTILINE))  # in commands
    assert used and used <= targets
    config = tomllib.loads((PROJECT / "samconfig.toml").read_text())
    environments = set(re.findall(r"--config-env ([a-z]+)", EVERYTHING))
    assert environments == {"live"} and environments <= set(config)
    # the default environment is the dry run, live acts; both deploy the same stack
    overrides = {env: config[env]["deploy"]["parameters"]["parameter_overrides"] for env in ("default", "live")}
    assert 'DryRun="true"' in overrides["default"] and 'DryRun="false"' in overrides["live"]
    hub_parameters = set(TEMPLATES["template.yaml"]["Parameters"])
    for value in overrides.values():
        assert set(re.findall(r"(\w+)=", value)) <= hub_parameters
    assert (
        config["default"]["global"]["parameters"]["stack_name"] == config["live"]["global"]["parameters"]["stack_name"]
    )


def test_the_member_roles_table_names_each_role_of_the_member_template_and_the_function_that_assumes_it() -> None:
    rows = re.findall(r"^\| `<MemberRoleName>-(\w+)` \| `(\w+)`", DEPLOYING, re.MULTILINE)
    member = TEMPLATES["member/template.yaml"]["Resources"]
    made = {
        r["Properties"]["RoleName"]["Fn::Sub"].removeprefix("${MemberRoleName}-")
        for r in member.values()
        if r["Type"] == "AWS::IAM::Role" and "RoleName" in r["Properties"]
    }
    assert {suffix for suffix, _ in rows} == made
    hub = TEMPLATES["template.yaml"]["Resources"]
    for suffix, function in rows:
        assert hub[function]["Properties"]["Environment"]["Variables"]["MEMBER_ROLE"] == suffix


GROUPS = section(DOCS["how-it-works.md"], "Peering groups: step 1 hands-off")
# "(`shared-services`, `prod,payments`; a name is 1 to 63 letters, digits and `_ . : / + = @ -`, the
# first a letter or digit: `_shared` or `.x` is not a name)"
NAME_RULE = re.search(
    r"\((`[^;]*`); a name is 1 to (\d+) letters, digits and `([^`]*)`, the\s+first a letter or digit: "
    r"(`[^)]*`) is not a name\)",
    GROUPS,
)


def test_the_group_name_rule_the_readme_states_is_the_codes() -> None:
    assert NAME_RULE, "the docs' sentence on group names has changed: update this test with it"
    longest, others = int(NAME_RULE.group(2)), NAME_RULE.group(3).replace(" ", "")
    assert GROUP_NAME.pattern == f"[A-Za-z0-9][A-Za-z0-9{others}]{{0,{longest - 1}}}"


def test_the_readmes_examples_of_group_tags_and_names_are_valid_or_not_as_it_says() -> None:
    assert NAME_RULE
    for tag in re.findall(r"`([^`]+)`", NAME_RULE.group(1)):
        names, bad = parse_groups(tag)
        assert names and not bad, tag
    for name in re.findall(r"`([^`]+)`", NAME_RULE.group(4)):
        assert not GROUP_NAME.fullmatch(name), name
    # "A group tag with an entry that is not a name (`shared; prod`)"
    [odd] = re.findall(r"an entry that is not a name \(`([^`]+)`\)", GROUPS)
    assert parse_groups(odd)[1] == [odd]
