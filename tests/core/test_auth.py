"""Authentication hardening: Argon2, NIST password rules, lockout, idle and absolute expiry."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.test import Client, override_settings

from celltrace.audit.choices import EventType
from celltrace.audit.models import AuditEvent, Signature
from celltrace.config import base
from celltrace.core import services
from celltrace.core.errors import Invalid
from celltrace.core.middleware import LOGIN_AT_KEY
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client: Client, username: str, password: str) -> Any:
    return client.post("/login/", {"username": username, "password": password})


def test_production_hashes_passwords_with_argon2() -> None:
    assert base.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        assert make_password("a long enough pass phrase").startswith("argon2$argon2id$")


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short pass", "at least 15"),
        ("1q2w3e4r5t6y7u8i9o0p", "too common"),
        ("celltrace rocks forever", "easy to guess"),
        ("x" * 1025, "longer than"),
    ],
)
def test_password_rules_follow_nist(operator: Any, password: str, why: str) -> None:
    with pytest.raises(Invalid) as exc:
        services.user_create(
            actor=None,
            organisation=operator,
            username="newbie",
            full_name="New Person",
            email="",
            roles=["qa"],
            password=password,
        )
    assert why in exc.value.message
    assert exc.value.field == "password"


def test_long_passphrases_with_spaces_and_no_composition_rules_are_accepted(operator: Any) -> None:
    phrase = "all lower case words are fine here " + "x" * 40
    user = services.user_create(
        actor=None,
        organisation=operator,
        username="phrase",
        full_name="Pass Phrase",
        email="",
        roles=["qa"],
        password=phrase,
    )
    assert user.check_password(phrase)


def test_lockout_after_repeated_failures_refuses_even_the_right_password(qa_user: Any) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert login(client, "qa", "wrong wrong wrong wrong").status_code in (200, 403)
    response = login(client, "qa", PASSWORD)
    assert response.status_code == 403
    assert b"locked" in response.content
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.where(
        event_type=EventType.USER_LOCKED_OUT, entity_id=str(qa_user.pk)
    ).exists()
    assert AuditEvent.objects.where(event_type=EventType.LOGIN_FAILED).count() >= 4


def test_admin_unlock_is_audited_and_restores_access(qa_user: Any, admin_user: Any) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "qa", "wrong wrong wrong wrong")
    services.user_unlock(actor=admin_user, user=qa_user, reason="verified by phone")
    assert AuditEvent.objects.where(event_type=EventType.USER_UNLOCKED).count() == 1
    assert login(Client(), "qa", PASSWORD).status_code == 302


def test_successful_login_is_recorded_and_rotates_the_session(qa_user: Any) -> None:
    client = Client()
    client.get("/login/")
    before = client.session.session_key
    assert login(client, "qa", PASSWORD).status_code == 302
    assert client.session.session_key != before
    assert AuditEvent.objects.where(event_type=EventType.LOGGED_IN).count() == 1


def test_idle_timeout_is_thirty_minutes_pushed_by_each_request(qa_user: Any) -> None:
    assert settings.SESSION_COOKIE_AGE == 1800
    assert settings.SESSION_SAVE_EVERY_REQUEST
    client = Client()
    login(client, "qa", PASSWORD)
    first = client.session.get_expiry_date()
    time.sleep(0.01)
    client.get("/")
    assert client.session.get_expiry_date() > first


def test_session_expires_after_the_absolute_limit(qa_user: Any) -> None:
    client = Client()
    login(client, "qa", PASSWORD)
    assert client.get("/").status_code == 200
    session = client.session
    session[LOGIN_AT_KEY] = time.time() - settings.SESSION_ABSOLUTE_LIMIT_SECONDS - 1
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and "expired=1" in response["Location"]
    assert client.get("/").status_code == 302  # logged out for good


def test_an_api_call_on_a_session_past_the_absolute_limit_is_a_401_problem(
    qa_user: Any,
) -> None:
    client = Client()
    login(client, "qa", PASSWORD)
    session = client.session
    session[LOGIN_AT_KEY] = time.time() - settings.SESSION_ABSOLUTE_LIMIT_SECONDS - 1
    session.save()
    response = client.get("/api/v1/audit-reviews")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "authentication_failed"
    assert "12 hours" in response.json()["detail"]


def test_expired_idle_session_requires_login(qa_user: Any) -> None:
    client = Client()
    login(client, "qa", PASSWORD)
    session = client.session
    session.set_expiry(-1)
    session.save()
    assert client.get("/").status_code == 302


def test_security_headers_are_on_every_page(qa_user: Any) -> None:
    client = Client()
    for path in ("/login/", "/api/v1/docs"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Permissions-Policy" in response.headers


def test_deactivated_account_cannot_log_in_until_reactivated(qa_user: Any, admin_user: Any) -> None:
    services.user_deactivate(actor=admin_user, user=qa_user, reason="left the company")
    assert login(Client(), "qa", PASSWORD).status_code == 200  # the form again, not a redirect
    services.user_reactivate(actor=admin_user, user=qa_user, reason="rehired")
    assert login(Client(), "qa", PASSWORD).status_code == 302
    kinds = list(
        AuditEvent.objects.where(entity_id=str(qa_user.pk))
        .filter(seq__gt=0)
        .values_list("seq", flat=True)
    )
    assert len(kinds) >= 3
    assert AuditEvent.objects.where(event_type=EventType.USER_REACTIVATED).count() == 1


def test_a_temporary_password_must_be_changed_before_anything_else(
    admin_user: Any, tech: Any
) -> None:
    """After an administrator's reset (the administrator knows the new password), the user's
    pages lead to the password page and the API refuses, by session and by an earlier token,
    until the user has chosen a password; logging out and the language switch still work."""
    from celltrace.core.models import ApiToken

    old_token = services.api_token_create(actor=tech, name="scanner bridge").secret
    temporary = "temporary pass phrase 77"
    services.user_reset_password(actor=admin_user, user=tech, new_password=temporary, reason="x")
    browser = Client()
    assert login(browser, "tech", temporary)["Location"] == "/account/password/"
    for page in ("/", "/bank/donors/", "/account/", "/audit/"):
        response = browser.get(page)
        assert response.status_code == 302 and response["Location"] == "/account/password/", page
    tokens = ApiToken.objects.count()
    for response in (
        browser.post("/api/v1/tokens", data={"name": "mine"}, content_type="application/json"),
        browser.get("/api/v1/me"),
        Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {old_token}"),
    ):
        assert response.status_code == 403
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "password_change_required"
    assert ApiToken.objects.count() == tokens
    htmx = browser.get("/bank/donors/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204 and htmx["HX-Redirect"] == "/account/password/"
    assert browser.get("/account/password/").status_code == 200
    assert browser.post("/i18n/setlang/", {"language": "zh-hans"}).status_code == 302

    changed = browser.post(
        "/account/password/",
        {
            "old_password": temporary,
            "new_password": "my own new pass phrase 88",
            "new_password2": "my own new pass phrase 88",
        },
    )
    assert changed.status_code == 302, changed.content[:500]
    assert browser.get("/bank/donors/").status_code == 200
    assert browser.get("/api/v1/me").status_code == 200
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {old_token}").status_code == 200


def test_failures_across_usernames_from_one_address_lock_nobody_else_out(
    qa_user: Any, operator: Any, make_user: Any
) -> None:
    """Behind a reverse proxy every user arrives from the proxy's address: failures on other
    usernames must not lock out a user who gives the right password."""
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT + 1):
        login(client, f"nobody{n}", "wrong wrong wrong wrong")
    assert login(Client(), "qa", PASSWORD).status_code == 302


@override_settings(PROXY_COUNT=1)
def test_behind_a_proxy_the_ledger_records_the_forwarded_client_address(qa_user: Any) -> None:
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    login(client, "qa", "wrong wrong wrong wrong")
    failed = AuditEvent.objects.where(event_type=EventType.LOGIN_FAILED).get()
    # the proxy appended the address it saw; what the client claimed before it is ignored
    assert failed.data["client_id"] == "198.51.100.7"


def test_without_a_proxy_a_forwarded_header_is_ignored(qa_user: Any) -> None:
    client = Client(REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR="6.6.6.6")
    login(client, "qa", "wrong wrong wrong wrong")
    failed = AuditEvent.objects.where(event_type=EventType.LOGIN_FAILED).get()
    assert failed.data["client_id"] == "192.0.2.9"


def test_a_lockout_ends_the_accounts_sessions_and_stops_its_tokens(
    qa_user: Any, admin_user: Any
) -> None:
    """Five failed signings lock the account: the session that tried, the user's other
    sessions and their API tokens all stop until an administrator unlocks it."""
    from celltrace.audit.services import audit_review_create

    review = audit_review_create(actor=qa_user, conclusion="ok")
    secret = services.api_token_create(actor=qa_user, name="script").secret
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    trying, elsewhere = Client(), Client()
    assert login(trying, "qa", PASSWORD).status_code == 302
    assert login(elsewhere, "qa", PASSWORD).status_code == 302
    assert Client().get("/api/v1/audit-reviews", **bearer).status_code == 200
    url = f"/sign/audit.auditreview/{review.pk}/?meaning=reviewed"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page = trying.get(url)
        if page.status_code != 200:
            break
        digest = page.content.decode().split('name="expected_digest" value="')[1][:64]
        trying.post(
            url,
            {"meaning": "reviewed", "password": "wrong wrong wrong", "expected_digest": digest},
        )
    assert AuditEvent.objects.where(event_type=EventType.USER_LOCKED_OUT).count() == 1
    for client in (trying, elsewhere):
        response = client.get("/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    refused = Client().get("/api/v1/audit-reviews", **bearer)
    assert refused.status_code == 403 and refused.json()["code"] == "account_locked"
    # failures while the lock holds (anonymous ones, the right password too) do not put the
    # stopped tokens back in service
    for password in ("wrong wrong wrong", PASSWORD, "again", "and again"):
        assert login(Client(), "qa", password).status_code == 403
        refused = Client().get("/api/v1/audit-reviews", **bearer)
        assert refused.status_code == 403 and refused.json()["code"] == "account_locked"
    # failures while locked are failed logins on the ledger, not new lockout entries (a flood
    # of them buried the one that stopped the tokens)
    assert AuditEvent.objects.where(event_type=EventType.USER_LOCKED_OUT).count() == 1
    services.user_unlock(actor=admin_user, user=qa_user, reason="called the user")
    assert Client().get("/api/v1/audit-reviews", **bearer).status_code == 200
    # a later lockout tripped by anonymous logins blocks logins only
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(Client(), "qa", "wrong wrong wrong wrong")
    assert services.user_is_locked_out(qa_user)
    assert Client().get("/api/v1/audit-reviews", **bearer).status_code == 200


def test_the_tokens_stay_stopped_by_the_signed_in_failures_not_by_another_party_s(
    qa_user: Any,
) -> None:
    """The lockout entry names the failure records of the request that tripped it while
    signed in; when those lapse (the cool-off deletes them), another party's failures from
    elsewhere keep the login locked but no longer keep the owner's tokens stopped."""
    from axes.models import AccessAttempt

    from celltrace.audit.services import audit_review_create

    review = audit_review_create(actor=qa_user, conclusion="ok")
    secret = services.api_token_create(actor=qa_user, name="script").secret
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    owner = Client()
    assert login(owner, "qa", PASSWORD).status_code == 302
    url = f"/sign/audit.auditreview/{review.pk}/?meaning=reviewed"
    digest = owner.get(url).content.decode().split('name="expected_digest" value="')[1][:64]
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):  # someone elsewhere
        Client(REMOTE_ADDR="203.0.113.9").post(
            "/login/", {"username": "qa", "password": "wrong wrong wrong"}
        )
    # the owner's one typo trips the lock, while signed in
    owner.post(url, {"meaning": "reviewed", "password": "typo typo", "expected_digest": digest})
    [locked] = AuditEvent.objects.where(event_type=EventType.USER_LOCKED_OUT)
    assert locked.data["new"]["while_signed_in"] is True
    named = locked.data["new"]["attempts"]
    elsewhere = AccessAttempt.objects.get(ip_address="203.0.113.9")
    assert named and elsewhere.pk not in named
    refused = Client().get("/api/v1/audit-reviews", **bearer)
    assert refused.status_code == 403 and refused.json()["code"] == "account_locked"
    AccessAttempt.objects.filter(pk__in=named).delete()  # the owner's failure has lapsed
    for _ in range(settings.AXES_FAILURE_LIMIT):  # the other party goes on
        Client(REMOTE_ADDR="203.0.113.9").post(
            "/login/", {"username": "qa", "password": "wrong wrong wrong"}
        )
    assert services.user_is_locked_out(qa_user)
    assert Client().get("/api/v1/audit-reviews", **bearer).status_code == 200


@override_settings(MFA_REQUIRED_ROLES=["qa"])
def test_a_token_of_a_role_that_requires_a_second_factor_waits_for_enrolment(
    qa_user: Any,
) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    secret = services.api_token_create(actor=qa_user, name="script").secret
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    refused = Client().get("/api/v1/audit-reviews", **bearer)
    assert refused.status_code == 403 and refused.json()["code"] == "mfa_required"
    TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    assert Client().get("/api/v1/audit-reviews", **bearer).status_code == 200


def test_guessing_the_current_password_on_the_password_page_counts_towards_lockout(
    qa_user: Any,
) -> None:
    client = Client()
    assert login(client, "qa", PASSWORD).status_code == 302
    for n in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(
            "/account/password/",
            {
                "old_password": f"guess number {n} of many",
                "new_password": "a brand new pass phrase 9",
                "new_password2": "a brand new pass phrase 9",
            },
        )
        if n < settings.AXES_FAILURE_LIMIT - 1:
            assert "The current password is not correct." in response.content.decode()
    failed = AuditEvent.objects.where(event_type=EventType.LOGIN_FAILED)
    assert failed.count() == settings.AXES_FAILURE_LIMIT
    assert all(e.data["new"]["during"] == "password change" for e in failed)
    assert AuditEvent.objects.where(event_type=EventType.USER_LOCKED_OUT).count() == 1
    # locked: the right password no longer logs in, and this session has ended
    assert client.get("/")["Location"].startswith("/login/")
    assert login(Client(), "qa", PASSWORD).status_code == 403


def test_anonymous_guessing_blocks_logins_but_not_the_owners_session_or_tokens(
    qa_user: Any,
) -> None:
    """Anyone who knows a username can lock it; that must not end its owner's open session
    or stop its integrations (a lockout tripped while signed in does, see above)."""
    secret = services.api_token_create(actor=qa_user, name="script").secret
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    owner = Client()
    assert login(owner, "qa", PASSWORD).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(Client(), "qa", "wrong wrong wrong wrong")
    [locked] = AuditEvent.objects.where(event_type=EventType.USER_LOCKED_OUT)
    assert locked.data["new"]["while_signed_in"] is False
    assert login(Client(), "qa", PASSWORD).status_code == 403  # new logins are blocked
    assert owner.get("/").status_code == 200
    assert Client().get("/api/v1/audit-reviews", **bearer).status_code == 200


def test_the_owner_signing_during_somebody_else_s_lockout_is_told_and_keeps_working(
    qa_user: Any,
) -> None:
    """While anonymous guessing holds the account locked, the signed-in owner who signs
    (with the right password) or changes the password is told the account is locked; the
    attempt is on the ledger, but it neither counts as a failure nor ends their sessions
    or stops their tokens."""
    from celltrace.audit.services import audit_review_create

    review = audit_review_create(actor=qa_user, conclusion="ok")
    secret = services.api_token_create(actor=qa_user, name="script").secret
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    owner = Client()
    assert login(owner, "qa", PASSWORD).status_code == 302
    url = f"/sign/audit.auditreview/{review.pk}/?meaning=reviewed"
    digest = owner.get(url).content.decode().split('name="expected_digest" value="')[1][:64]
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(Client(), "qa", "wrong wrong wrong wrong")
    locked_entries = AuditEvent.objects.where(event_type=EventType.USER_LOCKED_OUT).count()
    signing_failed = AuditEvent.objects.where(event_type=EventType.SIGNING_FAILED).count()
    page = owner.post(
        url, {"meaning": "reviewed", "password": PASSWORD, "expected_digest": digest}
    ).content.decode()
    assert "This account is locked" in page
    changed = owner.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "new_password2": "a brand new passphrase",
        },
    ).content.decode()
    assert "This account is locked" in changed
    assert AuditEvent.objects.where(event_type=EventType.SIGNING_FAILED).count() == (
        signing_failed + 1
    )
    assert AuditEvent.objects.where(event_type=EventType.USER_LOCKED_OUT).count() == locked_entries
    assert not Signature.objects.exists()
    assert owner.get("/").status_code == 200
    assert Client().get("/api/v1/audit-reviews", **bearer).status_code == 200
    qa_user.refresh_from_db()
    assert qa_user.check_password(PASSWORD)


def test_an_api_request_that_trips_the_lockout_gets_a_problem_document(qa_user: Any) -> None:
    from celltrace.audit.services import audit_review_create

    review = audit_review_create(actor=qa_user, conclusion="ok")
    secret = services.api_token_create(actor=qa_user, name="script").secret
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    payload = {
        "record_type": "audit.auditreview",
        "record_id": str(review.pk),
        "meaning": "reviewed",
        "password": "wrong wrong wrong wrong",
        "expected_digest": "0" * 64,
    }
    responses = [
        Client().post("/api/v1/signatures", data=payload, content_type="application/json", **bearer)
        for _ in range(settings.AXES_FAILURE_LIMIT + 1)
    ]
    assert all(r["Content-Type"] == "application/problem+json" for r in responses)
    assert responses[-1].status_code == 403
    assert responses[-1].json()["code"] in ("account_locked", "authentication_failed")
    refused = Client().get("/api/v1/audit-reviews", **bearer)
    assert refused.status_code == 403 and refused.json()["code"] == "account_locked"


@override_settings(PROXY_COUNT=1)
def test_a_forwarded_value_that_is_not_an_address_falls_back_to_the_peer(qa_user: Any) -> None:
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7:53122")
    login(client, "qa", "wrong wrong wrong wrong")
    failed = AuditEvent.objects.where(event_type=EventType.LOGIN_FAILED).get()
    assert failed.data["client_id"] == "10.0.0.2"
