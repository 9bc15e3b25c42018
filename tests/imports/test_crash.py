"""kill -9 crash loop (reliability guide §9.2): an import killed at random moments leaves an
intact database, a verifying ledger and no partial import; a final run writes everything."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from celltrace.bank.models import Aliquot, Collection
from celltrace.imports.choices import FINAL_STATUSES
from celltrace.imports.inventory import COLUMN_NAMES
from celltrace.imports.models import ImportRun
from celltrace.storage.models import Placement
from tests.bank import factories
from tests.imports.conftest import csv_bytes, din

ROOT = Path(__file__).resolve().parents[2]
#: large enough that an import outlasts the kill delays (at most 0.3 s after the run starts)
#: on a fast machine: with 6,000 rows CI's fourth kill came after the commit
ROWS = 20_000
KILLS = 4


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "CELLTRACE_TEST"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="celltrace.config.local",
        CELLTRACE_DATA_DIR=str(tmp_path / "var"),
        # the production SQLite settings (WAL, FULL, IMMEDIATE) on the test database file
        CELLTRACE_VERIFY_DATABASE=str(connection.settings_dict["NAME"]),
    )
    return env


def _rows() -> list[dict[str, str]]:
    out = []
    for i in range(ROWS):
        box, cell = divmod(i, 81)
        out.append(
            {
                **dict.fromkeys(COLUMN_NAMES, ""),
                "donor_reference": f"D-{i // 20}",
                "din": din(i // 5 + 1),
                "collection_type": "apheresis",
                "collected_at": "2025-03-02",
                "collection_volume_ml": "100",
                "product_type": "pbmc",
                "product_code": f"S1234V{'ABCDE'[i % 5]}0",
                "container": "cryovial_1_8ml",
                "volume_ul": "1000",
                "storage_path": f"main/crash/R1/B{box + 1}",
                "position": f"{'ABCDEFGHI'[cell // 9]}{cell % 9 + 1}",
            }
        )
    return out


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_kill_9_crash_loop(tmp_path: Path, tech: Any, client_a: Any) -> None:
    from celltrace.audit.verification import verify_database

    factories.hierarchy(tech, boxes=-(-ROWS // 81), code="crash")
    inventory = tmp_path / "inventory.csv"
    inventory.write_bytes(csv_bytes(_rows()))
    env = _env(tmp_path)
    command = [
        sys.executable, "-m", "celltrace.cli", "import", "inventory", str(inventory),
        "--user", tech.username, "--organisation", client_a.code, "--quiet",
    ]  # fmt: skip
    db_path = str(connection.settings_dict["NAME"])
    rnd = random.Random(9_2)
    finished = False
    for _ in range(KILLS):
        runs = ImportRun.objects.count()
        child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE)
        # kill at a random moment after the run has started (the file is being checked or
        # written), however long the interpreter takes to start on a busy machine
        deadline = time.monotonic() + 120
        while (
            ImportRun.objects.count() == runs
            and child.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(rnd.uniform(0.0, 0.3))
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        assert child.stdout is not None
        child.stdout.close()
        check = sqlite3.connect(db_path)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()
        verify = subprocess.run(
            [sys.executable, "-m", "celltrace.cli", "audit", "verify"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
        count = Aliquot.objects.count()
        assert count in (0, ROWS)  # all or nothing
        assert Placement.objects.count() == count
        if count == ROWS:
            # committed: whether the process then exited or was killed before it could, the
            # import is complete (the run is marked written in the same transaction)
            finished = True
            break
    if not finished:
        done = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    # at least one kill caught a run between its start and its end
    assert ImportRun.objects.exclude(status__in=FINAL_STATUSES).exists()
    assert ImportRun.objects.filter(status="written").count() == 1
    assert Aliquot.objects.count() == ROWS
    assert Collection.objects.count() == ROWS // 5
    assert Placement.objects.filter(removed_at__isnull=True).count() == ROWS
    assert verify_database().ok
