"""The `peering-autopilot:allow` tag of a security group: which traffic to let in from the peer.

Value: a comma list of `icmp`, `tcp:PORT`, `tcp:FROM-TO`, `udp:PORT`, `udp:FROM-TO`, `all`.
A bad entry is reported; the good entries of the same tag still apply.
"""

from __future__ import annotations

import re

from peering_autopilot.structs import NamedTuple

# EC2 answers with protocol numbers or names, in security groups and network ACLs alike.
PROTOCOL_NAMES = {"-1": "-1", "all": "-1", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
_PORTS = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?", re.ASCII)


class Traffic(NamedTuple):
    """One kind of traffic: an IP protocol and, for TCP and UDP, a port range."""

    protocol: str  # "tcp", "udp", "icmp" or "-1" (all)
    from_port: int = -1
    to_port: int = -1

    def __str__(self) -> str:
        if self.protocol == "-1":
            return "all"
        if self.protocol == "icmp":
            return "icmp"
        ports = str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"
        return f"{self.protocol}:{ports}"

    def ip_protocol(self, ipv6: bool) -> str:
        """The API's IpProtocol: ICMP towards an IPv6 range is ICMPv6, a different protocol."""
        return "icmpv6" if (ipv6 and self.protocol == "icmp") else self.protocol


class BadEntry(NamedTuple):
    entry: str
    error: str


def parse_allow(value: str) -> tuple[list[Traffic], list[BadEntry]]:
    """Read a tag value into traffic kinds (deduplicated, in order) and the entries that are wrong."""
    good: list[Traffic] = []
    bad: list[BadEntry] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            traffic = _parse_entry(entry.lower())
        except ValueError as e:
            bad.append(BadEntry(entry, str(e)))
            continue
        if traffic not in good:
            good.append(traffic)
    return good, bad


def _parse_entry(entry: str) -> Traffic:
    if entry == "all":
        return Traffic("-1")
    if entry == "icmp":
        return Traffic("icmp")
    protocol, sep, ports = entry.partition(":")
    if protocol in ("icmp", "all"):
        raise ValueError(f"{protocol} takes no port: write just '{protocol}'")
    if protocol not in ("tcp", "udp"):
        raise ValueError("unknown protocol: use icmp, all, tcp:PORT[-PORT] or udp:PORT[-PORT]")
    if not sep or not ports:
        raise ValueError(f"{protocol} needs a port or range, as in {protocol}:443 or {protocol}:8000-8080")
    match = _PORTS.fullmatch(ports)
    if not match:
        raise ValueError(f"'{ports}' is not a port or a FROM-TO range of ports")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    for port in (low, high):
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port} is outside 0-65535")
    if low > high:
        raise ValueError(f"range {low}-{high} runs backwards")
    return Traffic(protocol, low, high)
