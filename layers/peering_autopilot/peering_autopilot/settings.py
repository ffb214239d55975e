"""One settings object per function, read from the environment and validated at cold start."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import field
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from peering_autopilot.errors import SettingsError
from peering_autopilot.structs import NamedTuple, struct

if TYPE_CHECKING:
    from peering_autopilot.organization import Membership
    from peering_autopilot.policy import Policy

# Used with fullmatch and ASCII only: no trailing newline, no non-ASCII digits slip through.
ACCOUNT_ID = re.compile(r"[0-9]{12}", re.ASCII)
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}", re.ASCII)
ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
ROLE_STEM = re.compile(r"[\w+=,.@-]{1,53}", re.ASCII)  # room for the longest suffix, -configurer
TOPIC_ARN = re.compile(r"arn:aws[\w-]*:sns:[a-z0-9-]+:[0-9]{12}:[\w-]{1,256}", re.ASCII)
ROLE_ARN = re.compile(
    r"arn:aws[\w-]*:iam::(?P<account>[0-9]{12}):role(?P<path>/(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{1,64})", re.ASCII
)
HUB_ROLE_PATH = "/peering-autopilot/"  # template.yaml Globals RolePath: the hub functions' roles
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}", re.ASCII)
QUEUE_URL = re.compile(r"https?://[\w.-]+(:[0-9]+)?/[0-9]{12}/[\w-]{1,80}", re.ASCII)
SSM_PARAMETER_NAME = re.compile(r"/?[\w.-]+(/[\w.-]+)*", re.ASCII)
BUS_NAME = re.compile(r"[\w./-]{1,256}|arn:aws[\w-]*:events:[\w-]+:[0-9]{12}:event-bus/[\w./-]{1,256}", re.ASCII)


# What a peer may bring into a managed VPC's route tables unless the template says otherwise: the
# private ranges (RFC 1918) and shared address space (RFC 6598). IPv6 is unrestricted unless listed.
DEFAULT_PEER_CIDRS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10"


@struct(frozen=True)
class PeerCidrPolicy:
    """Parameter AllowedPeerCidrs: the address space a peer VPC's blocks must fall in to be
    accepted, routed or allowed. `ipv6` None means any IPv6 block (none were listed)."""

    ipv4: tuple[ipaddress.IPv4Network, ...]
    ipv6: tuple[ipaddress.IPv6Network, ...] | None = None
    label: str = field(default="AllowedPeerCidrs", compare=False)  # where the ranges come from, in words

    def of(self, account_id: str) -> PeerCidrPolicy:
        """The ranges `account_id` may bring: these, whoever it is (`Ranges`)."""
        return self

    def allows(self, block: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
        if isinstance(block, ipaddress.IPv4Network):
            return any(block.subnet_of(allowed) for allowed in self.ipv4)
        return self.ipv6 is None or any(block.subnet_of(allowed) for allowed in self.ipv6)

    def outside(
        self, blocks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
    ) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [b for b in blocks if not self.allows(b)]

    def describe(self) -> str:
        v6 = "any IPv6" if self.ipv6 is None else ", ".join(map(str, self.ipv6))
        return f"{', '.join(map(str, self.ipv4))}; {v6}"

    @classmethod
    def parse(cls, text: str, name: str = "ALLOWED_PEER_CIDRS") -> PeerCidrPolicy:
        """Every item must be a network address with its prefix (10.0.0.0/8, not 10.0.0.1/8): a
        typo must not widen or narrow what is allowed by a guess."""
        items = _csv(text)
        if not items:
            raise SettingsError(f"{name} must list at least one CIDR block")
        ranges, bad = cls.of_items(items)
        if bad:
            raise SettingsError(f"{name} holds values that are not CIDR blocks (network/prefix): {bad}")
        return ranges

    @classmethod
    def of_items(cls, items: Iterable[str], label: str = "AllowedPeerCidrs") -> tuple[PeerCidrPolicy, list[str]]:
        """The ranges the items name, and the items that are not network/prefix blocks (host bits
        set, a typo): the one reading of a list of ranges (the parameter's, the policy document's)."""
        v4: list[ipaddress.IPv4Network] = []
        v6: list[ipaddress.IPv6Network] = []
        bad: list[str] = []
        for item in items:
            try:
                network = ipaddress.ip_network(item, strict=True)
            except ValueError:
                bad.append(item)
                continue
            if isinstance(network, ipaddress.IPv4Network):
                v4.append(network)
            else:
                v6.append(network)
        return cls(tuple(v4), tuple(v6) if v6 else None, label), bad


class Ranges(Protocol):
    """The address ranges each account's VPCs may bring (`Settings.peer_ranges`): AllowedPeerCidrs
    for everyone, or the policy's by account and OU."""

    def of(self, account_id: str) -> PeerCidrPolicy: ...


class BudgetLimits(NamedTuple):
    """Parameters QuotaHeadroomPercent, MaxPeerBlocks and MaxRulesPerPeeringPerGroup: the room kept
    free in every table and group, and the caps on one peering (`budgets`). Defaults: docs/how-it-works.md,
    "Routes and security groups"."""

    headroom_percent: int = 10
    max_peer_blocks: int = 5  # per address family
    max_rules_per_group: int = 12  # per address family


DEFAULT_BUDGETS = BudgetLimits()


class MemberRole(Enum):
    """Which of the member roles (member/template.yaml, one per hub function) a function assumes in
    the other managed accounts: `<MemberRoleName>-<value>`. Each grants only what its function does."""

    READER = "reader"  # the sweep (and a person's doctor or status)
    ACCEPTER = "accepter"
    CONFIGURER = "configurer"
    VERIFIER = "verifier"
    CLEANER = "cleaner"
    CONNECTOR = "connector"  # peering groups: requests and withdraws the autopilot's own peerings

    def name_with(self, stem: str) -> str:
        return f"{stem}-{self.value}"


class UnapprovedAction(Enum):
    """What to do with a request the autopilot will not accept."""

    LEAVE_PENDING = "leave-pending"  # a human may still accept it in the console
    REJECT = "reject"


@struct(frozen=True)
class Settings:
    hub_account_id: str
    hub_region: str
    approved_account_ids: frozenset[str]
    member_role_name: str  # the role this function assumes in other accounts
    managed_regions: tuple[str, ...]
    event_bus_name: str
    dry_run: bool = False
    unapproved_action: UnapprovedAction = UnapprovedAction.LEAVE_PENDING
    reachability_analyzer: bool = False
    live_ping: bool = False
    notification_topic_arn: str = ""
    verify_budget_seconds: float = 120.0
    allowed_peer_cidrs: PeerCidrPolicy = field(default_factory=lambda: PeerCidrPolicy.parse(DEFAULT_PEER_CIDRS))
    # Every member role of the deployment (the other functions' too): their calls are the autopilot's own.
    member_role_names: frozenset[str] = frozenset()
    peering_quota: int = 50  # active peerings per VPC (AWS's default quota; adjustable up to 125)
    mesh_threshold: int = 10  # a peering group of more VPCs gets the Transit Gateway advice
    # The autopilot's record (template.yaml RecordTable) and its backlog queue; "" where there is
    # none (the command line without --record-table): then nothing counts as the autopilot's own.
    record_table: str = ""
    record_backlog_url: str = ""
    history_retention_days: int = 400
    budgets: BudgetLimits = DEFAULT_BUDGETS
    # Parameter ManagedOrganizationalUnitIds: OUs (nested included) or the root whose ACTIVE accounts
    # are managed besides ApprovedAccountIds; read from AWS Organizations (`organization.py`).
    managed_units: frozenset[str] = frozenset()
    # Parameter OrganizationsReadRoleArn: the read-only role in the management account the sweep
    # assumes to walk the Organization; "" when the hub account is a delegated administrator.
    organizations_role_arn: str = ""
    # Parameter MembershipMaxAgeMinutes: past this age the cached Organization membership is not
    # known (only the hub and ApprovedAccountIds are managed); `membership.py`.
    membership_max_age_seconds: float = 900.0
    # Parameter AccountTagReadsPerSweep: at most this many accounts' tags read by one walk (when the
    # policy matches by account tags): never read first, then the longest ago (`membership.py`).
    account_tag_reads_per_sweep: int = 200
    # Parameter AccountTagsMaxAgeHours: an account's tags read longer ago than this are not known
    # (no rule naming account tags matches it).
    account_tags_max_age_seconds: float = 24 * 3600.0
    # Parameter PolicyParameterName: the SSM parameter holding the network team's policy; "" for none.
    policy_parameter: str = ""
    # Known at run time, not from the environment (`authority.py` loads them): the managed accounts
    # with their OU paths, and the policy. None: only the hub and ApprovedAccountIds are managed;
    # the parameters' one-rule policy.
    membership: Membership | None = None
    policy: Policy | None = None

    def is_managed_account(self, account_id: str) -> bool:
        """The hub, the approved accounts and the accounts under a managed OU: requests from them
        may be accepted, and the hub may act in them (through the member role when it is not the
        hub's own account)."""
        if account_id == self.hub_account_id or account_id in self.approved_account_ids:
            return True
        return self.membership is not None and self.membership.is_managed(account_id)

    def managed_accounts(self) -> frozenset[str]:
        """Every account the hub manages now (the sweep reads each in every managed region)."""
        walked = self.membership.accounts() if self.membership is not None else frozenset()
        return frozenset({self.hub_account_id, *self.approved_account_ids, *walked})

    def ou_path(self, account_id: str) -> tuple[str, ...]:
        """The account's OU path (root first) as the Organization's walk read it; () when unknown."""
        return self.membership.ou_path(account_id) if self.membership is not None else ()

    def account_tags(self, account_id: str) -> Mapping[str, str] | None:
        """The account's tags in the Organization as the sweep's walk read them; None when not read
        (no rule naming account tags matches it)."""
        return self.membership.account_tags(account_id) if self.membership is not None else None

    def account_tags_unknown(self, account_id: str) -> str:
        """Why the account's tags are not known when they were read too long ago; "" otherwise."""
        return self.membership.account_tags_unknown(account_id) if self.membership is not None else ""

    def current_policy(self) -> Policy:
        """The network team's policy; without a document, the parameters' one-rule policy."""
        if self.policy is not None:
            return self.policy
        from peering_autopilot.policy import from_parameters

        return from_parameters(self.allowed_peer_cidrs)

    def ranges_of(self, account_id: str) -> PeerCidrPolicy:
        """The address ranges the account's VPCs may bring (the policy's, by account and OU): a block
        outside them is never accepted, routed or allowed anywhere. One answer for every step."""
        if self.policy is None:
            return self.allowed_peer_cidrs
        return self.policy.ranges_of(account_id, self.ou_path(account_id))

    def group_refusal(self, group: str, account_id: str) -> str:
        """Why the account's VPCs may not join the group ("" when they may): the policy's `groups`;
        without a document, any managed account may join any group."""
        if self.policy is None:
            return ""
        return self.policy.group_member(group, account_id, self.ou_path(account_id))

    @property
    def peer_ranges(self) -> Ranges:
        """`ranges_of` as the judges take it (`Ranges.of`)."""
        return self.allowed_peer_cidrs if self.policy is None else _SettingsRanges(self)

    def is_managed_region(self, region: str) -> bool:
        return region in self.managed_regions

    def is_own_role(self, role_arn: str) -> bool:
        """A role of the autopilot's own: a hub function's (the template's RolePath in the hub's
        account, never that path in another) or a member role in a managed account other than the
        hub's (which has none: there a role of that name is a person's). Its calls come back
        through CloudTrail and must not trigger the autopilot again; the rules' patterns drop the
        same (template.yaml)."""
        match = ROLE_ARN.fullmatch(role_arn)
        if not match:
            return False
        account, path, name = match.group("account"), match.group("path"), match.group("name")
        if account == self.hub_account_id:
            return path == HUB_ROLE_PATH
        own_names = self.member_role_names | {self.member_role_name}
        return self.is_managed_account(account) and path == "/" and name in own_names

    def is_connector_role(self, role_arn: str) -> bool:
        """The role that requests the autopilot's group peerings: in the hub's account a hub
        function's role (`is_own_role`; of them only the connect function's may create a peering),
        in a managed account `<MemberRoleName>-connector` (its policy only creates peerings tagged
        `created-for-group`)."""
        match = ROLE_ARN.fullmatch(role_arn)
        if not match or not self.is_own_role(role_arn):
            return False
        if match.group("account") == self.hub_account_id and match.group("path") == HUB_ROLE_PATH:
            return True
        return match.group("name").endswith(f"-{MemberRole.CONNECTOR.value}")

    def member_role_arn(self, account_id: str, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{account_id}:role/{self.member_role_name}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from the function's environment; every fault names the variable."""
        hub_account = _required(env, "HUB_ACCOUNT_ID", ACCOUNT_ID, "must be a 12-digit account id, got {!r}")
        hub_region = _required(env, "AWS_REGION", REGION, "is not a region name: {!r}")
        approved = _all_matching(env, "APPROVED_ACCOUNT_IDS", ACCOUNT_ID, "12-digit account ids")
        stem = _required(
            env, "MEMBER_ROLE_NAME", ROLE_STEM, "is not a valid IAM role name of at most 53 characters: {!r}"
        )
        role_text = env.get("MEMBER_ROLE", "").strip()
        try:
            role = MemberRole(role_text)
        except ValueError:
            choices = ", ".join(r.value for r in MemberRole)
            raise SettingsError(f"MEMBER_ROLE must be one of {choices}, got {role_text!r}") from None
        regions = _all_matching(env, "MANAGED_REGIONS", REGION, "region names") or [hub_region]
        bus = _required(env, "EVENT_BUS_NAME", BUS_NAME, "is not an event bus name or ARN: {!r}")

        action_text = env.get("UNAPPROVED_REQUEST_ACTION", UnapprovedAction.LEAVE_PENDING.value).strip()
        try:
            action = UnapprovedAction(action_text)
        except ValueError:
            choices = ", ".join(a.value for a in UnapprovedAction)
            raise SettingsError(f"UNAPPROVED_REQUEST_ACTION must be one of {choices}, got {action_text!r}") from None

        topic = env.get("NOTIFICATION_TOPIC_ARN", "").strip()
        if topic and not TOPIC_ARN.fullmatch(topic):
            raise SettingsError(f"NOTIFICATION_TOPIC_ARN is not an SNS topic ARN: {topic!r}")
        budget_text = env.get("VERIFY_BUDGET_SECONDS", "120").strip()
        try:
            budget = float(budget_text)
        except ValueError:
            raise SettingsError(f"VERIFY_BUDGET_SECONDS must be a number of seconds, got {budget_text!r}") from None
        if not 1 <= budget <= 900:
            raise SettingsError(f"VERIFY_BUDGET_SECONDS must be between 1 and 900, got {budget_text!r}")

        peer_cidrs = PeerCidrPolicy.parse(env.get("ALLOWED_PEER_CIDRS", DEFAULT_PEER_CIDRS))
        quota = _int(env, "PEERING_QUOTA_PER_VPC", 50, 1, 125)
        threshold = _int(env, "MESH_ADVISOR_THRESHOLD", 10, 2, 1000)
        table = _required(env, "RECORD_TABLE", TABLE_NAME, "is not a DynamoDB table name: {!r}")
        backlog = env.get("RECORD_BACKLOG_URL", "").strip()
        if backlog and not QUEUE_URL.fullmatch(backlog):
            raise SettingsError(f"RECORD_BACKLOG_URL is not an SQS queue URL: {backlog!r}")
        retention = _int(env, "HISTORY_RETENTION_DAYS", 400, 1, 3650)
        budgets = budget_limits(env)
        from peering_autopilot.organization import parse_units

        units = parse_units(env.get("MANAGED_OU_IDS", ""))
        org_role = env.get("ORGANIZATIONS_ROLE_ARN", "").strip()
        if org_role and not ROLE_ARN.fullmatch(org_role):
            raise SettingsError(f"ORGANIZATIONS_ROLE_ARN is not an IAM role ARN: {org_role!r}")
        max_age = _int(env, "MEMBERSHIP_MAX_AGE_MINUTES", 15, 1, 1440, "MembershipMaxAgeMinutes")
        tag_reads = _int(env, "ACCOUNT_TAG_READS_PER_SWEEP", 200, 1, 10000, "AccountTagReadsPerSweep")
        tags_max_age = _int(env, "ACCOUNT_TAGS_MAX_AGE_HOURS", 24, 1, 720, "AccountTagsMaxAgeHours")
        policy_parameter = env.get("POLICY_PARAMETER_NAME", "").strip()
        if policy_parameter and not SSM_PARAMETER_NAME.fullmatch(policy_parameter):
            raise SettingsError(f"POLICY_PARAMETER_NAME is not an SSM parameter name: {policy_parameter!r}")

        return cls(
            hub_account_id=hub_account,
            hub_region=hub_region,
            approved_account_ids=frozenset(approved),
            member_role_name=role.name_with(stem),
            managed_regions=tuple(dict.fromkeys(regions)),
            event_bus_name=bus,
            dry_run=_bool(env, "DRY_RUN"),
            unapproved_action=action,
            reachability_analyzer=_bool(env, "REACHABILITY_ANALYZER"),
            live_ping=_bool(env, "LIVE_PING"),
            notification_topic_arn=topic,
            verify_budget_seconds=budget,
            allowed_peer_cidrs=peer_cidrs,
            member_role_names=frozenset(r.name_with(stem) for r in MemberRole),
            peering_quota=quota,
            mesh_threshold=threshold,
            record_table=table,
            record_backlog_url=backlog,
            history_retention_days=retention,
            budgets=budgets,
            managed_units=units,
            organizations_role_arn=org_role,
            membership_max_age_seconds=max_age * 60.0,
            account_tag_reads_per_sweep=tag_reads,
            account_tags_max_age_seconds=tags_max_age * 3600.0,
            policy_parameter=policy_parameter,
        )


class _SettingsRanges(NamedTuple):
    settings: Settings

    def of(self, account_id: str) -> PeerCidrPolicy:
        return self.settings.ranges_of(account_id)


# The budgets' variables, the template parameter each comes from, and its bounds (template.yaml
# says the same with MinValue and MaxValue).
BUDGET_VARIABLES = (
    ("QUOTA_HEADROOM_PERCENT", "QuotaHeadroomPercent", 10, 0, 50),
    ("MAX_PEER_BLOCKS", "MaxPeerBlocks", 5, 1, 50),
    ("MAX_RULES_PER_PEERING_PER_GROUP", "MaxRulesPerPeeringPerGroup", 12, 1, 1000),
)


def budget_limits(env: Mapping[str, str]) -> BudgetLimits:
    """The budgets from the environment (or the command line's options, keyed alike); every fault
    names the variable and its parameter."""
    headroom, blocks, rules = (_int(env, name, d, low, high, param) for name, param, d, low, high in BUDGET_VARIABLES)
    return BudgetLimits(headroom, blocks, rules)


def _required(env: Mapping[str, str], name: str, pattern: re.Pattern[str], problem: str) -> str:
    """A variable that must be set and match `pattern`; `problem` words the mismatch."""
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is required and is empty")
    if not pattern.fullmatch(value):
        raise SettingsError(f"{name} {problem.format(value)}")
    return value


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _all_matching(env: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str) -> list[str]:
    """A comma list; every item must match."""
    values = _csv(env.get(name, ""))
    bad = [v for v in values if not pattern.fullmatch(v)]
    if bad:
        raise SettingsError(f"{name} holds values that are not {what}: {bad}")
    return values


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, parameter: str = "") -> int:
    """A whole number within bounds; the error names the variable (and the template's parameter)."""
    text = env.get(name, str(default)).strip()
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        named = f"{name} (parameter {parameter})" if parameter else name
        raise SettingsError(f"{named} must be a whole number from {low} to {high}, got {env.get(name)!r}")
    return int(text)


def _bool(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "false").strip().lower()
    if text not in ("true", "false"):
        raise SettingsError(f"{name} must be 'true' or 'false', got {env.get(name)!r}")
    return text == "true"
