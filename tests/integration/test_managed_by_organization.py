"""Managed by the Organization's structure, through the harness with moto's Organizations: the
hub names OUs (or the root); the sweep walks them at every scheduled run and writes the difference
to the record; the other functions read it. No redeploy when an account moves."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.core.exceptions import JsonRESTError
from moto.organizations.models import OrganizationsBackend

from autopilot_local.harness import Delivery, LocalAutopilot, LocalCloud
from autopilot_local.organizations import LocalOrganization
from peering_autopilot import cli
from tests.support.world import HUB, MEMBER, REGION, hub_parameters, make_vpc, request_peering, tags_of

APP = "555555555555"  # an application account, moved between OUs
OTHER = "666666666666"  # stays in a managed OU
RECORD = "peering-autopilot-record"


def hub(cloud: LocalCloud, org: LocalOrganization, units: str, *, role: bool = True) -> LocalAutopilot:
    """The hub deployed once: no explicit accounts, the OUs named; member stacks (StackSets) in
    every account of the Organization, forwarding their events."""
    params = hub_parameters(
        ApprovedAccountIds="",
        ManagedRegions=REGION,
        OrganizationId=org.id,
        ManagedOrganizationalUnitIds=units,
        **({"OrganizationsReadRoleArn": org.reader_role_arn} if role else {}),
    )
    return LocalAutopilot(cloud, params, region=REGION, member_accounts=(APP, OTHER, MEMBER), log_stream=io.StringIO())


def sweep_of(deliveries: list[Delivery]) -> dict[str, Any]:
    [sweep] = [d.result for d in deliveries if d.function == "SweepFunction"]
    return dict(sweep)


def outcomes(deliveries: list[Delivery], function: str) -> list[str]:
    return [str(d.result["status"]) for d in deliveries if d.function == function]


SWEPT: list[set[str]] = []  # the accounts of each sweep's places, in order (the `swept` spy)


def swept_accounts(autopilot: LocalAutopilot) -> set[str]:
    """The accounts the sweep's last scheduled run read, in every managed region."""
    return SWEPT[-1]


@pytest.fixture(autouse=True)
def swept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spy on the places the sweep reads (the same module the harness's functions import)."""
    from peering_autopilot import sweep

    places_of = sweep._sweep_places
    SWEPT.clear()

    def spy(ctx: Any, report: Any, places: list[tuple[str, str]], *args: Any) -> Any:
        SWEPT.append({account for account, _ in places})
        return places_of(ctx, report, places, *args)

    monkeypatch.setattr(sweep, "_sweep_places", spy)


@pytest.fixture
def org(cloud: LocalCloud) -> dict[str, Any]:
    """root ─ workloads ─ workloads/prod; root ─ sandbox. OTHER in workloads/prod, APP in sandbox."""
    organization = LocalOrganization(cloud)
    workloads = organization.ou("workloads")
    prod = organization.ou("prod", workloads)
    sandbox = organization.ou("sandbox")
    organization.add_account(OTHER, prod)
    organization.add_account(APP, sandbox)
    return {"org": organization, "workloads": workloads, "prod": prod, "sandbox": sandbox}


def test_an_account_moved_into_a_managed_ou_is_managed_after_one_sweep_and_dropped_when_moved_out(
    cloud: LocalCloud, org: dict[str, Any]
) -> None:
    # GIVEN a hub managing the OU `workloads` (nested `prod` included), APP in `sandbox`
    organization: LocalOrganization = org["org"]
    autopilot = hub(cloud, organization, org["workloads"])
    hub_vpc = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    app_vpc = make_vpc(cloud, APP, REGION, "10.1.0.0/16")
    first = sweep_of(autopilot.tick())
    assert first["organization"] == {"accounts": 1, "complete": True, "written": 1, "dropped": 0, "problems": []}
    assert first["places"] == 2  # the hub and OTHER
    assert APP not in swept_accounts(autopilot)

    # WHEN an administrator moves APP into workloads/prod, and the schedule fires once (no redeploy)
    organization.move(APP, org["prod"])
    second = sweep_of(autopilot.tick())

    # THEN the sweep read APP's place, and a request from APP's VPC into the hub's is accepted
    assert second["organization"] == {"accounts": 2, "complete": True, "written": 1, "dropped": 0, "problems": []}
    assert second["places"] == 3 and APP in swept_accounts(autopilot)
    peering_id = request_peering(cloud, app_vpc, hub_vpc)
    deliveries = autopilot.run_until_idle()
    assert outcomes(deliveries, "AcceptPeeringFunction") == ["accepted"]
    assert tags_of(cloud, hub_vpc, peering_id)["peering-autopilot:status"] != "declined:requester-not-approved"

    # WHEN it is moved back out, and the schedule fires once
    organization.move(APP, org["sandbox"])
    third = sweep_of(autopilot.tick())

    # THEN it is no longer swept, and its next request is declined as not approved
    assert third["organization"] == {"accounts": 1, "complete": True, "written": 0, "dropped": 1, "problems": []}
    assert third["places"] == 2 and APP not in swept_accounts(autopilot)
    other_vpc = make_vpc(cloud, APP, REGION, "10.2.0.0/16")
    declined_id = request_peering(cloud, other_vpc, hub_vpc)
    deliveries = autopilot.run_until_idle()
    assert outcomes(deliveries, "AcceptPeeringFunction") == ["declined"]
    assert tags_of(cloud, hub_vpc, declined_id) == {"peering-autopilot:status": "declined:requester-not-approved"}


def test_the_whole_organization_by_its_root_read_by_a_delegated_administrator_and_a_suspended_account_is_not_managed(
    cloud: LocalCloud,
) -> None:
    # GIVEN an Organization whose management account the hub's is (it answers Organizations' reads
    # as a delegated administrator does; moto keeps the Organization in the management account's
    # backend only), with accounts in nested OUs, and the hub managing the root
    organization = LocalOrganization(cloud, management_account=HUB)
    deep = organization.ou("c", organization.ou("b", organization.ou("a")))
    organization.add_account(APP, deep)
    organization.add_account(OTHER)
    # (the root named beside one of its OUs: the OU is walked once, its path read with ListParents)
    autopilot = hub(cloud, organization, f"{organization.root_id},{deep}", role=False)

    # WHEN the schedule fires
    report = sweep_of(autopilot.tick())

    # THEN every ACTIVE account of the Organization is swept, read with the sweep's own credentials
    assert report["organization"]["accounts"] == 3  # the hub (the management account), APP, OTHER
    assert swept_accounts(autopilot) == {HUB, APP, OTHER}
    reads = {c.action for c in autopilot.grants.calls if c.function == "SweepFunction" and c.where == "hub"}
    assert reads >= {
        "organizations:ListParents",
        "organizations:ListAccountsForParent",
        "organizations:ListOrganizationalUnitsForParent",
    }

    # WHEN APP is closed (SUSPENDED), and the schedule fires
    organization.suspend(APP)
    report = sweep_of(autopilot.tick())

    # THEN it is no longer managed
    assert report["organization"] == {"accounts": 2, "complete": True, "written": 0, "dropped": 1, "problems": []}
    assert swept_accounts(autopilot) == {HUB, OTHER}


def test_an_incomplete_walk_drops_nothing(
    cloud: LocalCloud, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN OTHER managed through workloads/prod, and the cache written
    organization: LocalOrganization = org["org"]
    autopilot = hub(cloud, organization, org["workloads"])
    hub_vpc = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    other_vpc = make_vpc(cloud, OTHER, REGION, "10.1.0.0/16")
    autopilot.tick()

    # WHEN the next walk cannot read workloads/prod's accounts
    original = OrganizationsBackend.list_accounts_for_parent
    prod = org["prod"]

    def refused(self: Any, **kwargs: Any) -> Any:
        if kwargs.get("parent_id") == prod:
            raise JsonRESTError("AccessDeniedException", "You don't have permissions to access this resource.")
        return original(self, **kwargs)

    monkeypatch.setattr(OrganizationsBackend, "list_accounts_for_parent", refused)
    report = sweep_of(autopilot.tick())

    # THEN the sweep says so, and OTHER stays managed: swept, and its request accepted
    assert report["organization"] == {
        "accounts": 0,
        "complete": False,
        "written": 0,
        "dropped": 0,
        "problems": [
            f"{prod}: not read to the end (AccessDeniedException: You don't have permissions to access this resource.)"
        ],
    }
    assert OTHER in swept_accounts(autopilot)
    request_peering(cloud, other_vpc, hub_vpc)
    assert outcomes(autopilot.run_until_idle(), "AcceptPeeringFunction") == ["accepted"]


def test_a_cache_past_its_bound_manages_only_the_hub_and_the_explicit_accounts(
    cloud: LocalCloud, org: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN OTHER managed through its OU, MEMBER named explicitly, and the cache written
    organization: LocalOrganization = org["org"]
    params = hub_parameters(
        ApprovedAccountIds=MEMBER,
        ManagedRegions=REGION,
        OrganizationId=organization.id,
        ManagedOrganizationalUnitIds=org["workloads"],
        OrganizationsReadRoleArn=organization.reader_role_arn,
    )
    log = io.StringIO()
    autopilot = LocalAutopilot(cloud, params, region=REGION, member_accounts=(APP, OTHER, MEMBER), log_stream=log)
    hub_vpc = make_vpc(cloud, HUB, REGION, "10.0.0.0/16")
    other_vpc = make_vpc(cloud, OTHER, REGION, "10.1.0.0/16")
    member_vpc = make_vpc(cloud, MEMBER, REGION, "10.2.0.0/16")
    autopilot.tick()

    # WHEN no walk has completed for 16 minutes (past MembershipMaxAgeMinutes' 15)
    dynamodb = cloud.session(HUB).client("dynamodb", region_name=REGION)
    walk = dynamodb.get_item(TableName=RECORD, Key={"pk": {"S": "membership"}, "sk": {"S": "walk"}})["Item"]
    assert walk["complete"] == {"BOOL": True}
    assert sorted(u["S"] for u in walk["seen_units"]["L"]) == sorted(
        [organization.root_id, org["workloads"], org["prod"]]
    )
    old = str(int(walk["complete_at"]["N"]) - 16 * 60)
    dynamodb.put_item(TableName=RECORD, Item={**walk, "complete_at": {"N": old}, "walked_at": {"N": old}})

    # THEN OTHER's request is declined as not approved, MEMBER's accepted, and the log says why
    caplog.clear()
    stale_id = request_peering(cloud, other_vpc, hub_vpc)
    assert outcomes(autopilot.run_until_idle(), "AcceptPeeringFunction") == ["declined"]
    assert tags_of(cloud, hub_vpc, stale_id) == {"peering-autopilot:status": "declined:requester-not-approved"}
    request_peering(cloud, member_vpc, hub_vpc)
    assert outcomes(autopilot.run_until_idle(), "AcceptPeeringFunction") == ["accepted"]
    warnings = [r for r in caplog.records if r.getMessage() == "organization membership not known"]
    assert warnings and all(r.levelname == "WARNING" for r in warnings)
    assert all(
        str(getattr(r, "reason", "")).endswith(
            "s old, past the bound of 900 s: only the hub and ApprovedAccountIds are managed"
        )
        for r in warnings
    )
    assert '"MembershipUnknown":[1.0]' in log.getvalue()  # the metric, in CloudWatch's embedded format


def test_the_status_command_sees_the_accounts_of_the_named_units(
    cloud: LocalCloud, org: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN OTHER in workloads/prod, APP in sandbox, each with a VPC
    organization: LocalOrganization = org["org"]
    make_vpc(cloud, OTHER, REGION, "10.1.0.0/16")
    make_vpc(cloud, APP, REGION, "10.2.0.0/16")

    # WHEN an operator in the hub's account asks for the status of the hub's units, walking them
    # through the management account's reader role as the sweep does
    capsys.readouterr()
    code = cli.main(
        [
            "status",
            "--regions",
            REGION,
            "--organizational-units",
            org["workloads"],
            "--organizations-role-arn",
            organization.reader_role_arn,
            "--json",
        ]
    )

    # THEN the places are the operator's account and the walked ones, not the sandbox's
    assert code == 0
    places = json.loads(capsys.readouterr().out)["places"]
    assert places == [{"accountId": HUB, "region": REGION}, {"accountId": OTHER, "region": REGION}]


def test_the_status_command_names_bad_units(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--regions", REGION, "--organizational-units", "ou-bad"]) == 2
    assert capsys.readouterr().err == (
        "error: --organizational-units holds values that are not OU ids (ou-…) or a root id (r-…): ['ou-bad']\n"
    )


def test_only_the_sweep_reads_the_organization_and_writes_who_is_managed(
    cloud: LocalCloud, org: dict[str, Any]
) -> None:
    # GIVEN the hub deployed with the management account's reader role (org-reader/template.yaml)
    organization: LocalOrganization = org["org"]
    autopilot = hub(cloud, organization, org["workloads"])
    roles = {f.spec.logical_id: f.role.role_arn for f in autopilot.functions}

    # THEN the reader role trusts the sweep's role alone, as IAM would check it
    autopilot.grants.check_assume_role("SweepFunction", roles["SweepFunction"], organization.reader_role_arn)
    with pytest.raises(ClientError, match="the role's trust policy does not name the caller"):
        autopilot.grants.check_assume_role(
            "AcceptPeeringFunction", roles["AcceptPeeringFunction"], organization.reader_role_arn
        )
    # and no other function may write the membership partition (the template's MembershipIsTheSweeps),
    # though each is allowed that write elsewhere in the record: the explicit deny wins. (Each check
    # is recorded as a call, so each names a write its function makes anyway.)
    for function, write in (
        ("AcceptPeeringFunction", "dynamodb:PutItem"),
        ("ConfigurePeeringFunction", "dynamodb:BatchWriteItem"),
        ("ConnectPeeringFunction", "dynamodb:BatchWriteItem"),
    ):
        autopilot.grants.check_hub_call(function, roles[function], write, ["peering#pcx-0123456789abcdef0"])
        with pytest.raises(ClientError, match="because an explicit deny in an identity-based policy"):
            autopilot.grants.check_hub_call(function, roles[function], write, ["membership"])
    autopilot.grants.check_hub_call("SweepFunction", roles["SweepFunction"], "dynamodb:BatchWriteItem", ["membership"])
