"""FCS + gating template through FlowKit, checked against an independent numpy computation."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import flowio
import numpy as np
import numpy.typing as npt
import pytest
from matplotlib.path import Path as MplPath

from celltrace.assays.errors import AssayInputError, InstrumentFileError
from celltrace.assays.flow import (
    FcsFile,
    GatingTemplate,
    TemplateKind,
    analyze_fcs,
    flow_release,
    read_sample,
)

from .conftest import FCS_DIR, FLOW_DIR

fk = pytest.importorskip("flowkit")

ARIA = FCS_DIR / "100715.fcs"
CALIBUR = FCS_DIR / "data1.fcs"
ARIA_TEMPLATE = FLOW_DIR / "t_panel_100715.gatingml.xml"
CALIBUR_TEMPLATE = FLOW_DIR / "t_panel_data1_asinh.gatingml.xml"
CALIBUR_MAP = {"singlets": "Cells", "cd3": "CD3pos", "cd4": "CD4pos_CD8neg", "cd8": "CD8pos_CD4neg"}

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


# --- independent computation: FlowIO events, numpy compensation, masks ------------------------


def _events(path: Path) -> tuple[Array, list[str], dict[str, str]]:
    fd = flowio.FlowData(str(path))
    return np.asarray(fd.as_array(preprocess=True), dtype=np.float64), fd.pnn_labels, fd.text


def _compensate(raw: Array, labels: list[str], spill: str) -> Array:
    parts = [p.strip() for p in spill.split(",")]
    n = int(parts[0])
    detectors = parts[1 : n + 1]
    matrix = np.array([float(v) for v in parts[n + 1 :]]).reshape(n, n)
    idx = [labels.index(d) for d in detectors]
    out = raw.copy()
    out[:, idx] = raw[:, idx] @ np.linalg.inv(matrix)
    return out


def _in_polygon(x: Array, y: Array, vertices: list[tuple[float, float]]) -> Mask:
    return np.asarray(MplPath(vertices).contains_points(np.column_stack([x, y])), dtype=bool)


def _aria_masks(raw: Array, labels: list[str], spill: str) -> dict[str, Mask]:
    comp = _compensate(raw, labels, spill)
    logicle = fk.transforms.LogicleTransform(262144, 0.5, 4.5, 0)

    def fl(ch: str) -> Array:
        return np.asarray(logicle.apply(comp[:, [labels.index(ch)]]), dtype=np.float64).ravel()

    def sc(ch: str) -> Array:
        return raw[:, labels.index(ch)]

    cells = _in_polygon(
        sc("FSC-A"),
        sc("SSC-A"),
        [(30000, -100), (220000, -100), (220000, 6000), (60000, 6000), (30000, 2000)],
    )
    singlets = cells & _in_polygon(
        sc("FSC-A"),
        sc("FSC-H"),
        [(20000, 17000), (262144, 222822), (262144, 301465), (20000, 23000)],
    )
    viable = singlets & (fl("V450-A") < 0.62)
    cd3 = viable & (fl("R780-A") >= 0.3)
    v655, v800 = fl("V655-A"), fl("V800-A")
    return {
        "Cells": cells,
        "Singlets": singlets,
        "Viable": viable,
        "CD3pos": cd3,
        "CARpos": cd3 & (fl("R710-A") >= 0.6),
        "CD4pos_CD8neg": cd3 & (v655 >= 0.6) & (v800 < 0.6),
        "CD8pos_CD4neg": cd3 & (v655 < 0.6) & (v800 >= 0.6),
    }


@pytest.fixture(scope="module")
def aria() -> Any:
    return analyze_fcs(ARIA, ARIA_TEMPLATE)


@pytest.fixture(scope="module")
def aria_masks() -> dict[str, Mask]:
    raw, labels, text = _events(ARIA)
    return _aria_masks(raw, labels, text["spill"])


def test_gatingml_counts_match_independent_masks(aria: Any, aria_masks: dict[str, Mask]) -> None:
    by_gate = {g.path.rsplit("/", 1)[-1]: g for g in aria.gate_counts}
    assert set(by_gate) == set(aria_masks)
    for name, mask in aria_masks.items():
        assert by_gate[name].count == int(mask.sum()), name
    assert 0 < by_gate["CARpos"].count < by_gate["CD3pos"].count < by_gate["Viable"].count


def test_release_values_follow_the_formulas(aria: Any, aria_masks: dict[str, Mask]) -> None:
    n = {k: int(v.sum()) for k, v in aria_masks.items()}
    v = aria.values
    assert v.viability is not None
    assert (v.viability.numerator, v.viability.denominator) == (n["Viable"], n["Singlets"])
    assert v.viability.percent == 100 * n["Viable"] / n["Singlets"]
    assert (v.cd3.numerator, v.cd3.denominator) == (n["CD3pos"], n["Viable"])
    assert v.car is not None and v.car.percent == 100 * n["CARpos"] / n["CD3pos"]
    assert v.cd4_cd8_ratio == n["CD4pos_CD8neg"] / n["CD8pos_CD4neg"]


def test_inputs_are_recorded(aria: Any) -> None:
    import hashlib

    i = aria.inputs
    assert i.file_sha256 == hashlib.sha256(ARIA.read_bytes()).hexdigest()
    assert i.template_sha256 == hashlib.sha256(ARIA_TEMPLATE.read_bytes()).hexdigest()
    assert i.sample_id == "100715.fcs" and i.source_kind == "fcs+gatingml"
    assert i.compensation.startswith("FCS spillover") and "13 detectors" in i.compensation
    assert i.fcs_version == "2.0" and i.total_events == flowio.FlowData(str(ARIA)).event_count
    assert aria.calculation_version.startswith("flow-release/")


def test_asinh_template_uncompensated() -> None:
    result = analyze_fcs(CALIBUR, CALIBUR_TEMPLATE, populations=CALIBUR_MAP, sample_id="B07")
    raw, labels, _ = _events(CALIBUR)
    asinh = fk.transforms.AsinhTransform(10000, 4, 0)

    def fl(ch: str) -> Array:
        return np.asarray(asinh.apply(raw[:, [labels.index(ch)]]), dtype=np.float64).ravel()

    cells = _in_polygon(
        raw[:, labels.index("FSC-H")],
        raw[:, labels.index("SSC-H")],
        [(30.37, 5.37), (250.37, 5.37), (250.37, 150.37), (60.37, 150.37)],
    )
    cd3 = cells & (fl("FL3-H") >= 0.35)
    cd4 = cd3 & (fl("FL1-H") >= 0.4) & (fl("FL2-H") < 0.4)
    cd8 = cd3 & (fl("FL1-H") < 0.4) & (fl("FL2-H") >= 0.4)
    v = result.values
    assert (v.cd3.numerator, v.cd3.denominator) == (int(cd3.sum()), int(cells.sum()))
    assert v.cd4 is not None and v.cd4.numerator == int(cd4.sum())
    assert v.cd4_cd8_ratio == int(cd4.sum()) / int(cd8.sum())
    assert result.inputs.compensation == "none" and result.inputs.sample_id == "B07"
    assert "cd3_denominator_not_viability_gated" in v.flags


def _derived_control(tmp_path: Path, factor: float) -> Path:
    """The stained file with the CAR channel scaled: a control with fewer or more CAR+ events."""
    fd = flowio.FlowData(str(ARIA))
    events = np.asarray(fd.as_array(preprocess=True), dtype=np.float64)
    events[:, fd.pnn_labels.index("R710-A")] *= factor
    path = tmp_path / f"control_x{factor}.fcs"
    with path.open("wb") as fh:
        flowio.create_fcs(
            fh,
            events.flatten().tolist(),
            channel_names=fd.pnn_labels,
            opt_channel_names=fd.pns_labels,
            metadata_dict={"spill": fd.text["spill"]},
        )
    return path


def test_car_net_of_untransduced_control(tmp_path: Path, aria: Any) -> None:
    control_path = _derived_control(tmp_path, 0.5)
    control = analyze_fcs(control_path, ARIA_TEMPLATE, sample_id="UTD")
    raw, labels, text = _events(control_path)
    masks = _aria_masks(raw, labels, text["spill"])
    control_pct = 100 * int(masks["CARpos"].sum()) / int(masks["CD3pos"].sum())
    stained_pct = aria.values.car.percent
    assert 0 < control_pct < stained_pct

    result = flow_release(aria, control)
    assert result.car_net is not None and not result.car_net.floored
    assert result.car_net.control.percent == control_pct
    assert result.car_net.net_percent == pytest.approx(stained_pct - control_pct, rel=1e-12)
    assert result.car_net.control_sample_id == "UTD"

    brighter = analyze_fcs(_derived_control(tmp_path, 3.0), ARIA_TEMPLATE, sample_id="FMO")
    floored = flow_release(aria, brighter, control_kind="fmo")
    assert floored.car_net is not None and floored.car_net.difference_percent < 0
    assert floored.car_net.net_percent == 0.0 and floored.car_net.floored
    assert "car_net_negative_floored_to_zero" in floored.flags


def _logicle_strategy() -> Any:
    """A data1.fcs strategy built directly in FlowKit (FlowJo export needs logicle/linear)."""
    strategy = fk.GatingStrategy()
    strategy.add_transform("Logicle", fk.transforms.LogicleTransform(10000, 0.5, 4.5, 0))
    cells = fk.gates.PolygonGate(
        "Cells",
        [fk.Dimension("FSC-H"), fk.Dimension("SSC-H")],
        [[30.37, 5.37], [250.37, 5.37], [250.37, 150.37], [60.37, 150.37]],
    )
    strategy.add_gate(cells, ("root",))
    cd3 = fk.gates.RectangleGate(
        "CD3pos", [fk.Dimension("FL3-H", transformation_ref="Logicle", range_min=0.45)]
    )
    strategy.add_gate(cd3, ("root", "Cells"))
    for name, lo, hi in (("CD4pos_CD8neg", "FL1-H", "FL2-H"), ("CD8pos_CD4neg", "FL2-H", "FL1-H")):
        gate = fk.gates.RectangleGate(
            name,
            [
                fk.Dimension(lo, transformation_ref="Logicle", range_min=0.5),
                fk.Dimension(hi, transformation_ref="Logicle", range_max=0.5),
            ],
        )
        strategy.add_gate(gate, ("root", "Cells", "CD3pos"))
    return strategy


def test_flowjo_workspace_exported_by_flowkit_reads_back(tmp_path: Path) -> None:
    strategy = _logicle_strategy()
    sample = fk.Sample(str(CALIBUR))  # id from $FIL: "B07"
    direct = strategy.gate_sample(sample)
    session = fk.Session(gating_strategy=strategy, fcs_samples=[sample])
    wsp = tmp_path / "release.wsp"
    with wsp.open("wb") as fh:
        session.export_wsp(fh, "Release")

    template = GatingTemplate.load(wsp)
    assert template.kind is TemplateKind.FLOWJO_WSP
    result = analyze_fcs(CALIBUR, template, sample_id="B07", populations=CALIBUR_MAP)
    assert result.inputs.source_kind == "fcs+flowjo-wsp"
    for gc in result.gate_counts:
        name = gc.path.rsplit("/", 1)[-1]
        assert gc.count == direct.get_gate_count(name), gc.path
    cd3 = direct.get_gate_count("CD3pos")
    assert 0 < cd3 < direct.get_gate_count("Cells")
    assert result.values.cd3.numerator == cd3
    with pytest.raises(AssayInputError, match="not in the workspace"):
        analyze_fcs(CALIBUR, template, wsp_sample="nope", populations=CALIBUR_MAP)


# --- every shared file reads or fails clearly ------------------------------------------------

EXPECTED_FAILURES = {
    "data_start_offset_discrepancy_example.fcs": "disagree on the DATA segment offset",
    "variable_int_example.fcs": "invalid $TIMESTEP",
}


@pytest.mark.parametrize("path", sorted(FCS_DIR.glob("*.fcs")), ids=lambda p: p.name)
def test_every_fixture_reads_or_fails_clearly(path: Path) -> None:
    fcs = FcsFile.load(path)
    if path.name in EXPECTED_FAILURES:
        with pytest.raises(InstrumentFileError) as info:
            read_sample(fcs)
        assert str(info.value).startswith(path.name + ":")
        assert EXPECTED_FAILURES[path.name] in str(info.value)
        return
    sample = read_sample(fcs)
    fd = flowio.FlowData(str(path))
    assert sample.event_count == fd.event_count > 0
    assert list(sample.pnn_labels) == list(fd.pnn_labels)


def test_fixture_set_is_complete() -> None:
    assert len(list(FCS_DIR.glob("*.fcs"))) == 6
    assert "Redistribution and use" in (FCS_DIR / "LICENSE-FlowIO.txt").read_text()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"<html>not a cytometer file</html>" * 4, "not an FCS file"),
        (b"FCS3.0    ", "truncated FCS file"),
        (ARIA.read_bytes()[:100_000], "truncated or corrupt"),
    ],
)
def test_broken_bytes_give_instrument_file_errors(data: bytes, message: str) -> None:
    with pytest.raises(InstrumentFileError, match=message) as info:
        read_sample(FcsFile.load(data, file_name="upload.fcs"))
    assert str(info.value).startswith("upload.fcs:")


def test_template_asking_for_spillover_on_a_file_without_one() -> None:
    with pytest.raises(InstrumentFileError, match=r"no \$SPILLOVER/\$SPILL"):
        analyze_fcs(CALIBUR, ARIA_TEMPLATE)


def test_template_channel_missing_from_file() -> None:
    with pytest.raises(InstrumentFileError, match=r"G11.fcs with template .*gating failed"):
        analyze_fcs(FCS_DIR / "G11.fcs", CALIBUR_TEMPLATE, populations=CALIBUR_MAP)


def test_unknown_and_ambiguous_gate_mapping() -> None:
    with pytest.raises(AssayInputError, match=r"'CD19pos' .* is not in the template"):
        analyze_fcs(CALIBUR, CALIBUR_TEMPLATE, populations={"singlets": "Cells", "cd3": "CD19pos"})
    with pytest.raises(AssayInputError, match="is not inside"):
        analyze_fcs(
            CALIBUR,
            CALIBUR_TEMPLATE,
            populations={"singlets": "CD4pos_CD8neg", "cd3": "CD3pos"},
        )


def test_templates_are_parsed_safely_and_errors_explain(tmp_path: Path) -> None:
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<Gating-ML>&e;</Gating-ML>"
    )
    with pytest.raises(AssayInputError, match="rejected"):
        GatingTemplate.load(evil, file_name="evil.xml")
    with pytest.raises(AssayInputError, match="neither GatingML"):
        GatingTemplate.load(b"<svg/>", file_name="x.xml")
    with pytest.raises(AssayInputError, match="not well-formed"):
        GatingTemplate.load(b"<Gating-ML>", file_name="x.xml")
    broken = CALIBUR_TEMPLATE.read_bytes().replace(b' gating:compensation-ref="uncompensated"', b"")
    with pytest.raises(AssayInputError, match=r"schema: line .*compensation-ref"):
        analyze_fcs(CALIBUR, GatingTemplate.load(broken, file_name="b.xml"))


def test_flow_package_imports_without_flowkit() -> None:
    code = (
        "import sys; sys.modules['flowkit'] = None\n"
        "import celltrace.assays.flow as flow\n"
        "assert 'flowkit' not in sys.modules or sys.modules['flowkit'] is None\n"
        "t = flow.read_stats_csv(b'Gate,Number\\nSinglets,10\\nCD3+,4\\n', file_name='k.csv')\n"
        "r = flow.sample_from_stats(t, 'k', {'singlets': 'Singlets', 'cd3': 'CD3+'})\n"
        "assert r.values.cd3.percent == 40.0\n"
        f"try:\n    flow.analyze_fcs({str(ARIA)!r}, {str(ARIA_TEMPLATE)!r})\n"
        "except flow.FlowKitMissingError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "celltrace[flow]" in out.stdout


def test_flowkit_is_not_imported_by_the_package() -> None:
    code = "import sys, celltrace.assays.flow; print('flowkit' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_fcs_bytes_and_path_give_identical_results(aria: Any) -> None:
    again = analyze_fcs(ARIA.read_bytes(), io.BytesIO(ARIA_TEMPLATE.read_bytes()).getvalue())
    assert again.gate_counts == aria.gate_counts
    assert again.inputs.file_sha256 == aria.inputs.file_sha256
