"""SVG charts: well-formed XML, injection markers and labels, deterministic output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from defusedxml import ElementTree

from celltrace.assays.metabolism.analysis import (
    AnalysisSettings,
    analyse_atp_rate,
    analyse_mito_stress,
)
from celltrace.assays.metabolism.charts import (
    all_charts,
    energy_map,
    kinetic_chart,
    parameter_chart,
)
from celltrace.assays.metabolism.seahorse import read_wave_export
from tests.assays.metabolism.direct import EXPORTS, XFE24, XFE96, load

SVG = "{http://www.w3.org/2000/svg}"


def _ids(svg: str) -> set[str]:
    root = ElementTree.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    return {el.get("id") for el in root.iter() if el.get("id")}


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name)
@pytest.mark.parametrize("rate", ["OCR", "ECAR"])
def test_kinetic_chart_has_the_injection_markers(path: Path, rate: str) -> None:
    direct = load(path)
    svg = kinetic_chart(analyse_mito_stress(read_wave_export(path)), rate)
    ids = _ids(svg)
    # Every injection the Operation Log shows between two measurements is marked and labelled;
    # one made after the last measurement has nothing to mark.
    ports = "ABCD"
    for i, (name, after) in enumerate(direct.injected_after):
        marked = 1 <= after < direct.n_measurements
        assert (f"injection-{ports[i]}" in ids) is marked, name
        assert (f"injection-label-{ports[i]}" in ids) is marked, name
        if marked:
            assert f"{ports[i]}: {name}" in svg
    assert f"{rate} (" in svg  # axis label with unit


def test_charts_are_deterministic_and_undated() -> None:
    result = analyse_mito_stress(read_wave_export(XFE24[0]))
    first, second = all_charts(result), all_charts(result)
    assert first == second
    for svg in first.values():
        assert "<dc:date>" not in svg
        _ids(svg)


def test_energy_map_has_one_point_per_group() -> None:
    result = analyse_mito_stress(read_wave_export(XFE96))
    svg = energy_map(result)
    points = {i for i in _ids(svg) if re.fullmatch(r"point-\d+", i)}
    assert len(points) == len(result.groups) == 4
    for g in result.groups:
        assert g.group in svg
    assert "ECAR (mpH/min)" in svg and "OCR (pmol/min)" in svg


def test_energy_map_of_several_time_points() -> None:
    a = analyse_mito_stress(read_wave_export(XFE24[0]))
    b = analyse_mito_stress(read_wave_export(XFE24[1]))
    svg = energy_map([a, b], labels=["banking", "month 6"])
    assert "banking: A" in svg and "month 6: E" in svg
    assert len([i for i in _ids(svg) if i.startswith("point-")]) == len(a.groups) + len(b.groups)


def test_parameter_chart_covers_every_parameter() -> None:
    result = analyse_atp_rate(read_wave_export(XFE96), settings=AnalysisSettings(ccf=0.61))
    svg = parameter_chart(result)
    for p in result.parameters:
        assert p.label in svg
    expected = {f"bar-{i}-{p.key}" for i in range(len(result.groups)) for p in result.parameters}
    assert len(expected) == 4 * 5
    assert expected <= _ids(svg)


def test_atp_rate_charts_include_per_trace() -> None:
    charts = all_charts(
        analyse_atp_rate(read_wave_export(XFE96), settings=AnalysisSettings(ccf=0.61))
    )
    assert set(charts) == {"kinetic_ocr", "kinetic_ecar", "kinetic_per", "parameters", "energy_map"}
    assert "PER (pmol H+/min)" in charts["kinetic_per"]


def test_wording_reports_measurements_only() -> None:
    charts = all_charts(analyse_mito_stress(read_wave_export(XFE96)))
    text = " ".join(charts.values()).lower()
    for claim in ("health", "healthy", "rejuvenat", "recharg", "vitality", "improve"):
        assert claim not in text


def test_plate_charts_draw_shared_charts_once() -> None:
    from celltrace.assays.metabolism.charts import plate_charts

    export = read_wave_export(XFE96)
    mst = analyse_mito_stress(export)
    atp = analyse_atp_rate(export, settings=AnalysisSettings(ccf=0.61))
    charts = plate_charts([mst, atp])
    assert set(charts) == {
        "kinetic_ocr",
        "kinetic_ecar",
        "kinetic_per",
        "energy_map",
        "parameters/mito-stress",
        "parameters/atp-rate",
    }
    assert charts["kinetic_ocr"] == kinetic_chart(mst, "OCR")
    # different exclusions → different traces → one set per assay
    atp_excl = analyse_atp_rate(
        export, exclusions={"B02": "bubble"}, settings=AnalysisSettings(ccf=0.61)
    )
    split = plate_charts([mst, atp_excl])
    assert "mito-stress/kinetic_ocr" in split and "atp-rate/kinetic_ocr" in split
