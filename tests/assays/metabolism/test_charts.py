"""SVG charts: well-formed XML, injection markers and labels, deterministic output."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from defusedxml import ElementTree
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties

from celltrace.assays.metabolism.analysis import (
    AnalysisResult,
    AnalysisSettings,
    GroupResult,
    RateTrace,
    analyse_atp_rate,
    analyse_mito_stress,
)
from celltrace.assays.metabolism.charts import (
    all_charts,
    energy_map,
    kinetic_chart,
    parameter_chart,
)
from celltrace.assays.metabolism.label_layout import (
    ASCENT_EM,
    DESCENT_EM,
    Box,
    place_labels,
    text_width,
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


# ----------------------------------------------------------------------------------------------
# Energy map labels: legible whatever the data


def _with_points(
    base: AnalysisResult, points: list[tuple[float, float]], names: list[str] | None = None
) -> AnalysisResult:
    """``base`` with one group per (ECAR, OCR) point, the same at every measurement."""
    n = len(base.measurements)
    groups, traces = [], []
    for i, (ecar, ocr) in enumerate(points):
        name = names[i] if names else f"Group {i}"
        groups.append(GroupResult(name, 3, ("A01",), ()))
        traces.append(RateTrace(name, "OCR", "pmol/min", 3, (ocr,) * n, (2.0,) * n))
        traces.append(RateTrace(name, "ECAR", "mpH/min", 3, (ecar,) * n, (0.4,) * n))
    return dataclasses.replace(base, groups=tuple(groups), traces=tuple(traces))


def _text_boxes(svg: str) -> dict[str, tuple[str, Box]]:
    """Each text the map draws in a group with an id: its text and box in SVG coordinates
    (y downwards), from the x/y matplotlib writes (the baseline), its anchor and font size."""
    root = ElementTree.fromstring(svg.encode())
    out = {}
    for group in root.iter(f"{SVG}g"):
        gid = group.get("id") or ""
        if not re.fullmatch(r"(label|key|key-number)-\d+(-\d+)?", gid):
            continue
        text = group.find(f"{SVG}text")
        assert text is not None and text.text, gid
        style = dict(
            part.split(":", 1) for part in text.get("style", "").replace(" ", "").split(";") if part
        )
        size = float(style["font-size"].removesuffix("px"))
        x, y = float(text.get("x", "0")), float(text.get("y", "0"))
        width = text_width(text.text, size)
        left = {"start": x, "middle": x - width / 2, "end": x - width}[style["text-anchor"]]
        out[gid] = (
            text.text,
            Box(left, y - ASCENT_EM * size, left + width, y + DESCENT_EM * size),
        )
    return out


def _frame(svg: str) -> Box:
    root = ElementTree.fromstring(svg.encode())
    group = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "plot-frame")
    path = group.find(f"{SVG}path")
    assert path is not None
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
    xs, ys = numbers[0::2], numbers[1::2]
    return Box(min(xs), min(ys), max(xs), max(ys))


def _check_legible(svg: str, n_points: int) -> dict[str, tuple[str, Box]]:
    boxes = _text_boxes(svg)
    items = list(boxes.items())
    for i, (gid_a, (text_a, a)) in enumerate(items):
        for gid_b, (text_b, b) in items[i + 1 :]:
            assert not a.overlaps(b), f"{gid_a} {text_a!r} overlaps {gid_b} {text_b!r}"
    frame = _frame(svg)
    for gid, (text, box) in boxes.items():
        if gid.startswith("label-"):
            assert box.within(frame), f"{gid} {text!r} leaves the plot frame"
    # every point is marked: by its own label, or by a number (alone or in a range) and a key
    marked: set[int] = set()
    for gid, (text, _) in boxes.items():
        if not gid.startswith("label-"):
            continue
        if "key-0" not in boxes:
            marked.add(int(gid.removeprefix("label-")))
            continue
        for part in text.split(", "):
            first, _, last = part.partition("–")
            marked.update(range(int(first) - 1, int(last or first)))
    assert marked == set(range(n_points))
    return boxes


@pytest.mark.parametrize(
    "points",
    [
        [(10.0, 50.0), (10.05, 50.2), (10.1, 50.1), (9.95, 49.9), (10.0, 50.3)],
        [(10.0, 50.0)] * 12,  # the same measurement charted several times
        [(5.0 + 0.2 * i, 40.0 + 0.5 * (i % 5)) for i in range(40)],
        [(2.0, 1.0), (2.1, 1.1), (60.0, 400.0), (61.0, 401.0), (0.0, 0.0)],  # frame corners
    ],
    ids=["five-close", "twelve-identical", "forty-dense", "corners"],
)
def test_energy_map_labels_of_close_points_never_overlap(points: list[tuple[float, float]]) -> None:
    base = analyse_mito_stress(read_wave_export(XFE24[0]))
    results = [_with_points(base, points)]
    svg = energy_map(results, labels=["2025-03-18 Later draw: second draw"])
    boxes = _check_legible(svg, len(points))
    assert svg == energy_map(results, labels=["2025-03-18 Later draw: second draw"])
    if "key-0" in boxes:  # numbered: the key names every point
        for k in range(len(points)):
            assert boxes[f"key-{k}"][0] == f"2025-03-18 Later draw: second draw: Group {k}"
            assert boxes[f"key-number-{k}"][0] == str(k + 1)


def test_energy_map_of_a_depositor_numbers_crowded_time_points() -> None:
    """Three time points on two plates: the groups of the XFe24 plates crowd one corner."""
    a = analyse_mito_stress(read_wave_export(XFE24[0]))
    b = analyse_mito_stress(read_wave_export(XFE24[1]))
    c = analyse_atp_rate(read_wave_export(XFE24[1]), settings=AnalysisSettings(ccf=0.6))
    labels = ["2024-05-02 At banking", "2025-05-02 Later draw", "2025-05-02 Later draw"]
    svg = energy_map([a, b, c], labels=labels)
    n = len(a.groups) + len(b.groups) + len(c.groups)
    boxes = _check_legible(svg, n)
    assert "key-0" in boxes
    assert boxes["key-0"][0] == "2024-05-02 At banking: A"
    # the mito-stress and ATP-rate analyses of one plate put a group on the same spot: one
    # label names both numbers
    assert any(
        re.fullmatch(r"\d+, \d+", text) for gid, (text, _) in boxes.items() if "label" in gid
    )


def test_energy_map_labels_points_directly_when_they_fit() -> None:
    result = analyse_mito_stress(read_wave_export(XFE96))
    svg = energy_map(result)
    boxes = _check_legible(svg, len(result.groups))
    assert "key-0" not in boxes
    assert {text for text, _ in boxes.values()} == {g.group for g in result.groups}


def test_long_key_entries_wrap_without_overlapping() -> None:
    base = analyse_mito_stress(read_wave_export(XFE24[0]))
    long_name = "a very long group name from the Wave layout " * 4
    result = _with_points(base, [(10.0, 50.0)] * 3, [f"{long_name}{i}" for i in range(3)])
    svg = energy_map(result)
    boxes = _check_legible(svg, 3)
    assert "key-0-1" in boxes  # the first entry continues on a second line
    width = float(re.search(r'viewBox="0 0 ([\d.]+)', svg).group(1))  # type: ignore[union-attr]
    assert all(box.x0 >= 0 and box.x1 <= width for _, box in boxes.values())


@pytest.mark.parametrize(
    "text", ["2025-03-18 Later draw: second draw: Group_1 MITO", "WWW mmm iii 0123", "A"]
)
def test_label_width_estimate_is_not_below_matplotlibs_measure(text: str) -> None:
    renderer = RendererAgg(4000, 400, 720)  # 10 pixels per point: little rounding
    pixels, _, _ = renderer.get_text_width_height_descent(
        text, FontProperties(family="DejaVu Sans", size=7), ismath=False
    )
    width = pixels / 10
    assert width - 0.1 <= text_width(text, 7) <= width * 1.1  # 0.1: whole pixels
    assert text_width("中文", 7) == pytest.approx(14.0)  # wide characters: one em each


def test_place_labels_keeps_labels_apart_and_in_the_frame() -> None:
    frame = Box(0, 0, 100, 60)
    points = [(50.0, 30.0)] * 3 + [(52.0, 31.0), (99.0, 59.0)]
    texts = ["one", "two", "three", "four", "five"]
    placed = place_labels(points, texts, 7.0, frame, (6.0, 14.0, 24.0, 34.0))
    boxes = [p.box for p in placed if p is not None]
    assert len(boxes) == 5
    assert all(b.within(frame) for b in boxes)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    # too little room: None, never an overlap
    tight = place_labels(
        [(5.0, 5.0)] * 2, ["a long label", "another"], 7.0, Box(0, 0, 40, 20), (6.0,)
    )
    assert tight.count(None) >= 1
