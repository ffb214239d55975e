"""The estate page (`status --html`), rendered from a report built by hand: every peering a line of
its verdict's class and colour between its VPCs' boxes (boxed by account and region), the legend,
the table; what AWS says is escaped; nothing is loaded from anywhere."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from peering_autopilot.estate import EstateReport, PeeringRow, SideRow
from peering_autopilot.estate_page import BY_KEY, SCRIPT, STYLE, VERDICTS, render, verdict_of
from peering_autopilot.model import Cidrs, Vpc
from peering_autopilot.places import UnreadPlace
from peering_autopilot.status import is_verdict

HUB, MEMBER, PARTNER = "111111111111", "222222222222", "999999999999"
EAST, WEST = "us-east-1", "eu-west-1"
HOSTILE = "<script>alert(1)</script>"


def side(
    account: str,
    region: str,
    vpc_id: str,
    cidr: str,
    status: str | None = None,
    readable: bool = True,
    opted_in: bool = True,
    missing: str = "nothing",
) -> SideRow:
    groups = () if opted_in and readable else None
    return SideRow(account, region, vpc_id, (cidr,), readable, status, groups, missing, 49 if readable else None)


A = ("vpc-a", HUB, EAST, "10.0.0.0/16")
B = ("vpc-b", MEMBER, EAST, "10.1.0.0/16")
C = ("vpc-c", MEMBER, WEST, "10.2.0.0/16")
D = ("vpc-d", PARTNER, WEST, "10.3.0.0/16")


def end(where: tuple[str, str, str, str], status: str | None = None, **kw: object) -> SideRow:
    vpc_id, account, region, cidr = where
    return side(account, region, vpc_id, cidr, status, **kw)  # type: ignore[arg-type]


def row(pid: str, state: str, requester: SideRow, accepter: SideRow) -> PeeringRow:
    """The row as `estate.survey` makes it: the verdict joins the sides' verdicts."""
    verdicts = [s.status for s in (requester, accepter) if s.status and is_verdict(s.status)]
    return PeeringRow(pid, state, ", ".join(dict.fromkeys(verdicts)) or None, requester, accepter)


# One peering per class of the legend: (row, the class its line must have)
CASES = [
    (row("pcx-01", "active", end(A, "verified"), end(B, "verified")), "verified"),
    (row("pcx-02", "active", end(A, "verified"), end(C, "blocked:network-acls")), "blocked"),
    (row("pcx-03", "active", end(B, "unverified:peer-side-held"), end(C, "held:routed-elsewhere")), "held"),
    (row("pcx-04", "active", end(A, "unverified:no-endpoint"), end(C, "verified")), "unverified"),
    (row("pcx-05", "active", end(B, "configured"), end(C)), "configuring"),
    (row("pcx-06", "pending-acceptance", end(A), end(B, "awaiting-approval:prod-needs-a-person")), "awaiting-approval"),
    (row("pcx-07", "pending-acceptance", end(A), end(D, readable=False)), "pending"),
    (row("pcx-08", "pending-acceptance", end(B), end(C, "declined:accepter-not-opted-in", opted_in=False)), "declined"),
    (row("pcx-09", "deleted", end(A, "verified"), end(B, "verified")), "ended"),
    (row("pcx-10", "failed", end(A), end(C)), "ended"),
]


def report(rows: list[PeeringRow] | None = None, **kw: object) -> EstateReport:
    return EstateReport(
        [(HUB, EAST), (MEMBER, EAST), (MEMBER, WEST)],
        [r for r, _ in CASES] if rows is None else rows,
        [UnreadPlace(PARTNER, WEST, "RoleAssumptionError", "AccessDenied", "cannot assume <role>")],
        **kw,  # type: ignore[arg-type]
    )


def vpc(where: tuple[str, str, str, str], **tags: str) -> Vpc:
    vpc_id, account, region, cidr = where
    return Vpc(vpc_id, account, region, Cidrs.of([cidr]), {"peering-autopilot:enabled": "true", **tags})


class Page(HTMLParser):
    """The elements with their attributes and the ids of the groups around them; text outside
    script and style; script and style contents."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], tuple[str, ...]]] = []
        self.text: list[str] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self._stack: list[tuple[str, str]] = []
        self.feed(text)

    VOID = frozenset({"meta", "br", "link", "img", "input", "hr"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        around = tuple(label for _, label in self._stack if label)
        self.elements.append((tag, found, around))
        if tag in self.VOID:
            return
        label = found.get("data-account") or found.get("data-place") or ""
        self._stack.append((tag, label))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        around = tuple(label for _, label in self._stack if label)
        self.elements.append((tag, {k: v or "" for k, v in attrs}, around))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        inside = self._stack[-1][0] if self._stack else ""
        if inside in self.raw:
            self.raw[inside].append(data)
        else:
            self.text.append(data)

    def all(self, tag: str, attribute: str) -> dict[str, dict[str, str]]:
        return {a[attribute]: a for t, a, _ in self.elements if t == tag and attribute in a}


@pytest.mark.parametrize(("peering", "expected"), CASES, ids=[r.peering_id for r, _ in CASES])
def test_each_peering_gets_the_class_of_where_it_stands(peering: PeeringRow, expected: str) -> None:
    assert verdict_of(peering).key == expected


def test_every_peering_is_a_line_of_its_verdicts_class_and_colour_and_a_row_of_the_table() -> None:
    page = Page(render(report(), [vpc(A, Name="app"), vpc(B), vpc(C)], "2026-12-07 23:00:00 UTC"))

    lines = page.all("g", "data-peering")
    assert {pid: a["class"] for pid, a in lines.items()} == {r.peering_id: f"peering verdict-{key}" for r, key in CASES}
    strokes, peering = {}, ""
    for tag, a, _ in page.elements:
        peering = a.get("data-peering", peering) if tag == "g" else peering
        if tag == "path" and a.get("class") == "line":
            strokes[peering] = (a["stroke"], a.get("stroke-dasharray"))
    assert strokes == {r.peering_id: (BY_KEY[key].colour, "8 5" if BY_KEY[key].dashed else None) for r, key in CASES}
    assert {pid: a["data-verdict"] for pid, a in page.all("tr", "data-peering").items()} == {
        r.peering_id: key for r, key in CASES
    }
    # ... the legend names every class, with how many peerings are in it
    legend = {a["data-verdict"] for t, a, _ in page.elements if t == "li" and "data-verdict" in a}
    assert legend == {v.key for v in VERDICTS}
    assert "ended (2): rejected, expired, failed or deleted (dashed)" in "".join(page.text)


def test_the_hover_title_says_the_peering_its_verdict_what_is_missing_and_both_sides_blocks() -> None:
    peering = row(
        "pcx-03",
        "active",
        end(B, "unverified:peer-side-held"),
        end(C, "held:routed-elsewhere", missing="held (routed-elsewhere): 10.1.0.0/16 in rtb-1"),
    )
    html = render(report([peering]))
    [title] = re.findall(r'data-peering="pcx-03"[^>]*><title>([^<]*)</title>', html)
    assert title.split("\n") == [
        "pcx-03 (active)",
        "held: unverified:peer-side-held, held:routed-elsewhere",
        f"requester: {MEMBER} {EAST} vpc-b",
        "  blocks: 10.1.0.0/16",
        "  status tag: unverified:peer-side-held",
        "  missing: nothing",
        f"accepter: {MEMBER} {WEST} vpc-c",
        "  blocks: 10.2.0.0/16",
        "  status tag: held:routed-elsewhere",
        "  missing: held (routed-elsewhere): 10.1.0.0/16 in rtb-1",
    ]


def test_vpcs_are_boxed_by_account_then_region_with_their_name_and_blocks() -> None:
    page = Page(render(report(), [vpc(A, Name="app"), vpc(B), vpc(C)]))

    boxes = {a["data-vpc"]: (a["class"], around) for t, a, around in page.elements if "data-vpc" in a}
    assert boxes == {
        "vpc-a": ("vpc opted-in", (HUB, f"{HUB} {EAST}")),
        "vpc-b": ("vpc opted-in", (MEMBER, f"{MEMBER} {EAST}")),
        "vpc-c": ("vpc opted-in", (MEMBER, f"{MEMBER} {WEST}")),
        "vpc-d": ("vpc not-read", (PARTNER, f"{PARTNER} {WEST}")),  # its place was not read
    }
    text = "".join(page.text)
    assert "app" in text and "10.0.0.0/16" in text
    # ... the place that was not read says why (escaped)
    assert f"{PARTNER} {WEST} not read: cannot assume <role>" in text


def test_what_aws_says_is_escaped_text_never_markup() -> None:
    # GIVEN a VPC named with a script, a status tag and a missing-words with markup, a hostile place message
    peering = row(
        "pcx-01",
        "active",
        end(A, 'verified"><script>alert(2)</script>'),
        end(B, "blocked:</title><script>alert(3)</script>", missing="<img src=x onerror=alert(4)>"),
    )
    html = render(report([peering]), [vpc(A, Name=HOSTILE), vpc(B, Name='"><svg onload=alert(5)>')])
    page = Page(html)

    # THEN the page has its own script only, no image, no element with an event handler ...
    assert [t for t, _, _ in page.elements if t == "script"] == ["script"]
    assert page.raw["script"] == [SCRIPT]
    assert not [t for t, _, _ in page.elements if t == "img"]
    assert [t for t, _, _ in page.elements if t == "svg"] == ["svg"]
    assert not [a for _, a, _ in page.elements if any(k.startswith("on") for k in a)]
    # ... and the values read as text
    text = "".join(page.text)
    for value in (HOSTILE, '"><svg onload=alert(5)>', "blocked:</title><script>alert(3)</script>"):
        assert value in text
    assert "<img src=x onerror=alert(4)>" in text


def test_the_page_loads_nothing_and_allows_only_its_own_style_and_script() -> None:
    page = Page(render(report(), [vpc(A)]))

    assert not [a for _, a, _ in page.elements if {"src", "href", "xlink:href", "srcset"} & set(a)]
    assert "url(" not in STYLE and "@import" not in STYLE
    [policy] = [a["content"] for t, a, _ in page.elements if t == "meta" and "http-equiv" in a]
    assert page.raw["style"] == [STYLE] and page.raw["script"] == [SCRIPT]

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert policy == (
        f"default-src 'none'; style-src {digest(STYLE)}; script-src {digest(SCRIPT)}; base-uri 'none'; "
        "form-action 'none'"
    )
    # no inline style attributes: the policy would refuse them
    assert not [a for _, a, _ in page.elements if "style" in a]


def test_an_estate_without_peerings_still_shows_its_places() -> None:
    page = Page(render(EstateReport([(HUB, EAST)], [], [])))
    assert "no opted-in VPC, no peering" in "".join(page.text)
    assert "No peerings in the 1 place(s) read." in "".join(page.text)
    assert not page.all("g", "data-peering")
