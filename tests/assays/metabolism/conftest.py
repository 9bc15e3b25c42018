"""Metabolism tests are pure Python: they need no Django settings.

The project-wide autouse ``_isolated_data_dir`` fixture needs pytest-django's ``settings``; these
tests run with ``-p no:django``, so it is shadowed here by a fixture of the same name.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir() -> None:
    """No Django settings to isolate in the metabolism tests."""
