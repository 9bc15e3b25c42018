"""Wave export reader: every shared export imports; constants, layout and injections come from
the file; non-Wave files and missing sheets give clear errors."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from celltrace.assays.errors import InstrumentFileError
from celltrace.assays.metabolism import seahorse
from celltrace.assays.metabolism.seahorse import (
    normalise_well,
    per_integrity_warnings,
    per_offsets,
    read_normalisation_csv,
    read_wave_export,
)
from tests.assays.metabolism.direct import COUNTS, EXPORTS, SEAHORSE, XFE24, XFE96, load


def test_fixtures_are_present_with_licences() -> None:
    assert len(EXPORTS) == 3
    assert (SEAHORSE / "LICENSE-xfe24.md").read_text().startswith("# MIT License")
    assert (SEAHORSE / "LICENSE-xfe96.md").read_text().startswith("# MIT License")


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name)
def test_every_shared_export_imports(path: Path) -> None:
    direct = load(path)
    export = read_wave_export(path)
    assert export.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert export.wave_version == direct.labels["XFe Assay Version"]
    assert set(export.wells) == set(direct.ocr)
    assert export.measurements == tuple(range(1, direct.n_measurements + 1))
    for w in export.wells:
        assert export.well_groups[w] == direct.group[w]
        assert list(export.ocr[w]) == [direct.ocr[w][m] for m in export.measurements]
        assert list(export.ecar[w]) == [direct.ecar[w][m] for m in export.measurements]
        assert export.per is not None
        assert list(export.per[w]) == [direct.per[w][m] for m in export.measurements]
    # Constants come from the file, with the cell they were read from.
    assert export.plate_volume_ul == direct.labels["Plate Volume"]
    assert export.kvol == direct.labels["kVol"]
    pv = export.constant("Plate Volume")
    assert pv is not None and pv.location.startswith("Assay Configuration!B")
    # Background wells are those of group "Background"; their BF is 0 in the file.
    assert set(export.background_wells) == {w for w, g in direct.group.items() if g == "Background"}
    assert all(export.buffer_factors[w] == 0 for w in export.background_wells)
    assert export.warnings == ()


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name)
def test_injections_match_the_operation_log(path: Path) -> None:
    """The Protocol Summary parse places each injection after the same measurement as the
    instrument's Operation Log (Measure commands counted before each Inject)."""
    direct = load(path)
    export = read_wave_export(path)
    assert [(i.name, i.after_measurement) for i in export.injections] == direct.injected_after


def test_instrument_is_inferred_from_the_plate_format() -> None:
    assert read_wave_export(XFE24[0]).instrument_family == "XFe24"
    e96 = read_wave_export(XFE96)
    assert e96.instrument_family == "XFe96/XF Pro"
    assert (e96.plate_rows, e96.plate_columns) == (8, 12)
    strategies = {g.name: g.injection_strategy for g in e96.groups}
    assert strategies["Group_1 MITO"] == "Mito Stress Test"
    assert strategies["Group_1 GLYCO"] == "Glycolysis Stress Test"


def test_reads_from_bytes_too() -> None:
    data = XFE96.read_bytes()
    export = read_wave_export(data, filename="upload.xlsx")
    assert export.filename == "upload.xlsx"
    assert export.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name)
def test_per_identity_holds_in_genuine_exports(path: Path) -> None:
    export = read_wave_export(path)
    offsets = per_offsets(export)
    assert offsets, "no wells with a buffer factor"
    for vals in offsets.values():
        assert max(vals) - min(vals) < 1e-9
        assert min(vals) > 0  # Wave's background ECAR was subtracted from the reported ECAR


def test_edited_per_is_flagged() -> None:
    export = read_wave_export(XFE96)
    assert export.per is not None
    per = dict(export.per)
    w = next(w for w in export.wells if w not in export.background_wells)
    per[w] = (per[w][0] + 5.0, *per[w][1:])
    edited = dataclasses.replace(export, per=per)
    warnings = per_integrity_warnings(edited)
    assert len(warnings) == 1 and warnings[0].startswith("measurement 1:")


# ----------------------------------------------------------------------------------------------
# Errors


def test_csv_is_not_a_wave_export() -> None:
    with pytest.raises(InstrumentFileError, match=r"not an \.xlsx workbook"):
        read_wave_export(COUNTS[XFE24[0]])


def test_legacy_xls_is_refused() -> None:
    with pytest.raises(InstrumentFileError, match=r"legacy \.xls"):
        read_wave_export(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, filename="a.xls")


def test_zip_that_is_not_a_workbook() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(InstrumentFileError, match="not an Excel workbook"):
        read_wave_export(buf.getvalue())


def test_damaged_zip() -> None:
    with pytest.raises(InstrumentFileError, match="damaged"):
        read_wave_export(b"PK\x03\x04" + b"garbage" * 20)


def test_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seahorse, "MAX_XLSX_BYTES", 1000)
    with pytest.raises(InstrumentFileError, match="refused"):
        read_wave_export(XFE96)


def test_missing_file() -> None:
    with pytest.raises(InstrumentFileError, match="cannot read"):
        read_wave_export(SEAHORSE / "nope.xlsx")


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_workbook_without_wave_sheets() -> None:
    data = _workbook({"Sheet1": [["a", 1]]})
    with pytest.raises(InstrumentFileError, match="no sheet 'Assay Configuration'"):
        read_wave_export(data)


def _copy_with(tmp_path: Path, edit: str) -> Path:
    """A copy of the XFe96 export with one edit applied (full openpyxl load, no formulas)."""
    wb = openpyxl.load_workbook(XFE96)
    if edit == "drop-rate":
        del wb["Rate"]
    elif edit == "text-ocr":
        wb["Rate"]["E7"] = "n/a"
    elif edit == "nan-ecar":
        wb["Rate"]["F9"] = "nan"
    elif edit == "drop-protocol":
        ws = wb["Assay Configuration"]
        for row in ws.iter_rows():
            if row[0].value == "Protocol Summary":
                row[0].value = None
    elif edit == "drop-row":
        wb["Rate"].delete_rows(30)
    out = tmp_path / f"{edit}.xlsx"
    wb.save(out)
    return out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("drop-rate", r"no sheet 'Rate'"),
        ("text-ocr", r"sheet 'Rate' .*cell E7 \(OCR\).*'n/a'"),
        ("nan-ecar", r"sheet 'Rate' .*cell F9 \(ECAR\)"),
        ("drop-protocol", r"no 'Protocol Summary' row"),
        ("drop-row", r"has no row for measurement"),
    ],
)
def test_damaged_exports_name_the_problem(tmp_path: Path, edit: str, message: str) -> None:
    with pytest.raises(InstrumentFileError, match=message):
        read_wave_export(_copy_with(tmp_path, edit))


# ----------------------------------------------------------------------------------------------
# Normalisation CSV


@pytest.mark.parametrize("export_path", XFE24, ids=lambda p: p.name)
def test_shared_count_csvs_read_as_grids(export_path: Path) -> None:
    csv_path = COUNTS[export_path]
    norm = read_normalisation_csv(csv_path, unit="cells", scale_factor=1000)
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    expected = {}
    for line in lines[1:]:
        cells = line.split(",")
        for col, value in zip(header[1:], cells[1:], strict=True):
            expected[f"{cells[0]}{int(col.lstrip('x')):02d}"] = float(value)
    assert dict(norm.values) == expected
    assert len(expected) == 24
    assert norm.unit_label == "1000 cells"
    # every analysed well of the export has a count
    export = read_wave_export(export_path)
    assert set(export.wells) == set(norm.values)


def test_long_normalisation_layout() -> None:
    norm = read_normalisation_csv(b"well,protein_ug\nA1,12.5\nB02,10\n", unit="ug protein")
    assert dict(norm.values) == {"A01": 12.5, "B02": 10.0}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"well,value\nA01,abc\n", "row 2, column 2"),
        (b"well,value\nZZ9,1\n", "well name expected"),
        (b"row,1,2\nA,1,inf\n", "well A02"),
        (b"row,1,2\nA,1,-3\n", "negative"),
        (b"PK\x03\x04abc", "spreadsheet"),
    ],
)
def test_bad_normalisation_csv(data: bytes, message: str) -> None:
    with pytest.raises(InstrumentFileError, match=message):
        read_normalisation_csv(data)


def test_normalise_well() -> None:
    assert normalise_well("a1") == "A01"
    assert normalise_well("H12") == "H12"
    with pytest.raises(ValueError):
        normalise_well("Q1")
