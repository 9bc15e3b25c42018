"""Every translatable string in the code is in the Chinese catalogue (nothing ships in English)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "celltrace"
CATALOGUE = SRC / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@pytest.mark.slow
def test_makemessages_finds_no_string_missing_from_the_catalogue(tmp_path: Path) -> None:
    if shutil.which("xgettext") is None:
        pytest.skip("gettext (xgettext) is not installed")
    copy = tmp_path / "celltrace"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "celltrace.config.test"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-obsolete",
            "--ignore",
            "assays/*",
            "--ignore",
            "*/migrations/*",
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    extracted = {e.msgid for e in polib.pofile(str(copy / CATALOGUE.relative_to(SRC)))}
    committed = {
        e.msgid
        for e in polib.pofile(str(CATALOGUE))
        if not e.obsolete and (e.msgstr or any(e.msgstr_plural.values()))
    }
    missing = sorted(extracted - committed)
    assert not missing, f"untranslated strings (run 'make messages' and translate): {missing}"
