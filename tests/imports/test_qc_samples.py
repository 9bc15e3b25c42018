"""A QC sample stored in a storage position keeps the importer out of it: found while checking
(row, column, rule), and again inside the write transaction if it arrived after the check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from celltrace.imports import services as imports
from celltrace.imports.choices import ImportStatus
from celltrace.qc import services as qc
from tests.imports.conftest import csv_bytes, row, table_counts
from tests.qc import conftest as qc_conftest

pytestmark = pytest.mark.django_db

lab = qc_conftest.lab


def stored_sample(lab: Any, box: Any, label: str) -> Any:
    req = qc_conftest.submitted(lab, sample="S-1")
    qc.sample_receive(actor=lab.analyst, request=req, scanned_id="S-1", accept=True)
    sample = req.samples.get()
    return qc.sample_store(
        actor=lab.analyst, sample=sample, position=box.positions.get(label=label)
    )


@pytest.mark.usefixtures("import_path")
def test_a_position_holding_a_qc_sample_is_a_row_problem(
    lab: Any, store: Any, write_file: Any, run_import: Any
) -> None:
    placement = stored_sample(lab, store["boxes"][0], "A3")
    before = table_counts()
    run = run_import(write_file(csv_bytes([row(i) for i in range(4)])))
    assert run.status == ImportStatus.FAILED
    assert run.errors == [
        {
            "row": 4,
            "column": "position",
            "value": "A3",
            "rule": f"holds {placement.sample.number} in the bank",
        }
    ]
    assert table_counts() == before


def run_with_a_taker(
    tech: Any, client_a: Any, path: Any, take: Callable[[], Any]
) -> tuple[Any, dict[str, int], dict[str, int]]:
    """Import ``path``; when the check phase reports its end (the file was found clean),
    ``take()`` occupies one of its positions before the write begins. Returns the finished
    run and the table counts before and after; the run must have refused the whole file."""
    run = imports.import_run_create(
        actor=tech, organisation=client_a, file_name=path.name, content=path, reason="Legacy"
    )
    taken: list[Any] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "check" and done >= total and not taken:
            taken.append(take())

    before = table_counts()
    run = imports.import_run_execute(run=run, progress=progress)
    assert taken, "the check phase never reported its end"
    assert run.status == ImportStatus.FAILED
    assert "taken by someone else" in run.errors[0]["rule"]
    return run, before, table_counts()


def test_a_sample_stored_after_the_check_stops_the_write(
    lab: Any, store: Any, tech: Any, client_a: Any, write_file: Any
) -> None:
    path = write_file(csv_bytes([row(i) for i in range(4)]))
    taken: list[Any] = []
    run, before, after = run_with_a_taker(
        tech,
        client_a,
        path,
        lambda: taken.append(stored_sample(lab, store["boxes"][0], "A2")),
    )
    # the row that collides is named, found again against the bank as it is now
    assert run.errors[1:] == [
        {
            "row": 3,
            "column": "position",
            "value": "A2",
            "rule": f"holds {taken[0].sample.number} in the bank",
        }
    ]
    assert run.error_count == 2
    # only the sample's own storage rows changed (its placement); no aliquot was written
    assert after["bank.Aliquot"] == before["bank.Aliquot"] == 0
    assert after["storage.Placement"] == before["storage.Placement"]


def test_an_aliquot_placed_after_the_check_stops_the_write(
    store: Any, tech: Any, client_a: Any, write_file: Any
) -> None:
    """The unique index refuses the file's placement inside the background inserts; the error
    reaches the run (nothing written) rather than being lost on the inserting thread."""
    from celltrace.storage import services as storage
    from tests.bank import factories

    box = store["boxes"][0]
    [mine] = factories.aliquots(tech, client_a, 1, reference="D-OTHER")
    target = box.positions.get(label="A5")  # row 5 of the file
    path = write_file(csv_bytes([row(i) for i in range(12)]))
    run, before, after = run_with_a_taker(
        tech,
        client_a,
        path,
        lambda: storage.aliquot_place(actor=tech, aliquot=mine, box=box, position=target),
    )
    assert run.errors[1:] == [
        {"row": 6, "column": "position", "value": "A5", "rule": "occupied in the bank"}
    ]
    assert after["bank.Aliquot"] == before["bank.Aliquot"] == 1
    assert after["storage.Placement"] == before["storage.Placement"] + 1  # ours, not the file's


def test_a_din_registered_after_the_check_names_its_rows(
    store: Any, tech: Any, client_a: Any, write_file: Any, run_import: Any
) -> None:
    """Another import registers the file's DIN between the check and the write: the unique
    index refuses the write, and the rows are named against the bank as it is now."""
    path = write_file(csv_bytes([row(i) for i in range(4)]))
    other = write_file(csv_bytes([row(0, position="I9")]), name="other.csv")

    def take() -> Any:
        done = run_import(other)
        assert done.status == ImportStatus.WRITTEN, done.errors
        return done

    run, before, after = run_with_a_taker(tech, client_a, path, take)
    din = row(0)["din"][:13]
    assert run.errors[1:] == [
        {
            "row": 2,
            "column": "product_code",
            "value": f"{din} S1234VA0",
            "rule": "this aliquot (DIN, product code and division) is already in the bank",
        },
        *(
            {
                "row": n,
                "column": "din",
                "value": din,
                "rule": "this DIN is already assigned to a collection",
            }
            for n in (3, 4, 5)
        ),
    ]
    assert after["bank.Aliquot"] == before["bank.Aliquot"] + 1  # the other file's only
