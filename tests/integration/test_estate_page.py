"""`peering-autopilot status --html FILE` over an estate the autopilot converged in moto: one
peering verified, one blocked by a network ACL, one held (a range routed elsewhere), one declined
(into a VPC in another region that did not opt in), one nobody decided yet (its events were
lost); and a VPC whose owner named it `<script>alert(1)</script>`.

The page is loaded in a real headless Chromium (the operating system's package; `.ci/run`
installs it): no console error, no request beyond the page itself, no dialog, every peering a
line of its verdict's colour between its two VPCs' boxes, the hostile name shown as text. The
screenshot and the page are kept in build/test-output/ (CI keeps test output on failure)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from autopilot_local.harness import PROJECT, LocalAutopilot, LocalCloud
from autopilot_local.world import ENABLED, Network, build_network
from peering_autopilot import cli
from peering_autopilot.estate_page import BY_KEY
from tests.support.browser import find_chromium, load_page
from tests.support.world import (
    HUB,
    MEMBER,
    OTHER_REGION,
    REGION,
    Side,
    build_net,
    deny_ping_in,
    make_vpc,
    request_peering,
    tags_of,
)

STATUS = "peering-autopilot:status"
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_B = '"><img src=x onerror=alert(2)>'
OUTPUT = PROJECT / "build" / "test-output"


@dataclass
class Estate:
    a: Network
    b: Network
    peerings: dict[str, str]  # peering id -> the verdict class its line must have
    vpcs: dict[str, set[str]]  # peering id -> its two VPC ids


def side(net: Network) -> Side:
    return Side(net.account, net.region, net.vpc_id)


def converge(autopilot: LocalAutopilot) -> None:
    autopilot.run_until_idle()


@pytest.fixture
def estate(cloud: LocalCloud, autopilot_factory: Any) -> Estate:
    autopilot = autopilot_factory()
    a = build_network(cloud, Network("VPC-A", HUB, REGION, "10.0.0.0/16", tags=dict(ENABLED)))
    b = build_network(cloud, Network("VPC-B", MEMBER, REGION, "10.1.0.0/16", tags=dict(ENABLED)))
    c = build_network(cloud, Network("VPC-C", MEMBER, REGION, "10.4.0.0/16", tags=dict(ENABLED)))
    deny_ping_in(cloud, c, a.cidr)
    verified = request_peering(cloud, side(a), side(b))
    converge(autopilot)
    blocked = request_peering(cloud, side(a), side(c))
    converge(autopilot)
    # M also holds 10.1.128.0/17, a slice of VPC-B's range, which VPC-A already routes to VPC-B
    m = build_net(cloud, MEMBER, REGION, "10.2.0.0/16", secondary=("10.1.128.0/17",))
    held = request_peering(cloud, m.side, side(a))
    converge(autopilot)
    d = make_vpc(cloud, MEMBER, OTHER_REGION, "10.3.0.0/16", opted_in=False)
    declined = request_peering(cloud, side(b), d)
    converge(autopilot)
    f = make_vpc(cloud, HUB, OTHER_REGION, "10.6.0.0/16")
    undecided = request_peering(cloud, side(c), f)
    cloud.trail.clear()  # its events never reached the hub
    assert tags_of(cloud, side(a), verified)[STATUS] == "verified"
    assert tags_of(cloud, side(a), blocked)[STATUS] == "blocked:network-acls"
    assert tags_of(cloud, side(a), held)[STATUS] == "held:routed-elsewhere"
    assert tags_of(cloud, d, declined)[STATUS] == "declined:accepter-not-opted-in"
    # Owners name their VPCs what they like: markup in a Name tag is text on the page
    cloud.ec2(HUB, REGION).create_tags(Resources=[a.vpc_id], Tags=[{"Key": "Name", "Value": HOSTILE_NAME}])
    cloud.ec2(MEMBER, REGION).create_tags(Resources=[b.vpc_id], Tags=[{"Key": "Name", "Value": HOSTILE_B}])
    return Estate(
        a,
        b,
        {verified: "verified", blocked: "blocked", held: "held", declined: "declined", undecided: "pending"},
        {
            verified: {a.vpc_id, b.vpc_id},
            blocked: {a.vpc_id, c.vpc_id},
            held: {m.side.vpc_id, a.vpc_id},
            declined: {b.vpc_id, d.vpc_id},
            undecided: {c.vpc_id, f.vpc_id},
        },
    )


def write_page(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli.main(
        [
            "status",
            "--accounts",
            f"{HUB},{MEMBER}",
            "--regions",
            f"{REGION},{OTHER_REGION}",
            "--json",
            "--html",
            str(path),
        ]
    )
    return code, json.loads(capsys.readouterr().out)


class Elements(HTMLParser):
    """Every element's attributes, and the text outside script and style."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag in ("script", "style"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if not self._in:
            self.text.append(data)


def test_status_html_writes_a_page_with_every_peering_as_a_line_of_its_verdict(
    estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the operator asks for the status of both accounts and regions, with the page
    page = tmp_path / "estate.html"
    code, report = write_page(page, capsys)

    # THEN the table is printed as usual, and the page has a line for each of its peerings, of the
    # class and colour of its verdict, and a row of the table below
    assert code == 0
    assert sorted(r["peeringId"] for r in report["peerings"]) == sorted(estate.peerings)
    parsed = Elements()
    parsed.feed(page.read_text())
    lines = {a["data-peering"]: a for tag, a in parsed.elements if tag == "g" and "data-peering" in a}
    rows = {a["data-peering"]: a for tag, a in parsed.elements if tag == "tr" and "data-peering" in a}
    assert {pid: a["data-verdict"] for pid, a in lines.items()} == estate.peerings
    assert {pid: a["data-verdict"] for pid, a in rows.items()} == estate.peerings
    strokes = [a["stroke"] for tag, a in parsed.elements if tag == "path" and a.get("class") == "line"]
    assert sorted(strokes) == sorted(BY_KEY[v].colour for v in estate.peerings.values())
    # ... every VPC of a peering has its box, the hostile names as text, never as elements
    boxes = {a["data-vpc"] for tag, a in parsed.elements if tag == "g" and "data-vpc" in a}
    assert boxes == set().union(*estate.vpcs.values())
    text = "".join(parsed.text)
    assert HOSTILE_NAME in text and HOSTILE_B in text
    assert [tag for tag, _ in parsed.elements].count("script") == 1
    assert not [a for tag, a in parsed.elements if tag == "img"]


def test_a_page_it_cannot_write_is_one_error_naming_it_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-folder" / "estate.html"
    assert cli.main(["status", "--html", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: --html {str(missing)!r}: no directory {missing.parent}\n"
    assert cli.main(["status", "--html", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: --html {str(tmp_path)!r} is a directory, not a file to write\n"


CHROMIUM = find_chromium()

# What the page shows once its scripts ran: each peering's line (its verdict, its colour as drawn,
# its length on screen), the boxes, the text, and whether a script from a tag ran.
SHOWN = """JSON.stringify({
  lines: Array.from(document.querySelectorAll("g.peering")).map(function (g) {
    var line = g.querySelector("path.line");
    var box = line.getBBox();
    return {id: g.getAttribute("data-peering"), verdict: g.getAttribute("data-verdict"),
            stroke: getComputedStyle(line).stroke, length: line.getTotalLength(),
            width: box.width, height: box.height, title: g.querySelector("title").textContent};
  }),
  rows: Array.from(document.querySelectorAll("tr[data-peering]")).map(function (r) { return r.getAttribute("data-peering"); }),
  vpcs: Array.from(document.querySelectorAll("g.vpc")).map(function (g) { return g.getAttribute("data-vpc"); }),
  text: document.body.innerText,
  scripts: document.scripts.length,
  images: document.images.length,
  lit: (function () {
    var line = document.querySelector("g.peering");
    line.dispatchEvent(new MouseEvent("mouseenter"));
    return Array.from(document.querySelectorAll(".lit")).map(function (el) {
      return el.tagName.toLowerCase() + " " + el.getAttribute("data-peering");
    });
  })()
})"""


def rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (1, 3, 5)))


@pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary found (install the OS package chromium, as .ci/run does)"
)
def test_the_page_loads_in_headless_chromium_with_no_error_and_shows_every_peering(
    estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "estate.html"
    assert write_page(page, capsys)[0] == 0
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(page, OUTPUT / "estate-page.html")
    screenshot = OUTPUT / "estate-page.png"
    screenshot.unlink(missing_ok=True)

    # WHEN the page is opened in a real browser
    run = load_page(CHROMIUM, page, SHOWN, screenshot)
    print(f"screenshot: {screenshot}")

    # THEN it loaded with no console error, asked for nothing beyond itself, opened no dialog
    assert run.errors == []
    assert run.dialogs == []
    assert run.requests == [page.resolve().as_uri()]
    shown = json.loads(run.value)
    # ... every peering is a visible line of its verdict's colour, with its details on hover
    assert {line["id"]: line["verdict"] for line in shown["lines"]} == estate.peerings
    for line in shown["lines"]:
        assert line["stroke"] == rgb(BY_KEY[line["verdict"]].colour)
        assert line["length"] > 50 and line["width"] + line["height"] > 20
        assert line["title"].startswith(f"{line['id']} (")
    assert sorted(shown["rows"]) == sorted(estate.peerings)
    assert set(shown["vpcs"]) == set().union(*estate.vpcs.values())
    # ... the hostile names are text, no script but the page's own, no image
    assert HOSTILE_NAME in shown["text"] and HOSTILE_B in shown["text"]
    assert (shown["scripts"], shown["images"]) == (1, 0)
    # ... hovering a line lights it and its row
    first = shown["lines"][0]["id"]
    assert shown["lit"] == [f"g {first}", f"tr {first}"]
    # ... and the screenshot is kept
    assert screenshot.stat().st_size > 10_000


@pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary found (install the OS package chromium, as .ci/run does)"
)
def test_the_browser_check_would_see_errors_requests_and_dialogs(tmp_path: Path) -> None:
    # GIVEN a page that does everything the estate page must not: a console error, an uncaught
    # exception, an alert, a request elsewhere, and an inline script its policy refuses
    assert CHROMIUM is not None
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "script-src 'sha256-Q1VbmWoL+bcdIaekp2O8Pp3Gk5bpSTiSAMaVhx0JCCk='\"></head><body>"
        "<script>refused()</script>"
        '<img src="http://127.0.0.1:9/x.png">'
        "</body></html>"
    )
    allowed = tmp_path / "allowed.html"
    allowed.write_text(
        "<!DOCTYPE html><html><body><script>"
        'console.error("told"); alert("hello"); setTimeout(function () { throw new Error("thrown"); }, 0);'
        "</script></body></html>"
    )

    # WHEN each is loaded as the estate page is
    refused = load_page(CHROMIUM, page, "1", tmp_path / "bad.png")
    told = load_page(
        CHROMIUM,
        allowed,
        "new Promise(function (r) { setTimeout(r, 50); }).then(function () { return 1; })",
        tmp_path / "allowed.png",
    )

    # THEN the checks the estate page passes see each of them
    assert any("Content Security Policy" in e for e in refused.errors), refused.errors
    assert any("x.png" in e for e in refused.errors), refused.errors  # refused by the policy too
    assert "console: told" in told.errors
    assert any("thrown" in e for e in told.errors), told.errors
    assert told.dialogs == ["hello"]
