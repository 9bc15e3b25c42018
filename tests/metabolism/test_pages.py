"""Metabolism pages: upload, plate review, charts, profile and PDF; tenancy 404s."""

from __future__ import annotations

import io
import re
from typing import Any

import pypdfium2 as pdfium
import pytest
from django.test import Client

from celltrace.audit.models import AuditEvent
from celltrace.metabolism.models import MetabolismRun, WellExclusion
from tests.conftest import PASSWORD
from tests.metabolism.conftest import export_bytes

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


def logged_in(user: Any) -> Client:
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def pdf_text(data: bytes) -> str:
    doc = pdfium.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()


def test_operator_uploads_through_the_form_excludes_a_well_and_sees_the_charts(
    analyst: Any, donor_a: Any
) -> None:
    web = logged_in(analyst)
    assert web.get("/metabolism/runs/new/").status_code == 200
    upload = io.BytesIO(export_bytes("xfe24-mst-raw_2.xlsx"))
    upload.name = "xfe24-mst-raw_2.xlsx"
    response = web.post(
        "/metabolism/runs/new/",
        {
            "file": upload,
            "assay": "mito-stress",
            "donor": donor_a.pk,
            "timepoint": "later_draw",
            "timepoint_label": "second draw",
            "sampled_on": "2025-06-01",
            "normalisation_unit": "cells",
            "normalisation_scale": "1",
        },
    )
    run = MetabolismRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/metabolism/runs/{run.pk}/"
    page = web.get(f"/metabolism/runs/{run.pk}/").content.decode()
    assert 'data-well="B02"' in page
    assert f"/metabolism/runs/{run.pk}/wells/B02/exclude/" in page
    assert "<script" not in page.split("</head>", 1)[1]
    assert 'style="' not in page

    response = web.post(
        f"/metabolism/runs/{run.pk}/wells/B02/exclude/", {"reason": "cells detached"}
    )
    assert response.status_code == 302
    exclusion = WellExclusion.objects.get(run=run)
    assert exclusion.reason == "cells detached"
    page = web.get(f"/metabolism/runs/{run.pk}/").content.decode()
    assert "well-excluded" in page
    assert "cells detached" in page

    for name in ("kinetic_ocr", "kinetic_ecar", "parameters", "energy_map"):
        chart = web.get(f"/metabolism/runs/{run.pk}/charts/{name}.svg")
        assert chart.status_code == 200, name
        assert chart["Content-Type"].startswith("image/svg+xml")
        assert b"<svg" in chart.content
    kinetic = web.get(f"/metabolism/runs/{run.pk}/charts/kinetic_ocr.svg").content.decode()
    assert 'id="injection-A"' in kinetic
    assert web.get(f"/metabolism/runs/{run.pk}/charts/nothing.svg").status_code == 404
    assert web.get("/metabolism/").status_code == 200


def test_exclusion_without_a_reason_changes_nothing(analyst: Any, upload: Any) -> None:
    run = upload()
    web = logged_in(analyst)
    before = AuditEvent.objects.count()
    web.post(f"/metabolism/runs/{run.pk}/wells/B02/exclude/", {"reason": ""})
    assert not WellExclusion.objects.exists()
    assert AuditEvent.objects.count() == before


def test_profile_page_and_bilingual_pdf(analyst: Any, upload: Any, donor_a: Any) -> None:
    import datetime as dt

    upload("xfe24-mst-raw_1.xlsx", timepoint="at_banking", sampled_on=dt.date(2024, 5, 2))
    upload("xfe24-mst-raw_2.xlsx", timepoint="later_draw", sampled_on=dt.date(2025, 5, 2))
    upload(
        "xfe96-mito-glyco-rep1.xlsx",
        assay="atp-rate",
        timepoint="after_intervention",
        sampled_on=dt.date(2025, 9, 1),
    )
    web = logged_in(analyst)
    page = web.get(f"/metabolism/donors/{donor_a.pk}/").content.decode()
    assert "DEP-A-001" in page
    assert "does not assess health" in page
    assert page.index("2024-05-02") < page.index("2025-05-02")
    for name in ("energy_map", "parameters-mito-stress", "parameters-atp-rate"):
        chart = web.get(f"/metabolism/donors/{donor_a.pk}/charts/{name}.svg")
        assert chart.status_code == 200, name
        assert b"<svg" in chart.content
    energy = web.get(f"/metabolism/donors/{donor_a.pk}/charts/energy_map.svg").content.decode()
    assert "2024-05-02 At banking" in energy and "2025-05-02 Later draw" in energy
    assert web.get(f"/metabolism/donors/{donor_a.pk}/charts/parameters-x.svg").status_code == 404

    english = web.get(f"/metabolism/donors/{donor_a.pk}/report.pdf?lang=en")
    assert english.status_code == 200
    assert english.content.startswith(b"%PDF")
    text = pdf_text(english.content)
    assert "DEP-A-001" in text
    assert "DEP-A-001 · celltrace" in text  # the footer, from the page (string-set)
    assert "Mito Stress Test" in text
    assert not CJK.search(text)

    chinese = web.get(f"/metabolism/donors/{donor_a.pk}/report.pdf?lang=zh-hans")
    assert chinese.content.startswith(b"%PDF")
    text = pdf_text(chinese.content)
    assert CJK.search(text)
    assert "2024年5月2日" in text
    assert "2024-05-02" in text  # the tables' dates: ISO, never wrapped inside a column
    assert web.get(f"/metabolism/donors/{donor_a.pk}/report.pdf?lang=fr").status_code == 404


def test_client_users_read_their_own_runs_and_get_404_for_others(
    upload: Any, client_user_a: Any, client_user_b: Any, donor_a: Any, donor_b: Any
) -> None:
    run = upload()
    own = logged_in(client_user_a)
    assert own.get(f"/metabolism/runs/{run.pk}/").status_code == 200
    assert own.get(f"/metabolism/donors/{donor_a.pk}/").status_code == 200
    assert own.get(f"/metabolism/runs/{run.pk}/charts/energy_map.svg").status_code == 200
    assert "DEP-A-001" in own.get("/metabolism/").content.decode()
    page = own.get(f"/metabolism/runs/{run.pk}/").content.decode()
    assert "/exclude/" not in page

    other = logged_in(client_user_b)
    assert "DEP-A-001" not in other.get("/metabolism/").content.decode()
    before = (AuditEvent.objects.count(), MetabolismRun.objects.count())
    gets = [
        f"/metabolism/runs/{run.pk}/",
        f"/metabolism/runs/{run.pk}/charts/kinetic_ocr.svg",
        f"/metabolism/donors/{donor_a.pk}/",
        f"/metabolism/donors/{donor_a.pk}/charts/energy_map.svg",
        f"/metabolism/donors/{donor_a.pk}/report.pdf?lang=en",
        "/metabolism/runs/new/",
    ]
    for url in gets:
        assert other.get(url).status_code == 404, url
    for client in (own, other):
        assert client.get("/metabolism/runs/new/").status_code == 404
        response = client.post(
            f"/metabolism/runs/{run.pk}/wells/B02/exclude/", {"reason": "not mine"}
        )
        assert response.status_code == 404
    assert other.get(f"/metabolism/donors/{donor_b.pk}/").status_code == 200
    assert not WellExclusion.objects.exists()
    assert (AuditEvent.objects.count(), MetabolismRun.objects.count()) == before
