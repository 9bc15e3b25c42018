"""Seahorse analyses against a direct calculation from each export's own rate table."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import openpyxl
import pytest

from celltrace.assays.errors import AssayInputError, InstrumentFileError
from celltrace.assays.metabolism.analysis import (
    CALCULATION_VERSION,
    AnalysisSettings,
    Assay,
    Exclusion,
    analyse,
    analyse_atp_rate,
    analyse_glycolytic_rate,
    analyse_mito_stress,
    supported_assays,
)
from celltrace.assays.metabolism.seahorse import read_normalisation_csv, read_wave_export
from tests.assays.metabolism.direct import (
    COUNTS,
    EXPORTS,
    XFE24,
    XFE96,
    atp_rate_direct,
    load,
    mito_stress_direct,
)

REL = 1e-12


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name)
def test_mito_stress_per_well_equals_direct_calculation(path: Path) -> None:
    direct = load(path)
    result = analyse_mito_stress(read_wave_export(path))
    wells = direct.wells("Mito Stress")
    assert wells, "fixture has Mito Stress Test wells"
    assert {w.well for w in result.wells} == set(wells)
    for well in wells:
        expected = mito_stress_direct(direct.ocr[well])
        got = result.well(well)
        assert got.group == direct.group[well]
        for key, value in expected.items():
            assert got.value(key) == pytest.approx(value, rel=REL, abs=1e-12), (well, key)


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name)
def test_mito_stress_group_statistics(path: Path) -> None:
    direct = load(path)
    result = analyse_mito_stress(read_wave_export(path))
    by_group: dict[str, list[str]] = {}
    for w in direct.wells("Mito Stress"):
        by_group.setdefault(direct.group[w], []).append(w)
    assert {g.group for g in result.groups} == set(by_group)
    for group, wells in by_group.items():
        values = [mito_stress_direct(direct.ocr[w])["maximal_respiration"] for w in wells]
        stat = result.group(group).stat("maximal_respiration")
        assert stat.n == len(wells)
        assert stat.mean == pytest.approx(statistics.fmean(values), rel=REL)
        assert stat.sd == pytest.approx(statistics.stdev(values), rel=1e-9)
        assert stat.sem == pytest.approx(statistics.stdev(values) / math.sqrt(len(wells)), rel=1e-9)


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name)
def test_atp_rate_uses_waves_per_column(path: Path) -> None:
    direct = load(path)
    export = read_wave_export(path)
    ccf, po = 0.6, 2.75
    result = analyse_atp_rate(export, settings=AnalysisSettings(ccf=ccf, po_ratio=po))
    for well in direct.wells("Mito Stress"):
        expected = atp_rate_direct(direct.ocr[well], direct.per[well], ccf, po)
        got = result.well(well)
        for key, value in expected.items():
            assert got.value(key) == pytest.approx(value, rel=REL), (well, key)
        # A PER rebuilt from the background-corrected ECAR is lower by several pmol H+/min:
        # the result must follow Wave's PER column, not the rebuilt one.
        bf = export.buffer_factors[well]
        rebuilt = direct.ecar[well][3] * bf * export.plate_volume_ul * export.kvol
        assert direct.per[well][3] - rebuilt > 1.0
        mito_per = (direct.ocr[well][3] - min(direct.ocr[well][m] for m in (10, 11, 12))) * ccf
        assert got.value("glyco_atp_production_rate") != pytest.approx(rebuilt - mito_per)


def test_constants_and_inputs_are_recorded() -> None:
    export = read_wave_export(XFE96)
    result = analyse_atp_rate(export, exclusions={"B02": "bubble seen under the probe"})
    assert result.calculation_version == CALCULATION_VERSION
    assert result.file_sha256 == export.sha256
    labels = {c.label: c for c in result.constants}
    assert labels["Plate Volume"].value == 2.28 and labels["kVol"].value == 1.6
    assert labels["CO2 contribution factor (CCF)"].location.startswith("default")
    assert labels["P/O ratio"].value == 2.75
    assert any("not yet verified" in w for w in result.warnings)
    assert [(e.well, e.reason, e.group) for e in result.excluded] == [
        ("B02", "bubble seen under the probe", "Group_1 MITO")
    ]
    # formulas carry the measurement numbers read from the protocol
    assert result.parameter("mito_atp_production_rate").formula.startswith(
        "(OCR m3 − min(OCR m4–m6))"
    )


def test_exclusion_leaves_group_statistics_and_is_reported() -> None:
    direct = load(XFE24[0])
    export = read_wave_export(XFE24[0])
    group = direct.group["B05"]
    result = analyse(export, Assay.MITO_STRESS, exclusions=[Exclusion("b5", "edge effect")])
    remaining = [w for w in direct.wells("Mito Stress") if direct.group[w] == group and w != "B05"]
    expected = statistics.fmean(
        mito_stress_direct(direct.ocr[w])["basal_respiration"] for w in remaining
    )
    g = result.group(group)
    assert g.n == len(remaining) and "B05" not in g.wells
    assert g.stat("basal_respiration").mean == pytest.approx(expected, rel=REL)
    excluded = result.well("B05")
    assert excluded.excluded and excluded.exclusion_reason == "edge effect"
    # the excluded well's own parameters are still shown for review
    assert excluded.value("basal_respiration") == pytest.approx(
        mito_stress_direct(direct.ocr["B05"])["basal_respiration"], rel=REL
    )
    # traces leave the excluded well out as well
    trace = result.trace(group, "OCR")
    assert trace.n == len(remaining)
    assert trace.mean[0] == pytest.approx(statistics.fmean(direct.ocr[w][1] for w in remaining))


@pytest.mark.parametrize(
    ("exclusions", "message"),
    [
        ({"B05": "  "}, "needs a reason"),
        ({"H12": "x"}, "no rates"),
        ({"A01": "x"}, "background well"),
        ({"nonsense": "x"}, "not a well name"),
    ],
)
def test_bad_exclusions(exclusions: dict[str, str], message: str) -> None:
    export = read_wave_export(XFE24[0])
    with pytest.raises(AssayInputError, match=message):
        analyse(export, Assay.MITO_STRESS, exclusions=exclusions)


@pytest.mark.parametrize("path", XFE24, ids=lambda p: p.name)
def test_normalisation_with_the_shared_counts(path: Path) -> None:
    direct = load(path)
    with COUNTS[path].open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    counts = {
        f"{row[0]}{int(col.lstrip('x')):02d}": float(v)
        for row in rows[1:]
        for col, v in zip(rows[0][1:], row[1:], strict=True)
    }
    scale = 10_000.0
    norm = read_normalisation_csv(COUNTS[path], unit="cells", scale_factor=scale)
    result = analyse_mito_stress(read_wave_export(path), normalisation=norm)
    for well in direct.wells("Mito Stress"):
        factor = counts[well] / scale
        scaled = {m: v / factor for m, v in direct.ocr[well].items()}
        expected = mito_stress_direct(scaled)
        for key in ("basal_respiration", "maximal_respiration", "coupling_efficiency_percent"):
            assert result.well(well).value(key) == pytest.approx(expected[key], rel=1e-9)
    assert result.parameter("basal_respiration").unit == "pmol/min/10000 cells"
    assert result.parameter("coupling_efficiency_percent").unit == "%"


def test_normalisation_missing_value_is_an_error_unless_excluded() -> None:
    export = read_wave_export(XFE24[0])
    norm = read_normalisation_csv(b"well,cells\nA02,1000\n")
    with pytest.raises(AssayInputError, match=r"well A03 .* has no value"):
        analyse_mito_stress(export, normalisation=norm)


def test_mito_stress_only_analyses_mito_groups_on_the_96_well_plate() -> None:
    direct = load(XFE96)
    result = analyse_mito_stress(read_wave_export(XFE96))
    assert {g.group for g in result.groups} == {
        g for g, s in direct.strategy.items() if s == "Mito Stress Test"
    }
    assert {g for g, _ in result.skipped_groups} == {
        g for g, s in direct.strategy.items() if s == "Glycolysis Stress Test"
    }
    assert supported_assays(read_wave_export(XFE96)) == [Assay.MITO_STRESS, Assay.ATP_RATE]


def test_glycolytic_rate_needs_a_glycolytic_rate_plate() -> None:
    with pytest.raises(InstrumentFileError, match="no group run as a Glycolytic Rate assay"):
        analyse_glycolytic_rate(read_wave_export(XFE96))


def test_fixed_point_option() -> None:
    direct = load(XFE24[1])
    result = analyse_mito_stress(
        read_wave_export(XFE24[1]), settings=AnalysisSettings(mst_rule="fixed")
    )
    for well in direct.wells("Mito Stress"):
        ocr = direct.ocr[well]
        assert result.well(well).value("maximal_respiration") == pytest.approx(
            ocr[8] - ocr[12], rel=REL
        )
        assert result.well(well).value("proton_leak") == pytest.approx(ocr[6] - ocr[12], rel=REL)


def test_bad_ccf_rejected() -> None:
    with pytest.raises(AssayInputError, match="ccf"):
        analyse_atp_rate(read_wave_export(XFE96), settings=AnalysisSettings(ccf=math.nan))


# ----------------------------------------------------------------------------------------------
# Glycolytic Rate: no shared export is a GRA plate, so the XFe96 export is relabelled (protocol
# step names and injection strategy); the rates stay Wave's own.


@pytest.fixture(scope="module")
def gra_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wb = openpyxl.load_workbook(XFE96)
    ws = wb["Assay Configuration"]
    renames = {
        "glucose / oligomycin": "Rot/AA",
        "monensin / FCCP": "2-DG",
        "2-DG / RotAnti": "Media",
        "Mito Stress Test": "Glycolytic Rate Assay",
    }
    for row in ws.iter_rows():
        for cell in row:
            if cell.value in renames:
                cell.value = renames[cell.value]
    out = tmp_path_factory.mktemp("gra") / "gra.xlsx"
    wb.save(out)
    return out


def test_glycolytic_rate_per_well_equals_direct_calculation(gra_export: Path) -> None:
    direct = load(gra_export)
    ccf = 0.61
    result = analyse_glycolytic_rate(
        read_wave_export(gra_export), settings=AnalysisSettings(ccf=ccf)
    )
    wells = direct.wells("Glycolytic Rate")
    assert {w.well for w in result.wells} == set(wells)
    for well in wells:
        ocr, per = direct.ocr[well], direct.per[well]
        nm = min(ocr[m] for m in (4, 5, 6))  # Rot/AA after m3
        glyco = {m: per[m] - (ocr[m] - nm) * ccf for m in ocr}
        expected = {
            "basal_glycolysis": glyco[3],
            "basal_proton_efflux_rate": per[3],
            "percent_per_from_glycolysis": glyco[3] / per[3] * 100,
            "mito_ocr_glyco_per_ratio": (ocr[3] - nm) / glyco[3],
            "compensatory_glycolysis": max(glyco[m] for m in (4, 5, 6)),
            "post_2dg_acidification": min(per[m] for m in (7, 8, 9)),
        }
        for key, value in expected.items():
            assert result.well(well).value(key) == pytest.approx(value, rel=REL), (well, key)
