"""Translations of a certificate of analysis: the same version (request, results, version
number) issued by QA in the other language, as its own PDF with its own SHA-256 and UUID,
linked to the certificate it translates, with one ledger entry; not an amendment. Only the
latest version is translated, once per language (a database constraint too); an amendment
supersedes the version and its translations. Pages, API and the tenancy of client users."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.core.models import Organisation
from celltrace.qc import dashboard, services
from celltrace.qc.choices import QcEvent, RequestStatus
from celltrace.qc.models import Certificate, TestRequest
from tests.qc.conftest import Lab, reviewed, sign, snapshot
from tests.qc.test_api import Api, ok
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


def certified(lab: Lab, *, language: str = "en", **kw: Any) -> Certificate:
    """Client A's request, released and certified (version 1 in ``language``)."""
    req = reviewed(lab, **kw)
    sign(lab.qa, req, "released")
    return services.certificate_issue(
        actor=lab.qa, request=req, language=language, verify_base="https://lab.test"
    )


def pdf_text(pdf: bytes) -> str:
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (dev dependency) reads PDF text")
    doc = pdfium.PdfDocument(pdf)
    try:
        text = "\n".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()
    return " ".join(text.split())


def translated_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.where(event_type=QcEvent.CERTIFICATE_TRANSLATED))


# --- the service ----------------------------------------------------------------------------


def test_a_translation_is_the_same_version_in_the_other_language(lab: Lab) -> None:
    original = certified(lab, language="zh-hans")
    before = snapshot()
    translation = services.certificate_translate(
        actor=lab.qa, certificate=original, language="en", verify_base="https://lab.test"
    )
    # one certificate and exactly one ledger entry, nothing else
    after = snapshot()
    assert after[0] == before[0] + 1 and after[-1] == before[-1] + 1
    assert after[1:-1] == before[1:-1]
    translation.refresh_from_db()
    assert translation.request_id == original.request_id
    assert translation.version == original.version == 1
    assert translation.translation_of_id == original.pk
    assert (translation.language, translation.reason) == ("en", "")
    assert translation.supersedes_id is None and not translation.is_superseded
    assert translation.number == original.number  # CoA-<request>-1
    assert translation.uuid != original.uuid
    pdf = bytes(translation.pdf)
    assert pdf.startswith(b"%PDF") and pdf != bytes(original.pdf)
    assert translation.sha256 != original.sha256
    req = TestRequest.objects.get(pk=original.request_id)
    assert req.status == RequestStatus.CERTIFIED
    [event] = translated_events()
    assert event.data["entity_type"] == "qc.certificate"
    assert event.data["entity_id"] == str(translation.pk)
    new = event.data["new"]
    assert (new["version"], new["language"], new["sha256"], new["uuid"]) == (
        1,
        "en",
        translation.sha256,
        str(translation.uuid),
    )
    assert new["translation_of"] == {
        "number": original.number,
        "uuid": str(original.uuid),
        "language": "zh-hans",
        "sha256": original.sha256,
    }
    # the translation's PDF says which certificate and language it translates
    text = pdf_text(pdf)
    assert f"Translation of {original.number} (Simplified Chinese)" in text
    assert "it is not an amendment" in text
    assert original.number in pdf_text(bytes(original.pdf))
    assert "Translation of" not in pdf_text(bytes(original.pdf))
    assert verify_database().ok


def test_translation_rules_refuse_and_change_nothing(lab: Lab) -> None:
    original = certified(lab)
    before = snapshot()
    refused: list[tuple[type[Exception], Any, dict[str, Any]]] = [
        (PermissionDenied, lab.reviewer, {"language": "zh-hans"}),
        (PermissionDenied, lab.analyst, {"language": "zh-hans"}),
        (PermissionDenied, lab.alice, {"language": "zh-hans"}),
        (Invalid, lab.qa, {"language": "en"}),  # the certificate's own language
        (Invalid, lab.qa, {"language": "fr"}),
        (Invalid, lab.qa, {"language": ""}),
    ]
    for error, actor, kw in refused:
        with pytest.raises(error):
            services.certificate_translate(actor=actor, certificate=original, **kw)
    assert snapshot() == before
    translation = services.certificate_translate(
        actor=lab.qa, certificate=original, language="zh-hans"
    )
    before = snapshot()
    # one translation per version and language; translating the translation back is refused
    with pytest.raises(Conflict, match="already"):
        services.certificate_translate(actor=lab.qa, certificate=original, language="zh-hans")
    with pytest.raises(Conflict, match="already"):
        services.certificate_translate(actor=lab.qa, certificate=translation, language="zh-hans")
    with pytest.raises(Invalid):
        services.certificate_translate(actor=lab.qa, certificate=translation, language="en")
    assert snapshot() == before


def test_a_translation_states_what_its_original_states_or_is_refused(lab: Lab) -> None:
    """The translation is rendered from the data as they are now; it must state what the
    version's original states. When the data changed since the original was issued (here
    the client's address, edited outside the application), the translation is refused and
    changes nothing; an amendment, with its reason, is issued and translated instead."""
    original = certified(lab)
    assert len(original.content_sha256) == 64
    client = original.request.organisation
    Organisation.objects.filter(pk=client.pk).update(address=client.address + " (moved)")
    before = snapshot()
    with pytest.raises(Conflict, match="has changed since it was issued"):
        services.certificate_translate(actor=lab.qa, certificate=original, language="zh-hans")
    assert snapshot() == before
    v2 = services.certificate_amend(
        actor=lab.qa, certificate=original, reason="The client's new address"
    )
    assert v2.content_sha256 != original.content_sha256
    v2_zh = services.certificate_translate(actor=lab.qa, certificate=v2, language="zh-hans")
    # the same content in another language: equal content digests, different PDFs
    assert v2_zh.content_sha256 == v2.content_sha256 and v2_zh.sha256 != v2.sha256
    [event] = translated_events()
    assert event.data["new"]["content_sha256"] == v2.content_sha256
    assert "(moved)" in pdf_text(bytes(v2_zh.pdf))
    assert verify_database().ok


def test_a_translation_of_an_amendment_states_what_it_supersedes_and_why(lab: Lab) -> None:
    v1 = certified(lab)
    v2 = services.certificate_amend(actor=lab.qa, certificate=v1, reason="Batch number corrected")
    v2_zh = services.certificate_translate(actor=lab.qa, certificate=v2, language="zh-hans")
    assert "This amended certificate supersedes" in pdf_text(bytes(v2.pdf))
    text = pdf_text(bytes(v2_zh.pdf))
    # the notice in Chinese, naming version 1 and the reason as QA gave it
    assert v1.number in text and "Batch number corrected" in text
    assert "supersedes" not in text
    assert v2_zh.content_sha256 == v2.content_sha256


def test_a_certificate_without_a_content_digest_is_amended_not_translated(lab: Lab) -> None:
    """A certificate issued before certificates recorded what they state (empty
    ``content_sha256``) cannot be shown to say what a translation would: amend it first."""
    original = certified(lab)
    Certificate.objects.filter(pk=original.pk).update(content_sha256="")
    original.refresh_from_db()
    before = snapshot()
    with pytest.raises(Conflict, match="before certificates recorded what they state"):
        services.certificate_translate(actor=lab.qa, certificate=original, language="zh-hans")
    assert snapshot() == before
    v2 = services.certificate_amend(actor=lab.qa, certificate=original, reason="Re-issued")
    assert services.certificate_translate(actor=lab.qa, certificate=v2, language="zh-hans")


def test_every_character_of_a_certificate_prints_inside_the_page(lab: Lab) -> None:
    """The verification address under the QR code wraps inside the margin (it ran off the
    page in English), and no column of the results is squeezed to a character a line (the
    conformance column in Chinese)."""
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 (dev dependency) reads PDFs")
    original = certified(lab)
    translation = services.certificate_translate(
        actor=lab.qa, certificate=original, language="zh-hans", verify_base="https://lab.test"
    )
    for cert, word in ((original, "Conforms"), (translation, "符合")):
        doc = pdfium.PdfDocument(bytes(cert.pdf))
        try:
            page = doc[0]
            width = page.get_width()
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            boxes = [textpage.get_charbox(i) for i in range(textpage.count_chars())]
        finally:
            doc.close()
        assert all(right <= width for _left, _bottom, right, _top in boxes), cert.language
        # the whole address, wherever it wraps (lines end in \r\n; pdfium marks a break
        # inside a word with U+FFFE)
        flat = "".join(text.split()).replace("-", "").replace("\ufffe", "")
        assert str(cert.uuid).replace("-", "") in flat
        # the conformance word prints on one line (a line is about 10 pt high)
        start = text.index(word)
        bottoms = [boxes[start + i][1] for i in range(len(word))]
        assert max(bottoms) - min(bottoms) < 4, (cert.language, word, bottoms)


def test_the_database_holds_one_certificate_per_version_and_language(lab: Lab) -> None:
    original = certified(lab)
    translation = services.certificate_translate(
        actor=lab.qa, certificate=original, language="zh-hans"
    )

    def row(**kw: Any) -> dict[str, Any]:
        return {
            "organisation_id": original.organisation_id,
            "request_id": original.request_id,
            "version": 1,
            "language": "zh-hans",
            "pdf": b"%PDF",
            "sha256": "0" * 64,
            "issued_at": timezone.now(),
            "issued_by": lab.qa,
            **kw,
        }

    def refused(values: dict[str, Any]) -> None:
        count = Certificate.objects.count()
        with pytest.raises(IntegrityError), transaction.atomic():
            Certificate.objects.create(**values)
        assert Certificate.objects.count() == count

    refused(row(translation_of=original))  # a second zh-hans translation of version 1
    refused(row(translation_of=None))  # a second original of version 1
    refused(row(language="en", translation_of=original))  # the original's own language
    # with the language free again, a translation must still supersede nothing, give no reason
    Certificate.objects.filter(pk=translation.pk).delete()
    refused(row(translation_of=original, reason="wrong"))
    refused(row(translation_of=original, supersedes=original))
    refused(row(translation_of=None, language="zh-hans"))  # still one original per version
    Certificate.objects.create(**row(translation_of=original))  # the valid row is accepted
    # the constraints' messages, as full_clean would show them
    dup = Certificate(**row(language="en", translation_of=original))
    with pytest.raises(ValidationError, match="exists in this language already"):
        dup.validate_constraints()


def test_only_the_latest_version_is_translated_and_an_amendment_supersedes_translations(
    lab: Lab,
) -> None:
    v1 = certified(lab)
    v1_zh = services.certificate_translate(actor=lab.qa, certificate=v1, language="zh-hans")
    v1_zh_pdf = bytes(v1_zh.pdf)
    current = services.certificate_verify(certificate=v1_zh, pdf=v1_zh_pdf)
    assert current.matches and current.superseded_by is None
    # the translation's record verifies its own bytes, not the original's (and vice versa)
    assert not services.certificate_verify(certificate=v1_zh, pdf=bytes(v1.pdf)).matches
    assert not services.certificate_verify(certificate=v1, pdf=v1_zh_pdf).matches

    v2 = services.certificate_amend(actor=lab.qa, certificate=v1, reason="Batch number corrected")
    assert (v2.version, v2.supersedes_id, v2.language, v2.translation_of_id) == (
        2,
        v1.pk,
        "en",
        None,
    )
    [issued] = AuditEvent.objects.where(event_type=QcEvent.CERTIFICATE_ISSUED, entity_id=str(v2.pk))
    assert issued.data["new"]["supersedes_translations"] == [
        {"uuid": str(v1_zh.uuid), "language": "zh-hans"}
    ]
    v1_zh = Certificate.objects.get(pk=v1_zh.pk)
    assert v1_zh.is_superseded
    old = services.certificate_verify(certificate=v1_zh, pdf=v1_zh_pdf)
    assert old.matches and old.superseded_by == v2
    # version 1 can no longer be translated (nor amended)
    before = snapshot()
    with pytest.raises(Conflict, match="latest version"):
        services.certificate_translate(actor=lab.qa, certificate=v1, language="zh-hans")
    with pytest.raises(Conflict, match="latest version"):
        services.certificate_amend(actor=lab.qa, certificate=v1_zh, reason="again")
    assert snapshot() == before

    v2_zh = services.certificate_translate(actor=lab.qa, certificate=v2, language="zh-hans")
    assert (v2_zh.version, v2_zh.translation_of_id) == (2, v2.pk)
    # the newest version's translation does not supersede anything: v2 is still current
    assert services.certificate_verify(certificate=v2, pdf=bytes(v2.pdf)).superseded_by is None
    # amending through the translation amends its version, in the translation's language
    v3 = services.certificate_amend(actor=lab.qa, certificate=v2_zh, reason="Typo in a unit")
    assert (v3.version, v3.supersedes_id, v3.language) == (3, v2.pk, "zh-hans")
    for cert in (v1, v2, v2_zh):
        assert Certificate.objects.get(pk=cert.pk).is_superseded, cert
    assert not Certificate.objects.get(pk=v3.pk).is_superseded
    # a superseded translation points at the newest version (its original), not a translation
    v3_en = services.certificate_translate(actor=lab.qa, certificate=v3, language="en")
    assert services.certificate_verify(certificate=v1_zh, pdf=v1_zh_pdf).superseded_by == v3
    assert services.certificate_verify(certificate=v2_zh, pdf=b"x").superseded_by == v3
    assert services.certificate_verify(certificate=v3_en, pdf=b"x").superseded_by is None
    assert len(translated_events()) == 3
    assert verify_database().ok


def test_a_translation_does_not_count_as_a_second_completed_request(lab: Lab) -> None:
    original = certified(lab)
    today = dt.datetime.now(dt.UTC).date()
    f = dashboard.parse_filters(lab.qa, start=today - dt.timedelta(days=7), end=today)
    assert dashboard.turnaround(f)["requests_completed"] == 1
    services.certificate_translate(actor=lab.qa, certificate=original, language="zh-hans")
    assert dashboard.turnaround(f)["requests_completed"] == 1


# --- pages ----------------------------------------------------------------------------------


def test_qa_translates_on_the_request_page_and_the_client_downloads_both(lab: Lab) -> None:
    original = certified(lab)
    page_url = f"/qc/requests/{original.request_id}/"
    qa = logged_in(lab.qa)
    page = qa.get(page_url).content.decode()
    assert 'id="translate-form"' in page
    assert f"/qc/certificates/{original.pk}/translate/" in page
    # staff without the QA role are not offered the form, and their post changes nothing
    reviewer = logged_in(lab.reviewer)
    assert 'id="translate-form"' not in reviewer.get(page_url).content.decode()
    before = snapshot()
    answer = reviewer.post(
        f"/qc/certificates/{original.pk}/translate/", {"tr-language": "zh-hans"}, follow=True
    )
    assert answer.status_code == 200 and "Only QA translates" in answer.content.decode()
    # an invalid language is refused with a message
    answer = qa.post(
        f"/qc/certificates/{original.pk}/translate/", {"tr-language": "fr"}, follow=True
    )
    assert "Choose the language of the translation." in answer.content.decode()
    assert snapshot() == before

    answer = qa.post(
        f"/qc/certificates/{original.pk}/translate/", {"tr-language": "zh-hans"}, follow=True
    )
    assert answer.status_code == 200
    translation = Certificate.objects.get(translation_of=original)
    assert translation.language == "zh-hans"
    page = answer.content.decode()
    assert f"Translation of {original.number} (English)" in page
    assert 'id="translate-form"' not in page  # both languages exist now
    assert f"/qc/certificates/{original.pk}/amend/" in page  # the amendment starts at v1

    alice = logged_in(lab.alice)
    for url in (page_url, "/qc/"):
        listed = alice.get(url).content.decode()
        assert f"/qc/certificates/{original.pk}/pdf/" in listed, url
        assert f"/qc/certificates/{translation.pk}/pdf/" in listed, url
        assert f"Translation of {original.number} (English)" in listed, url
        assert 'id="translate-form"' not in listed
    for cert in (original, translation):
        pdf = alice.get(f"/qc/certificates/{cert.pk}/pdf/")
        assert pdf.status_code == 200 and pdf.content == bytes(cert.pdf)
        assert pdf["X-Content-SHA256"] == cert.sha256
    names = {
        alice.get(f"/qc/certificates/{c.pk}/pdf/")["Content-Disposition"]
        for c in (original, translation)
    }
    assert len(names) == 2  # the translation's file names its language
    # the client cannot translate its own certificate (a laboratory action: 404)
    before = snapshot()
    assert (
        alice.post(
            f"/qc/certificates/{translation.pk}/translate/", {"tr-language": "en"}
        ).status_code
        == 404
    )
    assert snapshot() == before


def test_the_verify_page_shows_a_translation_and_its_supersession(lab: Lab) -> None:
    original = certified(lab)
    translation = services.certificate_translate(
        actor=lab.qa, certificate=original, language="zh-hans"
    )
    public = Client()
    url = f"/qc/verify/{translation.uuid}/"

    def upload(body: bytes) -> str:
        page = public.post(
            url, {"file": SimpleUploadedFile("coa.pdf", body, content_type="application/pdf")}
        )
        assert page.status_code == 200
        return page.content.decode()

    page = upload(bytes(translation.pdf))
    assert "This file matches the certificate issued." in page
    assert "Simplified Chinese" in page
    assert 'id="cert-translation-of"' in page and f"{original.number} (English)" in page
    assert "Current" in page
    assert "does not match" in upload(bytes(original.pdf))
    v2 = services.certificate_amend(actor=lab.qa, certificate=original, reason="Corrected")
    page = upload(bytes(translation.pdf))
    assert "This file matches the certificate issued." in page
    assert "Superseded by an amended certificate" in page
    assert f"superseded by {v2.number}" in page


# --- API and tenancy ------------------------------------------------------------------------


def test_translate_through_the_api(lab: Lab) -> None:
    original = certified(lab)
    qa, client, reviewer = Api(lab.qa), Api(lab.alice), Api(lab.reviewer)
    path = f"/qc/certificates/{original.pk}/translations"
    before = snapshot()
    assert client.post(path, {"language": "zh-hans"}).status_code == 403
    assert reviewer.post(path, {"language": "zh-hans"}).status_code == 403
    assert qa.post(path, {"language": "en"}).status_code == 422
    assert qa.post(path, {"language": "zh-hans", "reason": "x"}).status_code == 422
    assert qa.post(path, {}).status_code == 422
    assert snapshot() == before
    made = ok(qa.post(path, {"language": "zh-hans"}), 201)
    assert made["translation_of_id"] == original.pk and made["version"] == 1
    assert (made["language"], made["reason"], made["superseded"]) == ("zh-hans", "", False)
    assert made["number"] == original.number and made["supersedes_id"] is None
    assert qa.post(path, {"language": "zh-hans"}).status_code == 409
    listed = ok(client.get("/qc/certificates"))["items"]
    assert {(c["id"], c["language"], c["translation_of_id"]) for c in listed} == {
        (original.pk, "en", None),
        (made["id"], "zh-hans", original.pk),
    }
    assert ok(client.get(f"/qc/certificates/{made['id']}"))["translation_of_id"] == original.pk
    pdf = client.get(f"/qc/certificates/{made['id']}/pdf")
    assert pdf.status_code == 200 and pdf["X-Content-SHA256"] == made["sha256"]
    public = Client()
    verdict = ok(
        public.post(
            f"/api/v1/qc/verify/{made['uuid']}",
            {"file": SimpleUploadedFile("coa.pdf", pdf.content, content_type="application/pdf")},
        )
    )
    assert verdict["matches"] is True and verdict["superseded_by"] is None
    assert (verdict["language"], verdict["translation_of"], verdict["translation_of_language"]) == (
        "zh-hans",
        original.number,
        "en",
    )
    v2 = ok(qa.post(f"/qc/certificates/{original.pk}/amend", {"reason": "Corrected"}), 201)
    verdict = ok(
        public.post(
            f"/api/v1/qc/verify/{made['uuid']}",
            {"file": SimpleUploadedFile("coa.pdf", pdf.content, content_type="application/pdf")},
        )
    )
    assert verdict["matches"] is True and verdict["superseded_by"] == v2["number"]
    assert v2["number"].endswith("-2") and v2["translation_of_id"] is None
    items = {c["id"]: c for c in ok(client.get("/qc/certificates"))["items"]}
    assert items[made["id"]]["superseded"] is True and items[original.pk]["superseded"] is True
    # version 1 is no longer the latest: its translation is refused
    assert qa.post(path, {"language": "zh-hans"}).status_code == 409


def test_a_foreign_translation_answers_404_and_changes_nothing(
    lab: Lab, foreign: dict[str, Any]
) -> None:
    cert: Certificate = foreign["certificate"]  # client B's, English
    translation = services.certificate_translate(actor=lab.qa, certificate=cert, language="zh-hans")
    api = Api(lab.alice)
    alice = logged_in(lab.alice)
    before = snapshot()
    for cid in (cert.pk, translation.pk):
        assert api.get(f"/qc/certificates/{cid}").status_code == 404
        assert api.get(f"/qc/certificates/{cid}/pdf").status_code == 404
        assert (
            api.post(f"/qc/certificates/{cid}/translations", {"language": "en"}).status_code == 404
        )
        assert alice.get(f"/qc/certificates/{cid}/pdf/").status_code == 404
        assert alice.get(f"/audit/history/qc.certificate/{cid}/").status_code == 404
        assert (
            alice.post(f"/qc/certificates/{cid}/translate/", {"tr-language": "en"}).status_code
            == 404
        )
    assert ok(api.get("/qc/certificates"))["count"] == 0
    assert cert.number not in alice.get("/qc/").content.decode()
    assert snapshot() == before
    # client B sees and downloads both of its own
    bob = Api(lab.bob)  # (a token: after the snapshot comparison)
    assert {c["id"] for c in ok(bob.get("/qc/certificates"))["items"]} == {
        cert.pk,
        translation.pk,
    }
    assert bob.get(f"/qc/certificates/{translation.pk}/pdf").status_code == 200
