"""Metabolism API: multipart upload, results, well exclusion, profile; tenancy 404s."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from celltrace.assays.metabolism import analysis, seahorse
from celltrace.audit.models import AuditEvent
from celltrace.core import services as core_services
from celltrace.metabolism.choices import EventType
from celltrace.metabolism.models import MetabolismRun, WellExclusion
from tests.metabolism.conftest import export_bytes, fixture_path

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, user: Any) -> None:
        self.secret = core_services.api_token_create(actor=user, name="test").secret
        self.client = Client()

    def _h(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"}

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}", **self._h())

    def post(self, path: str, data: Any) -> Any:
        return self.client.post(
            f"/api/v1{path}", data=data, content_type="application/json", **self._h()
        )

    def upload(self, name: str, **fields: Any) -> Any:
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = {"file": SimpleUploadedFile(name, export_bytes(name)), **fields}
        return self.client.post("/api/v1/metabolism/runs", data=data, **self._h())


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def as_answered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``analysis.group_rows`` as the API answers it: every number a decimal string of ten
    significant digits (null stays null); ``group``, ``n`` and ``units`` as they are."""

    def text(x: Any) -> Any:
        return None if x is None else format(Decimal(format(x, ".10g")), "f")

    def numbers(d: dict[str, Any]) -> dict[str, Any]:
        return {k: text(v) for k, v in d.items()}

    return [
        {
            **{k: v for k, v in r.items() if k in ("group", "n", "units")},
            **numbers(
                {k: v for k, v in r.items() if k not in ("group", "n", "units", "sd", "sem")}
            ),
            "sd": numbers(r["sd"]),
            "sem": numbers(r["sem"]),
        }
        for r in rows
    ]


def test_upload_results_exclude_include_and_profile_through_the_api(
    analyst: Any, donor_a: Any
) -> None:
    api = Api(analyst)
    counts = fixture_path("xfe24-mst-counts_1.csv").read_bytes()
    from django.core.files.uploadedfile import SimpleUploadedFile

    run = ok(
        api.upload(
            "xfe24-mst-raw_1.xlsx",
            assay="mito-stress",
            timepoint="at_banking",
            sampled_on="2025-02-03",
            donor_id=str(donor_a.pk),
            normalisation=SimpleUploadedFile("xfe24-mst-counts_1.csv", counts),
            normalisation_scale="10000",
        ),
        201,
    )
    assert run["donor_reference"] == "DEP-A-001"
    assert run["normalisation_file"] == "xfe24-mst-counts_1.csv"
    export = seahorse.read_wave_export(fixture_path("xfe24-mst-raw_1.xlsx"))
    norm = seahorse.read_normalisation_csv(counts, scale_factor=10000)
    direct = analysis.analyse(export, "mito-stress", normalisation=norm)
    results = ok(api.get(f"/metabolism/runs/{run['id']}/results"))
    assert results["groups"] == as_answered(analysis.group_rows(direct))
    assert [p["key"] for p in results["parameters"]] == [p.key for p in direct.parameters]

    before = AuditEvent.objects.count()
    excl = ok(
        api.post(f"/metabolism/runs/{run['id']}/wells/B02/exclusion", {"reason": "bubble"}), 201
    )
    assert excl["well"] == "B02" and excl["reason"] == "bubble"
    assert AuditEvent.objects.count() == before + 1
    (event,) = AuditEvent.objects.where(event_type=EventType.WELL_EXCLUDED)
    assert event.data["reason"] == "bubble"
    detail = ok(api.get(f"/metabolism/runs/{run['id']}"))
    assert detail["excluded_wells"] == ["B02"]
    results = ok(api.get(f"/metabolism/runs/{run['id']}/results"))
    excluded = analysis.analyse(
        export, "mito-stress", normalisation=norm, exclusions={"B02": "bubble"}
    )
    assert results["groups"] == as_answered(analysis.group_rows(excluded))

    ok(api.post(f"/metabolism/runs/{run['id']}/wells/B02/inclusion", {"reason": "checked"}))
    assert ok(api.get(f"/metabolism/runs/{run['id']}"))["excluded_wells"] == []
    history = ok(api.get(f"/metabolism/runs/{run['id']}/exclusions"))
    assert history[0]["include_reason"] == "checked"

    profile = ok(api.get(f"/metabolism/donors/{donor_a.pk}/profile"))
    assert [r["id"] for r in profile["runs"]] == [run["id"]]
    assert profile["runs"][0]["groups"] == as_answered(analysis.group_rows(direct))
    listed = ok(api.get(f"/metabolism/runs?donor_id={donor_a.pk}"))
    assert listed["count"] == 1


def test_api_refuses_bad_input_and_writes_nothing(analyst: Any, donor_a: Any) -> None:
    api = Api(analyst)
    before = AuditEvent.objects.count()
    response = api.upload(
        "xfe96-mito-glyco-rep1.xlsx",
        assay="glycolytic-rate",
        timepoint="at_banking",
        sampled_on="2025-02-03",
        donor_id=str(donor_a.pk),
    )
    problem = ok(response, 422)
    assert problem["field"] == "file"
    assert "Glycolytic Rate" in problem["detail"]
    run = ok(
        api.upload(
            "xfe24-mst-raw_2.xlsx",
            assay="mito-stress",
            timepoint="at_banking",
            sampled_on="2025-02-03",
            donor_id=str(donor_a.pk),
        ),
        201,
    )
    ok(api.post(f"/metabolism/runs/{run['id']}/wells/B02/exclusion", {"reason": ""}), 422)
    ok(api.post(f"/metabolism/runs/{run['id']}/wells/B02/exclusion", {"why": "x"}), 422)
    assert MetabolismRun.objects.count() == 1
    assert not WellExclusion.objects.exists()
    assert AuditEvent.objects.count() == before + 1  # the one upload


def test_api_tenancy(
    upload: Any, client_user_a: Any, client_user_b: Any, donor_a: Any, donor_b: Any
) -> None:
    run = upload()
    own, other = Api(client_user_a), Api(client_user_b)
    assert ok(own.get(f"/metabolism/runs/{run.pk}"))["id"] == run.pk
    ok(own.get(f"/metabolism/runs/{run.pk}/results"))
    ok(own.get(f"/metabolism/donors/{donor_a.pk}/profile"))
    before = AuditEvent.objects.count()
    for path in (
        f"/metabolism/runs/{run.pk}",
        f"/metabolism/runs/{run.pk}/results",
        f"/metabolism/runs/{run.pk}/exclusions",
        f"/metabolism/donors/{donor_a.pk}/profile",
    ):
        ok(other.get(path), 404)
    ok(other.post(f"/metabolism/runs/{run.pk}/wells/B02/exclusion", {"reason": "x"}), 404)
    ok(own.post(f"/metabolism/runs/{run.pk}/wells/B02/exclusion", {"reason": "x"}), 403)
    assert ok(other.get("/metabolism/runs"))["count"] == 0
    assert ok(other.get(f"/metabolism/donors/{donor_b.pk}/profile"))["runs"] == []
    response = own.upload(
        "xfe24-mst-raw_1.xlsx",
        assay="mito-stress",
        timepoint="at_banking",
        sampled_on="2025-02-03",
        donor_id=str(donor_a.pk),
    )
    ok(response, 403)
    assert MetabolismRun.objects.count() == 1
    assert not WellExclusion.objects.exists()
    assert AuditEvent.objects.count() == before


def floats_in(value: Any, where: str = "") -> list[str]:
    """Where a JSON document holds a floating-point number."""
    if isinstance(value, float):
        return [where]
    if isinstance(value, dict):
        return [w for k, v in value.items() for w in floats_in(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [w for i, v in enumerate(value) for w in floats_in(v, f"{where}.{i}")]
    return []


def test_results_and_profile_numbers_are_decimal_strings(
    upload: Any, client_user_a: Any, donor_a: Any
) -> None:
    run = upload()
    api = Api(client_user_a)
    results = ok(api.get(f"/metabolism/runs/{run.pk}/results"))
    profile = ok(api.get(f"/metabolism/donors/{donor_a.pk}/profile"))
    assert floats_in(results) == [] and floats_in(profile) == []
    stored = run.group_results[0]
    group = results["groups"][0]
    key = run.parameters[0]["key"]
    assert isinstance(stored[key], float) and isinstance(group[key], str)
    assert Decimal(group[key]) == Decimal(format(stored[key], ".10g"))
    assert abs(Decimal(group[key]) - Decimal(stored[key])) < Decimal("1e-6") * abs(
        Decimal(stored[key])
    )
    assert isinstance(group["n"], int) and group["units"] == stored["units"]
    assert set(group) == set(stored)
    assert all(isinstance(v, str) for v in group["sd"].values() if v is not None)
    well = results["wells"][0]
    assert set(well["values"]) == set(run.well_results[0]["values"])
    assert all(isinstance(v, str) for v in well["values"].values() if v is not None)
    assert all(isinstance(m, int) for ms in well["points"].values() for m in ms)
    numbers = [c for c in results["constants"] if not isinstance(c["value"], str)]
    assert numbers == []
    volume = next(c for c in results["constants"] if c["label"] == "Plate Volume")
    assert volume["value"] == "5.65"
    assert profile["runs"][0]["groups"] == results["groups"]


def test_stored_numbers_become_decimal_strings_without_exponent() -> None:
    from celltrace.metabolism.schemas import decimal_text

    assert decimal_text(9.805564679509182) == "9.80556468"
    assert decimal_text(385.50239481275304) == "385.5023948"
    assert decimal_text(1e-05) == "0.00001"
    assert decimal_text(-0.0) == "0" and decimal_text(5.0) == "5"
    assert decimal_text(None) is None and decimal_text("2.6.0.31") == "2.6.0.31"


def test_upload_refuses_identifiers_beyond_64_bits_and_writes_nothing(
    analyst: Any, donor_a: Any
) -> None:
    api = Api(analyst)
    before = AuditEvent.objects.count()
    for name in ("donor_id", "aliquot_id", "organisation_id"):
        response = api.upload(
            "xfe24-mst-raw_1.xlsx",
            assay="mito-stress",
            timepoint="at_banking",
            sampled_on="2025-02-03",
            **{name: str(2**63)},
        )
        assert ok(response, 422)["field"] == name
    assert not MetabolismRun.objects.exists()
    assert AuditEvent.objects.count() == before
