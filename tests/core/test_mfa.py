"""Two-factor login: a user with an authenticator gives its code after the password; roles that
require a second factor (administrators and QA in production) enrol one before anything else."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from celltrace.audit.choices import EventType
from celltrace.audit.models import AuditEvent
from celltrace.web.views import MFA_ATTEMPTS, MFA_PENDING_KEY
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def code_of(device: TOTPDevice, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():06d}"


def wrong_code(device: TOTPDevice) -> str:
    right = {code_of(device, k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


def password_step(username: str) -> tuple[Client, Any]:
    client = Client()
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    return client, response


def events(event_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.where(event_type=event_type).order_by("seq"))


def test_an_enrolled_user_logs_in_with_password_then_code(qa_user: Any) -> None:
    device = TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    client, response = password_step("qa")
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    # the password alone does not open the session
    assert client.get("/").status_code == 302
    assert not events(EventType.LOGGED_IN)
    page = client.get("/login/code/")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.content.decode()
    bad = client.post("/login/code/", {"otp_token": wrong_code(device)})
    assert bad.status_code == 200 and "The code is not correct" in bad.content.decode()
    failed = events(EventType.LOGIN_FAILED)
    assert len(failed) >= 1 and failed[0].data["new"] == {"username": "qa", "factor": "totp"}
    assert client.get("/").status_code == 302
    # django-otp slows guessing down: straight after a wrong code even the right one waits
    hurried = client.post("/login/code/", {"otp_token": code_of(device)})
    assert "wait a few seconds" in hurried.content.decode()
    assert client.get("/").status_code == 302
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
    good = client.post("/login/code/", {"otp_token": code_of(device)})
    assert good.status_code == 302 and good["Location"] == "/"
    assert client.get("/").status_code == 200
    [logged_in] = events(EventType.LOGGED_IN)
    assert logged_in.data["new"] == {"second_factor": "totp"} and logged_in.actor_id == qa_user.pk
    assert MFA_PENDING_KEY not in client.session


@override_settings(AXES_FAILURE_LIMIT=MFA_ATTEMPTS + 2)
def test_wrong_codes_send_the_user_back_to_the_password(qa_user: Any) -> None:
    device = TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    client, _ = password_step("qa")
    for _i in range(MFA_ATTEMPTS - 1):
        assert client.post("/login/code/", {"otp_token": wrong_code(device)}).status_code == 200
    last = client.post("/login/code/", {"otp_token": wrong_code(device)})
    assert last.status_code == 302 and last["Location"] == "/login/"
    assert len(events(EventType.LOGIN_FAILED)) == MFA_ATTEMPTS
    # the right code no longer helps: the password comes first again
    again = client.post("/login/code/", {"otp_token": code_of(device)})
    assert again.status_code == 302 and again["Location"] == "/login/"
    assert client.get("/").status_code == 302 and not events(EventType.LOGGED_IN)


def test_wrong_codes_count_towards_the_lockout_across_fresh_passwords(qa_user: Any) -> None:
    """Starting again from the (known) password does not buy five more codes each time:
    every wrong code is a failed login for the lockout too."""
    from django.conf import settings

    from celltrace.core import services

    device = TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    wrong = 0
    while wrong < settings.AXES_FAILURE_LIMIT - 1:
        client, _ = password_step("qa")
        for _i in range(min(2, settings.AXES_FAILURE_LIMIT - 1 - wrong)):
            client.post("/login/code/", {"otp_token": wrong_code(device)})
            wrong += 1
    assert not services.user_is_locked_out(qa_user)
    client, _ = password_step("qa")
    last = client.post("/login/code/", {"otp_token": wrong_code(device)})
    assert last.status_code == 403 and "locked" in last.content.decode()
    assert services.user_is_locked_out(qa_user)
    [locked] = events(EventType.USER_LOCKED_OUT)
    assert locked.data["new"]["while_signed_in"] is False
    # the right password and code no longer open it
    _, step = password_step("qa")
    assert step.status_code == 403


def test_a_session_not_yet_verified_gives_the_current_code_instead_of_replacing_it(
    qa_user: Any, operator: Any, make_user: Any
) -> None:
    """A user who has an authenticator and signed in without a code (their role did not
    require one then) is asked for its current code, not sent to replace it."""
    analyst = make_user(operator, "qc_analyst", username="analyst")
    device = TOTPDevice.objects.create(user=analyst, name="phone", confirmed=True)
    client = Client()
    # signed in before a second factor was required of analysts (no code step then)
    client.force_login(analyst)
    with override_settings(MFA_REQUIRED_ROLES=["qc_analyst"]):
        response = client.get("/qc/")
        assert response.status_code == 302
        assert response["Location"] == "/account/two-factor/verify/"
        wrong = client.post("/account/two-factor/verify/", {"otp_token": wrong_code(device)})
        assert "The code is not correct" in wrong.content.decode()
        assert client.get("/").status_code == 302  # still not verified
        device.refresh_from_db()
        device.throttle_reset()  # the few seconds django-otp makes one wait after a wrong code
        done = client.post(
            "/account/two-factor/verify/", {"otp_token": code_of(device), "next": "/qc/"}
        )
        assert done.status_code == 302 and done["Location"] == "/qc/"
        assert client.get("/").status_code == 200
    # the same authenticator, nothing replaced; the wrong code and the verification on record
    assert list(TOTPDevice.objects.filter(user=analyst)) == [device]
    assert not events(EventType.TOTP_ENROLLED)
    [failed] = events(EventType.LOGIN_FAILED)
    assert failed.data["new"]["factor"] == "totp"
    [verified] = events(EventType.LOGGED_IN)
    assert verified.data["new"] == {"second_factor": "totp", "session_verified": True}


def test_the_verify_page_during_somebody_else_s_lockout_tries_no_code(
    qa_user: Any, operator: Any, make_user: Any
) -> None:
    """While anonymous guessing holds the account locked, a code (even a typo) on the verify
    page is not tried: it would count as the signed-in owner's and end their sessions."""
    from django.conf import settings

    analyst = make_user(operator, "qc_analyst", username="analyst")
    device = TOTPDevice.objects.create(user=analyst, name="phone", confirmed=True)
    client = Client()
    client.force_login(analyst)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/login/", {"username": "analyst", "password": "wrong wrong wrong"})
    locked_entries = len(events(EventType.USER_LOCKED_OUT))
    with override_settings(MFA_REQUIRED_ROLES=["qc_analyst"]):
        page = client.post("/account/two-factor/verify/", {"otp_token": wrong_code(device)})
        assert "This account is locked" in page.content.decode()
        assert client.get("/").status_code == 302  # still to verify, but still signed in
        assert client.get("/account/two-factor/verify/").status_code == 200
    assert len(events(EventType.USER_LOCKED_OUT)) == locked_entries


def test_the_code_step_expires(qa_user: Any) -> None:
    device = TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    client, _ = password_step("qa")
    session = client.session
    pending = session[MFA_PENDING_KEY]
    pending["at"] -= 301
    session[MFA_PENDING_KEY] = pending
    session.save()
    response = client.post("/login/code/", {"otp_token": code_of(device)})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_without_an_authenticator_the_password_logs_in(qa_user: Any) -> None:
    client, response = password_step("qa")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert events(EventType.LOGGED_IN)[0].data["new"] in (None, {})


@override_settings(MFA_REQUIRED_ROLES=["admin", "qa"])
def test_roles_that_require_a_second_factor_enrol_before_anything_else(
    qa_user: Any, operator: Any, make_user: Any
) -> None:
    analyst = make_user(operator, "qc_analyst", username="analyst")
    client, _ = password_step("qa")
    # pages send QA to enrolment; the session API refuses with a machine-readable code
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/account/two-factor/"
    htmx = client.get("/audit/ledger/", headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx["HX-Redirect"] == "/account/two-factor/"
    api = client.get("/api/v1/ledger")
    assert api.status_code == 403 and api.json()["code"] == "mfa_required"
    # enrolment: scan, confirm with a code; the session is then verified
    page = client.get("/account/two-factor/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=qa_user, confirmed=False)
    # a session alone does not set the second factor: the password again
    without = client.post("/account/two-factor/", {"token": code_of(device), "password": "x"})
    assert without.status_code == 200 and "The password is not correct." in without.content.decode()
    failed = events(EventType.LOGIN_FAILED)
    assert failed[-1].data["new"]["during"] == "authenticator enrolment: password"
    device = TOTPDevice.objects.get(user=qa_user, confirmed=False)
    confirmed = client.post(
        "/account/two-factor/", {"token": code_of(device), "password": PASSWORD}
    )
    assert confirmed.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/ledger").status_code == 200
    # the next login asks for the code, and then works
    second, response = password_step("qa")
    assert response["Location"] == "/login/code/"
    device.refresh_from_db()
    assert second.post("/login/code/", {"otp_token": code_of(device, 1)}).status_code == 302
    assert second.get("/").status_code == 200
    # a role outside the rule logs in with a password as before
    other = Client()
    assert (
        other.post("/login/", {"username": analyst.username, "password": PASSWORD})["Location"]
        == "/"
    )
    assert other.get("/").status_code == 200


def test_replacing_an_authenticator_needs_a_code_of_the_current_one(qa_user: Any) -> None:
    """A session left open is not enough to move the second factor to another phone."""
    old = TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    client, _ = password_step("qa")
    assert client.post("/login/code/", {"otp_token": code_of(old)}).status_code == 302
    page = client.get("/account/two-factor/").content.decode()
    assert 'name="current_token"' in page
    new = TOTPDevice.objects.get(user=qa_user, confirmed=False)
    refused = client.post("/account/two-factor/", {"token": code_of(new)})
    assert refused.status_code == 200
    # a mistyped form keeps the QR code already scanned
    assert TOTPDevice.objects.get(user=qa_user, confirmed=False) == new
    assert list(TOTPDevice.objects.filter(user=qa_user, confirmed=True)) == [old]
    wrong = client.post(
        "/account/two-factor/", {"token": code_of(new), "current_token": wrong_code(old)}
    )
    assert wrong.status_code == 200 and 'name="current_token"' in wrong.content.decode()
    assert events(EventType.LOGIN_FAILED)[-1].data["new"]["during"] == (
        "authenticator replacement: current code"
    )
    TOTPDevice.objects.filter(pk=old.pk).update(throttling_failure_timestamp=None)
    new = TOTPDevice.objects.get(user=qa_user, confirmed=False)
    # the refused attempt used the new app's current code: the next one follows
    replaced = client.post(
        "/account/two-factor/", {"token": code_of(new, 1), "current_token": code_of(old, 1)}
    )
    assert replaced.status_code == 302
    assert list(TOTPDevice.objects.filter(user=qa_user, confirmed=True)) == [new]
    [enrolled] = events(EventType.TOTP_ENROLLED)
    assert enrolled.data["new"] == {"totp": True, "replaced": True}


def test_an_administrator_resets_a_lost_authenticator_with_a_reason(
    qa_user: Any, admin_user: Any
) -> None:
    from celltrace.core import services
    from celltrace.core.errors import Invalid, PermissionDenied

    TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    with pytest.raises(Invalid):
        services.totp_reset(actor=admin_user, user=qa_user, reason=" ")
    with pytest.raises(PermissionDenied):
        services.totp_reset(actor=qa_user, user=qa_user, reason="lost my phone")
    with pytest.raises(PermissionDenied, match="their own two-factor"):
        services.totp_reset(actor=admin_user, user=admin_user, reason="lost my phone")
    # QA's open session (say, on the lost phone's companion laptop) ends with the reset
    open_session, _ = password_step("qa")
    device = TOTPDevice.objects.get(user=qa_user)
    assert open_session.post("/login/code/", {"otp_token": code_of(device)}).status_code == 302
    assert open_session.get("/").status_code == 200
    admin = Client()
    assert admin.post("/login/", {"username": "admin", "password": PASSWORD}).status_code == 302
    assert 'value="totp_reset"' not in admin.get(f"/users/{admin_user.pk}/").content.decode()
    page = admin.get(f"/users/{qa_user.pk}/").content.decode()
    assert 'value="totp_reset"' in page
    done = admin.post(
        f"/users/{qa_user.pk}/", {"action": "totp_reset", "reason": "phone lost, ID checked"}
    )
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=qa_user).exists()
    assert open_session.get("/")["Location"].startswith("/login/")
    [reset] = events(EventType.TOTP_RESET)
    assert reset.data["reason"] == "phone lost, ID checked" and reset.actor_id == admin_user.pk
    # the next login is by password again (and, where the role requires it, enrolment)
    assert password_step("qa")[1]["Location"] == "/"


def test_one_administrator_does_not_hold_both_a_user_s_password_and_second_factor(
    qa_user: Any, admin_user: Any, operator: Any, make_user: Any
) -> None:
    """An administrator who set a user's temporary password does not also reset their
    authenticator (and the reverse) until the user has taken the account back: otherwise
    one administrator could sign in, and sign, as that user (21 CFR 11.100, 11.300)."""
    from celltrace.core import services
    from celltrace.core.errors import PermissionDenied

    other_admin = make_user(operator, "admin", username="admin2", full_name="Otto Admin")
    TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    temporary = "temporary passphrase 2026"
    services.user_reset_password(
        actor=admin_user, user=qa_user, new_password=temporary, reason="forgot it"
    )
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied, match="temporary password"):
        services.totp_reset(actor=admin_user, user=qa_user, reason="lost the phone too")
    assert AuditEvent.objects.count() == before
    assert TOTPDevice.objects.filter(user=qa_user).exists()
    # once QA has chosen their own password, the same administrator may reset the phone
    qa_user.refresh_from_db()
    services.user_change_password(
        actor=qa_user, old_password=temporary, new_password="my own passphrase 2026"
    )
    services.totp_reset(actor=admin_user, user=qa_user, reason="lost the phone")
    # and now the reverse: the administrator who reset the authenticator does not set the
    # password until QA has enrolled a new one; another administrator may
    with pytest.raises(PermissionDenied, match="two-factor authentication"):
        services.user_reset_password(
            actor=admin_user, user=qa_user, new_password=temporary, reason="forgot it again"
        )
    assert AuditEvent.objects.count() == before + 2
    services.user_reset_password(
        actor=other_admin, user=qa_user, new_password=temporary, reason="forgot it again"
    )
    # the page shows the refusal instead of resetting (Otto set the temporary password)
    admin = Client()
    assert admin.post("/login/", {"username": "admin2", "password": PASSWORD}).status_code == 302
    before = AuditEvent.objects.count()
    page = admin.post(
        f"/users/{qa_user.pk}/", {"action": "totp_reset", "reason": "phone lost"}, follow=True
    ).content.decode()
    assert "Another administrator" in page
    assert AuditEvent.objects.count() == before


def test_nobody_changes_their_own_roles(admin_user: Any) -> None:
    from celltrace.core import services
    from celltrace.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied, match="their own roles"):
        services.user_set_roles(
            actor=admin_user, user=admin_user, roles=["admin", "qa"], reason="covering QA"
        )
    assert sorted(admin_user.roles) == ["admin"]


def test_the_code_step_refuses_an_account_locked_since_the_password(qa_user: Any) -> None:
    from django.conf import settings

    device = TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    client, _ = password_step("qa")
    for _i in range(settings.AXES_FAILURE_LIMIT):  # someone else, elsewhere
        Client().post("/login/", {"username": "qa", "password": "wrong wrong wrong"})
    refused = client.post("/login/code/", {"otp_token": code_of(device)})
    assert refused.status_code == 403 and "locked" in refused.content.decode()
    assert client.get("/").status_code == 302 and not events(EventType.LOGGED_IN)


def test_a_password_reset_between_the_two_steps_restarts_the_login(
    qa_user: Any, admin_user: Any
) -> None:
    from celltrace.core import services

    device = TOTPDevice.objects.create(user=qa_user, name="phone", confirmed=True)
    client, _ = password_step("qa")
    services.user_reset_password(
        actor=admin_user, user=qa_user, new_password="temporary pass phrase 77", reason="leak"
    )
    response = client.post("/login/code/", {"otp_token": code_of(device)})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302
