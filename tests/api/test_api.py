"""The API: token authentication, RFC 9457 problems naming the field, the committed schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from celltrace.api.api import api
from celltrace.audit.models import AuditReview, Signature
from celltrace.audit.services import audit_review_create
from celltrace.core import services
from tests.conftest import PASSWORD, digest_of, post_sign_form

pytestmark = pytest.mark.django_db
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_committed_openapi_schema_matches_the_code() -> None:
    generated = json.loads(json.dumps(api.get_openapi_schema(), sort_keys=True))
    committed = json.loads(SCHEMA.read_text())
    assert generated == committed, (
        "docs/openapi.json is stale: run 'make openapi' and commit the result"
    )


def test_every_operation_has_an_explicit_id_and_declares_its_errors() -> None:
    schema = api.get_openapi_schema()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            assert "_" in op["operationId"], f"{method} {path}"
            assert {"401", "404", "422"} <= {str(k) for k in op["responses"]}, f"{method} {path}"


def test_token_authenticates_and_revoked_token_does_not(qa_user: Any) -> None:
    issued = services.api_token_create(actor=qa_user, name="lims bridge")
    assert issued.secret.startswith("ct_") and issued.token.token_hash != issued.secret
    client = Client()
    me = client.get("/api/v1/me", **bearer(issued.secret))
    assert me.status_code == 200 and me.json()["username"] == "qa"
    services.api_token_revoke(actor=qa_user, token=issued.token)
    response = client.get("/api/v1/me", **bearer(issued.secret))
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/me", **bearer("ct_nothing_here")).status_code == 401
    assert client.get("/api/v1/me").status_code == 401


def test_validation_errors_are_problem_details_naming_the_field(qa_user: Any) -> None:
    secret = services.api_token_create(actor=qa_user, name="t").secret
    client = Client()
    response = client.post(
        "/api/v1/tokens",
        data={"name": "", "admin": True},
        content_type="application/json",
        **bearer(secret),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422 and body["code"] == "invalid"
    fields = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "payload", "name") in fields  # too short
    assert ("body", "payload", "admin") in fields  # unknown fields are refused


def test_signing_through_the_api_needs_the_password(qa_user: Any) -> None:
    review = audit_review_create(actor=qa_user, conclusion="ok")
    secret = services.api_token_create(actor=qa_user, name="t").secret
    client = Client()
    # read what the signature will bind, then sign with its digest
    shown = client.get(
        f"/api/v1/signatures/audit.auditreview/{review.pk}/content", **bearer(secret)
    ).json()
    assert shown["content"]["conclusion"] == review.conclusion and shown["meanings"]
    payload = {
        "record_type": "audit.auditreview",
        "record_id": str(review.pk),
        "meaning": "reviewed",
        "password": "wrong password entirely",
        "expected_digest": shown["digest"],
    }
    response = client.post(
        "/api/v1/signatures", data=payload, content_type="application/json", **bearer(secret)
    )
    assert response.status_code == 403 and response.json()["field"] == "password"
    assert Signature.objects.count() == 0
    payload["password"] = PASSWORD
    response = client.post(
        "/api/v1/signatures", data=payload, content_type="application/json", **bearer(secret)
    )
    assert response.status_code == 201
    assert response.json()["status"] == "valid"
    listed = client.get(f"/api/v1/signatures/audit.auditreview/{review.pk}", **bearer(secret))
    assert [s["printed_name"] for s in listed.json()] == ["Quinn Assurance"]
    AuditReview.objects.filter(pk=review.pk).update(conclusion="changed")
    listed = client.get(f"/api/v1/signatures/audit.auditreview/{review.pk}", **bearer(secret))
    assert listed.json()[0]["status"] == "broken"


def test_ledger_pages_backwards_by_seq(qa_user: Any) -> None:
    secret = services.api_token_create(actor=qa_user, name="t").secret
    client = Client()
    first = client.get("/api/v1/ledger?limit=2", **bearer(secret)).json()
    assert len(first["items"]) == 2
    seqs = [e["seq"] for e in first["items"]]
    assert seqs == sorted(seqs, reverse=True)
    second = client.get(
        f"/api/v1/ledger?limit=2&before_seq={first['next_before_seq']}", **bearer(secret)
    ).json()
    assert all(e["seq"] < seqs[-1] for e in second["items"])
    one = client.get(f"/api/v1/ledger/{seqs[0]}", **bearer(secret)).json()
    assert one["entry_hash"] and len(one["entry_hash"]) == 64


def test_interactive_docs_are_served_without_a_cdn() -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html and "cdn" not in html.lower()


def test_withdrawing_a_signature_through_the_api_and_the_page(qa_user: Any) -> None:
    review = audit_review_create(actor=qa_user, conclusion="ok")
    secret = services.api_token_create(actor=qa_user, name="t").secret
    client = Client()
    created = client.post(
        "/api/v1/signatures",
        data={
            "record_type": "audit.auditreview",
            "record_id": str(review.pk),
            "meaning": "reviewed",
            "password": PASSWORD,
            "expected_digest": digest_of("audit.auditreview", review.pk),
        },
        content_type="application/json",
        **bearer(secret),
    ).json()
    missing_reason = client.post(
        "/api/v1/signature-withdrawals",
        data={"signature_id": created["id"]},
        content_type="application/json",
        **bearer(secret),
    )
    assert missing_reason.status_code == 422
    done = client.post(
        "/api/v1/signature-withdrawals",
        data={"signature_id": created["id"], "reason": "wrong record"},
        content_type="application/json",
        **bearer(secret),
    )
    assert done.status_code == 201 and done.json()["status"] == "withdrawn"
    again = client.post(
        "/api/v1/signature-withdrawals",
        data={"signature_id": created["id"], "reason": "twice"},
        content_type="application/json",
        **bearer(secret),
    )
    assert again.status_code == 409

    # the page: sign again in the browser session, withdraw with a reason
    browser = Client()
    browser.post("/login/", {"username": "qa", "password": PASSWORD})
    page = post_sign_form(
        browser,
        f"/sign/audit.auditreview/{review.pk}/",
        {"meaning": "reviewed", "password": PASSWORD},
    )
    assert page.status_code == 302
    sig = Signature.objects.filter(withdrawal__isnull=True).get()
    form = browser.get(f"/signatures/{sig.pk}/withdraw/")
    assert form.status_code == 200 and b"Withdraw signature" in form.content
    done_page = browser.post(f"/signatures/{sig.pk}/withdraw/", {"reason": "typo in conclusion"})
    assert done_page.status_code == 302
    assert Signature.objects.filter(withdrawal__isnull=True).count() == 0


def test_a_browser_session_must_send_the_csrf_token_to_change_anything(qa_user: Any) -> None:
    """The session cookie rides along with any cross-site request (a form posting text/plain
    JSON): unsafe API calls made with it need Django's CSRF token, as the pages do. A bearer
    token needs none (a browser never adds it by itself)."""
    from django.middleware.csrf import _get_new_csrf_string

    from celltrace.audit.models import AuditEvent
    from celltrace.core.models import ApiToken

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(qa_user)
    assert browser.get("/api/v1/me").status_code == 200  # reading needs no token
    tokens, entries = ApiToken.objects.count(), AuditEvent.objects.count()
    forged = browser.post(
        "/api/v1/tokens",
        data=json.dumps({"name": "planted"}),
        content_type="text/plain",
        HTTP_ORIGIN="https://evil.example",
    )
    assert forged.status_code == 403
    assert forged["Content-Type"] == "application/problem+json"
    assert forged.json()["code"] == "permission_denied"
    assert "X-CSRFToken" in forged.json()["detail"]
    assert (ApiToken.objects.count(), AuditEvent.objects.count()) == (tokens, entries)

    secret = _get_new_csrf_string()
    browser.cookies["csrftoken"] = secret
    made = browser.post(
        "/api/v1/tokens",
        data={"name": "from the docs page"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=secret,
    )
    assert made.status_code == 201, made.content
    bearer_secret = made.json()["token"]

    scripted = Client(enforce_csrf_checks=True)
    by_token = scripted.post(
        "/api/v1/tokens",
        data={"name": "script"},
        content_type="application/json",
        **bearer(bearer_secret),
    )
    assert by_token.status_code == 201
    assert scripted.post("/api/v1/tokens", data={"name": "x"}).status_code == 401


def test_addresses_under_api_outside_v1_are_404_problems() -> None:
    for address in ("/api/", "/api/nope", "/api/v2/donors"):
        response = Client().get(address)
        assert response.status_code == 404, address
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"


def test_audit_reviews_are_a_paged_collection_newest_first(qa_user: Any) -> None:
    reviews = [
        audit_review_create(actor=qa_user, conclusion=f"Review {n}: nothing unexplained.")
        for n in range(3)
    ]
    secret = services.api_token_create(actor=qa_user, name="t").secret
    client = Client()
    listed = client.get("/api/v1/audit-reviews", **bearer(secret)).json()
    assert listed["count"] == 3
    assert [r["id"] for r in listed["items"]] == [r.pk for r in reversed(reviews)]
    page = client.get("/api/v1/audit-reviews?limit=1&offset=1", **bearer(secret)).json()
    assert page["count"] == 3 and [r["id"] for r in page["items"]] == [reviews[1].pk]
    refused = client.get("/api/v1/audit-reviews?limit=0", **bearer(secret))
    assert refused.status_code == 422
