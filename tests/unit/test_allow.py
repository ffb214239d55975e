"""The `peering-autopilot:allow` tag: every form it accepts, every entry it refuses, and how traffic is named."""

from __future__ import annotations

import pytest

from peering_autopilot.allow import BadEntry, Traffic, parse_allow
from peering_autopilot.model import ALLOW_TAG

UNKNOWN_PROTOCOL = "unknown protocol: use icmp, all, tcp:PORT[-PORT] or udp:PORT[-PORT]"
TCP_NEEDS_PORT = "tcp needs a port or range, as in tcp:443 or tcp:8000-8080"
UDP_NEEDS_PORT = "udp needs a port or range, as in udp:443 or udp:8000-8080"


def not_ports(text: str) -> str:
    return f"'{text}' is not a port or a FROM-TO range of ports"


def test_the_tag_key_is_the_documented_one() -> None:
    assert ALLOW_TAG == "peering-autopilot:allow"


# ------------------------------------------------------------------------------------ valid forms


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("icmp", [Traffic("icmp")], id="icmp"),
        pytest.param("all", [Traffic("-1")], id="all"),
        pytest.param("tcp:443", [Traffic("tcp", 443, 443)], id="tcp-port"),
        pytest.param("tcp:8000-8080", [Traffic("tcp", 8000, 8080)], id="tcp-range"),
        pytest.param("udp:53", [Traffic("udp", 53, 53)], id="udp-port"),
        pytest.param("udp:1000-2000", [Traffic("udp", 1000, 2000)], id="udp-range"),
        pytest.param("tcp:0", [Traffic("tcp", 0, 0)], id="lowest-port-0"),
        pytest.param("tcp:65535", [Traffic("tcp", 65535, 65535)], id="highest-port-65535"),
        pytest.param("udp:0-65535", [Traffic("udp", 0, 65535)], id="full-range"),
        pytest.param("tcp:22-22", [Traffic("tcp", 22, 22)], id="range-of-one-port"),
        pytest.param("tcp:0443", [Traffic("tcp", 443, 443)], id="leading-zero"),
        pytest.param("TCP:443", [Traffic("tcp", 443, 443)], id="upper-case-protocol"),
        pytest.param("ICMP,All,Udp:53", [Traffic("icmp"), Traffic("-1"), Traffic("udp", 53, 53)], id="mixed-case"),
        pytest.param(" tcp:443 , udp:53 ", [Traffic("tcp", 443, 443), Traffic("udp", 53, 53)], id="spaces-around"),
        pytest.param("\ttcp:443\t,\nicmp\n", [Traffic("tcp", 443, 443), Traffic("icmp")], id="tabs-and-newlines"),
        pytest.param("icmp,,tcp:22", [Traffic("icmp"), Traffic("tcp", 22, 22)], id="empty-item-between"),
        pytest.param(",icmp,", [Traffic("icmp")], id="leading-and-trailing-comma"),
        pytest.param(
            "tcp:443,icmp,tcp:443,TCP:443,tcp:443-443,icmp",
            [Traffic("tcp", 443, 443), Traffic("icmp")],
            id="duplicates-keep-first-order",
        ),
        pytest.param(
            "udp:53,tcp:443,all,icmp",
            [Traffic("udp", 53, 53), Traffic("tcp", 443, 443), Traffic("-1"), Traffic("icmp")],
            id="order-as-written-not-sorted",
        ),
        pytest.param(
            "tcp:443,tcp:443-444,tcp:442-443",
            [Traffic("tcp", 443, 443), Traffic("tcp", 443, 444), Traffic("tcp", 442, 443)],
            id="overlapping-ranges-are-distinct",
        ),
        pytest.param("tcp:53,udp:53", [Traffic("tcp", 53, 53), Traffic("udp", 53, 53)], id="same-port-two-protocols"),
    ],
)
def test_valid_values(value: str, expected: list[Traffic]) -> None:
    assert parse_allow(value) == (expected, [])


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(",", id="one-comma"),
        pytest.param(" , ,, ", id="only-commas-and-spaces"),
    ],
)
def test_empty_values_allow_nothing_and_report_nothing(value: str) -> None:
    assert parse_allow(value) == ([], [])


# -------------------------------------------------------------------------------- malformed entries


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        pytest.param("tcp:99999", "port 99999 is outside 0-65535", id="port-above-65535"),
        pytest.param("tcp:65536", "port 65536 is outside 0-65535", id="port-65536"),
        pytest.param("udp:1-99999", "port 99999 is outside 0-65535", id="range-end-above-65535"),
        pytest.param("tcp:70000-65536", "port 70000 is outside 0-65535", id="both-ends-out-first-reported"),
        pytest.param("tcp:123456", not_ports("123456"), id="six-digits"),
        pytest.param("tcp:abc", not_ports("abc"), id="port-not-a-number"),
        pytest.param("ftp", UNKNOWN_PROTOCOL, id="unknown-protocol"),
        pytest.param("ftp:21", UNKNOWN_PROTOCOL, id="unknown-protocol-with-port"),
        pytest.param("all:22", "all takes no port: write just 'all'", id="all-with-port"),
        pytest.param("icmp:8", "icmp takes no port: write just 'icmp'", id="icmp-with-type"),
        pytest.param("tcp", TCP_NEEDS_PORT, id="tcp-without-port"),
        pytest.param("tcp:", TCP_NEEDS_PORT, id="tcp-with-empty-port"),
        pytest.param("udp", UDP_NEEDS_PORT, id="udp-without-port"),
        pytest.param("tcp:8080-8000", "range 8080-8000 runs backwards", id="range-backwards"),
        pytest.param("tcp:-1", not_ports("-1"), id="negative-port"),
        pytest.param("udp:1-2-3", not_ports("1-2-3"), id="three-part-range"),
        pytest.param("tcp:443-", not_ports("443-"), id="range-without-end"),
        pytest.param("tcp:-443", not_ports("-443"), id="range-without-start"),
        pytest.param("tcp:443x", not_ports("443x"), id="trailing-text"),
        pytest.param("tcp: 443", not_ports(" 443"), id="space-after-colon"),
        pytest.param("tcp:443 22", not_ports("443 22"), id="space-instead-of-comma"),
        pytest.param("tcp:443;udp:53", not_ports("443;udp:53"), id="semicolon-separator"),
        pytest.param("tcp:٤٤٣", not_ports("٤٤٣"), id="non-ascii-digits"),
        # The entry is quoted as written; the port text in the message is the lower-cased form read.
        pytest.param("TCP:ABC", not_ports("abc"), id="upper-case-entry-kept-as-written"),
    ],
)
def test_malformed_entry_is_reported_and_the_good_entries_still_apply(entry: str, error: str) -> None:
    # GIVEN the malformed entry between two good ones
    value = f"icmp, {entry} ,tcp:443"

    # WHEN the tag is read
    good, bad = parse_allow(value)

    # THEN the bad entry is reported (stripped, as written) and the good entries still come back
    assert bad == [BadEntry(entry.strip(), error)]
    assert good == [Traffic("icmp"), Traffic("tcp", 443, 443)]


def test_several_bad_entries_are_all_reported_in_order() -> None:
    good, bad = parse_allow("ftp,tcp:22,tcp:99999,tcp:abc,ftp,udp:53")

    assert good == [Traffic("tcp", 22, 22), Traffic("udp", 53, 53)]
    # a bad entry repeated is reported each time: only good traffic is deduplicated
    assert bad == [
        BadEntry("ftp", UNKNOWN_PROTOCOL),
        BadEntry("tcp:99999", "port 99999 is outside 0-65535"),
        BadEntry("tcp:abc", not_ports("abc")),
        BadEntry("ftp", UNKNOWN_PROTOCOL),
    ]


def test_a_tag_of_only_bad_entries_allows_nothing() -> None:
    assert parse_allow("tcp, udp:") == ([], [BadEntry("tcp", TCP_NEEDS_PORT), BadEntry("udp:", UDP_NEEDS_PORT)])


# ------------------------------------------------------------------------------------ Traffic


@pytest.mark.parametrize(
    ("traffic", "text"),
    [
        pytest.param(Traffic("-1"), "all", id="all"),
        pytest.param(Traffic("icmp"), "icmp", id="icmp"),
        pytest.param(Traffic("tcp", 443, 443), "tcp:443", id="tcp-port"),
        pytest.param(Traffic("tcp", 8000, 8080), "tcp:8000-8080", id="tcp-range"),
        pytest.param(Traffic("udp", 53, 53), "udp:53", id="udp-port"),
        pytest.param(Traffic("udp", 0, 65535), "udp:0-65535", id="udp-full-range"),
        pytest.param(Traffic("tcp", 0, 0), "tcp:0", id="port-0"),
    ],
)
def test_traffic_reads_back_as_its_tag_entry(traffic: Traffic, text: str) -> None:
    assert str(traffic) == text
    assert parse_allow(text) == ([traffic], [])


@pytest.mark.parametrize(
    ("traffic", "ipv4", "ipv6"),
    [
        pytest.param(Traffic("icmp"), "icmp", "icmpv6", id="icmp-becomes-icmpv6"),
        pytest.param(Traffic("tcp", 443, 443), "tcp", "tcp", id="tcp-stays-tcp"),
        pytest.param(Traffic("udp", 53, 53), "udp", "udp", id="udp-stays-udp"),
        pytest.param(Traffic("-1"), "-1", "-1", id="all-stays-minus-one"),
    ],
)
def test_ip_protocol_towards_ipv4_and_ipv6(traffic: Traffic, ipv4: str, ipv6: str) -> None:
    assert traffic.ip_protocol(ipv6=False) == ipv4
    assert traffic.ip_protocol(ipv6=True) == ipv6


def test_traffic_without_ports_defaults_to_minus_one() -> None:
    assert (Traffic("icmp").from_port, Traffic("icmp").to_port) == (-1, -1)
    assert (Traffic("-1").from_port, Traffic("-1").to_port) == (-1, -1)


def test_traffic_is_hashable_and_ordered() -> None:
    kinds = {Traffic("tcp", 443, 443), Traffic("tcp", 443, 443), Traffic("-1")}

    assert sorted(kinds) == [Traffic("-1"), Traffic("tcp", 443, 443)]
