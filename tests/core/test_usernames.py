"""Usernames are unique whatever their case: "AURORA" beside "aurora" would be two
look-alike identities on the ledger and on signatures (21 CFR 11.100(a))."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from celltrace.audit.models import AuditEvent
from celltrace.core import services
from celltrace.core.errors import Conflict
from celltrace.core.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_username_differing_only_in_case_is_refused(admin_user: Any, client_a: Any) -> None:
    services.user_create(
        actor=admin_user,
        organisation=client_a,
        username="aurora",
        full_name="Chen Wei",
        email="chen@example.com",
        roles=["client_user"],
        password=PASSWORD,
    )
    before = (User.objects.count(), AuditEvent.objects.count())
    for name in ("AURORA", "Aurora", " aurora "):
        with pytest.raises(Conflict, match="is taken") as refused:
            services.user_create(
                actor=admin_user,
                organisation=client_a,
                username=name,
                full_name="Look Alike",
                email="dup@example.com",
                roles=["client_user"],
                password=PASSWORD,
            )
        assert refused.value.field == "username"
    assert (User.objects.count(), AuditEvent.objects.count()) == before
    # the database refuses it too, whatever writes the row
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="AuRoRa", organisation=client_a)


def test_the_new_user_page_shows_the_refusal(admin_user: Any) -> None:
    admin = Client()
    assert admin.post("/login/", {"username": "admin", "password": PASSWORD}).status_code == 302
    page = admin.post(
        "/users/new/",
        {
            "organisation": admin_user.organisation_id,
            "username": "ADMIN",
            "full_name": "Second Admin",
            "email": "a2@example.com",
            "roles": ["admin"],
            "password": PASSWORD,
        },
    ).content.decode()
    assert "The username ADMIN is taken." in page
    assert User.objects.filter(username__iexact="admin").count() == 1
