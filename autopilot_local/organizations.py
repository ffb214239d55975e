"""An AWS Organization in the emulator, for the hub's ManagedOrganizationalUnitIds: created in its
management account with moto's own Organizations API (create_organization, OUs nested,
move_account, close_account, tag_resource), whose accounts are the test world's accounts.

Where the harness differs from moto: moto's CreateAccount makes a random account id, and AWS
does too; the world's accounts have fixed ids (their VPCs, member stacks and sessions are keyed by
them). So each account is created through the API and then given the world's id in moto's
backend (`FakeAccount.id`, and moto's index of which management account an account belongs to),
as moto itself does for the management account. Everything the autopilot reads goes through the
API as in AWS.
"""

from __future__ import annotations

from typing import Any

from moto.organizations.models import organizations_backends

from autopilot_local.harness import LocalCloud

MANAGEMENT_ACCOUNT = "999999999999"  # the Organization's management account (not the hub's)
READER_ROLE_NAME = "PeeringAutopilotOrganizationsReader"  # org-reader/template.yaml's default
ORGANIZATIONS_REGION = "us-east-1"


class LocalOrganization:
    """The Organization, driven as its administrators would with the management account's
    credentials."""

    def __init__(self, cloud: LocalCloud, management_account: str = MANAGEMENT_ACCOUNT) -> None:
        self.cloud = cloud
        self.management_account = management_account
        self.client: Any = cloud.session(management_account).client("organizations", region_name=ORGANIZATIONS_REGION)
        self.id: str = self.client.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        self.root_id: str = self.client.list_roots()["Roots"][0]["Id"]

    @property
    def reader_role_arn(self) -> str:
        """org-reader/template.yaml's role, as the hub's OrganizationsReadRoleArn names it."""
        return f"arn:aws:iam::{self.management_account}:role/{READER_ROLE_NAME}"

    def ou(self, name: str, parent: str = "") -> str:
        """A new OU under `parent` (the root by default); its id."""
        made = self.client.create_organizational_unit(ParentId=parent or self.root_id, Name=name)
        return str(made["OrganizationalUnit"]["Id"])

    def add_account(self, account_id: str, parent: str = "", name: str = "") -> None:
        """The world's account `account_id` joins the Organization (under `parent`, else the root)."""
        status = self.client.create_account(
            AccountName=name or f"account-{account_id}", Email=f"{account_id}@example.com"
        )
        made = status["CreateAccountStatus"]["AccountId"]
        _give_id(self.management_account, made, account_id)
        if parent:
            self.move(account_id, parent)

    def parent_of(self, account_id: str) -> str:
        return str(self.client.list_parents(ChildId=account_id)["Parents"][0]["Id"])

    def move(self, account_id: str, destination: str) -> None:
        """MoveAccount, as an administrator moves an account between OUs."""
        self.client.move_account(
            AccountId=account_id, SourceParentId=self.parent_of(account_id), DestinationParentId=destination
        )

    def tag_account(self, account_id: str, **tags: str) -> None:
        """TagResource on the account, as the management account tags it (a member cannot)."""
        self.client.tag_resource(ResourceId=account_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def suspend(self, account_id: str) -> None:
        """CloseAccount: the account is SUSPENDED (and stays in its OU for 90 days, as in AWS)."""
        self.client.close_account(AccountId=account_id)


def _give_id(management_account: str, made: str, wanted: str) -> None:
    """moto's random account id replaced by the world's (see the module's docstring)."""
    backend = organizations_backends[management_account]["aws"]
    account = backend.get_account_by_id(made)
    account.id = wanted
    index = organizations_backends.master_accounts
    index[wanted] = index.pop(made)
