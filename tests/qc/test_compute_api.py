"""Compute operations of the API: JSON inputs and multipart instrument files give the same
calculation as the page; refusals are problem documents naming the field and write nothing;
client tokens reach no other organisation's test (404) and compute nothing (403)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from celltrace.qc import calculators
from celltrace.qc.instrument_files import Upload
from celltrace.qc.models import Result
from celltrace.qc.models_compute import SterilityReading
from tests.qc.conftest import Lab, in_testing, lab_test, snapshot
from tests.qc.test_api import Api, ok
from tests.qc.test_compute_calculators import COUNTESS

pytestmark = pytest.mark.django_db


def stored() -> list[Path]:
    root = Path(settings.DATA_DIR) / "instrument-files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(api: Api, test_id: int, kind: str, inputs: dict[str, Any], **files: Any) -> Any:
    return api.client.post(
        f"/api/v1/qc/tests/{test_id}/compute/upload",
        {"kind": kind, "inputs": json.dumps(inputs), **files},
        **api._headers(),
    )


DDPCR = {
    "target_positive": "3000",
    "reference_positive": "5000",
    "total_droplets": "15000",
    "droplet_nl": "0.91",
    "min_droplets": "10000",
}


def test_result_compute_json_ddpcr(lab: Lab) -> None:
    test = lab_test(in_testing(lab, methods=["vcn"]), "vcn")
    api = Api(lab.analyst)
    body = ok(api.post(f"/qc/tests/{test.pk}/compute", {"kind": "ddpcr", "inputs": DDPCR}), 201)
    direct = calculators.vcn_ddpcr(
        {k: int(v) for k, v in DDPCR.items() if k != "droplet_nl"} | {"droplet_nl": "0.91"},
        2,
        "copies/cell",
    )
    assert body["value_text"] == direct[0]
    assert body["calculation"]["outputs"] == direct[2]["outputs"]
    assert body["calculation"]["kind"] == "ddpcr"
    assert Result.objects.get(test=test).calculation == body["calculation"]


def test_result_compute_refusals(lab: Lab) -> None:
    test = lab_test(in_testing(lab, methods=["vcn"]), "vcn")
    api = Api(lab.analyst)
    before = snapshot()
    bad = api.post(
        f"/qc/tests/{test.pk}/compute",
        {"kind": "ddpcr", "inputs": DDPCR | {"total_droplets": "8000"}},
    )
    assert bad.status_code == 422
    assert "8000 accepted droplets" in bad.json()["detail"]
    bad = api.post(f"/qc/tests/{test.pk}/compute", {"kind": "nope", "inputs": {}})
    assert bad.status_code == 422 and "kind" in bad.content.decode()
    bad = api.post(
        f"/qc/tests/{test.pk}/compute",
        {"kind": "ddpcr", "inputs": DDPCR | {"target_positive": "many"}},
    )
    assert bad.status_code == 422 and "target_positive" in bad.content.decode()
    bad = api.post(f"/qc/tests/{test.pk}/compute", {"kind": "ddpcr", "inputs": DDPCR, "x": 1})
    assert bad.status_code == 422  # unknown fields are refused
    assert snapshot() == before


def test_result_compute_upload_counter_csv(lab: Lab) -> None:
    test = lab_test(in_testing(lab), "viability")
    api = Api(lab.analyst)
    before = snapshot()
    with COUNTESS.open("rb") as fh:
        bad = upload(api, test.pk, "counter-csv", {"layout": "vicell"}, file=fh)
    assert bad.status_code == 422 and "missing column(s)" in bad.json()["detail"]
    assert snapshot() == before and stored() == []
    with COUNTESS.open("rb") as fh:
        body = ok(upload(api, test.pk, "counter-csv", {}, file=fh), 201)
    direct = calculators.viability_from_counter(
        {"file": Upload.of(COUNTESS.name, COUNTESS.read_bytes())}, 1, "%"
    )
    assert body["value_text"] == direct[0] == "91.2"
    assert body["calculation"]["inputs"]["files"] == direct[2]["inputs"]["files"]
    assert [p.name for p in stored()] == [direct[2]["inputs"]["files"][0]["sha256"]]


def test_client_tokens(lab: Lab) -> None:
    mine = lab_test(in_testing(lab), "viability")
    foreign = lab_test(in_testing(lab, client=lab.bob, sample="B-3"), "viability")
    alice = Api(lab.alice)
    before = snapshot()
    with COUNTESS.open("rb") as fh:
        assert upload(alice, foreign.pk, "counter-csv", {}, file=fh).status_code == 404
    with COUNTESS.open("rb") as fh:
        assert upload(alice, mine.pk, "counter-csv", {}, file=fh).status_code == 403
    assert (
        alice.post(
            f"/qc/tests/{foreign.pk}/sterility/readings",
            {"observed_at": "2026-01-01T10:00:00Z", "growth": {"FTM": False}},
        ).status_code
        == 404
    )
    assert alice.get("/qc/sterility/due").json() == []
    assert snapshot() == before and stored() == []


def test_sterility_operations(lab: Lab) -> None:
    test = lab_test(in_testing(lab, methods=["sterility"]), "sterility")
    api = Api(lab.analyst)
    # yesterday at midnight: today is day 1 whatever the time of day the test runs
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight - dt.timedelta(days=1)
    rows = ok(
        api.post(
            f"/qc/tests/{test.pk}/sterility/incubations",
            {"media": ["FTM", "SCDM"], "started_at": start.isoformat(), "days": 14},
        ),
        201,
    )
    assert [r["medium"] for r in rows] == ["FTM", "SCDM"]
    due = ok(api.get("/qc/sterility/due"))
    assert {(d["medium"], d["day"]) for d in due if d["test_id"] == test.pk} == {
        ("FTM", 1),
        ("SCDM", 1),
    }
    read = api.post(
        f"/qc/tests/{test.pk}/sterility/readings",
        {"observed_at": (start + dt.timedelta(days=1)).isoformat(), "growth": {"FTM": False}},
    )
    assert ok(read, 201)[0]["medium"] == "FTM"
    assert SterilityReading.objects.count() == 1
    bad = api.post(
        f"/qc/tests/{test.pk}/sterility/readings",
        {"observed_at": (start + dt.timedelta(days=1)).isoformat(), "growth": {"FTM": True}},
    )
    assert bad.status_code == 409 and SterilityReading.objects.count() == 1
    pending = api.post(f"/qc/tests/{test.pk}/compute", {"kind": "readings", "inputs": {}})
    assert pending.status_code == 422 and "not complete" in pending.json()["detail"]
