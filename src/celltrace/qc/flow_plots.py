"""Dot plots of a flow result, rendered from its stored FCS file and gating template.

The plots are drawn by :func:`celltrace.assays.flow.plot_gates_svg` (matplotlib, deterministic)
from the exact files whose SHA-256 the result's calculation names, and cached next to the file
store (``instrument-files/plots/<fcs sha>-<template sha>/``). An SVG is served only after a
check that it holds no script, event handler or external reference (it is ours, but the channel
names inside it come from the uploaded file).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from celltrace.assays import flow
from celltrace.assays.errors import AssayInputError
from celltrace.core.errors import Invalid, NotFound
from celltrace.qc import instrument_files

PLOT_VERSION: Final = "1"
MAX_EVENTS: Final = 5000
_UNSAFE: Final = re.compile(
    r"<\s*script|<\s*foreignObject|\son[a-z]+\s*=|javascript:|xlink:href\s*=\s*['\"](?!#)"
    r"|href\s*=\s*['\"](?!#)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PlotInfo:
    index: int
    gate_path: str
    x_channel: str
    y_channel: str | None
    parent_events: int
    plotted_events: int


def _files(calculation: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, str]] | None:
    files = instrument_files.files_of(calculation)
    fcs = next((f for f in files if f.get("kind") == "fcs"), None)
    tpl = next((f for f in files if str(f.get("kind", "")).startswith("template")), None)
    return None if fcs is None or tpl is None else (fcs, tpl)


def has_plots(calculation: dict[str, Any] | None) -> bool:
    return _files(calculation) is not None


def _wsp(calculation: dict[str, Any] | None) -> str | None:
    wsp = (calculation or {}).get("inputs", {}).get("wsp_sample") or None
    return None if wsp in (None, "—") else str(wsp)


def _cache_dir(fcs_sha: str, tpl_sha: str, wsp: str | None) -> Path:
    """Plots depend on the FCS file, the template and (for a workspace) the sample's gates."""
    key = hashlib.sha256((wsp or "").encode()).hexdigest()[:16]
    return instrument_files.root() / "plots" / f"{fcs_sha}-{tpl_sha}-{key}-v{PLOT_VERSION}"


def plots_of(calculation: dict[str, Any] | None) -> list[PlotInfo]:
    """The gate plots of a flow result (rendered and cached on first use)."""
    pair = _files(calculation)
    if pair is None:
        return []
    fcs, tpl = pair
    folder = _cache_dir(fcs["sha256"], tpl["sha256"], _wsp(calculation))
    index = folder / "index.json"
    if not index.exists():
        _render(fcs, tpl, calculation or {}, folder)
    return [PlotInfo(**row) for row in json.loads(index.read_text(encoding="utf-8"))]


def _render(
    fcs: dict[str, str], tpl: dict[str, str], calculation: dict[str, Any], folder: Path
) -> None:
    wsp = _wsp(calculation)
    try:
        plots = flow.plot_gates_svg(
            flow.FcsFile(fcs["name"], fcs["sha256"], instrument_files.load(fcs["sha256"])),
            flow.GatingTemplate.load(instrument_files.load(tpl["sha256"]), file_name=tpl["name"]),
            wsp_sample=wsp,
            max_events=MAX_EVENTS,
        )
    except (AssayInputError, flow.FlowKitMissingError) as exc:
        raise Invalid(str(exc)) from exc
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, plot in enumerate(plots):
        if _UNSAFE.search(plot.svg):
            continue
        (folder / f"{i}.svg").write_text(plot.svg, encoding="utf-8")
        rows.append(
            {
                "index": i,
                "gate_path": plot.gate_path,
                "x_channel": plot.x_channel,
                "y_channel": plot.y_channel,
                "parent_events": plot.parent_events,
                "plotted_events": plot.plotted_events,
            }
        )
    tmp = folder / "index.json.tmp"
    tmp.write_text(json.dumps(rows), encoding="utf-8")
    tmp.replace(folder / "index.json")


def plot_svg(calculation: dict[str, Any] | None, index: int) -> str:
    """The SVG text of plot ``index`` of a flow result."""
    pair = _files(calculation)
    if pair is None:
        raise NotFound("No plot.")
    known = {p.index for p in plots_of(calculation)}
    if index not in known:
        raise NotFound("No plot.")
    folder = _cache_dir(pair[0]["sha256"], pair[1]["sha256"], _wsp(calculation))
    svg = (folder / f"{index}.svg").read_text(encoding="utf-8")
    if _UNSAFE.search(svg):
        raise NotFound("No plot.")
    return svg
