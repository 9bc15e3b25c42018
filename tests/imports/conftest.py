from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from celltrace.bank.isbt128 import check_character
from celltrace.imports.inventory import COLUMN_NAMES
from tests.bank import factories


def din(seq: int, year: int = 25) -> str:
    """A DIN of the ICCBBA example facility with its check character (14 characters)."""
    value = f"A9999{year:02d}{seq:06d}"
    return value + check_character(value)


def row(seq: int, **over: str) -> dict[str, str]:
    """One clean inventory row: aliquot ``seq`` of collection ``seq // 4``."""
    coll = seq // 4
    base = {
        "donor_reference": f"D-{coll // 2:04d}",
        "din": din(coll + 1),
        "collection_type": "apheresis",
        "collected_at": "2025-03-02T09:30:00+08:00",
        "collection_volume_ml": "250.00",
        "collection_site": "Ward 3",
        "sprec_code": "",
        "product_type": "pbmc",
        "product_code": f"S1234V{'ABCD'[seq % 4]}0",
        "frozen_on": "2025-03-02",
        "container": "cryovial_1_8ml",
        "volume_ul": "1000",
        "cell_count": "1.5E7",
        "viability_pct": "95.5",
        "expires_on": "2035-03-01",
        "status": "quarantine",
        "storage_path": "main/t1/R1/B1",
        "position": f"{'ABCDEFGHI'[seq // 9 % 9]}{seq % 9 + 1}",
    }
    base.update(over)
    return base


def csv_bytes(
    rows: Sequence[dict[str, str]], columns: Sequence[str] = COLUMN_NAMES, bom: bool = False
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([r.get(c, "") for c in columns])
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def table_counts() -> dict[str, int]:
    """Row counts of every bank, storage and audit table (the database 'digest')."""
    from django.apps import apps

    out = {}
    for label in ("bank", "storage", "audit"):
        for model in apps.get_app_config(label).get_models():
            out[model._meta.label] = model._default_manager.count()
    return out


@pytest.fixture
def store(tech: Any) -> dict[str, Any]:
    return factories.hierarchy(tech, boxes=2, rows=9, columns=9)


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    def write(content: bytes, name: str = "inventory.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return write


_PATHS = [pytest.param("two_phase", marks=pytest.mark.django_db)]
if os.environ.get("CELLTRACE_TEST_DATABASE", "sqlite") != "postgres":
    # the one-pass import is SQLite's, and runs only outside a transaction of the caller's
    _PATHS.append(pytest.param("one_pass", marks=pytest.mark.django_db(transaction=True)))


@pytest.fixture(params=_PATHS)
def import_path(request: pytest.FixtureRequest) -> str:
    """A test using it runs once for each way the importer writes: ``two_phase`` (inside the
    test's transaction: the whole file checked, then written) and, on SQLite, ``one_pass``
    (outside any transaction, as the command line asks for it: checked and written in one
    pass, falling back to two phases for the report when it meets a problem)."""
    return str(request.param)


@pytest.fixture
def run_import(tech: Any, client_a: Any, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Submit and run a file through the services; returns the finished ImportRun. Under
    :func:`import_path`, checks that the path asked for was the one taken (its progress
    first phase is ``import`` for the one pass)."""
    from django.db import connection

    from celltrace.imports import services

    path_asked = (
        request.getfixturevalue("import_path") if "import_path" in request.fixturenames else None
    )

    def go(path: Path, *, org: Any = None, actor: Any = None, dry_run: bool = False) -> Any:
        run = services.import_run_create(
            actor=actor or tech,
            organisation=org or client_a,
            file_name=path.name,
            content=path,
            reason="Legacy inventory",
            dry_run=dry_run,
        )
        phases: list[str] = []
        run = services.import_run_execute(
            run=run,
            progress=lambda phase, done, total: phases.append(phase),
            one_pass=path_asked == "one_pass",
        )
        if path_asked is not None and not dry_run and phases:
            one_pass = path_asked == "one_pass" and connection.vendor == "sqlite"
            assert (phases[0] == "import") == one_pass, phases
        run.phases = phases  # what the run reported, in order
        return run

    return go


def join_import_threads(timeout: float = 30) -> None:
    """Wait for the background import threads to finish (and close their connections)."""
    import threading

    for thread in threading.enumerate():
        if thread.name.startswith("import-"):
            thread.join(timeout)
