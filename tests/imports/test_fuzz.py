"""Importer fuzzing (reliability guide §9.6): arbitrary bytes and mutated sheets give rows or a
clean rejection naming where, never another exception, and a rejection changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celltrace.imports.choices import ImportStatus
from celltrace.imports.inventory import COLUMN_NAMES
from tests.imports.conftest import csv_bytes, row, table_counts

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _run(run_import: Any, tmp_path: Path, content: bytes, name: str) -> Any:
    path = tmp_path / name
    path.write_bytes(content)
    before = table_counts()
    run = run_import(path)
    assert run.status in (ImportStatus.WRITTEN, ImportStatus.FAILED)
    if run.status == ImportStatus.FAILED:
        assert run.errors and run.error_count >= len(run.errors)
        for problem in run.errors:
            assert problem["rule"]
            assert problem["row"] is None or problem["row"] >= 1
        assert table_counts() == before
    return run


@FUZZ
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes(store: Any, run_import: Any, tmp_path: Path, data: bytes) -> None:
    _run(run_import, tmp_path, data, "fuzz.csv")


@FUZZ
@given(data=st.binary(max_size=512))
def test_arbitrary_bytes_named_as_a_workbook(
    store: Any, run_import: Any, tmp_path: Path, data: bytes
) -> None:
    _run(run_import, tmp_path, b"PK\x03\x04" + data, "fuzz.xlsx")


CELL = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["", " ", "0", "-1", "1e400", "NaN", "Infinity", "2025-02-29", "9999-12-31", "A1", "Z99",
         "S1234V00", "peripheral_blood", "available", "1,5", "１２", "\x00", '"', "\r\n"]
    ),
)  # fmt: skip


@FUZZ
@given(
    mutations=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(COLUMN_NAMES), CELL), max_size=6
    ),
    drop=st.sets(st.sampled_from(COLUMN_NAMES), max_size=2),
)
def test_mutated_sheets(
    store: Any, run_import: Any, tmp_path: Path, mutations: Any, drop: Any
) -> None:
    """Valid rows with some cells replaced, or columns dropped: written whole or refused."""
    from celltrace.bank.models import Aliquot

    rows = [row(i, position=f"{'ABCDEFGHI'[i]}{i % 9 + 1}") for i in range(6)]
    for i, column, value in mutations:
        rows[i][column] = value
    columns = [c for c in COLUMN_NAMES if c not in drop]
    before = Aliquot.objects.count()
    try:
        content = csv_bytes(rows, columns=columns)
    except UnicodeEncodeError:  # lone surrogates cannot be written as UTF-8 at all
        return
    run = _run(run_import, tmp_path, content, "mutated.csv")
    if run.status == ImportStatus.WRITTEN:
        assert Aliquot.objects.count() == before + 6
        for a in Aliquot.objects.filter(batch=run.batch):
            assert a.volume_ul.is_finite() and a.volume_ul >= 0
