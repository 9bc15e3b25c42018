"""Test settings: a file-backed SQLite with the production OPTIONS, or a real PostgreSQL.

``CELLTRACE_TEST_DATABASE=postgres`` selects PostgreSQL (``CELLTRACE_TEST_PG_URL``, default
``postgres://celltrace:celltrace@127.0.0.1:5432/celltrace``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from celltrace.config.base import *  # noqa: F403
from celltrace.config.base import sqlite_database
from celltrace.config.env import env

SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789abcdef"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# Fast hashing keeps the suite quick; tests/core/test_auth.py proves production uses Argon2.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
# Tests log in with passwords; tests/core/test_mfa.py turns the production rule on.
MFA_REQUIRED_ROLES = []
TEST_TMP = Path(os.environ.get("CELLTRACE_TEST_TMP") or tempfile.gettempdir()) / (
    f"celltrace-test-{os.getpid()}"
)
TEST_TMP.mkdir(parents=True, exist_ok=True)
DATA_DIR = TEST_TMP / "data"
CELLTRACE_SIGNING_KEY = DATA_DIR / "keys" / "checkpoint.key"
CELLTRACE_VERIFY_KEY = DATA_DIR / "keys" / "checkpoint.pub"
CELLTRACE_CHECKPOINT_DIR = DATA_DIR / "checkpoints"
MEDIA_ROOT = DATA_DIR / "media"
STATIC_ROOT = TEST_TMP / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if os.environ.get("CELLTRACE_TEST_DATABASE", "sqlite") == "postgres":
    DATABASES = {
        "default": env.db_url_config(
            os.environ.get(
                "CELLTRACE_TEST_PG_URL", "postgres://celltrace:celltrace@127.0.0.1:5432/celltrace"
            )
        )
    }
    # CELLTRACE_TEST_DB_SUFFIX (set by .ci/run) gives one run's test databases their own names
    # (test_celltrace_<suffix>_gw0 …), so that two runs on one server never share them
    if suffix := os.environ.get("CELLTRACE_TEST_DB_SUFFIX", ""):
        DATABASES["default"]["TEST"] = {"NAME": f"test_celltrace_{suffix}"}
else:
    # A file, not :memory:, so that race tests can share it between processes.
    _db = sqlite_database(TEST_TMP / "db.sqlite3")
    _db["TEST"] = {"NAME": str(TEST_TMP / "test.sqlite3")}
    DATABASES = {"default": _db}
