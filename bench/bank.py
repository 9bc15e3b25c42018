"""Benchmark: the inventory importer at scale, barcode lookups and the bank pages' queries.

One run, in a fresh SQLite database under a temporary data directory (the production
settings: WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE``):

1. set-up (not timed): migrate; an operator, a bank technician with an API token, a client;
   a storage hierarchy of 10 × 10 boxes with one free position per row of the file (units
   and racks through the storage services, boxes and positions in bulk); a generated
   inventory CSV of ``--rows`` rows (10 aliquots per collection, 2 collections per donor,
   every aliquot in its own position);
2. the import through the real importer (``import_run_create`` + ``import_run_execute``:
   the whole file checked, then written in one transaction with its ledger entries), timed
   end to end → ``rows_per_s``; peak resident memory of the process → ``peak_rss_mb``;
3. the baseline: a bare ``sqlite3.executemany`` of the same CSV rows (read with
   ``csv.reader``, mapped to columns without any check) into an equivalent table (the
   ``bank_aliquot`` table as migrated, its constraints and indexes, without foreign keys) in
   a database file with the same settings, one transaction → ``import_ratio`` = our rows/s
   ÷ bare rows/s. Ours writes five tables (donors, collections, products, aliquots,
   placements) and the ledger, after checking every value;
4. 2,000 barcode lookups (``GET /api/v1/aliquots/lookup?code=…`` with the technician's API
   token, through the full middleware stack with Django's test client) → ``lookup_p99_ms``;
5. the SQL queries of the aliquot page (``bank:aliquot``) and of a full box map
   (``storage:box``) for the logged-in technician → ``page_queries`` (the larger).

    cd /work/main && .venv/bin/python -m bench.bank [--rows N]

The last line is exactly
``bank rows_per_s=<n> import_ratio=<ours/bare> peak_rss_mb=<n> lookup_p99_ms=<x>
  page_queries=<max>`` (on one line).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BOX_ROWS = BOX_COLS = 10
BOXES_PER_RACK = 10
RACKS_PER_UNIT = 100
ALIQUOTS_PER_COLLECTION = 10
LOOKUPS = 2000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _din(seq: int) -> str:
    from celltrace.bank.isbt128 import check_character

    value = f"A999925{seq:06d}"
    return value + check_character(value)


def box_path(box: int) -> str:
    unit, rest = divmod(box, RACKS_PER_UNIT * BOXES_PER_RACK)
    rack, b = divmod(rest, BOXES_PER_RACK)
    return f"bench/tank-{unit:02d}/R{rack:03d}/B{b:02d}"


def make_csv(path: Path, rows: int) -> None:
    from celltrace.imports.inventory import COLUMN_NAMES

    labels = [f"{chr(65 + r)}{c + 1}" for r in range(BOX_ROWS) for c in range(BOX_COLS)]
    per_box = BOX_ROWS * BOX_COLS
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMN_NAMES)
        din = ""
        for i in range(rows):
            coll, k = divmod(i, ALIQUOTS_PER_COLLECTION)
            if k == 0:
                din = _din(coll + 1)
            box, pos = divmod(i, per_box)
            w.writerow(
                (
                    f"D-{coll // 2:06d}",
                    din,
                    "apheresis",
                    f"2025-{coll % 12 + 1:02d}-{coll % 28 + 1:02d}T09:30:00+08:00",
                    "250.00",
                    "Ward 3",
                    "",
                    "pbmc",
                    f"S1234V{chr(65 + k)}0",
                    f"2025-{coll % 12 + 1:02d}-{coll % 28 + 1:02d}",
                    "cryovial_1_8ml",
                    "1000.0",
                    "15000000",
                    "95.5",
                    "2035-12-31",
                    "available" if k % 3 else "quarantine",
                    box_path(box),
                    labels[pos],
                )
            )


def setup_storage(actor: Any, boxes: int) -> None:
    """Site, units and racks through the storage services; the boxes and their positions in
    bulk (``bulk_create`` in chunks: the set-up is not what is measured)."""
    from decimal import Decimal

    from django.db import transaction

    from celltrace.storage import services as storage
    from celltrace.storage.choices import UnitKind
    from celltrace.storage.models import Box, Position, position_label

    site = storage.site_create(actor=actor, name="Bench site", code="bench")
    box_type = storage.box_type_create(
        actor=actor, name=f"{BOX_ROWS}x{BOX_COLS}", rows=BOX_ROWS, columns=BOX_COLS
    )
    labels = [
        (r, c, position_label(r, c)) for r in range(1, BOX_ROWS + 1) for c in range(1, BOX_COLS + 1)
    ]
    units: dict[int, Any] = {}
    racks: dict[tuple[int, int], Any] = {}
    done = 0
    while done < boxes:
        with transaction.atomic():
            made = []
            for box in range(done, min(boxes, done + 1000)):
                unit, rest = divmod(box, RACKS_PER_UNIT * BOXES_PER_RACK)
                rack, b = divmod(rest, BOXES_PER_RACK)
                if unit not in units:
                    units[unit] = storage.storage_unit_create(
                        actor=actor,
                        site=site,
                        name=f"Tank {unit:02d}",
                        code=f"tank-{unit:02d}",
                        kind=UnitKind.LN2_VAPOUR,
                        set_point_c=Decimal("-190"),
                        alarm_low_c=Decimal("-196"),
                        alarm_high_c=Decimal("-150"),
                    )
                if (unit, rack) not in racks:
                    racks[unit, rack] = storage.rack_create(
                        actor=actor, unit=units[unit], name=f"R{rack:03d}"
                    )
                made.append(
                    Box(
                        rack=racks[unit, rack],
                        box_type=box_type,
                        name=f"B{b:02d}",
                        barcode=f"BX{box:07d}",
                    )
                )
            Box.objects.bulk_create(made)
            Position.objects.bulk_create(
                (Position(box=bx, row=r, col=c, label=lab) for bx in made for r, c, lab in labels),
                batch_size=5000,
            )
        done = min(boxes, done + 1000)
        log(f"  storage: {done}/{boxes} boxes")


def copy_schema(
    main_db: Path, db_path: Path, tables: tuple[str, ...], rename: tuple[str, str] | None = None
) -> sqlite3.Connection:
    """A fresh database file with the production settings (WAL, ``synchronous=FULL``) and
    ``tables`` as the migrations made them in ``main_db`` (columns, CHECK and UNIQUE
    constraints, indexes), foreign keys left out as there is nothing to refer to.
    ``rename=(old, new)`` renames the table and its indexes."""
    import re

    source = sqlite3.connect(main_db)
    marks = ",".join("?" * len(tables))
    ddl = [
        sql
        for (sql,) in source.execute(
            f"SELECT sql FROM sqlite_master WHERE tbl_name IN ({marks}) "
            "AND sql IS NOT NULL ORDER BY type DESC",
            tables,
        )
    ]
    source.close()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
    for sql in ddl:
        sql = re.sub(r' REFERENCES "[a-z_]+" \("id"\) DEFERRABLE INITIALLY DEFERRED', "", sql)
        if rename is not None:
            old, new = rename
            sql = sql.replace(f'"{old}"', f'"{new}"').replace(f"{old}_", f"{new}_")
        db.execute(sql)
    return db


def bare_executemany(csv_path: Path, db_path: Path, main_db: Path, client_id: int) -> float:
    """Seconds for csv.reader → sqlite3.executemany of the rows into an equivalent table.

    The table is ``bank_aliquot`` as the migrations made it (same columns, CHECK and UNIQUE
    constraints and indexes; foreign keys left out, as there is nothing to refer to), in a
    fresh database file with the same settings (WAL, ``synchronous=FULL``), one transaction.
    Each CSV row is mapped to the aliquot's columns without any checking.
    """
    from celltrace.imports.inventory import CHUNK

    db = copy_schema(main_db, db_path, ("bank_aliquot",), rename=("bank_aliquot", "bare_aliquot"))
    sql = (
        "INSERT INTO bare_aliquot (organisation_id, product_id, din, pdc, isbt_collection_type,"
        " division, barcode, container_type, volume_ul, cell_count, viability_pct, expiry,"
        " thaw_count, status, batch_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " 0, ?, NULL, '2026-01-01 00:00:00')"
    )

    def rows(reader: Any) -> Any:
        for n, r in enumerate(reader):
            code = r[8]
            yield (
                client_id, n // ALIQUOTS_PER_COLLECTION + 1, r[1][:13], code[:5], code[5],
                code[6:], r[1][:13] + code, r[10], r[11], r[12], r[13], r[14], r[15],
            )  # fmt: skip

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    with csv_path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        db.execute("BEGIN IMMEDIATE")
        source_rows = rows(reader)
        while chunk := list(itertools.islice(source_rows, CHUNK)):
            db.executemany(sql, chunk)
        db.execute("COMMIT")
    seconds = time.perf_counter() - t0
    log(f"  bare: process CPU {time.process_time() - cpu0:.2f} s")
    db.close()
    return seconds


def write_floor(csv_path: Path, db_path: Path, main_db: Path) -> float:
    """Seconds SQLite alone needs to write what the import writes, without Python or checks.

    The file's rows are first loaded into a plain table (not timed); then one transaction
    inserts collections, products, aliquots and placements with ``INSERT … SELECT`` into the
    tables as migrated (constraints and indexes; foreign keys left out), in a database file
    with the production settings, and commits. Printed on stderr as the engine's ceiling for
    ``rows_per_s`` on this machine.
    """
    tables = ("bank_collection", "bank_product", "bank_aliquot", "storage_placement")
    db = copy_schema(main_db, db_path, tables)
    db.execute(
        "CREATE TABLE src (n INTEGER PRIMARY KEY, din TEXT, code TEXT, container TEXT, "
        "vol TEXT, cells TEXT, viab TEXT, expiry TEXT, status TEXT)"
    )
    with csv_path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO src VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (n + 1, r[1][:13], r[8], r[10], r[11], r[12], r[13], r[14], r[15])
                for n, r in enumerate(reader)
            ),
        )
        db.execute("COMMIT")
    per = ALIQUOTS_PER_COLLECTION
    t0 = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "INSERT INTO bank_collection (id, din, collection_type, collected_at, volume_ml, "
        "collection_site, sprec_code, sprec_version, created_at, batch_id, organisation_id, "
        f"donor_id) SELECT (n - 1) / {per} + 1, din, 'apheresis', '2025-01-01 01:30:00', "
        "'250.00', 'Ward 3', '', '3.0', '2026-01-01 00:00:00', 1, 1, (n - 1) / "
        f"{2 * per} + 1 FROM src WHERE (n - 1) % {per} = 0"
    )
    db.execute(
        "INSERT INTO bank_product (id, product_type, pdc, isbt_collection_type, processed_at, "
        "created_at, batch_id, collection_id, organisation_id) SELECT (n - 1) / "
        f"{per} + 1, 'pbmc', substr(code, 1, 5), substr(code, 6, 1), '2025-01-01 00:00:00', "
        f"'2026-01-01 00:00:00', 1, (n - 1) / {per} + 1, 1 FROM src WHERE (n - 1) % {per} = 0"
    )
    db.execute(
        "INSERT INTO bank_aliquot (id, organisation_id, product_id, din, pdc, "
        "isbt_collection_type, division, barcode, container_type, volume_ul, cell_count, "
        "viability_pct, expiry, thaw_count, status, batch_id, created_at) SELECT n, 1, "
        f"(n - 1) / {per} + 1, din, substr(code, 1, 5), substr(code, 6, 1), substr(code, 7), "
        "din || code, container, vol, cells, viab, expiry || ' 23:59:59', 0, status, 1, "
        "'2026-01-01 00:00:00' FROM src ORDER BY n"
    )
    db.execute(
        "INSERT INTO storage_placement (id, placed_at, removed_at, aliquot_id, "
        "organisation_id, placed_by_id, removed_by_id, position_id) SELECT n, "
        "'2026-01-01 00:00:00', NULL, n, 1, 1, NULL, n FROM src ORDER BY n"
    )
    db.execute("COMMIT")
    seconds = time.perf_counter() - t0
    db.close()
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.bank")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    rows = max(args.rows, ALIQUOTS_PER_COLLECTION)
    tmp = Path(tempfile.mkdtemp(prefix="celltrace-bench-bank-"))
    os.environ["CELLTRACE_DATA_DIR"] = str(tmp / "data")
    os.environ["DJANGO_SETTINGS_MODULE"] = "celltrace.config.local"
    os.environ.pop("DATABASE_URL", None)
    try:
        run(tmp, rows)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, rows: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from celltrace.bank.models import Aliquot
    from celltrace.core import services as core
    from celltrace.core.choices import OrganisationKind, Role
    from celltrace.imports import services as imports
    from celltrace.imports.choices import ImportStatus
    from celltrace.storage.models import Box

    log(f"set-up in {tmp}: migrate")
    call_command("migrate", interactive=False, verbosity=0)
    operator = core.organisation_create(
        actor=None, name="Bench operator", code="operator", kind=OrganisationKind.OPERATOR
    )
    client_org = core.organisation_create(
        actor=None, name="Bench client", code="client", kind=OrganisationKind.CLIENT
    )
    tech = core.user_create(
        actor=None,
        organisation=operator,
        username="tech",
        full_name="Bench Technician",
        email="tech@example.org",
        roles=[Role.BANK_TECHNICIAN],
        password="Quiet-Heron-Lantern-4719",  # noqa: S106
        must_change_password=False,
    )
    per_box = BOX_ROWS * BOX_COLS
    boxes = -(-rows // per_box)
    t0 = time.perf_counter()
    setup_storage(tech, boxes)
    log(f"  storage set-up {time.perf_counter() - t0:.1f} s")
    csv_path = tmp / "inventory.csv"
    make_csv(csv_path, rows)
    log(f"  inventory.csv: {rows} rows, {csv_path.stat().st_size / 1e6:.1f} MB")

    log("import through the importer (check the whole file, then write) …")
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    run_ = imports.import_run_create(
        actor=tech,
        organisation=client_org,
        file_name=csv_path.name,
        content=csv_path,
        reason="benchmark",
    )
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        run_ = profiler.runcall(imports.import_run_execute, run=run_, one_pass=True)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(
            os.environ.get("BENCH_PROFILE_SORT", "cumulative")
        ).print_stats(35)
    else:
        marks: dict[str, list[float]] = {}

        def progress(phase: str, done: int, total: int) -> None:
            now = time.perf_counter() - t0
            marks.setdefault(phase, [now, now])[1] = now

        run_ = imports.import_run_execute(run=run_, progress=progress, one_pass=True)
        log(
            "  phases (s from start, first and last progress report): "
            + ", ".join(f"{k} {a:.2f}..{b:.2f}" for k, (a, b) in marks.items())
        )
    ours = time.perf_counter() - t0
    ours_cpu = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if run_.status != ImportStatus.WRITTEN:
        log(f"import failed: {run_.errors[:5]}")
        raise SystemExit(1)
    assert Aliquot.objects.count() == rows
    rows_per_s = rows / ours
    log(
        f"  ours: {ours:.2f} s, {rows_per_s:,.0f} rows/s (process CPU {ours_cpu:.2f} s: "
        f"{rows / ours_cpu:,.0f} rows per CPU second), counts {run_.counts}"
    )

    bare = bare_executemany(
        csv_path, tmp / "bare.sqlite3", Path(connection.settings_dict["NAME"]), client_org.pk
    )
    bare_per_s = rows / bare
    log(f"  bare executemany: {bare:.2f} s, {bare_per_s:,.0f} rows/s")

    floor = write_floor(csv_path, tmp / "floor.sqlite3", Path(connection.settings_dict["NAME"]))
    log(
        f"  engine floor (INSERT … SELECT of the same rows into the four tables, no Python, "
        f"no checks): {floor:.2f} s, {rows / floor:,.0f} rows/s"
    )

    token = core.api_token_create(actor=tech, name="bench").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")
    rnd = random.Random(1)
    max_id = Aliquot.objects.order_by("-pk").values_list("pk", flat=True)[0]
    codes = []
    while len(codes) < LOOKUPS:
        pk = rnd.randint(1, max_id)
        code = Aliquot.objects.filter(pk=pk).values_list("barcode", flat=True).first()
        if code:
            codes.append(code)
    url = "/api/v1/aliquots/lookup"
    assert api.get(url, {"code": codes[0]}).status_code == 200  # warm-up
    times = []
    for code in codes:
        t = time.perf_counter()
        response = api.get(url, {"code": code})
        times.append((time.perf_counter() - t) * 1000)
        if response.status_code != 200:
            log(f"lookup {code}: {response.status_code} {response.content[:200]!r}")
            raise SystemExit(1)
    times.sort()
    p99 = times[int(len(times) * 0.99) - 1]
    log(f"  lookups: median {times[len(times) // 2]:.2f} ms, p99 {p99:.2f} ms")

    # pages render with the plain static storage (no collectstatic manifest in the bench)
    plain = override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    )
    plain.enable()
    page = Client(HTTP_HOST="localhost")
    page.force_login(tech)
    aliquot = Aliquot.objects.order_by("pk")[rows // 2]
    box = Box.objects.order_by("pk")[0]
    counts = {}
    for name, target in (
        ("aliquot page", reverse("bank:aliquot", args=[aliquot.pk])),
        ("box map", reverse("storage:box", args=[box.pk])),
    ):
        page.get(target)  # warm caches (sessions, templates)
        with CaptureQueriesContext(connection) as ctx:
            response = page.get(target)
        if response.status_code != 200:
            log(f"{name}: HTTP {response.status_code}")
            raise SystemExit(1)
        counts[name] = len(ctx.captured_queries)
    log(f"  queries: {counts}")
    page_queries = max(counts.values())
    print(
        f"bank rows_per_s={rows_per_s:.0f} import_ratio={rows_per_s / bare_per_s:.2f} "
        f"peak_rss_mb={peak_mb:.0f} lookup_p99_ms={p99:.2f} page_queries={page_queries}"
    )


if __name__ == "__main__":
    main()
