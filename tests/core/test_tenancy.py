"""Tenants never meet: a client user gets 404 on another organisation's objects."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from celltrace.core.models import Organisation, TenantOwned, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

#: Models that hold no client data, or that reach an organisation through a parent.
GLOBAL_MODELS = {
    "core.organisation",
    "core.user",
    "core.userrole",
    "core.apitoken",
    "audit.auditevent",
    "audit.audithead",
    "audit.ledgercheckpoint",
    "audit.signature",
    "audit.signaturewithdrawal",
    "auth.permission",
    "auth.group",
    "contenttypes.contenttype",
    "sessions.session",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
    "axes.accessattemptexpiration",
    "otp_totp.totpdevice",
}


def test_every_model_is_tenant_owned_or_declared_global() -> None:
    # A model that holds no client data says why in a ``TENANCY_GLOBAL`` class attribute.
    undeclared = [
        m._meta.label_lower
        for m in apps.get_models()
        if not issubclass(m, TenantOwned)
        and m._meta.label_lower not in GLOBAL_MODELS
        and not getattr(m, "TENANCY_GLOBAL", "")
    ]
    assert undeclared == []


@pytest.fixture
def two_clients(client_a: Organisation, client_b: Organisation, make_user: Any) -> Any:
    a = make_user(client_a, "client_user", username="alice")
    b = make_user(client_b, "client_user", username="bob")
    return a, b


def logged_in(username: str) -> Client:
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_client_user_gets_404_for_another_organisations_objects(
    two_clients: Any, client_b: Organisation
) -> None:
    alice, bob = two_clients
    client = logged_in("alice")
    foreign = [
        f"/organisations/{client_b.pk}/",
        f"/users/{bob.pk}/",
        f"/audit/history/core.user/{bob.pk}/",
        f"/audit/history/core.organisation/{client_b.pk}/",
        f"/api/v1/organisations/{client_b.pk}",
        f"/api/v1/users/{bob.pk}",
        f"/api/v1/history/core.user/{bob.pk}",
        f"/api/v1/signatures/core.user/{bob.pk}",
    ]
    for url in foreign:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Bob" not in response.content and b"Client B" not in response.content
    own = [
        f"/organisations/{alice.organisation_id}/",
        f"/users/{alice.pk}/",
        f"/api/v1/users/{alice.pk}",
        f"/audit/history/core.user/{alice.pk}/",
    ]
    for url in own:
        assert client.get(url).status_code == 200, url
    listing = client.get("/api/v1/users").json()
    assert {u["username"] for u in listing["items"]} == {"alice"}
    orgs = client.get("/api/v1/organisations").json()
    assert [o["code"] for o in orgs["items"]] == ["client-a"]


def test_client_user_cannot_browse_the_ledger(two_clients: Any) -> None:
    client = logged_in("alice")
    assert client.get("/audit/").status_code == 404
    assert client.get("/audit/entries/1/").status_code == 404
    assert client.get("/api/v1/ledger").status_code == 403


def test_operator_staff_see_every_organisation(two_clients: Any, qa_user: User) -> None:
    client = logged_in("qa")
    codes = {o["code"] for o in client.get("/api/v1/organisations").json()["items"]}
    assert {"client-a", "client-b", "operator"} <= codes
