"""One self-contained HTML page for a `Report`: inline CSS and SVG, no script, no fetch.

Every piece of text that comes from the data (endpoints above all) goes through `_text`,
which escapes it for HTML, in element content and in attributes alike, so a path such as
`/<script>...</script>` is shown, never run. A Content-Security-Policy forbids every fetch
and every script as a second line of defence.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

from hitcount._version import __version__
from hitcount.model.answers import WindowAnswer
from hitcount.model.inert import unambiguous
from hitcount.model.metrics import four_digits, metric_text, number, plain, upper_bound
from hitcount.model.timeparse import iso
from hitcount.views.report import GENERATOR, Report
from hitcount.views.series import EndpointSeries, Point, total_text

#: Nothing may be fetched or run; only the inline stylesheet applies.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"
#: Chart size in CSS pixels, and the room kept for the axis labels around the plot area.
CHART_WIDTH, CHART_HEIGHT = 760, 150
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 8, 10, 22

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 800px;
       padding: 0 1em; color: #1d2330; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0; } h2 { font-size: 1.15em; margin-top: 2em; }
.sub, figcaption .stats, .axis { color: #5b6475; }
.note { background: #f4f6fa; border-left: 4px solid #3b6fb6; padding: .6em 1em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #e3e6ec; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
code, .ep { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
figure { margin: 1.2em 0; } figcaption { margin-bottom: .2em; }
svg.chart { display: block; max-width: 100%; height: auto; }
.bar { fill: #3b6fb6; } .bar.estimate { fill: #7f9fd0; }
.range { stroke: #1d2330; stroke-width: 1; }
.unknown { stroke: none; }
.frame { stroke: #9aa3b2; stroke-width: 1; fill: none; }
.axis { font: 11px system-ui, sans-serif; fill: #5b6475; }
"""


def render_html(report: Report, source: str | None = None) -> str:
    """The report as one HTML document (a `str`), with no external resource.

    Args:
        report: what to show (`hitcount.views.report.build_report`).
        source: where the state came from, shown in the header (e.g. the state file).
    """
    body = [
        _header(report, source),
        _section("Accuracy", "".join(f"<p>{_text(note)}</p>" for note in report.notes), "note"),
        _charts(report),
        _top_table(report),
        _metrics_table(report.metrics),
        f"<footer><p class=sub>{_text(GENERATOR)} {_text(__version__)}</p></footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        f'<meta name="generator" content="{GENERATOR} {_text(__version__)}">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>hitcount report</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _text(value: object) -> str:
    """Data as HTML text, safe in element content and in quoted attributes alike.

    Control and bidi characters are shown as Python escapes (ESC as x1b), so they cannot hide or
    reorder what is around them: the one rule of every output (`model.inert`).
    """
    return html.escape(unambiguous(str(value)), quote=True)


def _count(answer: WindowAnswer) -> str:
    return number(answer.count) if answer.exact else f"~{number(answer.count)}"


def _section(title: str, content: str, css_class: str = "") -> str:
    slug = title.lower().replace(" ", "-")
    div = f"<div class={css_class}>{content}</div>" if css_class else content
    return f"<section id={slug}>\n<h2>{_text(title)}</h2>\n{div}\n</section>"


def _window_text(report: Report) -> str:
    if report.now is None:
        return "the state has not seen a hit yet"
    if report.all_time:
        return f"all time, clock {iso(report.now)}"
    start, end = iso(report.now - report.last_s), iso(report.now)
    return f"last {_duration(report.last_s)}: {start} < ts <= {end}"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{number(seconds)}s"


def _header(report: Report, source: str | None) -> str:
    where = f" · state {_text(source)}" if source else ""
    return (
        "<header>\n<h1>hitcount report</h1>\n"
        f"<p class=sub>{_text(_window_text(report))}<br>strategy <code>{_text(report.strategy)}"
        f"</code>: {_text(report.summary)}{where}</p>\n</header>"
    )


# -- charts ----------------------------------------------------------------------------------


def _charts(report: Report) -> str:
    chart = report.series
    if chart is None:
        reason = (
            "No charts: this strategy keeps no time (see Accuracy); the table below has totals."
            if report.all_time
            else f"No hits in the window ({_window_text(report)}), so nothing to chart."
            if report.none_certain
            else f"No hit kept in the window ({_window_text(report)}), so nothing to chart;"
            " the window may hold hits the state does not keep (see Accuracy)."
        )
        return _section("Hits over time", f"<p>{_text(reason)}</p>")
    intro = (
        f"<p class=sub>Hits per {_text(_duration(chart.step_s))} step, {len(chart.times)} steps,"
        " each chart on its own scale (its largest value at the top left). Hover a bar for"
        " its count; hatched steps are unknown (before the oldest data kept).</p>"
    )
    figures = (_figure(index, s, chart.start, chart.now) for index, s in enumerate(chart.series))
    return _section("Hits over time", intro + "\n".join(figures))


def _figure(index: int, s: EndpointSeries, start: float, end: float) -> str:
    total = total_text(s.total)
    return (
        f'<figure id=chart-{index} data-endpoint="{_text(s.endpoint)}">'
        f"<figcaption><span class=ep>{_text(s.endpoint)}</span>"
        f" <span class=stats>· total {_text(total)}</span></figcaption>\n"
        f"{_svg(index, s, start, end, total)}</figure>"
    )


def _scale_top(points: Iterable[Point]) -> float:
    """The value at the top of a chart: the largest count or finite upper bound, at least 1."""
    values = [p.count for p in points if p.complete]
    values += [p.high for p in points if p.complete and math.isfinite(p.high)]
    return max([1.0, *values])


def _svg(index: int, s: EndpointSeries, start: float, end: float, total: str) -> str:
    top = _scale_top(s.points)
    plot_w = CHART_WIDTH - _LEFT - _RIGHT
    plot_h = CHART_HEIGHT - _TOP - _BOTTOM
    slot = plot_w / len(s.points)
    gap = 1.0 if slot >= 4 else 0.0
    marks = [
        _mark(p, _LEFT + i * slot, max(slot - gap, 0.5), top, plot_h, index)
        for i, p in enumerate(s.points)
    ]
    baseline = _TOP + plot_h
    return (
        f'<svg class=chart width="{CHART_WIDTH}" height="{CHART_HEIGHT}"'
        f' viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role=img'
        f' aria-label="hits per step of {_text(s.endpoint)}">'
        f"<title>{_text(s.endpoint)}: total {_text(total)}</title>"
        f'<defs><pattern id="hatch-{index}" width="6" height="6" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)"><rect width="6" height="6" fill="#eceef2"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#a3abb9" stroke-width="2"/></pattern></defs>'
        f'<rect class=frame x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}"/>'
        f'<text class="axis ymax" x="{_LEFT - 4}" y="{_TOP + 9}" text-anchor=end>'
        f"{number(top)}</text>"
        f'<text class="axis" x="{_LEFT - 4}" y="{baseline}" text-anchor=end>0</text>'
        f'<text class="axis tstart" x="{_LEFT}" y="{CHART_HEIGHT - 6}">{iso(start)}</text>'
        f'<text class="axis tend" x="{CHART_WIDTH - _RIGHT}" y="{CHART_HEIGHT - 6}"'
        f" text-anchor=end>{iso(end)}</text>"
        f"<g class=marks>{''.join(marks)}</g></svg>"
    )


def _mark(p: Point, x: float, width: float, top: float, plot_h: float, index: int) -> str:
    """One step: a bar (and an error bar for an estimate), or a hatched unknown step."""
    data = (
        f'data-end="{p.end!r}" data-count="{plain(p.count)}" data-low="{plain(p.low)}"'
        f' data-high="{plain(p.high)}" data-exact="{str(p.exact).lower()}"'
    )
    when = f"{iso(p.start)} < ts <= {iso(p.end)}"
    if not p.complete:
        tip = f"{when}: unknown, before the oldest data kept (at least {number(p.low)})"
        return (
            f'<rect class=unknown {data} x="{x:.2f}" y="{_TOP}" width="{width:.2f}"'
            f' height="{plot_h}" fill="url(#hatch-{index})"><title>{_text(tip)}</title></rect>'
        )
    height = p.count / top * plot_h
    kind = "bar" if p.exact else "bar estimate"
    bounds = "" if p.exact else f" ({number(p.low)}..{number(p.high)})"
    tip = f"{when}: {_count(p.answer)} hits{bounds}"
    bar = (
        f'<rect class="{kind}" {data} x="{x:.2f}" y="{_TOP + plot_h - height:.2f}"'
        f' width="{width:.2f}" height="{height:.2f}"><title>{_text(tip)}</title></rect>'
    )
    if p.exact or not math.isfinite(p.high):
        return bar
    centre, low_y = x + width / 2, _TOP + plot_h - p.low / top * plot_h
    high_y = _TOP + plot_h - p.high / top * plot_h
    return (
        bar + f'<line class=range x1="{centre:.2f}" x2="{centre:.2f}" y1="{low_y:.2f}"'
        f' y2="{high_y:.2f}"/>'
    )


# -- tables ----------------------------------------------------------------------------------


def _top_table(report: Report) -> str:
    title = "Totals over all time" if report.all_time else "Top endpoints"
    if not report.top:
        none = "had a hit in the window" if report.none_certain else "has a hit kept in the window"
        return _section(title, f"<p>No endpoint {none}.</p>")
    charted = report.series is not None
    rows = []
    for rank, result in enumerate(report.top, 1):
        a = result.answer
        name = _text(result.endpoint)
        cell = f'<a href="#chart-{rank - 1}">{name}</a>' if charted else name
        rows.append(
            f"<tr><td class=n>{rank}</td><td class=ep>{cell}</td>"
            f"<td class=n>{_text(number(a.count))}</td><td class=n>{_text(number(a.low))}</td>"
            f"<td class=n>{_text(upper_bound(a.high))}</td><td>{'yes' if a.exact else 'no'}</td>"
            f"<td class=n>{_text(_peak(report, rank - 1))}</td></tr>"
        )
    head = (
        "<tr><th class=n>#</th><th>endpoint</th><th class=n>count</th><th class=n>low</th>"
        "<th class=n>high</th><th>exact</th><th class=n>peak hits/s</th></tr>"
    )
    table = f"<table id=top-table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    return _section(title, table)


def _peak(report: Report, index: int) -> str:
    """The busiest step of the `index`th charted endpoint in hits per second, or `-`."""
    chart = report.series
    if chart is None or index >= len(chart.series):
        return "-"
    peak = chart.peak(chart.series[index])
    return "-" if peak is None else four_digits(peak.per_s)


def _metrics_table(metrics: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{_text(name)}</code></td><td>{_text(metric_text(name, value))}</td></tr>"
        for name, value in metrics.items()
    )
    head = "<tr><th>metric</th><th>value</th></tr>"
    return _section(
        "Metrics", f"<table id=metrics-table><thead>{head}</thead><tbody>{rows}</tbody></table>"
    )
