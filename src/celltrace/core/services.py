"""Writes of the core app. Each is one transaction with its ledger entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from axes.utils import reset as axes_reset
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from celltrace.audit import ledger
from celltrace.audit.choices import Action, EventType
from celltrace.core.choices import CLIENT_ROLES, OPERATOR_ROLES, ErrorCode, OrganisationKind, Role
from celltrace.core.errors import AuthenticationFailed, Conflict, Invalid, PermissionDenied
from celltrace.core.models import ApiToken, Organisation, User, UserRole

TOKEN_PREFIX = "ct"  # noqa: S105 - the visible token prefix, not a secret


def _require_admin(actor: User | None) -> None:
    if actor is None:  # the command line, run by the operating-system administrator
        return
    if not (actor.is_active and actor.is_operator_staff and actor.has_role(Role.ADMIN)):
        raise PermissionDenied(_("Only an administrator of the operator can do this."))


def _user_event(
    actor: User | None,
    user: User,
    *,
    action: str,
    event_type: str,
    old: dict[str, object] | None = None,
    new: dict[str, object] | None = None,
    reason: str = "",
) -> None:
    """The ledger entry of a change to a user account (in the caller's transaction)."""
    ledger.append(
        actor=actor,
        action=action,
        event_type=event_type,
        entity_type="core.user",
        entity_id=user.pk,
        entity_label=user.username,
        organisation_id=user.organisation_id,
        old=old,
        new=new,
        reason=reason,
    )


def _password_errors(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise Invalid(" ".join(exc.messages), field="password") from exc


def organisation_create(
    *, actor: User | None, name: str, code: str, kind: str, country: str = "", address: str = ""
) -> Organisation:
    _require_admin(actor)
    if kind not in OrganisationKind.values:
        raise Invalid(_("Unknown organisation kind %(kind)s.") % {"kind": kind}, field="kind")
    org = Organisation(
        name=name.strip(), code=code.strip(), kind=kind, country=country, address=address
    )
    try:
        org.full_clean()
    except ValidationError as exc:
        field, msgs = next(iter(exc.message_dict.items()))
        raise Invalid(" ".join(msgs), field=field) from exc
    with transaction.atomic():
        try:
            with transaction.atomic():
                org.save()
        except IntegrityError as exc:  # created meanwhile under the same name or code
            raise Conflict(
                _("An organisation of this name or code exists already."), field="code"
            ) from exc
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.ORGANISATION_CREATED,
            entity_type="core.organisation",
            entity_id=org.pk,
            entity_label=org.name,
            organisation_id=org.pk,
            new={"name": org.name, "code": org.code, "kind": org.kind, "country": country},
        )
    return org


def _check_roles(org: Organisation, roles: Iterable[str]) -> list[str]:
    roles = sorted(set(roles))
    allowed = OPERATOR_ROLES if org.kind == OrganisationKind.OPERATOR else CLIENT_ROLES
    for role in roles:
        if role not in Role.values:
            raise Invalid(_("Unknown role %(role)s.") % {"role": role}, field="roles")
        if role not in allowed:
            raise Invalid(
                _("A member of %(org)s cannot hold the role %(role)s.")
                % {"org": org.name, "role": Role(role).label},
                field="roles",
            )
    if not roles:
        raise Invalid(_("Give the user at least one role."), field="roles")
    return roles


def user_create(
    *,
    actor: User | None,
    organisation: Organisation,
    username: str,
    full_name: str,
    email: str,
    roles: Iterable[str],
    password: str,
    must_change_password: bool = True,
) -> User:
    """Create an account. Usernames are unique for ever: accounts are deactivated, not deleted."""
    _require_admin(actor)
    username = username.strip()
    if not username or not full_name.strip():
        raise Invalid(_("A username and a printed name are required."), field="username")
    role_list = _check_roles(organisation, roles)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(_("The username %(name)s is taken.") % {"name": username}, field="username")
    user = User(
        username=username,
        full_name=full_name.strip(),
        email=email.strip(),
        organisation=organisation,
        must_change_password=must_change_password,
    )
    _password_errors(password, user)
    user.set_password(password)
    user.password_changed_at = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise Conflict(
                _("The username %(name)s is taken.") % {"name": username}, field="username"
            ) from exc
        UserRole.objects.bulk_create([UserRole(user=user, role=r) for r in role_list])
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.USER_CREATED,
            entity_type="core.user",
            entity_id=user.pk,
            entity_label=username,
            organisation_id=organisation.pk,
            new={
                "username": username,
                "full_name": user.full_name,
                "email": user.email,
                "organisation_id": organisation.pk,
                "roles": role_list,
            },
        )
    return user


def user_set_roles(*, actor: User | None, user: User, roles: Iterable[str], reason: str) -> User:
    """Grant ``user`` exactly ``roles`` (an administrator of the operator, never their own:
    nobody grants themselves QA or takes another role to sign with)."""
    _require_admin(actor)
    if actor is not None and actor.pk == user.pk:
        raise PermissionDenied(
            _("Nobody changes their own roles: another administrator does."), field="roles"
        )
    if not reason.strip():
        raise Invalid(_("Give a reason for changing roles."), field="reason")
    assert user.organisation is not None
    role_list = _check_roles(user.organisation, roles)
    with transaction.atomic():
        old = sorted(UserRole.objects.filter(user=user).values_list("role", flat=True))
        UserRole.objects.filter(user=user).exclude(role__in=role_list).delete()
        UserRole.objects.bulk_create(
            [UserRole(user=user, role=r) for r in role_list if r not in old]
        )
        _user_event(
            actor,
            user,
            action=Action.PERMISSION_CHANGE,
            event_type=EventType.USER_ROLES_CHANGED,
            old={"roles": old},
            new={"roles": role_list},
            reason=reason,
        )
    user.__dict__.pop("roles", None)
    return user


def user_deactivate(*, actor: User | None, user: User, reason: str) -> User:
    _require_admin(actor)
    if not reason.strip():
        raise Invalid(_("Give a reason for deactivating the account."), field="reason")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        _user_event(
            actor,
            user,
            action=Action.PERMISSION_CHANGE,
            event_type=EventType.USER_DEACTIVATED,
            old={"is_active": user.is_active},
            new={"is_active": False},
            reason=reason,
        )
    user.is_active = False
    return user


def user_reactivate(*, actor: User | None, user: User, reason: str) -> User:
    """Give a deactivated account back its access (the username was never reused)."""
    _require_admin(actor)
    if not reason.strip():
        raise Invalid(_("Give a reason for reactivating the account."), field="reason")
    if user.is_active:
        raise Conflict(_("This account is active."))
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=True)
        _user_event(
            actor,
            user,
            action=Action.PERMISSION_CHANGE,
            event_type=EventType.USER_REACTIVATED,
            old={"is_active": False},
            new={"is_active": True},
            reason=reason,
        )
    user.is_active = True
    return user


def user_reset_password(*, actor: User | None, user: User, new_password: str, reason: str) -> User:
    """An administrator sets a temporary password; the user must change it before signing."""
    _require_admin(actor)
    if not reason.strip():
        raise Invalid(_("Give a reason for the reset."), field="reason")
    if (
        actor is not None
        and _last_user_event(user, EventType.TOTP_RESET, after=EventType.TOTP_ENROLLED) == actor.pk
        and not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    ):
        raise PermissionDenied(
            _(
                "You reset this user's two-factor authentication and they have not enrolled a "
                "new authenticator yet: setting their password too would let you sign in as "
                "them. Another administrator resets the password."
            )
        )
    _password_errors(new_password, user)
    user.set_password(new_password)
    user.must_change_password = True
    user.password_changed_at = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        user.save(update_fields=["password", "must_change_password", "password_changed_at"])
        _user_event(
            actor,
            user,
            action=Action.UPDATE,
            event_type=EventType.USER_PASSWORD_RESET,
            new={"must_change_password": True},
            reason=reason,
        )
    return user


def user_change_password(
    *, actor: User, old_password: str, new_password: str, request: Any = None
) -> User:
    """Change ``actor``'s own password. The current one is checked through ``authenticate()``
    so django-axes counts a wrong one towards the lockout like a failed login (the form is no
    unthrottled oracle), and each wrong one is on the ledger (11.300(d))."""
    try:
        _require_password(actor, old_password, request, "password change")
    except Invalid as exc:
        raise Invalid(_("The current password is not correct."), field="old_password") from exc
    if old_password == new_password:
        raise Invalid(_("Choose a password different from the current one."), field="new_password")
    _password_errors(new_password, actor)
    actor.set_password(new_password)
    actor.must_change_password = False
    actor.password_changed_at = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        actor.save(update_fields=["password", "must_change_password", "password_changed_at"])
        _user_event(
            actor,
            actor,
            action=Action.UPDATE,
            event_type=EventType.USER_PASSWORD_CHANGED,
            new={"must_change_password": False},
        )
    return actor


def user_unlock(*, actor: User | None, user: User, reason: str) -> None:
    """Lift a lockout (django-axes) early; audited."""
    _require_admin(actor)
    if not reason.strip():
        raise Invalid(_("Give a reason for unlocking the account."), field="reason")
    with transaction.atomic():
        axes_reset(username=user.username)
        _user_event(
            actor,
            user,
            action=Action.SECURITY,
            event_type=EventType.USER_UNLOCKED,
            reason=reason,
        )


def user_is_locked_out(user: User, request: Any = None) -> bool:
    """Whether django-axes holds ``user``'s account locked (too many failed logins or
    signings, cool-off not over, not unlocked by an administrator)."""
    from axes.handlers.proxy import AxesProxyHandler

    if request is None:
        from django.test import RequestFactory

        request = RequestFactory().get("/")
    return bool(AxesProxyHandler.is_locked(request, credentials={"username": user.username}))


def user_tokens_stopped(user: User, request: Any = None) -> bool:
    """Whether ``user``'s API tokens are refused now: their account is locked out, and the
    lock was tripped while signed in as them (``audit.receivers.record_lockout``): one of
    the failure records holding the lock now is one that a signed-in lockout entry names.
    A later lock (after an unlock or the cool-off, which delete those records) tripped by
    anonymous logins does not stop them; anonymous failures during the signed-in one do not
    restart them."""
    if not user_is_locked_out(user, request):
        return False
    from axes.models import AccessAttempt

    from celltrace.audit.models import AuditEvent

    holding = set(AccessAttempt.objects.filter(username=user.username).values_list("pk", flat=True))
    entries = AuditEvent.objects.where(
        event_type=EventType.USER_LOCKED_OUT, entity_id=str(user.pk)
    ).order_by("-seq")[:200]
    for entry in entries:
        new = entry.data.get("new") or {}
        if new.get("while_signed_in") and holding.intersection(new.get("attempts") or ()):
            return True
    return False


def locked_out_message() -> str:
    return _(
        "This account is locked after repeated failed attempts. Try again later or ask an "
        "administrator to unlock it."
    )


def refuse_if_locked_out(actor: User, request: Any, *, field: str = "password") -> None:
    """Refuse a password check for a locked account before authenticating: django-axes
    would refuse even the right password, count it and signal the lockout again as if the
    signed-in owner had tripped it (ending their sessions and stopping their tokens)."""
    if user_is_locked_out(actor, request):
        raise AuthenticationFailed(locked_out_message(), field=field, code=ErrorCode.ACCOUNT_LOCKED)


def user_sessions_end(user: User, *, keep: str | None = None) -> int:
    """Log ``user`` out everywhere (their account was locked out): every stored session that
    belongs to them ends, except the session key ``keep`` (the request being answered, which
    logs out itself). Returns how many ended."""
    from django.contrib.sessions.models import Session

    ended = 0
    now = dt.datetime.now(dt.UTC)
    for session in Session.objects.filter(expire_date__gt=now).iterator():
        if session.session_key == keep:
            continue
        if str(session.get_decoded().get("_auth_user_id", "")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_create(
    *, actor: User, name: str, expires_at: dt.datetime | None = None
) -> IssuedToken:
    name = name.strip()
    if not name:
        raise Invalid(_("Name the token after where it will be used."), field="name")
    if expires_at is not None:
        if expires_at.utcoffset() is None:
            raise Invalid(
                _("Give the expiry with its time zone, e.g. 2030-01-01T00:00:00Z."),
                field="expires_at",
            )
        expires_at = expires_at.astimezone(dt.UTC)  # stored, recorded and answered in UTC
        if expires_at <= dt.datetime.now(dt.UTC):
            raise Invalid(_("The expiry must be in the future."), field="expires_at")
    prefix = secrets.token_hex(5)
    secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor,
            name=name,
            prefix=prefix,
            token_hash=_hash_token(secret),
            expires_at=expires_at,
        )
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.API_TOKEN_CREATED,
            entity_type="core.apitoken",
            entity_id=token.pk,
            entity_label=f"{name} ({prefix})",
            new={"name": name, "prefix": prefix, "expires_at": expires_at},
        )
    return IssuedToken(token, secret)


def api_token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    if token.user_id != actor.pk and not actor.has_role(Role.ADMIN):
        raise PermissionDenied(_("You can revoke only your own tokens."))
    if token.revoked_at is not None:
        raise Conflict(_("This token is already revoked."))
    now = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=now)
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.API_TOKEN_REVOKED,
            entity_type="core.apitoken",
            entity_id=token.pk,
            entity_label=f"{token.name} ({token.prefix})",
            old={"revoked_at": None},
            new={"revoked_at": now},
        )
    token.revoked_at = now
    return token


def api_token_authenticate(secret: str) -> User | None:
    """The active user behind a token, or None. Constant-time on the secret."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = (
        ApiToken.objects.select_related("user", "user__organisation")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if token is None or not secrets.compare_digest(token.token_hash, _hash_token(secret)):
        return None
    now = dt.datetime.now(dt.UTC)
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def totp_begin(*, actor: User) -> TOTPDevice:
    """Start TOTP enrolment: an unconfirmed device whose secret the user scans."""
    TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
    device: TOTPDevice = TOTPDevice.objects.create(
        user=actor, name="authenticator", confirmed=False
    )
    return device


def totp_confirm(
    *,
    actor: User,
    token: str,
    current_token: str = "",
    password: str = "",
    request: Any = None,
) -> TOTPDevice:
    """Confirm the authenticator being enrolled with a code it shows. A session alone is not
    enough to set the second factor: a first authenticator needs the password again (checked
    through ``authenticate()``, so django-axes counts failures), a replacement needs a code of
    the current one. Each failed proof is on the ledger (11.300(d))."""
    device = TOTPDevice.objects.filter(user=actor, confirmed=False).first()
    if device is None:
        raise Conflict(_("Start the enrolment first."))
    current = list(TOTPDevice.objects.filter(user=actor, confirmed=True))
    if not current:
        _require_password(actor, password, request, "authenticator enrolment: password")
    # the new code before the current one: a wrong new code does not use the current one up
    if not device.verify_token(token.strip()):
        raise Invalid(
            _("The code does not match; check the device's clock and try again."), field="token"
        )
    if current and totp_check(actor, current_token)[0] is None:
        _proof_failed(actor, "authenticator replacement: current code")
        raise Invalid(
            _("Enter the code your current authenticator shows: it is replaced by the new one."),
            field="current_token",
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=actor, confirmed=True).delete()
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        _user_event(
            actor,
            actor,
            action=Action.SECURITY,
            event_type=EventType.TOTP_ENROLLED,
            new={"totp": True, "replaced": bool(current)},
        )
    device.confirmed = True
    return device


def totp_check(user: User, token: str) -> tuple[TOTPDevice | None, bool]:
    """``(device, allowed)``: the confirmed authenticator ``token`` is a valid code of (None if
    it is not), and whether django-otp's throttle let the code be tried. The device row is
    locked, so parallel codes take the throttle in turn."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .order_by("pk")
            .first()
        )
        allowed = device is not None and device.verify_is_allowed()[0]
        verified = device is not None and allowed and device.verify_token(token.strip())
    return (device if verified else None), allowed


def count_failed_attempt(user: User, request: Any) -> None:
    """Count a failed proof of ``user``'s identity (a wrong one-time code) towards the
    lockout, as django-axes counts a wrong password."""
    from django.contrib.auth.signals import user_login_failed

    user_login_failed.send(
        sender=__name__, credentials={"username": user.get_username()}, request=request
    )


def _require_password(actor: User, password: str, request: Any, during: str) -> None:
    """Check ``actor``'s password through ``authenticate()`` (django-axes counts a wrong one
    towards the lockout like a failed login; it is on the ledger too)."""
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    request = request if request is not None else RequestFactory().post("/account/")
    try:
        refuse_if_locked_out(actor, request)
    except AuthenticationFailed:
        _proof_failed(actor, f"{during} (account locked)")
        raise
    checked = authenticate(request, username=actor.get_username(), password=password)
    if checked is None or checked.pk != actor.pk:
        _proof_failed(actor, during)
        raise Invalid(_("The password is not correct."), field="password")


def _proof_failed(actor: User, during: str) -> None:
    """A failed password or code while changing one's credentials: a failed login on the
    ledger, in its own transaction."""
    ledger.atomic_append(
        actor=actor,
        action=Action.LOGIN_FAILED,
        event_type=EventType.LOGIN_FAILED,
        entity_type="core.user",
        entity_id=actor.pk,
        entity_label=actor.get_username(),
        organisation_id=actor.organisation_id,
        new={"username": actor.get_username(), "during": during},
    )


def _last_user_event(user: User, event_type: str, *, after: str | None = None) -> int | None:
    """Who (user id) wrote ``user``'s latest ``event_type`` entry; None if there is none, it
    was the command line, or an ``after`` entry about the user came later."""
    from celltrace.audit.models import AuditEvent

    kinds = [event_type] if after is None else [event_type, after]
    latest = (
        AuditEvent.objects.where(event_type__in=kinds, entity_id=str(user.pk))
        .order_by("-seq")
        .first()
    )
    if latest is None or latest.data.get("event_type") != event_type:
        return None
    actor_id = latest.data.get("actor_id")
    return int(actor_id) if actor_id is not None else None


def totp_reset(*, actor: User | None, user: User, reason: str) -> int:
    """Remove ``user``'s authenticators (lost phone): another administrator, with a reason, on
    the ledger. The user's sessions end (one left open must not enrol a new authenticator in
    the lost one's place); they log in with their password and enrol again, with the
    password."""
    _require_admin(actor)
    if actor is not None and actor.pk == user.pk:
        raise PermissionDenied(
            _("Nobody resets their own two-factor authentication: another administrator does.")
        )
    if not reason.strip():
        raise Invalid(_("Give a reason for resetting two-factor authentication."), field="reason")
    if (
        actor is not None
        and user.must_change_password
        and _last_user_event(user, EventType.USER_PASSWORD_RESET) == actor.pk
    ):
        raise PermissionDenied(
            _(
                "You set this user's temporary password and they have not changed it yet: "
                "resetting their two-factor authentication too would let you sign in and sign "
                "as them. Another administrator resets it, or the user changes the password "
                "first."
            )
        )
    user_sessions_end(user)
    with transaction.atomic():
        removed, _counts = TOTPDevice.objects.filter(user=user).delete()
        _user_event(
            actor,
            user,
            action=Action.SECURITY,
            event_type=EventType.TOTP_RESET,
            old={"totp": removed > 0},
            new={"totp": False},
            reason=reason,
        )
    return int(removed)
