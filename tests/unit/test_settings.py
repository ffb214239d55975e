"""Settings read from the function's environment: parsed exactly, or refused naming the variable."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from peering_autopilot.errors import SettingsError
from peering_autopilot.settings import MemberRole, Settings, UnapprovedAction

HUB = "111111111111"

VALID_ENV: dict[str, str] = {
    "HUB_ACCOUNT_ID": HUB,
    "AWS_REGION": "eu-west-1",
    "APPROVED_ACCOUNT_IDS": "222222222222,333333333333",
    "MEMBER_ROLE_NAME": "PeeringAutopilotMember",
    "MEMBER_ROLE": "configurer",
    "MANAGED_REGIONS": "eu-west-1,us-east-1",
    "EVENT_BUS_NAME": "peering-autopilot-bus",
    "RECORD_TABLE": "peering-autopilot-record",
    "DRY_RUN": "true",
    "UNAPPROVED_REQUEST_ACTION": "reject",
}

REMOVE = None  # in overrides: the variable is not set at all


def env_with(**overrides: str | None) -> dict[str, str]:
    env = dict(VALID_ENV)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_a_valid_environment_is_parsed_exactly() -> None:
    settings = Settings.from_env(VALID_ENV)

    assert settings == Settings(
        hub_account_id=HUB,
        hub_region="eu-west-1",
        approved_account_ids=frozenset({"222222222222", "333333333333"}),
        member_role_name="PeeringAutopilotMember-configurer",
        managed_regions=("eu-west-1", "us-east-1"),
        event_bus_name="peering-autopilot-bus",
        dry_run=True,
        unapproved_action=UnapprovedAction.REJECT,
        record_table="peering-autopilot-record",
        member_role_names=frozenset(
            f"PeeringAutopilotMember-{kind}"
            for kind in ("reader", "accepter", "configurer", "verifier", "cleaner", "connector")
        ),
    )


@pytest.mark.parametrize("role", list(MemberRole))
def test_each_function_assumes_the_member_role_its_environment_names(role: MemberRole) -> None:
    settings = Settings.from_env(env_with(MEMBER_ROLE=f" {role.value} "))
    assert (
        settings.member_role_arn("222222222222")
        == f"arn:aws:iam::222222222222:role/PeeringAutopilotMember-{role.value}"
    )


def test_the_member_role_each_function_assumes_is_the_one_the_template_gives_it() -> None:
    from autopilot_local.template import Stack

    stack = Stack(Path(__file__).resolve().parents[2] / "template.yaml", {}, HUB, "eu-west-1")
    assumed = {spec.logical_id: spec.environment["MEMBER_ROLE"] for spec in stack.functions()}
    assert assumed == {
        "AcceptPeeringFunction": "accepter",
        "ConfigurePeeringFunction": "configurer",
        "VerifyPeeringFunction": "verifier",
        "CleanupPeeringFunction": "cleaner",
        "ConnectPeeringFunction": "connector",
        "SweepFunction": "reader",  # read-only: it publishes work, the others do it
    }


def test_optional_variables_default_to_the_safe_choices() -> None:
    # GIVEN only the required variables
    env = env_with(
        APPROVED_ACCOUNT_IDS=REMOVE, MANAGED_REGIONS=REMOVE, DRY_RUN=REMOVE, UNAPPROVED_REQUEST_ACTION=REMOVE
    )

    settings = Settings.from_env(env)

    assert settings.approved_account_ids == frozenset()
    assert settings.managed_regions == ("eu-west-1",)
    assert settings.dry_run is False
    assert settings.unapproved_action is UnapprovedAction.LEAVE_PENDING


@pytest.mark.parametrize("value", ["", " ", ",", " , ,, "], ids=["empty", "blank", "comma", "commas-and-blanks"])
def test_empty_managed_regions_means_the_hub_region(value: str) -> None:
    assert Settings.from_env(env_with(MANAGED_REGIONS=value)).managed_regions == ("eu-west-1",)


@pytest.mark.parametrize("value", ["", "  ", ",,"], ids=["empty", "blank", "commas"])
def test_empty_approved_account_ids_means_none(value: str) -> None:
    assert Settings.from_env(env_with(APPROVED_ACCOUNT_IDS=value)).approved_account_ids == frozenset()


def test_comma_lists_drop_whitespace_empty_items_and_duplicates() -> None:
    env = env_with(
        APPROVED_ACCOUNT_IDS=" 222222222222 , ,333333333333,,\t222222222222 ",
        MANAGED_REGIONS=" us-east-1 ,, eu-west-1 ,us-east-1, ",
    )

    settings = Settings.from_env(env)

    assert settings.approved_account_ids == frozenset({"222222222222", "333333333333"})
    assert settings.managed_regions == ("us-east-1", "eu-west-1")  # first-seen order kept


def test_single_values_are_stripped() -> None:
    env = env_with(HUB_ACCOUNT_ID=f" {HUB}\n", AWS_REGION=" eu-west-1 ", MEMBER_ROLE_NAME=" Member ", DRY_RUN=" TRUE ")

    settings = Settings.from_env(env)

    assert (settings.hub_account_id, settings.hub_region, settings.member_role_name, settings.dry_run) == (
        HUB,
        "eu-west-1",
        "Member-configurer",
        True,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("false", False), ("True", True), ("FALSE", False), (" false ", False)],
    ids=["true", "false", "True", "FALSE", "padded-false"],
)
def test_dry_run_reads_true_or_false_in_any_case(text: str, expected: bool) -> None:
    assert Settings.from_env(env_with(DRY_RUN=text)).dry_run is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("leave-pending", UnapprovedAction.LEAVE_PENDING), ("reject", UnapprovedAction.REJECT)],
    ids=["leave-pending", "reject"],
)
def test_unapproved_request_action_choices(text: str, expected: UnapprovedAction) -> None:
    assert Settings.from_env(env_with(UNAPPROVED_REQUEST_ACTION=text)).unapproved_action is expected


@pytest.mark.parametrize(
    "region",
    ["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "cn-northwest-1", "il-central-1"],
)
def test_real_region_names_are_accepted(region: str) -> None:
    settings = Settings.from_env(env_with(AWS_REGION=region, MANAGED_REGIONS=region))

    assert (settings.hub_region, settings.managed_regions) == (region, (region,))


@pytest.mark.parametrize(
    "bus",
    ["peering-autopilot-bus", "arn:aws:events:eu-west-1:111111111111:event-bus/peering-autopilot-bus", "a/b.c_d-e"],
    ids=["name", "arn", "name-with-path-characters"],
)
def test_event_bus_name_or_arn_is_accepted(bus: str) -> None:
    assert Settings.from_env(env_with(EVENT_BUS_NAME=bus)).event_bus_name == bus


BAD_ENVIRONMENTS = [
    # --- HUB_ACCOUNT_ID
    pytest.param(
        {"HUB_ACCOUNT_ID": REMOVE}, "environment variable HUB_ACCOUNT_ID is required and is empty", id="hub-missing"
    ),
    pytest.param({"HUB_ACCOUNT_ID": "   "}, "environment variable HUB_ACCOUNT_ID is required", id="hub-blank"),
    pytest.param(
        {"HUB_ACCOUNT_ID": "11111111111"},
        "HUB_ACCOUNT_ID must be a 12-digit account id, got '11111111111'",
        id="hub-11-digits",
    ),
    pytest.param(
        {"HUB_ACCOUNT_ID": "1111-1111-1111"},
        "HUB_ACCOUNT_ID must be a 12-digit account id, got '1111-1111-1111'",
        id="hub-with-dashes",
    ),
    # --- AWS_REGION
    pytest.param({"AWS_REGION": REMOVE}, "environment variable AWS_REGION is required", id="region-missing"),
    pytest.param({"AWS_REGION": "EU-WEST-1"}, "AWS_REGION is not a region name: 'EU-WEST-1'", id="region-upper"),
    pytest.param({"AWS_REGION": "eu-west"}, "AWS_REGION is not a region name: 'eu-west'", id="region-no-number"),
    pytest.param({"AWS_REGION": "euwest1"}, "AWS_REGION is not a region name: 'euwest1'", id="region-no-dashes"),
    # --- APPROVED_ACCOUNT_IDS
    pytest.param(
        {"APPROVED_ACCOUNT_IDS": "222222222222,12345"},
        "APPROVED_ACCOUNT_IDS holds values that are not 12-digit account ids: ['12345']",
        id="approved-short-id",
    ),
    pytest.param(
        {"APPROVED_ACCOUNT_IDS": "222222222222;333333333333"},
        "APPROVED_ACCOUNT_IDS holds values that are not 12-digit account ids: ['222222222222;333333333333']",
        id="approved-wrong-separator",
    ),
    pytest.param(
        {"APPROVED_ACCOUNT_IDS": "arn:aws:iam::222222222222:root, 33333333333x"},
        "APPROVED_ACCOUNT_IDS holds values that are not 12-digit account ids: "
        "['arn:aws:iam::222222222222:root', '33333333333x']",
        id="approved-every-bad-value-listed",
    ),
    # --- MEMBER_ROLE_NAME
    pytest.param({"MEMBER_ROLE_NAME": REMOVE}, "environment variable MEMBER_ROLE_NAME is required", id="role-missing"),
    pytest.param(
        {"MEMBER_ROLE_NAME": "path/PeeringAutopilotMember"},
        "MEMBER_ROLE_NAME is not a valid IAM role name of at most 53 characters: 'path/PeeringAutopilotMember'",
        id="role-with-path",
    ),
    pytest.param(
        {"MEMBER_ROLE_NAME": "Peering Autopilot"},
        "MEMBER_ROLE_NAME is not a valid IAM role name of at most 53 characters: 'Peering Autopilot'",
        id="role-with-space",
    ),
    # the longest role made from it, <name>-configurer, must fit IAM's 64 characters
    pytest.param({"MEMBER_ROLE_NAME": "r" * 54}, "MEMBER_ROLE_NAME is not a valid IAM role name", id="role-54-chars"),
    # --- MEMBER_ROLE
    pytest.param(
        {"MEMBER_ROLE": REMOVE},
        "MEMBER_ROLE must be one of reader, accepter, configurer, verifier, cleaner, connector, got ''",
        id="member-role-missing",
    ),
    pytest.param(
        {"MEMBER_ROLE": "writer"},
        "MEMBER_ROLE must be one of reader, accepter, configurer, verifier, cleaner, connector, got 'writer'",
        id="member-role-unknown",
    ),
    pytest.param({"MEMBER_ROLE": "Reader"}, "MEMBER_ROLE must be one of", id="member-role-case"),
    pytest.param(
        {"MEMBER_ROLE_NAME": "arn:aws:iam::222222222222:role/Member"},
        "MEMBER_ROLE_NAME is not a valid IAM role name",
        id="role-arn-not-name",
    ),
    # --- MANAGED_REGIONS
    pytest.param(
        {"MANAGED_REGIONS": "eu-west-1,Frankfurt"},
        "MANAGED_REGIONS holds values that are not region names: ['Frankfurt']",
        id="managed-region-invalid",
    ),
    # --- EVENT_BUS_NAME
    pytest.param({"EVENT_BUS_NAME": REMOVE}, "environment variable EVENT_BUS_NAME is required", id="bus-missing"),
    pytest.param(
        {"EVENT_BUS_NAME": "my bus"}, "EVENT_BUS_NAME is not an event bus name or ARN: 'my bus'", id="bus-with-space"
    ),
    pytest.param(
        {"EVENT_BUS_NAME": "arn:aws:events:eu-west-1:1111:event-bus/b"},
        "EVENT_BUS_NAME is not an event bus name or ARN",
        id="bus-arn-bad-account",
    ),
    # --- DRY_RUN
    pytest.param({"DRY_RUN": "yes"}, "DRY_RUN must be 'true' or 'false', got 'yes'", id="dry-run-yes"),
    pytest.param({"DRY_RUN": "1"}, "DRY_RUN must be 'true' or 'false', got '1'", id="dry-run-1"),
    pytest.param({"DRY_RUN": ""}, "DRY_RUN must be 'true' or 'false', got ''", id="dry-run-empty"),
    # --- UNAPPROVED_REQUEST_ACTION
    pytest.param(
        {"UNAPPROVED_REQUEST_ACTION": "delete"},
        "UNAPPROVED_REQUEST_ACTION must be one of leave-pending, reject, got 'delete'",
        id="action-delete",
    ),
    pytest.param(
        {"UNAPPROVED_REQUEST_ACTION": "REJECT"},
        "UNAPPROVED_REQUEST_ACTION must be one of leave-pending, reject, got 'REJECT'",
        id="action-upper-case",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_ENVIRONMENTS)
def test_a_bad_value_is_refused_naming_the_variable(overrides: dict[str, str | None], message: str) -> None:
    # GIVEN a valid environment with one variable wrong
    env = env_with(**overrides)

    # WHEN the settings are built THEN the error names the variable (and the bad value)
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)


def test_an_empty_environment_asks_for_the_first_required_variable() -> None:
    with pytest.raises(SettingsError, match=r"^environment variable HUB_ACCOUNT_ID is required and is empty$"):
        Settings.from_env({})


def test_an_approved_account_of_non_ascii_digits_is_refused() -> None:
    full_width_account = "\uff12" * 12  # FULLWIDTH DIGIT TWO, twelve times

    with pytest.raises(SettingsError, match="APPROVED_ACCOUNT_IDS"):
        Settings.from_env(env_with(APPROVED_ACCOUNT_IDS=full_width_account))


# ---------------------------------------------------------------------------------- helpers


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env(VALID_ENV)


@pytest.mark.parametrize(
    ("account", "managed"),
    [
        pytest.param(HUB, True, id="hub-itself"),
        pytest.param("222222222222", True, id="approved"),
        pytest.param("333333333333", True, id="approved-too"),
        pytest.param("444444444444", False, id="other"),
        pytest.param("", False, id="empty"),
        pytest.param("22222222222", False, id="prefix-of-approved"),
    ],
)
def test_is_managed_account(settings: Settings, account: str, managed: bool) -> None:
    assert settings.is_managed_account(account) is managed


def test_the_hub_is_managed_even_with_no_approved_accounts() -> None:
    settings = Settings.from_env(env_with(APPROVED_ACCOUNT_IDS=REMOVE))

    assert settings.is_managed_account(HUB) is True
    assert settings.is_managed_account("222222222222") is False


@pytest.mark.parametrize(
    ("region", "managed"),
    [("eu-west-1", True), ("us-east-1", True), ("us-west-2", False), ("", False)],
    ids=["hub-region", "listed", "not-listed", "empty"],
)
def test_is_managed_region(settings: Settings, region: str, managed: bool) -> None:
    assert settings.is_managed_region(region) is managed


def test_member_role_arn(settings: Settings) -> None:
    assert (
        settings.member_role_arn("222222222222") == "arn:aws:iam::222222222222:role/PeeringAutopilotMember-configurer"
    )


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_member_role_arn_in_another_partition(settings: Settings, partition: str) -> None:
    assert settings.member_role_arn("222222222222", partition) == (
        f"arn:{partition}:iam::222222222222:role/PeeringAutopilotMember-configurer"
    )


def test_settings_are_frozen(settings: Settings) -> None:
    with pytest.raises(AttributeError):
        settings.dry_run = False  # type: ignore[misc]


OWN = Settings.from_env(
    {
        "HUB_ACCOUNT_ID": "111111111111",
        "AWS_REGION": "us-east-1",
        "APPROVED_ACCOUNT_IDS": "222222222222",
        "MEMBER_ROLE_NAME": "PeeringAutopilotMember",
        "MEMBER_ROLE": "reader",
        "EVENT_BUS_NAME": "bus",
        "RECORD_TABLE": "peering-autopilot-record",
    }
)


@pytest.mark.parametrize(
    ("arn", "own"),
    [
        pytest.param(
            "arn:aws:iam::111111111111:role/peering-autopilot/stack-ConfigureRole-AB12", True, id="hub-function"
        ),
        pytest.param("arn:aws:iam::222222222222:role/PeeringAutopilotMember-reader", True, id="own-member-role"),
        # another function's member role: its calls are the autopilot's own too
        pytest.param("arn:aws:iam::222222222222:role/PeeringAutopilotMember-configurer", True, id="other-member-role"),
        pytest.param(
            "arn:aws-us-gov:iam::222222222222:role/PeeringAutopilotMember-accepter", True, id="member-govcloud"
        ),
        pytest.param("arn:aws:iam::222222222222:role/PeeringAutopilotMember", False, id="the-stem-alone"),
        pytest.param("arn:aws:iam::222222222222:role/PeeringAutopilotMember-admin", False, id="stem-other-suffix"),
        pytest.param("arn:aws:iam::333333333333:role/PeeringAutopilotMember-reader", False, id="member-name-unmanaged"),
        pytest.param("arn:aws:iam::222222222222:role/peering-autopilot/x", False, id="hub-path-in-member"),
        # the hub's account has no member roles: a role of its named like one is a person's
        pytest.param("arn:aws:iam::111111111111:role/PeeringAutopilotMember-accepter", False, id="member-name-in-hub"),
        pytest.param("arn:aws:iam::111111111111:role/other/peering-autopilot/x", False, id="nested-path"),
        pytest.param(
            "arn:aws:iam::222222222222:role/team/PeeringAutopilotMember-reader", False, id="member-name-other-path"
        ),
        pytest.param("arn:aws:iam::222222222222:role/NetworkAdmin", False, id="a-person"),
        pytest.param("arn:aws:sts::222222222222:assumed-role/PeeringAutopilotMember/x", False, id="session-arn"),
        pytest.param("arn:aws:iam::222222222222:user/PeeringAutopilotMember", False, id="iam-user"),
        pytest.param("arn:aws:iam::222222222222:role/PeeringAutopilotMember\n", False, id="trailing-newline"),
        pytest.param("", False, id="empty"),
    ],
)
def test_own_roles_are_the_hub_functions_and_the_member_role_in_managed_accounts(arn: str, own: bool) -> None:
    assert OWN.is_own_role(arn) is own


def test_the_hub_role_path_is_the_templates() -> None:
    from autopilot_local.template import load_yaml
    from peering_autopilot.settings import HUB_ROLE_PATH

    template = load_yaml(Path(__file__).resolve().parents[2] / "template.yaml")
    assert template["Globals"]["Function"]["RolePath"] == HUB_ROLE_PATH


# --- ALLOWED_PEER_CIDRS (issue 9, point 5)


def test_allowed_peer_cidrs_default_to_the_private_ranges_and_any_ipv6() -> None:
    policy = Settings.from_env(env_with(ALLOWED_PEER_CIDRS=None)).allowed_peer_cidrs

    assert [str(n) for n in policy.ipv4] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"]
    assert policy.ipv6 is None
    assert policy.allows(ipaddress.ip_network("10.20.0.0/16"))
    assert not policy.allows(ipaddress.ip_network("203.0.113.0/24"))
    assert not policy.allows(ipaddress.ip_network("10.0.0.0/7"))  # wider than, so not inside, 10.0.0.0/8
    assert policy.allows(ipaddress.ip_network("2001:db8::/56"))


def test_listing_an_ipv6_range_restricts_ipv6_to_it() -> None:
    policy = Settings.from_env(env_with(ALLOWED_PEER_CIDRS="10.0.0.0/8, 2600:1f18::/32")).allowed_peer_cidrs

    assert policy.allows(ipaddress.ip_network("2600:1f18:abcd::/48"))
    assert not policy.allows(ipaddress.ip_network("2001:db8::/56"))
    assert not policy.allows(ipaddress.ip_network("172.16.0.0/16"))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", "ALLOWED_PEER_CIDRS must list at least one CIDR block"),
        (" , ", "ALLOWED_PEER_CIDRS must list at least one CIDR block"),
        (
            "10.0.0.1/8,192.168.0.0/16",
            "ALLOWED_PEER_CIDRS holds values that are not CIDR blocks (network/prefix): ['10.0.0.1/8']",
        ),
        ("10.0.0.0/33", "ALLOWED_PEER_CIDRS holds values that are not CIDR blocks (network/prefix): ['10.0.0.0/33']"),
        ("private", "ALLOWED_PEER_CIDRS holds values that are not CIDR blocks (network/prefix): ['private']"),
    ],
)
def test_a_bad_allowed_peer_cidrs_value_is_refused_naming_it(value: str, error: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env_with(ALLOWED_PEER_CIDRS=value))
    assert str(raised.value) == error
