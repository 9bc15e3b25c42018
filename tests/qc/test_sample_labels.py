"""Sample label sheets: every barcode printed decodes back to its sample's identity.

The PDF is rasterised at 300 dpi with pypdfium2 and every symbol decoded with zxing-cpp: each
sample's number must appear exactly twice (Code 128 and DataMatrix), nothing else may appear,
and the printing is on the ledger. Client users cannot print labels.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import zxingcpp

from celltrace.audit.models import AuditEvent
from celltrace.qc import services
from celltrace.qc.models import Sample
from tests.qc.conftest import CAR_T, Lab, snapshot
from tests.qc.test_api import Api
from tests.qc.test_pages import logged_in

pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (dev dependency) rasterises PDFs")

pytestmark = pytest.mark.django_db

DPI = 300


def decoded(pdf: bytes) -> Counter[tuple[str, str]]:
    """(format, text) of every symbol found on every page."""
    found: Counter[tuple[str, str]] = Counter()
    doc = pdfium.PdfDocument(pdf)
    for i in range(len(doc)):
        image = doc[i].render(scale=DPI / 72, grayscale=True).to_numpy()
        for result in zxingcpp.read_barcodes(image):
            found[(result.format.name, result.text)] += 1
    return found


def page_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    return "".join(text.split())  # the monospaced glyphs come out one per line


@pytest.fixture
def request_with_samples(lab: Lab) -> Any:
    req = services.request_create(
        actor=lab.alice,
        product="Aurocel",
        product_type=CAR_T,
        batch="B-LBL",
        samples=[
            services.SampleSpec("AUR-B7-001", container="cryobag"),
            services.SampleSpec("AUR-B7-002", container="vial"),
            services.SampleSpec("AUR-B7-003", container="vial"),
        ],
        method_codes=["viability"],
        submit=True,
    )
    services.sample_receive(actor=lab.analyst, request=req, scanned_id="AUR-B7-001", accept=True)
    services.sample_receive(
        actor=lab.analyst,
        request=req,
        scanned_id="AUR-B7-002",
        accept=False,
        rejection_reason="Container cracked",
    )
    return req


def test_every_barcode_decodes_to_its_sample(lab: Lab, request_with_samples: Any) -> None:
    req = request_with_samples
    analyst = logged_in(lab.analyst)
    page = analyst.get(f"/qc/requests/{req.pk}/").content.decode()
    assert f'href="/qc/requests/{req.pk}/labels.pdf"' in page
    response = analyst.get(f"/qc/requests/{req.pk}/labels.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    printed = list(req.samples.exclude(status="rejected").order_by("pk"))
    assert [s.client_sample_id for s in printed] == ["AUR-B7-001", "AUR-B7-003"]
    numbers = {s.number for s in printed}
    found = decoded(pdf)
    assert found == Counter(
        {("Code128", n): 1 for n in numbers} | {("DataMatrix", n): 1 for n in numbers}
    ), found
    text = page_text(pdf)
    for sample in printed:
        assert sample.client_sample_id in text
    assert req.number in text and "ClientA" in text
    received = Sample.objects.get(client_sample_id="AUR-B7-001").received_at
    assert received is not None and received.strftime("%Y-%m-%d") in text
    [entry] = AuditEvent.objects.where(event_type="QC_SAMPLE_LABELS_PRINTED")
    assert entry.data["new"] == {"samples": sorted(numbers), "count": 2}
    assert entry.data["action"] == "print"


def test_scanning_a_label_finds_the_sample(lab: Lab, request_with_samples: Any) -> None:
    sample = Sample.objects.get(client_sample_id="AUR-B7-001")
    analyst = logged_in(lab.analyst)
    found = analyst.get("/qc/samples/scan/", {"sample": sample.number})
    assert found.status_code == 302 and found["Location"] == f"/qc/samples/{sample.pk}/"
    by_client_id = analyst.get("/qc/samples/scan/", {"sample": "AUR-B7-001"})
    assert by_client_id["Location"] == f"/qc/samples/{sample.pk}/"
    missing = analyst.get("/qc/samples/scan/", {"sample": "QS-999999"})
    assert missing.status_code == 200 and "No sample QS-999999" in missing.content.decode()


def test_clients_cannot_print_labels(lab: Lab, request_with_samples: Any) -> None:
    req = request_with_samples
    alice = logged_in(lab.alice)
    alice_api, bob_api = Api(lab.alice), Api(lab.bob)  # token creation is on the ledger
    before = snapshot()
    assert alice.get(f"/qc/requests/{req.pk}/labels.pdf").status_code == 404
    assert alice.get("/qc/samples/scan/?sample=AUR-B7-001").status_code == 404
    assert alice_api.get(f"/qc/requests/{req.pk}/labels").status_code == 404
    assert bob_api.get(f"/qc/requests/{req.pk}/labels").status_code == 404
    assert snapshot() == before
    assert "labels.pdf" not in alice.get(f"/qc/requests/{req.pk}/").content.decode()


def test_label_api(lab: Lab, request_with_samples: Any) -> None:
    req = request_with_samples
    response = Api(lab.analyst).get(f"/qc/requests/{req.pk}/labels")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    numbers = {s.number for s in req.samples.exclude(status="rejected")}
    assert {text for _fmt, text in decoded(response.content)} == numbers


def test_another_site_cannot_print_labels_in_the_users_name(
    lab: Lab, request_with_samples: Any
) -> None:
    """Printing is on the ledger, and a GET is not covered by CSRF protection: a link or an
    image on another site (the browser says so in Sec-Fetch-Site) is refused, page and API
    through the session alike, and writes nothing."""
    req = request_with_samples
    analyst = logged_in(lab.analyst)
    before = snapshot()
    for site in ("cross-site", "same-site"):
        page = analyst.get(f"/qc/requests/{req.pk}/labels.pdf", HTTP_SEC_FETCH_SITE=site)
        assert page.status_code == 403 and b"%PDF" not in page.content
        api = analyst.get(f"/api/v1/qc/requests/{req.pk}/labels", HTTP_SEC_FETCH_SITE=site)
        assert api.status_code == 403 and api.json()["code"] == "permission_denied"
    assert snapshot() == before
    own = analyst.get(f"/qc/requests/{req.pk}/labels.pdf", HTTP_SEC_FETCH_SITE="same-origin")
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    assert snapshot() != before  # this printing is on the ledger
