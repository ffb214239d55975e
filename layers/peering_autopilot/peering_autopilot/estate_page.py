"""The estate as one page (`peering-autopilot status --html FILE`): a map of the VPCs, boxed by
account and region, each peering a line between its two VPCs coloured by where it stands, its
details on hover; below it the status table.

Pure: `render()` takes the report the status command builds (`estate.EstateReport`) and the
opted-in VPCs it read (their Name tags), and returns one self-contained HTML document: inline CSS,
inline SVG, a few lines of inline script, nothing loaded from anywhere (its Content-Security-Policy
allows only its own style and script, by hash). Every value that comes from AWS (names and other
tags, ids, blocks, messages) is escaped: a tag is text on the page, never markup.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field
from html import escape

from peering_autopilot import approval
from peering_autopilot.decision import DECLINED
from peering_autopilot.estate import RECORD_NOT_READ, EstateReport, PeeringRow, SideRow, age_words
from peering_autopilot.mesh import GroupPlan
from peering_autopilot.model import (
    CONFIGURABLE_STATES,
    ENDED_STATES,
    HELD,
    INITIATING,
    NAME_TAG,
    PENDING,
    VERIFIED,
    Vpc,
)
from peering_autopilot.status import is_verdict
from peering_autopilot.structs import struct


# ---------------------------------------------------------------------- where a peering stands
@struct(frozen=True)
class Verdict:
    """A colour of the map: one class of where a peering stands."""

    key: str  # the line's class (`verdict-<key>`) and the legend's word
    colour: str
    words: str
    dashed: bool = False


VERDICTS = (
    Verdict("verified", "#1a7f37", "every managed table routes every peer block and the probe passed"),
    Verdict("blocked", "#d1242f", "the probe found what stops traffic (routes, security groups, network ACLs, ...)"),
    Verdict("held", "#e16f24", "waits for a person: a route elsewhere claims the range, or a quota"),
    Verdict("unverified", "#8250df", "the probe could not judge the path"),
    Verdict("configuring", "#57606a", "active, no verdict yet: being configured or verified"),
    Verdict("awaiting-approval", "#bf3989", "pending: the network team's policy asks a person", dashed=True),
    Verdict("declined", "#9a6700", "pending: the autopilot declined it (left for a person)", dashed=True),
    Verdict("pending", "#0969da", "pending acceptance, not decided yet", dashed=True),
    Verdict("ended", "#8c959f", "rejected, expired, failed or deleted", dashed=True),
    Verdict("unknown", "#24292f", "any other state"),
)
BY_KEY = {v.key: v for v in VERDICTS}
# The worst first: a peering whose sides' verdicts differ shows the worst of them.
_PROBE_VERDICTS = (("blocked:", "blocked"), (HELD, "held"), ("unverified:", "unverified"))


def verdict_of(row: PeeringRow) -> Verdict:
    """Where the peering stands, for its colour: an ended peering is ended whatever its tags
    still say; a pending one awaiting a person, declined, or pending; an active one by its sides'
    verdicts (the worst: blocked, held, unverified; verified only when every verdict is), or
    configuring while it has none."""
    statuses = [s.status or "" for s in (row.requester, row.accepter)]
    if row.state in ENDED_STATES:
        return BY_KEY["ended"]
    if row.state in (PENDING, INITIATING):
        if any(approval.awaiting(s) for s in statuses):
            return BY_KEY["awaiting-approval"]
        if any(s.startswith(f"{DECLINED}:") for s in statuses):
            return BY_KEY["declined"]
        return BY_KEY["pending"]
    verdicts = [s for s in statuses if s and is_verdict(s)]
    for prefix, key in _PROBE_VERDICTS:
        if any(v.startswith(prefix) for v in verdicts):
            return BY_KEY[key]
    if verdicts and all(v == VERIFIED for v in verdicts):
        return BY_KEY["verified"]
    if row.state in CONFIGURABLE_STATES:
        return BY_KEY["configuring"]
    return BY_KEY["unknown"]


# ---------------------------------------------------------------------- the map's boxes
OPTED_IN, NOT_OPTED_IN, NOT_READ = "opted-in", "not-opted-in", "not-read"


@struct
class VpcBox:
    account_id: str
    region: str
    vpc_id: str
    kind: str  # OPTED_IN, NOT_OPTED_IN (its place was read, the VPC is not opted in), NOT_READ
    name: str | None = None
    cidrs: list[str] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0
    column: int = 0

    def add(self, cidrs: Iterable[str]) -> None:
        self.cidrs += [c for c in cidrs if c not in self.cidrs]

    @property
    def label(self) -> str:
        return f"{self.vpc_id} ({self.name})" if self.name else self.vpc_id


Key = tuple[str, str, str]  # account, region, VPC


def _boxes(report: EstateReport, vpcs: Sequence[Vpc]) -> dict[Key, VpcBox]:
    boxes: dict[Key, VpcBox] = {}
    for vpc in vpcs:
        box = boxes.setdefault(
            (vpc.account_id, vpc.region, vpc.vpc_id), VpcBox(vpc.account_id, vpc.region, vpc.vpc_id, OPTED_IN)
        )
        box.name = vpc.tags.get(NAME_TAG) or None
        box.add(str(b) for b in (*vpc.cidrs.ipv4, *vpc.cidrs.ipv6))
    for row in report.peerings:
        for side in (row.requester, row.accepter):
            kind = NOT_READ if not side.readable else OPTED_IN if side.groups is not None else NOT_OPTED_IN
            key = (side.account_id, side.region, side.vpc_id)
            box = boxes.setdefault(key, VpcBox(*key, kind))
            if box.kind == NOT_READ and kind != NOT_READ:
                box.kind = kind
            box.add(side.cidrs)
    return boxes


# Geometry (px): accounts are columns, regions stacked in them, VPCs stacked in their region.
MARGIN, COLUMN, GAP = 24, 300, 150
ACCOUNT_HEAD, REGION_HEAD, PAD = 30, 26, 10
BOX_H, BOX_GAP = 58, 12
END = 5  # a line ends this far outside its box, its dot beside the box
FONT_PX = 7.2  # about one character of the 12px monospace text


def _clip(text: str, width: float) -> str:
    room = max(4, int(width / FONT_PX))
    return text if len(text) <= room else text[: room - 1] + "\u2026"


def _svg_map(report: EstateReport, boxes: dict[Key, VpcBox]) -> tuple[str, str, int, int]:
    """The places' backdrop (account and region rectangles, drawn under the lines) and their
    labels and VPC boxes (drawn over them: a line passing another column goes behind its boxes);
    places each box (`VpcBox.x`, `y`, `column`); the map's width and height."""
    read = set(report.places)
    unread = {(p.account_id, p.region): p for p in report.not_read}
    regions: defaultdict[str, set[str]] = defaultdict(set)
    for account, region in (*read, *unread):
        regions[account].add(region)
    for account, region, _ in boxes:
        regions[account].add(region)
    backdrop: list[str] = []
    out: list[str] = []
    height = MARGIN
    for column, account in enumerate(sorted(regions)):
        x = MARGIN + column * (COLUMN + GAP)
        top = y = MARGIN
        y += ACCOUNT_HEAD
        body: list[str] = []
        rects: list[str] = []
        for region in sorted(regions[account]):
            inside = sorted((b for k, b in boxes.items() if k[:2] == (account, region)), key=lambda b: b.vpc_id)
            problem = unread.get((account, region))
            place_class = "place" if (account, region) in read else "place unread" if problem else "place unlisted"
            height_here = REGION_HEAD + PAD + max(len(inside), 1) * (BOX_H + BOX_GAP)
            rects.append(
                f'<rect class="{place_class}" x="{x + 8}" y="{y}" width="{COLUMN - 16}" height="{height_here}" rx="6"/>'
            )
            body.append(
                f'<g class="{place_class}" data-place="{escape(account)} {escape(region)}">'
                f'<text class="region" x="{x + 18}" y="{y + 18}">{escape(region)}</text>'
            )
            if problem:
                body.append(f"<title>{escape(f'{account} {region} not read: {problem.message}')}</title>")
            vy = y + REGION_HEAD
            if not inside:
                words = (
                    f"not read: {problem.message}"
                    if problem
                    else "no opted-in VPC, no peering"
                    if (account, region) in read
                    else "not listed (--accounts/--regions)"
                )
                body.append(f'<text class="note" x="{x + 24}" y="{vy + 20}">{escape(_clip(words, COLUMN - 48))}</text>')
            for box in inside:
                box.x, box.y, box.column = x + 18, vy, column
                body.append(_vpc_box(box))
                vy += BOX_H + BOX_GAP
            body.append("</g>")
            y += height_here + PAD
        backdrop.append(
            f'<rect class="account" x="{x}" y="{top}" width="{COLUMN}" height="{y - top}" rx="8"/>' + "".join(rects)
        )
        out.append(
            f'<g class="account" data-account="{escape(account)}">'
            f'<text class="account" x="{x + 10}" y="{top + 20}">account {escape(account)}</text>'
            + "".join(body)
            + "</g>"
        )
        height = max(height, y + MARGIN)
    width = MARGIN * 2 + max(len(regions), 1) * (COLUMN + GAP)  # a gap after the last column too, for its arcs
    return "".join(backdrop), "".join(out), width, max(height, 120)


def _vpc_box(box: VpcBox) -> str:
    w = COLUMN - 36
    kind_words = {OPTED_IN: "opted in", NOT_OPTED_IN: "not opted in", NOT_READ: "its place was not read"}[box.kind]
    title = "\n".join(
        [
            box.vpc_id,
            f"Name: {box.name}" if box.name else "Name: -",
            f"account {box.account_id} region {box.region}",
            f"blocks: {', '.join(box.cidrs) or '-'}",
            kind_words,
        ]
    )
    return (
        f'<g class="vpc {box.kind}" data-vpc="{escape(box.vpc_id)}"><title>{escape(title)}</title>'
        f'<rect x="{box.x}" y="{box.y}" width="{w}" height="{BOX_H}" rx="4"/>'
        f'<text class="name" x="{box.x + 8}" y="{box.y + 17}">{escape(_clip(box.name or "(no Name)", w - 16))}</text>'
        f'<text class="id" x="{box.x + 8}" y="{box.y + 33}">{escape(_clip(box.vpc_id, w - 16))}</text>'
        f'<text class="id" x="{box.x + 8}" y="{box.y + 49}">{escape(_clip(" ".join(box.cidrs) or "-", w - 16))}</text>'
        "</g>"
    )


def _line(row: PeeringRow, a: VpcBox, b: VpcBox, ay: float, by: float) -> str:
    """A cubic curve from the facing edges of the two boxes (`a` in the column to the left), or
    from both right edges when they share a column; `ay` and `by` are its ends' heights."""
    w = COLUMN - 36
    if a.column == b.column:
        x1 = x2 = a.x + w + END
        bend = min(50 + abs(ay - by) / 6, GAP * 1.2)  # stays in the gap after the column
        c1, c2 = (x1 + bend, ay), (x2 + bend, by)
    else:
        x1, x2 = a.x + w + END, b.x - END
        reach = max(50.0, (x2 - x1) / 2)
        c1, c2 = (x1 + reach, ay), (x2 - reach, by)
    verdict = verdict_of(row)
    d = f"M{x1:.1f},{ay:.1f} C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} {x2:.1f},{by:.1f}"
    dash = ' stroke-dasharray="8 5"' if verdict.dashed else ""
    pid = escape(row.peering_id)
    return (
        f'<g class="peering verdict-{verdict.key}" id="line-{pid}" data-peering="{pid}" '
        f'data-verdict="{verdict.key}" tabindex="0"><title>{escape(_details(row, verdict))}</title>'
        f'<path class="hit" d="{d}"/>'
        f'<path class="line" d="{d}" stroke="{verdict.colour}"{dash}/>'
        f'<circle cx="{x1:.1f}" cy="{ay:.1f}" r="4" fill="{verdict.colour}"/>'
        f'<circle cx="{x2:.1f}" cy="{by:.1f}" r="4" fill="{verdict.colour}"/>'
        "</g>"
    )


def _details(row: PeeringRow, verdict: Verdict) -> str:
    """The hover text: the peering, where it stands and why, and both sides."""
    lines = [f"{row.peering_id} ({row.state})", f"{verdict.key}: {row.verdict or verdict.words}"]
    for role, side in (("requester", row.requester), ("accepter", row.accepter)):
        lines.append(f"{role}: {side.account_id} {side.region} {side.vpc_id}")
        lines.append(f"  blocks: {', '.join(side.cidrs) or '-'}")
        if side.readable:
            lines.append(f"  status tag: {side.status or '-'}")
            lines.append(f"  missing: {side.missing}")
        else:
            lines.append("  not readable: its account and region were not read")
    return "\n".join(lines)


def _lines(report: EstateReport, boxes: dict[Key, VpcBox]) -> str:
    """A line per peering; the lines meeting one edge of a box spread along it, in the order of
    the heights of their other ends (fewer crossings)."""
    drawn: list[tuple[PeeringRow, Key, Key]] = []  # the row, its left end, its right end
    edges: defaultdict[tuple[Key, str], list[tuple[float, int, int]]] = defaultdict(list)
    for i, row in enumerate(report.peerings):
        one, other = sorted(
            ((s.account_id, s.region, s.vpc_id) for s in (row.requester, row.accepter)),
            key=lambda k: (boxes[k].column, k),
        )
        same = boxes[one].column == boxes[other].column
        drawn.append((row, one, other))
        edges[(one, "right")].append((boxes[other].y, i, 0))
        edges[(other, "right" if same else "left")].append((boxes[one].y, i, 1))
    heights: dict[tuple[int, int], float] = {}
    for (key, _), ends in edges.items():
        for slot, (_, i, end) in enumerate(sorted(ends)):
            heights[(i, end)] = boxes[key].y + BOX_H * (slot + 1) / (len(ends) + 1)
    return "".join(
        _line(row, boxes[one], boxes[other], heights[(i, 0)], heights[(i, 1)])
        for i, (row, one, other) in enumerate(drawn)
    )


# ---------------------------------------------------------------------- the table
def _side_cell(side: SideRow, name: str | None) -> str:
    named = f" ({name})" if name else ""
    return (
        f"{escape(side.account_id)} {escape(side.region)}<br><code>{escape(side.vpc_id)}</code>{escape(named)}"
        f"<br>{escape(', '.join(side.cidrs) or '-')}"
    )


def _table(report: EstateReport, boxes: dict[Key, VpcBox]) -> str:
    if not report.peerings:
        return f"<p>No peerings in the {len(report.places)} place(s) read.</p>"
    head = ["Peering", "State", "Verdict", "Requester", "Accepter", "Status tag", "Groups", "Missing", "Headroom"]
    if report.decisions is not None:
        head.append("Last decision")
    rows = []
    for row in report.peerings:
        verdict = verdict_of(row)
        sides = (row.requester, row.accepter)

        def per_side(value: Callable[[SideRow], object], sides: tuple[SideRow, SideRow] = sides) -> str:
            return "<br>".join(escape(str(value(s))) if s.readable else "?" for s in sides)

        names = [boxes[(s.account_id, s.region, s.vpc_id)].name for s in sides]
        cells = [
            f"<code>{escape(row.peering_id)}</code>",
            escape(row.state),
            f'<span class="swatch verdict-{verdict.key}"></span>{escape(verdict.key)}'
            f"<br><small>{escape(row.verdict or '-')}</small>",
            _side_cell(row.requester, names[0]),
            _side_cell(row.accepter, names[1]),
            per_side(lambda s: s.status or "-"),
            per_side(lambda s: ",".join(s.groups or ()) or "-"),
            "<br>".join(escape(s.missing) for s in sides),
            per_side(lambda s: s.quota_headroom),
        ]
        if report.decisions is not None:
            last = report.decisions.get(row.peering_id)
            cells.append(escape(f"{last.kind} {last.at} {last.actor}") if last else "-")
        pid = escape(row.peering_id)
        rows.append(
            f'<tr id="row-{pid}" data-peering="{pid}" data-verdict="{verdict.key}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    return (
        '<table class="status"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table><p><small>Per-side cells read requester, then accepter; ? not readable, - none.</small></p>"
    )


def _group_lines(plan: GroupPlan) -> list[str]:
    lines = [f"to request ({r.group}): {r.requester.vpc_id} -> {r.accepter.vpc_id}" for r in plan.requests]
    lines += [f"to withdraw ({w.group}): {w.peering.peering_id}: {w.why}" for w in plan.withdrawals]
    lines += [
        f"skipped ({s.group}): {s.pair.requester} <-> {s.pair.accepter}: {s.code}: {s.reason}" for s in plan.skipped
    ]
    lines += [f"unclear tag: {u}" for u in plan.unclear]
    lines += [f"advice: {a.message}" for a in plan.advice]
    return lines or ["converged: every pair that shares a group is peered"]


def _sections(report: EstateReport) -> str:
    out = []

    def listed(title: str, items: Iterable[str]) -> None:
        out.append(f"<h2>{title}</h2><ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")

    if report.approvals:
        listed(
            "Pending approvals (the policy asks a person)",
            (
                f"{a.peering_id}  {a.requester} -> {a.accepter}  rule {a.rule}  age {age_words(a.age_seconds)}"
                f"  expires {a.expires or '?'}{'  (reminded)' if a.reminded else ''}"
                for a in report.approvals
            ),
        )
    if report.groups is not None:
        listed("Peering groups", _group_lines(report.groups))
    if not report.record_read:
        out.append(f"<p>{escape(RECORD_NOT_READ)}</p>")
    if report.not_read:
        listed("Not read", (f"{p.account_id} {p.region}: {p.message}" for p in report.not_read))
    if report.record_not_read:
        out.append(f"<p>Record not read: {escape(report.record_not_read)}</p>")
    return "".join(out)


# ---------------------------------------------------------------------- the page
STYLE = """
body { font: 14px system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1f2328; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.meta { color: #59636e; margin: 0 0 12px; }
.map { overflow: auto; border: 1px solid #d1d9e0; border-radius: 8px; background: #f6f8fa; }
svg text { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; fill: #1f2328; }
svg text.account { font: 600 13px system-ui, sans-serif; } svg text.region { font-weight: 600; fill: #59636e; }
svg text.note { fill: #59636e; font-style: italic; }
rect.account { fill: #ffffff; stroke: #818b98; }
rect.place { fill: #eef2f6; stroke: #c8d1da; } rect.place.unread { fill: #fff1f0; stroke: #d1242f; stroke-dasharray: 6 4; }
rect.place.unlisted { fill: #f6f8fa; stroke: #c8d1da; stroke-dasharray: 3 3; }
.vpc rect { fill: #ffffff; stroke: #0969da; stroke-width: 1.5; }
.vpc.not-opted-in rect { stroke: #818b98; stroke-dasharray: 4 3; } .vpc.not-read rect { stroke: #d1242f; stroke-dasharray: 4 3; }
.vpc text.name { font-weight: 700; }
.peering path.line { fill: none; stroke-width: 3; opacity: 0.9; }
.peering path.hit { fill: none; stroke: transparent; stroke-width: 14; }
.peering:hover path.line, .peering:focus path.line, .peering.lit path.line { stroke-width: 6; opacity: 1; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 12px 0; padding: 0; list-style: none; }
.swatch { display: inline-block; width: 22px; height: 6px; border-radius: 3px; margin-right: 6px; vertical-align: middle; }
table.status { border-collapse: collapse; width: 100%; }
table.status th, table.status td { border: 1px solid #d1d9e0; padding: 4px 6px; vertical-align: top; text-align: left; }
table.status th { background: #f6f8fa; } table.status tr.lit td { background: #fff8c5; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
"""
STYLE += "".join(f".verdict-{v.key}.swatch {{ background: {v.colour}; }}\n" for v in VERDICTS)

# Hovering a line lights its row and the other way round; nothing else.
SCRIPT = """
(function () {
  var marked = document.querySelectorAll("[data-peering]");
  function light(id, on) {
    marked.forEach(function (el) { if (el.getAttribute("data-peering") === id) { el.classList.toggle("lit", on); } });
  }
  marked.forEach(function (el) {
    var id = el.getAttribute("data-peering");
    el.addEventListener("mouseenter", function () { light(id, true); });
    el.addEventListener("mouseleave", function () { light(id, false); });
  });
})();
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _legend(report: EstateReport) -> str:
    counts: defaultdict[str, int] = defaultdict(int)
    for row in report.peerings:
        counts[verdict_of(row).key] += 1
    return (
        '<ul class="legend">'
        + "".join(
            f'<li data-verdict="{v.key}"><span class="swatch verdict-{v.key}"></span><b>{v.key}</b> '
            f"({counts[v.key]}): {escape(v.words)}{' (dashed)' if v.dashed else ''}</li>"
            for v in VERDICTS
        )
        + "</ul>"
    )


def render(report: EstateReport, vpcs: Sequence[Vpc] | None = None, generated_at: str = "") -> str:
    """The page: the map (accounts, regions, VPCs with their names and blocks; a line per peering
    coloured by `verdict_of`, the details in its hover title), the legend, then the table."""
    boxes = _boxes(report, vpcs if vpcs is not None else report.vpcs or ())
    backdrop, shapes, width, height = _svg_map(report, boxes)
    policy = (
        f"default-src 'none'; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; base-uri 'none'; form-action 'none'"
    )
    places = ", ".join(f"{a} {r}" for a, r in report.places) or "none"
    meta = f"{len(report.peerings)} peering(s); places read: {places}"
    if report.not_read:
        meta += f"; not read: {', '.join(f'{p.account_id} {p.region}' for p in report.not_read)}"
    if generated_at:
        meta += f"; generated {generated_at}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(policy)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Peering Autopilot: the estate</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Peering Autopilot: the estate</h1>"
        f'<p class="meta">{escape(meta)}</p>'
        f"{_legend(report)}"
        f'<div class="map"><svg id="estate-map" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="VPCs by account and region, a line per peering">'
        f'<g class="backdrop">{backdrop}</g><g class="peerings">{_lines(report, boxes)}</g>'
        f'<g class="places">{shapes}</g></svg></div>'
        "<h2>Status</h2>"
        f"{_table(report, boxes)}{_sections(report)}"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
