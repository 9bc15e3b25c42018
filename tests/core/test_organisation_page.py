"""Administrators of the operator create organisations on a page (it took the command line);
bad input is shown on its field and changes nothing; nobody else is offered the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from celltrace.audit.choices import EventType
from celltrace.audit.models import AuditEvent
from celltrace.core.models import Organisation
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def logged_in(username: str) -> Client:
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_an_administrator_creates_an_organisation(admin_user: Any) -> None:
    admin = logged_in("admin")
    assert 'id="organisation-new"' in admin.get("/organisations/").content.decode()
    response = admin.post(
        "/organisations/new/",
        {
            "name": "Delta Cell Therapy",
            "code": "delta",
            "country": "sg",
            "address": "1 Biopolis Way, Singapore",
        },
    )
    org = Organisation.objects.get(code="delta")
    assert response.status_code == 302 and response["Location"] == f"/organisations/{org.pk}/"
    assert (org.name, org.kind, org.country) == ("Delta Cell Therapy", "client", "SG")
    [created] = AuditEvent.objects.where(
        event_type=EventType.ORGANISATION_CREATED, entity_id=str(org.pk)
    )
    assert created.actor_id == admin_user.pk


def test_bad_input_is_shown_on_its_field_and_changes_nothing(
    admin_user: Any, client_a: Any
) -> None:
    admin = logged_in("admin")
    before = (Organisation.objects.count(), AuditEvent.objects.count())
    cases = [
        ({"name": "Other", "code": client_a.code}, "code"),
        ({"name": client_a.name, "code": "fresh-code"}, "name"),
        ({"name": "X", "code": "not a slug!"}, "code"),
        ({"name": "X", "code": "x1", "country": "China"}, "country"),
    ]
    for data, field in cases:
        page = admin.post("/organisations/new/", data)
        assert page.status_code == 200, data
        form = page.context["form"]
        assert field in form.errors, (data, form.errors)
    # the login above wrote its entry before the snapshot
    assert (Organisation.objects.count(), AuditEvent.objects.count()) == before


def test_others_are_not_offered_the_page(qa_user: Any) -> None:
    qa = logged_in("qa")
    assert 'id="organisation-new"' not in qa.get("/organisations/").content.decode()
    assert qa.get("/organisations/new/").status_code == 404
