"""Steps that issue something the client receives ask first, and every step says what it
did (planning the tests reloaded the page without a word)."""

from __future__ import annotations

import pytest

from celltrace.qc import services
from celltrace.qc.choices import RequestStatus
from tests.qc.conftest import Lab, reviewed, sign, submitted
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


def test_planning_the_tests_says_so(lab: Lab) -> None:
    req = submitted(lab)
    sample = req.samples.get()
    services.sample_receive(
        actor=lab.analyst, request=req, scanned_id=sample.client_sample_id, accept=True
    )
    analyst = logged_in(lab.analyst)
    page = analyst.post(f"/qc/requests/{req.pk}/tests/", follow=True).content.decode()
    n = req.tests.count()
    assert n >= 1 and f"{n} test{'s' if n > 1 else ''} planned; the request is in testing." in page
    req.refresh_from_db()
    assert req.status == RequestStatus.IN_TESTING


def test_issuing_a_certificate_or_a_translation_asks_first(lab: Lab) -> None:
    req = reviewed(lab)
    sign(lab.qa, req, "released")
    qa = logged_in(lab.qa)
    page = qa.get(f"/qc/requests/{req.pk}/").content.decode()
    assert 'data-confirm="Issue the certificate of analysis now?' in page
    services.certificate_issue(actor=lab.qa, request=req)
    page = qa.get(f"/qc/requests/{req.pk}/").content.decode()
    assert 'data-confirm="Issue the translation now?' in page


def test_deactivating_an_account_asks_first(lab: Lab, admin_user: object) -> None:
    admin = logged_in(admin_user)
    page = admin.get(f"/users/{lab.analyst.pk}/").content.decode()
    assert 'value="deactivate"' in page
    assert 'data-confirm="Deactivate this account?' in page
