"""One place that reads the environment (docs/design/style.md §2.14).

Every setting that differs between machines comes from an environment variable; the defaults
are the embedded single-machine installation (SQLite under ``CELLTRACE_DATA_DIR``).
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

env = environ.Env()


def data_dir() -> Path:
    """Where the database, keys, checkpoints, uploads and static files live."""
    path = Path(os.environ.get("CELLTRACE_DATA_DIR", "./var")).resolve()
    return path


def ensure_dir(path: Path, mode: int = 0o750) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    return path
