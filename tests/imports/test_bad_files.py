"""Every kind of bad file gives a clear problem (row, column, rule) and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from celltrace.audit.verification import verify_database
from celltrace.imports.choices import ImportStatus
from celltrace.imports.inventory import COLUMN_NAMES
from tests.imports.conftest import csv_bytes, din, row, table_counts

pytestmark = pytest.mark.usefixtures("import_path")


@pytest.fixture
def refused(store: Any, write_file: Any, run_import: Any) -> Callable[..., Any]:
    """Run a file that must be refused; check nothing changed; return the problems."""

    def go(content: bytes, name: str = "inventory.csv") -> list[dict[str, Any]]:
        before = table_counts()
        run = run_import(write_file(content, name))
        assert run.status == ImportStatus.FAILED
        assert run.error_count >= 1 and run.errors
        assert table_counts() == before
        assert verify_database().ok
        return list(run.errors)

    return go


def test_bad_dates(refused: Any) -> None:
    rows = [row(i) for i in range(6)]
    rows[1]["collected_at"] = "2025-02-30"
    rows[4]["frozen_on"] = "02/03/2025"
    rows[5]["collected_at"] = "2025-03-02T09:30:00"  # no offset
    problems = refused(csv_bytes(rows))
    got = {(p["row"], p["column"]) for p in problems}
    assert (3, "collected_at") in got
    assert (6, "frozen_on") in got
    assert (7, "collected_at") in got
    naive = next(p for p in problems if p["row"] == 7)
    assert "time zone" in naive["rule"]
    assert next(p for p in problems if p["row"] == 3)["value"] == "2025-02-30"


def test_unknown_storage_path(refused: Any) -> None:
    rows = [row(i) for i in range(3)]
    rows[2]["storage_path"] = "main/t1/R1/B9"
    [problem] = refused(csv_bytes(rows))
    assert problem["row"] == 4 and problem["column"] == "storage_path"
    assert problem["value"] == "main/t1/R1/B9"
    assert "no storage box" in problem["rule"]


def test_position_outside_the_box(refused: Any) -> None:
    rows = [row(0, position="K1"), row(1, position="A10")]
    problems = refused(csv_bytes(rows))
    assert [(p["row"], p["column"]) for p in problems] == [(2, "position"), (3, "position")]
    assert "rows A–I, columns 1–9" in problems[0]["rule"]


def test_duplicate_identity_within_the_file(refused: Any) -> None:
    rows = [row(i) for i in range(4)] + [row(1, position="H8")]
    [problem] = refused(csv_bytes(rows))
    assert problem["row"] == 6 and problem["column"] == "product_code"
    assert "as row 3" in problem["rule"]


def test_row_problems_and_problems_across_rows_are_reported_together(
    store: Any, write_file: Any, run_import: Any, refused: Any
) -> None:
    """One run lists every problem: a bad date, a duplicate within the file and an aliquot
    already in the bank are all reported, not only the first kind found."""
    first = run_import(write_file(csv_bytes([row(i) for i in range(2)]), "first.csv"))
    assert first.status == ImportStatus.WRITTEN
    rows = [row(i) for i in range(2, 6)] + [row(3, position="H8"), row(0, position="H7")]
    rows[0]["frozen_on"] = "02/03/2025"
    problems = refused(csv_bytes(rows))
    got = {(p["row"], p["column"]) for p in problems}
    assert (2, "frozen_on") in got  # a problem of its own row
    assert (6, "product_code") in got  # the same aliquot as row 3 of this file
    assert (7, "product_code") in got  # already in the bank
    rules = " ".join(p["rule"] for p in problems)
    assert "as row 3" in rules and "already in the bank" in rules


def test_duplicate_identity_against_the_database(
    store: Any, write_file: Any, run_import: Any, refused: Any
) -> None:
    first = run_import(write_file(csv_bytes([row(i) for i in range(4)]), "first.csv"))
    assert first.status == ImportStatus.WRITTEN
    again = [row(4), row(1, position="H8")]
    problems = refused(csv_bytes(again))
    assert [(p["row"], p["column"]) for p in problems] == [(3, "product_code")]
    assert "already in the bank" in problems[0]["rule"]


def test_din_of_another_collection_in_the_database(
    store: Any, write_file: Any, run_import: Any, refused: Any
) -> None:
    assert run_import(write_file(csv_bytes([row(0)]), "first.csv")).status == "written"
    # same DIN, another product code: the collection already exists
    problems = refused(csv_bytes([row(1, position="C3")]))
    assert [(p["row"], p["column"]) for p in problems] == [(2, "din")]
    assert "already assigned" in problems[0]["rule"]


def test_occupied_position_in_the_database(
    store: Any, write_file: Any, run_import: Any, refused: Any
) -> None:
    assert run_import(write_file(csv_bytes([row(0)]), "first.csv")).status == "written"
    problems = refused(csv_bytes([row(8, position="A1")]))
    assert [(p["row"], p["column"], p["value"]) for p in problems] == [(2, "position", "A1")]
    assert "occupied" in problems[0]["rule"]


def test_same_position_twice_in_the_file(refused: Any) -> None:
    rows = [row(0), row(1), row(2, position="A1")]
    [problem] = refused(csv_bytes(rows))
    assert (problem["row"], problem["column"]) == (4, "position")
    assert "same position as row 2" in problem["rule"]


def test_bad_isbt_check_character(refused: Any) -> None:
    good = din(1)
    wrong = good[:13] + ("A" if good[13] != "A" else "B")
    rows = [row(0, din=wrong), row(4, din=good[:13])]
    problems = refused(csv_bytes(rows))
    assert [(p["row"], p["column"]) for p in problems] == [(2, "din"), (3, "din")]
    assert "check character" in problems[0]["rule"] and good[13] in problems[0]["rule"]
    assert "14 characters" in problems[1]["rule"]


def test_wrong_column_names(refused: Any) -> None:
    columns = [c if c != "volume_ul" else "volume" for c in COLUMN_NAMES]
    rows = [row(0)]
    rows[0]["volume"] = "100"
    [problem] = refused(csv_bytes(rows, columns=columns))
    assert problem["row"] == 1
    assert "unknown columns: volume" in problem["rule"]
    assert "missing columns: volume_ul" in problem["rule"]
    assert "donor_reference" in problem["rule"]  # the expected names are listed


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_empty_file(refused: Any, content: bytes) -> None:
    [problem] = refused(content)
    assert "empty" in problem["rule"]


def test_header_without_rows(refused: Any) -> None:
    [problem] = refused(csv_bytes([]))
    assert "no data rows" in problem["rule"]


def test_latin1_file(refused: Any) -> None:
    rows = [row(i) for i in range(3)]
    rows[2]["collection_site"] = "Hôpital Saint-Éloi"
    [problem] = refused(csv_bytes(rows).decode("utf-8").encode("latin-1"))
    assert "not UTF-8" in problem["rule"]


def test_utf16_file(refused: Any) -> None:
    [problem] = refused(csv_bytes([row(0)]).decode("utf-8").encode("utf-16"))
    assert "UTF-16" in problem["rule"]


def test_not_a_workbook(refused: Any) -> None:
    [problem] = refused(b"PK\x03\x04 this is not a zip", "inventory.xlsx")
    assert "XLSX" in problem["rule"]


def test_many_problems_are_capped_but_counted(store: Any, write_file: Any, run_import: Any) -> None:
    from celltrace.imports import inventory

    rows = [
        row(i % 81, collection_type="blood", din=f"{i}", storage_path="", position="")
        for i in range(600)
    ]
    run = run_import(write_file(csv_bytes(rows)))
    assert run.status == ImportStatus.FAILED
    assert run.error_count == 1200
    assert len(run.errors) == inventory.MAX_ERRORS
    assert run.errors[0]["row"] == 2


def test_bad_numbers_and_codes(refused: Any) -> None:
    rows = [
        row(0, volume_ul="-5"),
        row(1, viability_pct="101"),
        row(2, cell_count="1.5"),
        row(3, container="tube"),
        row(4, status="lost"),
        row(5, product_code="S1234"),
        row(6, collection_volume_ml="a lot"),
    ]
    problems = refused(csv_bytes(rows))
    assert [(p["row"], p["column"]) for p in problems] == [
        (2, "volume_ul"),
        (3, "viability_pct"),
        (4, "cell_count"),
        (5, "container"),
        (6, "status"),
        (7, "product_code"),
        (8, "collection_volume_ml"),
    ]


def test_rows_of_one_collection_must_agree(refused: Any) -> None:
    rows = [row(0), row(1, collection_type="tissue"), row(2)]
    [problem] = refused(csv_bytes(rows))
    assert (problem["row"], problem["column"]) == (3, "collection_type")
    assert "row 2" in problem["rule"]


def test_rows_of_one_product_must_agree(refused: Any) -> None:
    """Two rows of one DIN and one product code (two divisions) must agree on the product's
    type and the day it was frozen."""
    rows = [row(0), row(1, frozen_on="2025-03-03")]
    [problem] = refused(csv_bytes(rows))
    assert (problem["row"], problem["column"]) == (3, "frozen_on")
    assert "row 2" in problem["rule"] and "same product" in problem["rule"]


def test_a_donor_reference_used_by_two_dins_apart_is_one_donor(
    store: Any, write_file: Any, run_import: Any, client_a: Any
) -> None:
    """Not a problem: one donor, two collections, even with another donor in between."""
    from celltrace.bank.models import Donor

    rows = [
        row(0),
        row(4, donor_reference="D-9"),
        row(8, donor_reference=row(0)["donor_reference"]),
    ]
    run = run_import(write_file(csv_bytes(rows)))
    assert run.status == ImportStatus.WRITTEN, run.errors
    assert Donor.objects.filter(organisation=client_a).count() == 2


def test_discarded_aliquot_cannot_take_a_position(refused: Any) -> None:
    [problem] = refused(csv_bytes([row(0, status="discarded")]))
    assert (problem["row"], problem["column"]) == (2, "position")


def test_nul_characters_are_refused_and_reported(refused: Any) -> None:
    """PostgreSQL cannot store NUL in text: it is a problem of the row, shown escaped."""
    rows = [row(0, collection_site="Ward\x003"), row(4, donor_reference="D\x00")]
    problems = refused(csv_bytes(rows))
    assert [(p["row"], p["column"]) for p in problems] == [
        (2, "collection_site"),
        (3, "donor_reference"),
    ]
    assert problems[0]["value"] == "Ward\\x003"


def test_same_position_twice_across_racks_the_check_let_go(
    tech: Any, refused: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check holds the positions of a few racks at a time (memory does not grow with the
    file). A file that comes back to a rack it left, with a position it used before, is
    still refused, naming both rows; nothing is written."""
    from celltrace.imports import inventory
    from tests.bank import factories

    factories.hierarchy(tech, boxes=1, code="t2")  # a second rack: main/t2/R1/B1
    monkeypatch.setattr(inventory, "RACKS_LOADED", 1)  # (4,096 racks in use)
    rows = [
        row(0),  # t1 A1
        row(1, storage_path="main/t2/R1/B1", position="A1"),  # t1 is let go
        row(2, position="A3"),  # t1 loaded again: no record of row 2 any more
        row(3, position="A1"),  # the same position as row 2
    ]
    [problem] = refused(csv_bytes(rows))
    assert (problem["row"], problem["column"], problem["value"]) == (5, "position", "A1")
    assert "same position as row 2" in problem["rule"]


def test_a_rack_in_use_is_kept_over_the_least_recently_used_one(
    tech: Any, store: Any, write_file: Any, run_import: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for two racks, a file going t1, t2, t1, t3, t1 loads each rack once: t1 was
    used again, so t2 is let go for t3 (a file sorted by donor rather than by location must
    not load a rack per row)."""
    from celltrace.imports import inventory
    from tests.bank import factories

    factories.hierarchy(tech, boxes=1, code="t2")
    factories.hierarchy(tech, boxes=1, code="t3")
    monkeypatch.setattr(inventory, "RACKS_LOADED", 2)
    loads: list[list[int]] = []
    # count the racks read (both checkers' reads; each still reads the bank)
    for cls in (inventory.Checker, inventory._OnePassChecker):
        real = cls.__dict__["_fill_cells"]

        def counted(self: Any, boxes: dict[int, Any], real: Any = real) -> Any:
            loads.append(list(boxes))
            return real(self, boxes)

        monkeypatch.setattr(cls, "_fill_cells", counted)
    rows = [
        row(0),
        row(1, storage_path="main/t2/R1/B1", position="A1"),
        row(2),
        row(3, storage_path="main/t3/R1/B1", position="A1"),
        row(4),
    ]
    run = run_import(write_file(csv_bytes(rows)))
    assert run.status == ImportStatus.WRITTEN, run.errors
    assert len(loads) == 3


def test_a_workbook_hiding_a_huge_value_is_refused_before_it_is_read(
    refused: Any, write_file: Any
) -> None:
    """A small .xlsx can expand to a gigabyte in one cell (openpyxl would hold it whole): a
    text longer than any spreadsheet cell is refused from the streamed XML, nothing written."""
    import io
    import zipfile

    import openpyxl

    from celltrace.imports import inventory

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(COLUMN_NAMES))
    values = [row(0)[c] for c in COLUMN_NAMES]
    values[0] = "PLACEHOLDER"  # openpyxl itself writes no more than a cell holds
    sheet.append(values)
    saved = io.BytesIO()
    book.save(saved)
    bomb = io.BytesIO()
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"PLACEHOLDER", b"x" * (inventory.MAX_XML_TEXT + 10))
            out.writestr(info, data, zipfile.ZIP_DEFLATED)
    assert len(bomb.getvalue()) < 100_000  # small on disk
    [problem] = refused(bomb.getvalue(), "bomb.xlsx")
    assert "longer than a spreadsheet cell" in problem["rule"]


def test_a_bag_in_a_vial_box_is_refused(refused: Any) -> None:
    [problem] = refused(csv_bytes([row(0, container="cryobag")]))
    assert (problem["row"], problem["column"]) == (2, "storage_path")
    assert "does not go into a cryovial box" in problem["rule"]


def test_a_file_imported_twice_reports_every_problem_in_one_run(
    store: Any, write_file: Any, run_import: Any, refused: Any
) -> None:
    """The second upload of a written file: each row's position is occupied and its aliquot
    is already in the bank, and both are reported at once (the occupied position used to hide
    the second until the next upload)."""
    content = csv_bytes([row(0), row(1)])
    assert run_import(write_file(content, "first.csv")).status == "written"
    problems = refused(content)
    assert sorted((p["row"], p["column"]) for p in problems) == [
        (2, "position"),
        (2, "product_code"),
        (3, "position"),
        (3, "product_code"),
    ]
    assert {p["rule"] for p in problems if p["column"] == "position"} == {"occupied in the bank"}
