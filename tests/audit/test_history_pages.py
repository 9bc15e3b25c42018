"""An object's history page: objects created as part of a bulk entry (the method catalogue,
an import) have an empty history, not a 404; what a user may not see still answers 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from celltrace.qc import services as qc
from celltrace.qc.models import MethodVersion
from tests.qc.test_catalogue import VIABILITY

pytestmark = pytest.mark.django_db


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_seeded_method_version_has_an_empty_history_not_a_404(
    qa_user: Any, operator: Any, client_a: Any, make_user: Any
) -> None:
    qc.methods_seed()  # one bulk ledger entry for the catalogue, none per version
    version = MethodVersion.objects.select_related("method").get(method__code="viability")
    url = f"/audit/history/qc.methodversion/{version.pk}/"
    page = _login(qa_user).get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert str(version) in text and "No ledger entry names this object by itself" in text
    api = _login(qa_user).get(f"/api/v1/history/qc.methodversion/{version.pk}")
    assert api.status_code == 200 and api.json() == []

    alice = _login(make_user(client_a, "client_user"))
    assert alice.get(url).status_code == 200  # an effective version, as on the catalogue
    pending = qc.method_version_propose(
        actor=qa_user, method=version.method, values=VIABILITY, reason="Two decimals"
    )
    assert _login(qa_user).get(f"/audit/history/qc.methodversion/{pending.pk}/").status_code == 200
    assert alice.get(f"/audit/history/qc.methodversion/{pending.pk}/").status_code == 404

    staff = _login(qa_user)
    for missing in (
        "/audit/history/qc.methodversion/999999/",
        "/audit/history/qc.methodversion/abc/",
        "/audit/history/no.such/1/",
    ):
        assert staff.get(missing).status_code == 404, missing


def test_signature_meanings_show_their_names_in_the_pages_language() -> None:
    from django.utils import translation

    from celltrace.audit.choices import SignatureMeaning
    from celltrace.web.templatetags.celltrace import meaning_label

    assert meaning_label("performed") == str(SignatureMeaning.PERFORMED.label) != "performed"
    with translation.override("zh-hans"):
        chinese = meaning_label("released")
    assert chinese != "released" and not chinese.isascii()
    assert meaning_label("no-such-meaning") == "no-such-meaning"
