"""SSM in one account and region, for the live ping: is an instance managed and online, run ping
on it, read what it printed. What the output means is `live_ping`'s. And Parameter Store in the
hub: the network team's policy document (`ParameterStore`; what it says is `policy`'s)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from peering_autopilot.aws.calls import error_code, translated
from peering_autopilot.permissions import needs
from peering_autopilot.structs import NamedTuple

PING_COMMENT = "peering-autopilot verification ping"
# The stacks' own command document (template.yaml and member/template.yaml PingDocument): ping one
# address, checked by its allowedPattern; IAM lets the functions send no other.
PING_DOCUMENT = "PeeringAutopilot-Ping"


class SsmGateway:
    def __init__(self, client: Any, account_id: str, region: str) -> None:
        self.client = client
        self.where = f"account {account_id} region {region}"

    @needs("ssm:DescribeInstanceInformation")
    def is_online(self, instance_id: str) -> bool:
        with translated("ssm", self.where):
            managed = self.client.describe_instance_information(
                Filters=[{"Key": "InstanceIds", "Values": [instance_id]}]
            )["InstanceInformationList"]
        return bool(managed) and managed[0].get("PingStatus") == "Online"

    @needs("ssm:SendCommand")
    def send_ping(self, instance_id: str, target_ip: str) -> str:
        """Run `ping -c 3` on the instance; the command's id."""
        with translated("ssm", self.where):
            command = self.client.send_command(
                InstanceIds=[instance_id],
                DocumentName=PING_DOCUMENT,
                Comment=PING_COMMENT,
                Parameters={"TargetIp": [target_ip]},
                TimeoutSeconds=30,
            )["Command"]
        return str(command["CommandId"])

    @needs("ssm:GetCommandInvocation")
    def invocation(self, command_id: str, instance_id: str) -> dict[str, Any] | None:
        """The command's invocation on the instance; None while SSM has not registered it yet
        (it does so a moment after SendCommand)."""
        with translated("ssm", self.where):
            try:
                return dict(self.client.get_command_invocation(CommandId=command_id, InstanceId=instance_id))
            except ClientError as e:
                if error_code(e) == "InvocationDoesNotExist":
                    return None
                raise


# Parameter Store's tiers: Standard holds up to 4 KB, Advanced up to 8 KB.
STANDARD_TIER_BYTES = 4096
ADVANCED_TIER_BYTES = 8192


class StoredParameter(NamedTuple):
    name: str
    value: str
    version: int


class ParameterStore:
    """Parameter Store in the hub's account and region: the policy document's one home."""

    def __init__(self, client: Any, where: str) -> None:
        self.client = client
        self.where = where

    @needs("ssm:GetParameter")
    def read(self, name: str) -> StoredParameter | None:
        """The parameter's value and version; None when there is no such parameter."""
        with translated("ssm", self.where):
            try:
                found = self.client.get_parameter(Name=name)["Parameter"]
            except ClientError as e:
                if error_code(e) == "ParameterNotFound":
                    return None
                raise
        return StoredParameter(str(found["Name"]), str(found["Value"]), int(found["Version"]))

    @needs("ssm:PutParameter")
    def write(self, name: str, value: str, description: str = "") -> int:
        """Store `value` as a String (Advanced tier when over 4 KB), overwriting: its new version."""
        size = len(value.encode())
        tier = "Standard" if size <= STANDARD_TIER_BYTES else "Advanced"
        with translated("ssm", self.where):
            extra = {"Description": description} if description else {}
            put = self.client.put_parameter(Name=name, Value=value, Type="String", Tier=tier, Overwrite=True, **extra)
        return int(put["Version"])
