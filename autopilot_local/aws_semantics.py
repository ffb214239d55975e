"""Where moto's EC2 differs from AWS in ways the autopilot's decisions depend on, make it do what
AWS does. Applied once, by importing the harness; each patch says what AWS does and moto does not.

- A route whose target is gone (a deleted NAT gateway, a stopped or terminated instance, a
  peering that ended, a deleted transit gateway) stays in its table with State `blackhole`;
  moto reports every route `active`.
- A deleted transit gateway stays listed for a while, in state `deleted` (its routes read
  `blackhole`); moto drops it from DescribeTransitGateways at once, and its routes stay `active`.
- A route to an instance names the instance's primary network interface too (`NetworkInterfaceId`
  beside `InstanceId`), as long as the instance has one: the interface outlives a stop, and goes
  when a terminated instance deletes it. moto names only the `InstanceId`.
- A peering describes each side's IPv4 and IPv6 blocks (`CidrBlockSet`, `Ipv6CidrBlockSet`, as the
  VPC holds them now); moto gives only the primary `CidrBlock`.
- A peering's tags are each account's own: the requester's and the accepter's account each see
  (and write) their own tags on it; moto shows every account the tags of the account and region
  that created it, while writes land in the writer's.
- A peering's options (remote DNS) are set only on an active peering, each side's only by the
  account that owns that side's VPC, in that VPC's region; moto lets any caller set either side.
- AuthorizeSecurityGroupIngress answers with a SecurityGroupRule (and its id) for every range it
  authorized; moto answers with those of the last IpPermissions entry only. The configure step
  records the rule ids from this answer.
- A pending peering request names when it expires (`ExpirationTime`, 7 days after its creation:
  AWS expires an unaccepted request then); moto gives none, and never expires one: the harness
  stamps the creation time and answers creation + 7 days while it is pending, and a test that
  needs an expired request says when (`LocalCloud.expire_peering`), as AWS's clock would.
- Service Quotas' GetServiceQuota answers with the quota's *applied* value in the account and
  region: a raised quota where one was granted; for a quota never changed the default, or
  NoSuchResourceException where no applied value exists (the autopilot counts the default then).
  moto answers every account and region with the default values only, and has no way to grant an
  increase: `grant_quota` applies one, as an approved quota increase request would, and
  GetServiceQuota answers it there (and only there).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult, BaseResponse
from moto.dynamodb.responses import DynamoHandler
from moto.ec2.exceptions import OperationNotPermitted
from moto.ec2.models.route_tables import Route
from moto.ec2.models.transit_gateway import TransitGatewayBackend
from moto.ec2.models.vpc_peering_connections import VPCPeeringConnection, VPCPeeringConnectionBackend
from moto.ec2.responses._base_response import EC2BaseResponse
from moto.ec2.responses.security_groups import SecurityGroups
from moto.servicequotas.models import ServiceQuotasBackend

_DEAD_PEERING = {"deleted", "deleting", "rejected", "expired", "failed"}
_LIVE_BLOCK = {"associated", "associating"}


def _route_state(route: Any) -> str:
    nat = route.nat_gateway
    if nat is not None and getattr(nat, "state", "available") in ("deleting", "deleted", "failed"):
        return "blackhole"
    instance = route.instance
    if instance is not None and getattr(getattr(instance, "_state", None), "name", "running") != "running":
        return "blackhole"
    pcx = route.vpc_pcx
    if pcx is not None and pcx._status.code in _DEAD_PEERING:
        return "blackhole"
    tgw = route.transit_gateway
    if tgw is not None and str(getattr(tgw, "state", "available")) in ("deleting", "deleted"):
        return "blackhole"
    return "active"


def _instance_interface(original: property) -> property:
    def interface_id(self: Any) -> str | None:
        own = original.fget(self)  # type: ignore[misc]
        if own is None and self.instance is not None:
            primary = getattr(self.instance, "nics", {}).get(0)
            return str(primary.id) if primary is not None else None
        return own  # type: ignore[no-any-return]

    return property(interface_id)


def _vpc_info(original: property, side: str) -> property:
    def info(self: Any) -> dict[str, Any]:
        described = dict(original.fget(self))  # type: ignore[misc]
        vpc = getattr(self, side)
        blocks = [a for a in vpc.get_cidr_block_association_set() if a["cidr_block_state"]["state"] in _LIVE_BLOCK]
        v6 = [a for a in vpc.get_cidr_block_association_set(ipv6=True) if a["cidr_block_state"]["state"] in _LIVE_BLOCK]
        described["CidrBlockSet"] = [{"CidrBlock": a["cidr_block"]} for a in blocks]
        described["Ipv6CidrBlockSet"] = [{"Ipv6CidrBlock": a["cidr_block"]} for a in v6]
        return described

    return property(info)


# The EC2 backend (account and region) of the request being answered, in this thread: moto answers
# a request in the thread that made it, serialising the response before the next one starts.
_caller = threading.local()


# moto's DynamoDB tables are plain dicts: a Query iterating one while another thread writes to it
# fails with "dictionary changed size during iteration". DynamoDB serves concurrent requests (the
# sweep reads up to 8 places at once, each reading and writing the record), so the harness answers
# moto's DynamoDB requests one at a time.
_dynamodb = threading.RLock()


def _remember_caller(original: Any) -> Any:
    def call_action(self: Any) -> Any:
        if isinstance(self, EC2BaseResponse):
            _caller.backend = self.ec2_backend
        if isinstance(self, DynamoHandler):
            with _dynamodb:
                return original(self)
        return original(self)

    return call_action


def _tags_as_the_caller_sees_them(self: Any) -> list[dict[str, str]]:
    backend = getattr(_caller, "backend", None) or self.ec2_backend
    return list(backend.describe_tags(filters={"resource-id": [self.id]}))


def _own_side_options_only(original: Any) -> Any:
    def modify(self: Any, vpc_pcx_id: str, accepter_options: Any = None, requester_options: Any = None) -> Any:
        pcx = self.get_vpc_peering_connection(vpc_pcx_id)
        if pcx._status.code != "active":
            raise OperationNotPermitted(f"The VPC peering connection {vpc_pcx_id} is not active")
        for options, vpc, role in (
            (requester_options, pcx.vpc, "requester"),
            (accepter_options, pcx.peer_vpc, "accepter"),
        ):
            if options and (vpc.owner_id != self.account_id or vpc.region != self.region_name):
                raise OperationNotPermitted(
                    f"The {role} options of {vpc_pcx_id} may be modified only by account {vpc.owner_id} "
                    f"in {vpc.region}, not {self.account_id} in {self.region_name}"
                )
        return original(self, vpc_pcx_id, accepter_options, requester_options)

    return modify


def _every_rule_authorized(self: Any) -> ActionResult:
    self.error_on_dryrun()
    rules: list[Any] = []
    for kwargs in self._process_rules_from_querystring():
        authorized, _ = self.ec2_backend.authorize_security_group_ingress(**kwargs)
        rules += authorized
    return ActionResult({"Return": True, "SecurityGroupRules": rules})


# (account, region, service code, quota code) -> the value an approved increase applied.
_granted: dict[tuple[str, str, str, str], float] = {}


def grant_quota(account_id: str, region: str, service_code: str, quota_code: str, value: float) -> None:
    """Apply a quota increase, as Service Quotas does once a request is approved."""
    _granted[(account_id, region, service_code, quota_code)] = value


def clear_granted_quotas() -> None:
    _granted.clear()


def _applied_quota(original: Any) -> Any:
    def get_service_quota(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
        quota = dict(original(self, service_code, quota_code))
        value = _granted.get((self.account_id, self.region_name, service_code, quota_code))
        if value is not None:
            quota["Value"] = value
        partition = "aws"
        quota["QuotaArn"] = (
            f"arn:{partition}:servicequotas:{self.region_name}:{self.account_id}:{service_code}/{quota_code}"
        )
        return quota

    return get_service_quota


def _deleted_transit_gateway_stays_listed(self: Any, transit_gateway_id: str) -> Any:
    transit_gateway = self.transit_gateways[transit_gateway_id]
    transit_gateway.state = "deleted"
    return transit_gateway


_applied = False


PEERING_EXPIRY_SECONDS = 7 * 24 * 3600  # AWS expires an unaccepted peering request after 7 days


def _stamp_creation(original: Any) -> Any:
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        pcx = original(self, *args, **kwargs)
        pcx.created_at = time.time()
        return pcx

    return create


def _expiration_time(self: Any) -> datetime | None:
    created = getattr(self, "created_at", None)
    if created is None or self._status.code != "pending-acceptance":
        return None
    return datetime.fromtimestamp(created + PEERING_EXPIRY_SECONDS, UTC)


def expire(pcx: Any) -> None:
    """What AWS does to a request nobody accepted within 7 days."""
    pcx._status.code = "expired"
    pcx._status.message = "Expired"


def apply() -> None:
    global _applied
    if _applied:
        return
    Route.state = property(_route_state)  # type: ignore[assignment,method-assign]
    Route.network_interface_id = _instance_interface(Route.network_interface_id)  # type: ignore[assignment,method-assign,arg-type]
    VPCPeeringConnection.requester_vpc_info = _vpc_info(VPCPeeringConnection.requester_vpc_info, "vpc")  # type: ignore[assignment,method-assign,arg-type]
    VPCPeeringConnection.accepter_vpc_info = _vpc_info(VPCPeeringConnection.accepter_vpc_info, "peer_vpc")  # type: ignore[assignment,method-assign,arg-type]
    BaseResponse.call_action = _remember_caller(BaseResponse.call_action)  # type: ignore[method-assign]
    VPCPeeringConnection.get_tags = _tags_as_the_caller_sees_them  # type: ignore[method-assign]
    VPCPeeringConnectionBackend.modify_vpc_peering_connection_options = _own_side_options_only(  # type: ignore[method-assign]
        VPCPeeringConnectionBackend.modify_vpc_peering_connection_options
    )
    VPCPeeringConnectionBackend.create_vpc_peering_connection = _stamp_creation(  # type: ignore[method-assign]
        VPCPeeringConnectionBackend.create_vpc_peering_connection
    )
    VPCPeeringConnection.expiration_time = property(_expiration_time)  # type: ignore[attr-defined]
    SecurityGroups.authorize_security_group_ingress = _every_rule_authorized  # type: ignore[method-assign]
    ServiceQuotasBackend.get_service_quota = _applied_quota(ServiceQuotasBackend.get_service_quota)  # type: ignore[method-assign]
    TransitGatewayBackend.delete_transit_gateway = _deleted_transit_gateway_stays_listed  # type: ignore[method-assign]
    _applied = True
