"""The dashboard's security tile counts unauthorised-use attempts (failed logins, failed
signings, lockouts) since the last audit-trail review (21 CFR 11.300(d))."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from celltrace.audit.models import AuditEvent
from celltrace.audit.services import audit_review_create, record_sign
from tests.conftest import PASSWORD
from tests.qc.conftest import http_request

pytestmark = pytest.mark.django_db


def tile(page: str) -> int:
    found = re.search(
        r'<span class="num">(\d+)</span><span>Failed logins, signings and lockouts', page
    )
    assert found, "the dashboard shows the tile"
    return int(found.group(1))


def sign(user: Any, record: Any, meaning: str) -> None:
    record_sign(
        request=http_request(user), actor=user, record=record, meaning=meaning, password=PASSWORD
    )


def listed(qa: Client, page: str) -> list[str]:
    """The event types of the ledger entries the tile links to."""
    found = re.search(
        r'href="([^"]+)"><span class="num">\d+</span><span>Failed logins, signings', page
    )
    assert found, "the tile is a link"
    href = found.group(1).replace("&amp;", "&")
    rows = qa.get(href).content.decode()
    seqs = re.findall(r'<a href="/audit/entries/(\d+)/">', rows)
    return [AuditEvent.objects.get(seq=int(seq)).data["event_type"] for seq in seqs]


def test_the_tile_counts_attempts_since_the_last_review(
    qa_user: Any, admin_user: Any, operator: Any, make_user: Any
) -> None:
    make_user(operator, "qc_analyst", username="analyst")
    for _ in range(settings.AXES_FAILURE_LIMIT):  # ends in a lockout
        Client().post("/login/", {"username": "analyst", "password": "wrong wrong wrong"})
    Client().post("/login/", {"username": "ghost", "password": "wrong wrong wrong"})
    qa = Client()
    assert qa.post("/login/", {"username": "qa", "password": PASSWORD}).status_code == 302
    # five failures and the lockout for the analyst, one for an unknown name
    page = qa.get("/").content.decode()
    assert tile(page) == settings.AXES_FAILURE_LIMIT + 2
    # the tile opens the ledger on exactly the entries it counts
    kinds = listed(qa, page)
    assert len(kinds) == tile(page)
    assert sorted(set(kinds)) == ["LOGIN_FAILED", "USER_LOCKED_OUT"]
    review = audit_review_create(actor=qa_user, conclusion="Lockout of the analyst explained.")
    # an opened review that nobody has signed does not clear the tile
    page = qa.get("/").content.decode()
    assert tile(page) == settings.AXES_FAILURE_LIMIT + 2
    sign(admin_user, review, "reviewed")
    page = qa.get("/").content.decode()
    assert tile(page) == 0 and listed(qa, page) == []
    Client().post("/login/", {"username": "ghost", "password": "wrong wrong wrong"})
    page = qa.get("/").content.decode()
    assert tile(page) == 1 and listed(qa, page) == ["LOGIN_FAILED"]
