"""SVG dot plots: valid XML, the gate outline present, deterministic bytes."""

from __future__ import annotations

import defusedxml.ElementTree as SafeET
import pytest

from celltrace.assays.errors import AssayInputError
from celltrace.assays.flow import plot_gates_svg

from .conftest import FCS_DIR, FLOW_DIR

pytest.importorskip("flowkit")

SVG_NS = "{http://www.w3.org/2000/svg}"
CALIBUR = FCS_DIR / "data1.fcs"
TEMPLATE = FLOW_DIR / "t_panel_data1_asinh.gatingml.xml"


def _gate_element(svg: str, gate: str) -> object:
    root = SafeET.fromstring(svg.encode())
    assert root.tag == f"{SVG_NS}svg"
    matches = [el for el in root.iter() if el.get("id") == f"gate-{gate}"]
    assert len(matches) == 1, f"gate-{gate} outline missing"
    return matches[0]


def test_polygon_and_rectangle_gates_are_drawn() -> None:
    plots = plot_gates_svg(CALIBUR, TEMPLATE, gates=["Cells", "CD4pos_CD8neg"], max_events=400)
    assert [p.gate_path for p in plots] == ["Cells", "Cells/CD3pos/CD4pos_CD8neg"]
    cells, cd4 = plots
    assert (cells.x_channel, cells.y_channel) == ("FSC-H", "SSC-H")
    assert cells.plotted_events == 400 and cells.parent_events == 13367
    outline = _gate_element(cells.svg, "Cells")
    paths = [el for el in outline.iter() if el.tag == f"{SVG_NS}path"]  # type: ignore[attr-defined]
    assert paths and paths[0].get("d", "").count("L") >= 3  # four-vertex polygon
    assert (cd4.x_channel, cd4.y_channel) == ("FL1-H", "FL2-H")
    assert cd4.parent_events < cells.parent_events
    _gate_element(cd4.svg, "CD4pos_CD8neg")
    assert "FL1-H (CD4 FITC)" in cd4.svg  # axis labelled with channel and marker


def test_one_dimensional_gate_is_a_histogram_with_its_range() -> None:
    (plot,) = plot_gates_svg(CALIBUR, TEMPLATE, gates=["CD3pos"], max_events=300)
    assert plot.y_channel is None
    _gate_element(plot.svg, "CD3pos")


def test_svg_is_deterministic() -> None:
    first = plot_gates_svg(CALIBUR, TEMPLATE, gates=["Cells"], max_events=300)[0].svg
    second = plot_gates_svg(CALIBUR, TEMPLATE, gates=["Cells"], max_events=300)[0].svg
    assert first == second
    assert "<script" not in first


def test_max_events_must_be_positive() -> None:
    with pytest.raises(AssayInputError, match="max_events"):
        plot_gates_svg(CALIBUR, TEMPLATE, max_events=0)
