"""Metabolism API: multipart upload, results, well exclusion, profile; tenancy 404s."""

from __future__ import annotations

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
    assert results["groups"] == analysis.group_rows(direct)
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
    assert results["groups"] == analysis.group_rows(excluded)

    ok(api.post(f"/metabolism/runs/{run['id']}/wells/B02/inclusion", {"reason": "checked"}))
    assert ok(api.get(f"/metabolism/runs/{run['id']}"))["excluded_wells"] == []
    history = ok(api.get(f"/metabolism/runs/{run['id']}/exclusions"))
    assert history[0]["include_reason"] == "checked"

    profile = ok(api.get(f"/metabolism/donors/{donor_a.pk}/profile"))
    assert [r["id"] for r in profile["runs"]] == [run["id"]]
    assert profile["runs"][0]["groups"] == analysis.group_rows(direct)
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
