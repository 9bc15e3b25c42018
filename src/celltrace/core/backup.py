"""Consistent backups of the database (docs/design/reliability.md §3, EU GMP Annex 11 §7.2).

SQLite: the online backup API (never a file copy, which would miss the WAL), then
``PRAGMA integrity_check`` on the copy. PostgreSQL: ``pg_dump --format=custom``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class BackupError(RuntimeError):
    """The backup could not be written or did not check out."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    sha256: str


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def backup_sqlite(source: Path, output: Path) -> BackupResult:
    if output.exists():
        raise BackupError(f"{output} exists; choose a new file name")
    tmp = output.with_name(output.name + ".part")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        problems = dst.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        dst.close()
        src.close()
    if check != "ok" or problems:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {check} {problems[:3]}")
    tmp.replace(output)
    return BackupResult(output, output.stat().st_size, _digest(output))


def backup_postgresql(settings_dict: dict[str, Any], output: Path) -> BackupResult:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError("pg_dump is not installed (Debian package postgresql-client)")
    if output.exists():
        raise BackupError(f"{output} exists; choose a new file name")
    env = {**os.environ, "PGPASSWORD": str(settings_dict.get("PASSWORD") or "")}
    args = [
        pg_dump,
        "--format=custom",
        "--file",
        str(output),
        "--host",
        str(settings_dict.get("HOST") or "localhost"),
        "--port",
        str(settings_dict.get("PORT") or 5432),
        "--username",
        str(settings_dict.get("USER") or ""),
        str(settings_dict["NAME"]),
    ]
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        output.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return BackupResult(output, output.stat().st_size, _digest(output))


def table_digests(connection: Any, tables: list[str]) -> dict[str, tuple[int, str]]:
    """Row count and SHA-256 of every row, in primary-key order, per table (restore drill)."""
    out: dict[str, tuple[int, str]] = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")  # noqa: S608
            h = hashlib.sha256()
            n = 0
            for row in cursor.fetchall():
                h.update(
                    repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)).encode()
                )
                n += 1
            out[table] = (n, h.hexdigest())
    return out
