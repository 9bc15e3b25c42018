"""The dashboard's security tile counts unauthorised-use attempts (failed logins, failed
signings, lockouts) since the last audit-trail review (21 CFR 11.300(d))."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from celltrace.audit.services import audit_review_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def tile(page: str) -> int:
    found = re.search(
        r'<span class="num">(\d+)</span><span>Failed logins, signings and lockouts', page
    )
    assert found, "the dashboard shows the tile"
    return int(found.group(1))


def test_the_tile_counts_attempts_since_the_last_review(
    qa_user: Any, operator: Any, make_user: Any
) -> None:
    make_user(operator, "qc_analyst", username="analyst")
    for _ in range(settings.AXES_FAILURE_LIMIT):  # ends in a lockout
        Client().post("/login/", {"username": "analyst", "password": "wrong wrong wrong"})
    Client().post("/login/", {"username": "ghost", "password": "wrong wrong wrong"})
    qa = Client()
    assert qa.post("/login/", {"username": "qa", "password": PASSWORD}).status_code == 302
    # five failures and the lockout for the analyst, one for an unknown name
    assert tile(qa.get("/").content.decode()) == settings.AXES_FAILURE_LIMIT + 2
    audit_review_create(actor=qa_user, conclusion="Lockout of the analyst explained.")
    assert tile(qa.get("/").content.decode()) == 0
    Client().post("/login/", {"username": "ghost", "password": "wrong wrong wrong"})
    assert tile(qa.get("/").content.decode()) == 1
