"""Every "History" link a catalogue page shows opens for the user it is shown to (the
specifications' history answered 404 to analysts), and stays 404 for client users."""

from __future__ import annotations

import re

import pytest

from celltrace.qc.models import Method, Specification, TestPanel
from tests.qc.conftest import Lab
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db

HISTORY = re.compile(r'href="(/audit/history/[^"]+)"')


def test_catalogue_history_links_open_for_laboratory_staff(lab: Lab) -> None:
    pages = [f"/qc/catalogue/specifications/{s.pk}/" for s in Specification.objects.all()]
    pages += [f"/qc/catalogue/methods/{m.code}/" for m in Method.objects.all()[:3]]
    pages += [f"/qc/catalogue/panels/{p.pk}/" for p in TestPanel.objects.all()[:3]]
    assert any("specifications" in p for p in pages)
    for user in (lab.analyst, lab.reviewer, lab.qa):
        client = logged_in(user)
        for page in pages:
            body = client.get(page)
            assert body.status_code == 200, (user.username, page)
            [history] = HISTORY.findall(body.content.decode())
            assert client.get(history).status_code == 200, (user.username, history)
    alice = logged_in(lab.alice)
    spec = Specification.objects.first()
    assert spec is not None
    assert alice.get(f"/audit/history/qc.specification/{spec.pk}/").status_code == 404
