"""Organisations and users are paged like ``/aliquots``: ``count`` the total, ``limit`` (1 to
500, default 100) and ``offset`` choosing the items, in name or username order."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from celltrace.core import services

pytestmark = pytest.mark.django_db


def api(user: Any) -> Client:
    secret = services.api_token_create(actor=user, name="paging").secret
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def page(c: Client, url: str) -> Any:
    response = c.get(url)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    ("url", "key"), [("/api/v1/organisations", "name"), ("/api/v1/users", "username")]
)
def test_organisations_and_users_honour_limit_and_offset(
    url: str, key: str, qa_user: Any, client_a: Any, client_b: Any, make_user: Any
) -> None:
    make_user(client_a, "client_user", username="alice")
    make_user(client_b, "client_user", username="bob")
    c = api(qa_user)
    whole = page(c, url)
    total = whole["count"]
    assert total == 3 and len(whole["items"]) == 3  # the operator and two clients; three users
    names = [i[key] for i in whole["items"]]
    assert names == sorted(names)
    first = page(c, f"{url}?limit=1")
    assert first["count"] == total and first["items"] == whole["items"][:1]
    second = page(c, f"{url}?limit=1&offset=1")
    assert second["count"] == total and second["items"] == whole["items"][1:2]
    assert page(c, f"{url}?limit=2&offset=2") == {"count": total, "items": whole["items"][2:]}
    assert page(c, f"{url}?offset=3") == {"count": total, "items": []}
    for bad in ("limit=0", "limit=501", "offset=-1", f"offset={2**63}"):
        refused = c.get(f"{url}?{bad}")
        assert refused.status_code == 422, bad
        assert refused.json()["field"] == bad.split("=")[0]


def test_a_client_pages_its_own_organisation_and_users(
    qa_user: Any, client_a: Any, client_b: Any, make_user: Any
) -> None:
    alice = make_user(client_a, "client_user", username="alice")
    make_user(client_a, "client_user", username="anna")
    make_user(client_b, "client_user", username="bob")
    c = api(alice)
    orgs = page(c, "/api/v1/organisations?limit=1")
    assert orgs["count"] == 1 and [o["id"] for o in orgs["items"]] == [client_a.pk]
    users = page(c, "/api/v1/users?limit=1&offset=1")
    assert users["count"] == 2 and [u["username"] for u in users["items"]] == ["anna"]
