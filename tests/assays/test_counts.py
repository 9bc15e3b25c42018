"""Cell count and viability (domain-facts §3.4) and automated-counter CSV layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from celltrace.assays.counts import (
    CALCULATION_VERSION,
    CounterLayout,
    dose_per_kg,
    hemocytometer_count,
    parse_counter_csv,
    read_counter_csv,
    summarise_counts,
    total_cells,
    total_viable_cells,
    viability_percent,
)
from celltrace.assays.errors import AssayInputError, InstrumentFileError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "assays"


def test_hemocytometer_formula() -> None:
    # mean 50 viable and 5 non-viable cells per large square, 1:1 trypan blue (dilution 2)
    result = hemocytometer_count([45, 50, 55, 50], [5, 5, 5, 5], dilution_factor=2, volume_ml=10.0)
    assert result.viable_per_ml == pytest.approx(50 * 2 * 1e4)
    assert result.nonviable_per_ml == pytest.approx(5 * 2 * 1e4)
    assert result.total_per_ml == pytest.approx(55 * 2 * 1e4)
    assert result.viability_percent == pytest.approx(200 / 220 * 100)
    assert result.total_cells == pytest.approx(1.1e7)
    assert result.viable_cells == pytest.approx(1.0e7)
    assert result.squares == 4
    assert result.viable_counts == (45, 50, 55, 50)  # inputs kept with the result
    assert result.calculation_version == CALCULATION_VERSION
    assert result.valid


def test_hemocytometer_dilution_scales_linearly() -> None:
    one = hemocytometer_count([40], [10], dilution_factor=1)
    four = hemocytometer_count([40], [10], dilution_factor=4)
    assert four.total_per_ml == pytest.approx(4 * one.total_per_ml)
    assert four.viability_percent == one.viability_percent == pytest.approx(80.0)


def test_hemocytometer_min_cells_rule() -> None:
    result = hemocytometer_count([20, 22], [3, 2], dilution_factor=2, min_cells_counted=100)
    assert not result.valid
    assert result.reasons == ("47 cells counted; at least 100 are required",)


@pytest.mark.parametrize(
    ("viable", "dead", "dilution", "match"),
    [
        ([10, -1], [1, 1], 2.0, r"row 1, viable_counts: must be >= 0"),
        ([10, 12], [1, 2.5], 2.0, r"row 1, nonviable_counts: must be a whole number"),
        ([10, 12], [1], 2.0, r"nonviable_counts: 1 squares for 2"),
        ([], [], 2.0, r"viable_counts: at least one"),
        ([10], [1], 0.5, r"dilution_factor: must be >= 1"),
        ([10], [1], float("nan"), r"dilution_factor: must be finite"),
    ],
)
def test_hemocytometer_bad_input(
    viable: list[int], dead: list[int], dilution: float, match: str
) -> None:
    with pytest.raises(AssayInputError, match=match):
        hemocytometer_count(viable, dead, dilution_factor=dilution)


def test_viability_totals_and_dose() -> None:
    assert viability_percent(90, 10) == pytest.approx(90.0)
    with pytest.raises(AssayInputError, match="viability is undefined"):
        viability_percent(0, 0)
    assert total_cells(2.0e6, 50.0) == pytest.approx(1.0e8)
    assert total_viable_cells(1.0e8, 85.0) == pytest.approx(8.5e7)
    with pytest.raises(AssayInputError, match="viability_percent: must be within 0-100"):
        total_viable_cells(1.0e8, 101.0)
    # Yescarta-style dose: 2 × 10^6 CAR+ viable cells/kg × 70 kg = 1.4 × 10^8 cells
    assert dose_per_kg(1.4e8, 70.0) == pytest.approx(2.0e6)
    with pytest.raises(AssayInputError, match="body_mass_kg: must be > 0"):
        dose_per_kg(1.4e8, 0.0)


# ----------------------------------------------------------------------------- counter CSVs


def test_countess_layout_fixture() -> None:
    readings = read_counter_csv(FIXTURES / "countess_export.csv")
    assert [r.layout for r in readings] == [CounterLayout.COUNTESS] * 2
    first, second = readings
    assert first.row == 2 and second.row == 3
    assert first.sample == "CAR-T lot 24-001"
    assert first.total_per_ml == pytest.approx(1.25e6)
    assert first.viable_per_ml == pytest.approx(1.15e6)
    assert first.viability_percent == pytest.approx(115 / 125 * 100)
    assert first.dilution_factor == 2.0
    assert second.viability_percent == pytest.approx(122 / 135 * 100)
    assert all(r.valid for r in readings)


def test_vicell_layout_fixture_is_in_millions() -> None:
    readings = read_counter_csv(FIXTURES / "vicell_export.csv")
    assert readings[0].layout is CounterLayout.VICELL
    assert readings[0].total_per_ml == pytest.approx(2.5e6)
    assert readings[0].viable_per_ml == pytest.approx(2.3e6)
    assert readings[0].nonviable_per_ml == pytest.approx(0.2e6)
    assert readings[1].viability_percent == pytest.approx(90.0)


def test_summary_of_replicates() -> None:
    summary = summarise_counts(read_counter_csv(FIXTURES / "vicell_export.csv"), extra_dilution=2)
    # means: total (2.5 + 2.7) / 2 = 2.6e6, viable (2.30 + 2.43) / 2 = 2.365e6; pre-dilution 2
    assert summary.total_per_ml == pytest.approx(5.2e6)
    assert summary.viable_per_ml == pytest.approx(4.73e6)
    assert summary.viability_percent == pytest.approx(2.365 / 2.6 * 100)
    # CV of 2.5 and 2.7: SD = 0.2 / sqrt(2), mean 2.6
    assert summary.total_cv_percent == pytest.approx(0.2 / 2**0.5 / 2.6 * 100)
    assert summary.valid
    flagged = summarise_counts(read_counter_csv(FIXTURES / "vicell_export.csv"), cv_max_percent=5.0)
    assert not flagged.valid and "replicate CV" in flagged.reasons[0]


def test_bom_and_explicit_layout() -> None:
    text = "\ufeff" + (FIXTURES / "countess_export.csv").read_text(encoding="utf-8")
    readings = parse_counter_csv(text, layout=CounterLayout.COUNTESS)
    assert len(readings) == 2


HEADER = "Sample,Total cells/mL,Live cells/mL,Dead cells/mL,Viability (%),Dilution factor\n"


def test_viability_mismatch_and_total_mismatch_are_flagged() -> None:
    text = HEADER + "S1,1.0E6,9.0E5,1.0E5,95,2\nS1,1.0E6,9.0E5,3.0E5,90,2\n"
    first, second = parse_counter_csv(text, source="run.csv")
    assert not first.valid
    assert "differs from the instrument's 95 %" in first.reasons[0]
    assert not second.valid
    assert "differs from live + dead" in second.reasons[0]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            'S1,"1,0E6",9.0E5,1.0E5,90,2\n',
            r"run.csv: row 2, column 'Total cells/mL': '1,0E6' is not a number",
        ),
        (
            "S1,1.0E6,9.0E5,1.0E5,90,2\nS2,1.0E6,-9.0E5,1.0E5,90,2\n",
            r"row 3, column 'Live cells/mL'",
        ),
        ("S1,1.0E6,2.0E6,1.0E5,90,2\n", r"row 2: viable 2e\+06/mL exceeds total"),
        (",1.0E6,9.0E5,1.0E5,90,2\n", r"row 2, column 'Sample': sample name is empty"),
        ("S1,1.0E6,9.0E5,1.0E5,190,2\n", r"row 2, column 'Viability \(%\)': above 100"),
        ("S1,1.0E6,9.0E5,1.0E5,90,0.5\n", r"row 2, column 'Dilution factor': must be >= 1"),
        ("S1,1.0E6,9.0E5\n", r"row 2: 3 columns, the header has 6"),
        ("S1,nan,9.0E5,1.0E5,90,2\n", r"row 2, column 'Total cells/mL': 'nan' is not a number"),
        ("", r"run.csv: no data rows"),
    ],
)
def test_bad_rows_name_row_and_column(body: str, match: str) -> None:
    with pytest.raises(InstrumentFileError, match=match):
        parse_counter_csv(HEADER + body, source="run.csv")


def test_unknown_header_and_empty_file() -> None:
    with pytest.raises(InstrumentFileError, match="matches no accepted counter layout"):
        parse_counter_csv("Name,Count\nA,1\n")
    with pytest.raises(InstrumentFileError, match="missing column"):
        parse_counter_csv(HEADER, layout=CounterLayout.VICELL)
    with pytest.raises(InstrumentFileError, match="empty"):
        parse_counter_csv("")


def test_summary_refuses_mixed_samples() -> None:
    text = HEADER + "S1,1.0E6,9.0E5,1.0E5,90,2\nS2,1.0E6,9.0E5,1.0E5,90,2\n"
    with pytest.raises(AssayInputError, match="one sample at a time"):
        summarise_counts(parse_counter_csv(text))
