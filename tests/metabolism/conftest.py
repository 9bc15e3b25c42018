from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES

SEAHORSE = FIXTURES / "seahorse"
EXPORTS = sorted(p.name for p in SEAHORSE.glob("*.xlsx"))


def export_bytes(name: str) -> bytes:
    return (SEAHORSE / name).read_bytes()


def fixture_path(name: str) -> Path:
    return SEAHORSE / name


@pytest.fixture
def analyst(operator: Any, make_user: Any) -> Any:
    return make_user(operator, "qc_analyst", username="analyst", full_name="Li Na Analyst")


@pytest.fixture
def client_user_a(client_a: Any, make_user: Any) -> Any:
    return make_user(client_a, "client_user", username="chen", full_name="Chen Wei")


@pytest.fixture
def client_user_b(client_b: Any, make_user: Any) -> Any:
    return make_user(client_b, "client_user", username="ben", full_name="Ben Becker")


@pytest.fixture
def donor_a(tech: Any, client_a: Any) -> Any:
    from celltrace.bank import services as bank

    return bank.donor_create(actor=tech, organisation=client_a, reference="DEP-A-001")


@pytest.fixture
def donor_b(tech: Any, client_b: Any) -> Any:
    from celltrace.bank import services as bank

    return bank.donor_create(actor=tech, organisation=client_b, reference="DEP-B-001")


@pytest.fixture
def upload(analyst: Any, client_a: Any, donor_a: Any) -> Any:
    """Upload a fixture export for donor A (keyword arguments override the defaults)."""
    from celltrace.metabolism import services

    def do(name: str = "xfe24-mst-raw_1.xlsx", **kwargs: Any) -> Any:
        args: dict[str, Any] = {
            "actor": analyst,
            "organisation": client_a,
            "file_bytes": export_bytes(name),
            "filename": name,
            "assay": "mito-stress",
            "donor": donor_a,
            "timepoint": "at_banking",
            "sampled_on": dt.date(2025, 3, 1),
        }
        args.update(kwargs)
        return services.metabolism_run_upload(**args)

    return do
