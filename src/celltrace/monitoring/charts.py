"""Temperature chart of a storage unit as server-side SVG (matplotlib, SVG backend, no pyplot).

Deterministic: fixed ``svg.hashsalt``, no date in the metadata, text kept as ``<text>`` (the
browser draws it, so the legend is in the page's language, Chinese included).
Threshold lines carry the ids ``threshold-alarm-high``, ``threshold-alarm-low`` (solid) and
``threshold-warn-high``, ``threshold-warn-low`` (dashed); excursions are shaded spans with ids
``excursion-<pk>``, so that pages and tests can find them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import matplotlib
from django.utils.translation import gettext as _
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from celltrace.core.charts import figure_svg
from celltrace.monitoring.choices import ExcursionKind
from celltrace.monitoring.models import Excursion
from celltrace.monitoring.selectors import SensorSeries, Thresholds

PALETTE = ("#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000")
ALARM = "#D55E00"
WARN = "#E69F00"
SHADE = {
    ExcursionKind.ABOVE: "#D55E00",
    ExcursionKind.BELOW: "#0072B2",
    ExcursionKind.SILENT: "#999999",
}

#: Time axis labels, numeric so that they read the same in every language (matplotlib's
#: defaults name the months in English: "Dec", "Dec-05", "2026-Dec-07"). One entry per level of
#: ``ConciseDateFormatter``: years, months, days, hours, minutes, seconds.
TICK_FORMATS = ["%Y", "%Y-%m", "%m-%d", "%H:%M", "%H:%M", "%S.%f"]
#: A tick at the start of the next level up (midnight on an hourly axis shows the date).
ZERO_FORMATS = ["", "%Y", "%m-%d", "%m-%d", "%H:%M", "%H:%M"]
#: The offset printed at the axis' end: what the tick labels leave out.
OFFSET_FORMATS = ["", "%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d %H:%M"]


def _num(value: Any) -> Any:
    """matplotlib date numbers of a datetime or a list of them."""
    return date2num(value)  # type: ignore[no-untyped-call]


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def temperature_chart(
    *,
    title: str,
    series: Sequence[SensorSeries],
    thresholds: Thresholds,
    excursions: Sequence[Excursion],
    start: dt.datetime,
    end: dt.datetime,
) -> str:
    """The SVG text of the chart over ``[start, end]`` (UTC)."""
    with rc_context():
        matplotlib.rc("svg", hashsalt="celltrace-monitoring", fonttype="none")
        matplotlib.rc("font", family="DejaVu Sans", size=9)
        matplotlib.rc("axes.spines", top=False, right=False)
        matplotlib.rc("path", simplify=True)
        fig = Figure(figsize=(9.0, 3.6))
        FigureCanvasSVG(fig)
        ax = fig.add_subplot()
        x0, x1 = _naive_utc(start), _naive_utc(end)
        for exc in excursions:
            lo = max(_naive_utc(exc.started_at), x0)
            hi = min(_naive_utc(exc.ended_at or end), x1)
            if hi < lo:
                continue
            span = ax.axvspan(
                _num(lo),
                _num(hi),
                color=SHADE.get(ExcursionKind(exc.kind), "#999999"),
                alpha=0.15,
                linewidth=0,
            )
            span.set_gid(f"excursion-{exc.pk}")
        lines = (
            ("threshold-alarm-high", thresholds.high_c, ALARM, "-", _("alarm high")),
            ("threshold-alarm-low", thresholds.low_c, ALARM, "-", _("alarm low")),
            ("threshold-warn-high", thresholds.warn_high_c, WARN, "--", _("warning")),
            ("threshold-warn-low", thresholds.warn_low_c, WARN, "--", None),
        )
        for gid, value, colour, style, label in lines:
            line = ax.axhline(
                float(value), color=colour, linestyle=style, linewidth=1.0, label=label
            )
            line.set_gid(gid)
        for i, s in enumerate(series):
            if not s.times:
                continue
            (line,) = ax.plot(
                _num([_naive_utc(t) for t in s.times]),
                [float(v) for v in s.values],
                color=PALETTE[i % len(PALETTE)],
                linewidth=1.0,
                label=s.sensor.probe_id,
            )
            line.set_gid(f"sensor-{s.sensor.pk}")
        ax.set_xlim(_num(x0), _num(x1))
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(
            ConciseDateFormatter(  # type: ignore[no-untyped-call]
                locator,
                formats=TICK_FORMATS,
                zero_formats=ZERO_FORMATS,
                offset_formats=OFFSET_FORMATS,
            )
        )
        ax.set_ylabel("°C")
        ax.set_title(title, loc="left")
        ax.grid(True, linewidth=0.3, alpha=0.5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
        fig.subplots_adjust(left=0.08, right=0.82, top=0.88, bottom=0.14)
        svg = figure_svg(fig)  # a Chinese legend (or unit names): drawn by the browser
    return svg
