"""Login, logout, dashboard, account, organisation and user pages, and the signing page."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from celltrace.audit import ledger, signing
from celltrace.audit.choices import Action, EventType, SignatureMeaning
from celltrace.audit.models import AuditEvent, LedgerCheckpoint, Signature
from celltrace.audit.selectors import (
    UNAUTHORISED_USE_ATTEMPTS,
    can_browse_ledger,
    last_signed_review,
)
from celltrace.audit.services import record_changed, record_sign
from celltrace.audit.services import signature_withdraw as withdraw_signature
from celltrace.core import selectors, services
from celltrace.core.choices import ErrorCode, OrganisationKind
from celltrace.core.errors import DomainError, NotFound, PermissionDenied
from celltrace.core.middleware import LOGIN_AT_KEY
from celltrace.core.models import User
from celltrace.web.decorators import own_site_only
from celltrace.web.forms import (
    LoginCodeForm,
    LoginForm,
    OrganisationCreateForm,
    PasswordChangeForm,
    ReasonForm,
    ResetPasswordForm,
    RolesForm,
    SignForm,
    TokenForm,
    TotpConfirmForm,
    UserCreateForm,
)


def actor_of(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):
        raise Http404
    return user


def safe_next(request: HttpRequest) -> str:
    """The ``next`` address of the request if it stays on this site, else empty."""
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    return nxt if url_has_allowed_host_and_scheme(nxt, {request.get_host()}) else ""


def form_error(form: Any, exc: DomainError) -> None:
    """Put a domain error on the form field it names, or on the form."""
    field = exc.field if exc.field in getattr(form, "fields", {}) else None
    form.add_error(field, exc.message)


def lockout_response(
    request: HttpRequest, credentials: Any, *args: Any, **kwargs: Any
) -> HttpResponse:
    """django-axes' answer to a locked account: the login page, or under /api/ a problem
    document (403 ``account_locked``)."""
    if request.path.startswith("/api/"):
        from celltrace.api.errors import problem_response

        return problem_response(
            request, 403, services.locked_out_message(), ErrorCode.ACCOUNT_LOCKED.value
        )
    form = LoginForm(request)
    return render(request, "web/login.html", {"form": form, "locked_out": True}, status=403)


#: Session key of a login whose password was right and whose one-time code is awaited.
MFA_PENDING_KEY = "celltrace_mfa_pending"
#: How long the code step waits after the password, and how many wrong codes it takes.
MFA_PENDING_SECONDS = 300
MFA_ATTEMPTS = 5


def login_view(request: HttpRequest) -> HttpResponse:
    """Log in with username and password; a user who enrolled an authenticator then gives its
    one-time code (:func:`login_code`) before the session is theirs."""
    if request.user.is_authenticated:
        return redirect("web:dashboard")
    form = LoginForm(request, data=request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            user = form.get_user()
            nxt = safe_next(request)
            if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                request.session.cycle_key()
                request.session[MFA_PENDING_KEY] = {
                    "user": user.pk,
                    "backend": getattr(user, "backend", ""),
                    "at": time.time(),
                    "next": nxt,
                    "attempts": 0,
                    # a password changed or reset between the two steps restarts the login
                    "auth_hash": user.get_session_auth_hash(),
                }
                return redirect("web:login_code")
            return _logged_in(request, user, None, nxt)
        username = request.POST.get("username", "")[:150]
        known = User.objects.filter(username=username).first()
        _login_failed(known, username, None)
    return render(
        request,
        "web/login.html",
        {
            "form": form,
            "expired": request.GET.get("expired") == "1",
            "next": request.GET.get("next", ""),
        },
    )


def login_code(request: HttpRequest) -> HttpResponse:
    """The second step of logging in for a user with an authenticator: its one-time code.
    Within five minutes of the password and at most five wrong codes (each on the ledger as a
    failed login), else the login starts again."""
    pending = request.session.get(MFA_PENDING_KEY)
    user = None
    if isinstance(pending, dict) and time.time() - pending.get("at", 0) <= MFA_PENDING_SECONDS:
        user = User.objects.filter(pk=int(pending.get("user") or 0), is_active=True).first()
    if user is not None and isinstance(pending, dict):
        if pending.get("auth_hash") != user.get_session_auth_hash():
            user = None
        elif services.user_is_locked_out(user, request):
            # locked since the password step (failures elsewhere): no code opens it
            request.session.pop(MFA_PENDING_KEY, None)
            return lockout_response(request, None)
    if user is None or not isinstance(pending, dict):
        request.session.pop(MFA_PENDING_KEY, None)
        messages.error(request, _("Log in again: the one-time code was not given in time."))
        return redirect("web:login")
    form = LoginCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device, allowed = _check_code(request, user, form.cleaned_data["otp_token"])
        if device is not None:
            del request.session[MFA_PENDING_KEY]
            user.backend = pending["backend"]  # type: ignore[attr-defined]
            return _logged_in(request, user, device, pending.get("next", ""))
        pending["attempts"] = int(pending.get("attempts", 0)) + 1
        if pending["attempts"] >= MFA_ATTEMPTS:
            del request.session[MFA_PENDING_KEY]
            messages.error(request, _("Too many wrong codes. Log in again."))
            return redirect("web:login")
        request.session[MFA_PENDING_KEY] = pending
        form.add_error(
            "otp_token",
            _("The code is not correct; check the device's clock.")
            if allowed
            else _("Too many codes in a row: wait a few seconds, then enter the next code."),
        )
    return render(request, "web/login_code.html", {"form": form, "username": user.username})


def _check_code(request: HttpRequest, user: User, token: str) -> tuple[Any, bool]:
    """``(device, allowed)`` of :func:`services.totp_check`. A wrong code is a failed login on
    the ledger and, for the lockout, a failed login too: restarting from a known password
    does not buy five more codes each time."""
    device, allowed = services.totp_check(user, token)
    if device is None:
        _login_failed(user, user.username, "totp")
        services.count_failed_attempt(user, request)
    return device, allowed


@login_required
def totp_verify(request: HttpRequest) -> HttpResponse:
    """A signed-in session not yet verified with a one-time code (a role that requires a
    second factor was granted meanwhile, or the session predates it) shows the current
    authenticator's code; users without one enrol instead."""
    actor = actor_of(request)
    if not TOTPDevice.objects.filter(user=actor, confirmed=True).exists():
        return redirect("web:totp_enrol")
    form = LoginCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # a lock somebody else tripped: no code is tried (it would count as the owner's)
            services.refuse_if_locked_out(actor, request, field="otp_token")
        except DomainError as exc:
            form_error(form, exc)
            return render(
                request, "web/totp_verify.html", {"form": form, "next": safe_next(request)}
            )
        device, allowed = _check_code(request, actor, form.cleaned_data["otp_token"])
        if device is not None:
            otp_login(request, device)
            ledger.atomic_append(
                actor=actor,
                action=Action.LOGIN,
                event_type=EventType.LOGGED_IN,
                entity_type="core.user",
                entity_id=actor.pk,
                entity_label=actor.username,
                new={"second_factor": "totp", "session_verified": True},
            )
            messages.success(request, _("This session is verified with your authenticator."))
            return HttpResponseRedirect(safe_next(request) or reverse("web:dashboard"))
        form.add_error(
            "otp_token",
            _("The code is not correct; check the device's clock.")
            if allowed
            else _("Too many codes in a row: wait a few seconds, then enter the next code."),
        )
    return render(request, "web/totp_verify.html", {"form": form, "next": safe_next(request)})


def _logged_in(request: HttpRequest, user: Any, device: Any, nxt: str) -> HttpResponse:
    login(request, user)
    if device is not None:
        otp_login(request, device)
    request.session[LOGIN_AT_KEY] = time.time()
    ledger.atomic_append(
        actor=user,
        action=Action.LOGIN,
        event_type=EventType.LOGGED_IN,
        entity_type="core.user",
        entity_id=user.pk,
        entity_label=user.username,
        new={"second_factor": "totp"} if device is not None else None,
    )
    if isinstance(user, User) and user.must_change_password:
        return redirect("web:password_change")
    return HttpResponseRedirect(nxt or reverse("web:dashboard"))


def _login_failed(known: User | None, username: str, factor: str | None) -> None:
    new = {"username": username}
    if factor:
        new["factor"] = factor
    ledger.atomic_append(
        actor=None,
        action=Action.LOGIN_FAILED,
        event_type=EventType.LOGIN_FAILED,
        entity_type="core.user",
        entity_id=known.pk if known else username,
        entity_label=username,
        organisation_id=known.organisation_id if known else None,
        new=new,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if isinstance(user, User):
        ledger.atomic_append(
            actor=user,
            action=Action.LOGOUT,
            event_type=EventType.LOGGED_OUT,
            entity_type="core.user",
            entity_id=user.pk,
            entity_label=user.username,
        )
    logout(request)
    return redirect("web:login")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    ctx: dict[str, Any] = {
        "organisations": selectors.organisations_visible(actor).count(),
        "users": selectors.users_visible(actor).count(),
    }
    if can_browse_ledger(actor):
        last_review = last_signed_review()
        reviewed_to = last_review.to_seq if last_review else 0
        head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        ctx.update(
            ledger_entries=head,
            last_checkpoint=LedgerCheckpoint.objects.order_by("-tree_size").first(),
            unreviewed=head - reviewed_to,
            reviewed_to=reviewed_to,
            last_review=last_review,
            recent=AuditEvent.objects.order_by("-seq")[:8],
            # unauthorised-use attempts not yet looked at (21 CFR 11.300(d)): failed logins
            # and signings and lockouts since the last audit-trail review
            failed_logins=AuditEvent.objects.filter(seq__gt=reviewed_to)
            .where(event_type__in=UNAUTHORISED_USE_ATTEMPTS)
            .count(),
        )
    return render(request, "web/dashboard.html", ctx)


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_change_password(
                actor=actor,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
                request=request,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            update_session_auth_hash(request, actor)
            messages.success(request, _("Your password was changed."))
            return redirect("web:account")
    return render(request, "web/password_change.html", {"form": form})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    token_form = TokenForm(request.POST or None if "create_token" in request.POST else None)
    new_secret = None
    if request.method == "POST" and "create_token" in request.POST and token_form.is_valid():
        try:
            issued = services.api_token_create(actor=actor, name=token_form.cleaned_data["name"])
        except DomainError as exc:
            form_error(token_form, exc)
        else:
            new_secret = issued.secret
            token_form = TokenForm()
    if request.method == "POST" and "revoke_token" in request.POST:
        token = selectors.api_tokens_of(actor).filter(pk=request.POST["revoke_token"]).first()
        if token is None:
            raise Http404
        try:
            services.api_token_revoke(actor=actor, token=token)
            messages.success(request, _("The token was revoked."))
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("web:account")
    return render(
        request,
        "web/account.html",
        {
            "tokens": selectors.api_tokens_of(actor),
            "token_form": token_form,
            "new_secret": new_secret,
            "totp_enrolled": TOTPDevice.objects.filter(user=actor, confirmed=True).exists(),
        },
    )


@login_required
@own_site_only
def totp_enrol(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    replacing = TOTPDevice.objects.filter(user=actor, confirmed=True).exists()
    form = TotpConfirmForm(request.POST or None, replacing=replacing)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.totp_confirm(
                actor=actor,
                token=form.cleaned_data["token"],
                current_token=form.cleaned_data.get("current_token", ""),
                password=form.cleaned_data.get("password", ""),
                request=request,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            otp_login(request, device)  # this session has just shown a code
            messages.success(request, _("Two-factor authentication is on."))
            return redirect("web:account")
    if request.method == "POST":
        # a mistyped form keeps the QR code already scanned (no new secret)
        device = TOTPDevice.objects.filter(user=actor, confirmed=False).first()
    else:
        device = services.totp_begin(actor=actor)
    if device is None:
        return redirect("web:totp_enrol")
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "web/totp.html",
        {
            "form": form,
            "qr_data_uri": qr.svg_data_uri(scale=4),
            "secret_hex": device.key,
            "replacing": replacing,
        },
    )


def _operator_admin(actor: User) -> bool:
    """Whether ``actor`` administers accounts and organisations (an administrator of the
    operator): the pages offer those forms to them only."""
    return actor.has_role("admin") and actor.is_operator_staff


@login_required
def organisations(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    return render(
        request,
        "core/organisation_list.html",
        {
            "organisations": selectors.organisations_visible(actor),
            "can_create": _operator_admin(actor),
        },
    )


@login_required
def organisation_create(request: HttpRequest) -> HttpResponse:
    """A new client company (administrators of the operator; the operator is one, created at
    installation)."""
    actor = actor_of(request)
    if not _operator_admin(actor):
        raise Http404
    form = OrganisationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            org = services.organisation_create(
                actor=actor,
                name=d["name"],
                code=d["code"],
                kind=OrganisationKind.CLIENT,
                country=d["country"],
                address=d["address"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Organisation %(name)s created.") % {"name": org.name})
            return redirect("web:organisation", pk=org.pk)
    return render(request, "core/organisation_form.html", {"form": form})


@login_required
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        org = selectors.organisation_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    return render(
        request,
        "core/organisation_detail.html",
        {
            "org": org,
            "members": selectors.users_visible(actor).filter(organisation=org),
        },
    )


@login_required
def users(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    return render(
        request,
        "core/user_list.html",
        {
            "users": selectors.users_visible(actor),
            "can_admin": actor.has_role("admin"),
        },
    )


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not _operator_admin(actor):
        raise Http404
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            user = services.user_create(
                actor=actor,
                organisation=d["organisation"],
                username=d["username"],
                full_name=d["full_name"],
                email=d["email"],
                roles=d["roles"],
                password=d["password"],
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The account was created."))
            return redirect("web:user", pk=user.pk)
    return render(request, "core/user_form.html", {"form": form})


@login_required
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        user = selectors.user_get(actor, pk)
    except NotFound as exc:
        raise Http404 from exc
    is_admin = _operator_admin(actor)
    roles_form = RolesForm(initial={"roles": sorted(user.roles)})
    reset_form = ResetPasswordForm()
    reason_form = ReasonForm()
    if request.method == "POST":
        if not is_admin:
            raise Http404
        action = request.POST.get("action", "")
        try:
            if action == "roles":
                roles_form = RolesForm(request.POST)
                if roles_form.is_valid():
                    services.user_set_roles(
                        actor=actor,
                        user=user,
                        roles=roles_form.cleaned_data["roles"],
                        reason=roles_form.cleaned_data["reason"],
                    )
                    messages.success(request, _("Roles were changed."))
                    return redirect("web:user", pk=user.pk)
            elif action == "reset":
                reset_form = ResetPasswordForm(request.POST)
                if reset_form.is_valid():
                    services.user_reset_password(
                        actor=actor,
                        user=user,
                        new_password=reset_form.cleaned_data["new_password"],
                        reason=reset_form.cleaned_data["reason"],
                    )
                    messages.success(request, _("The password was reset."))
                    return redirect("web:user", pk=user.pk)
            elif action in ("deactivate", "unlock", "reactivate", "totp_reset"):
                reason_form = ReasonForm(request.POST)
                if reason_form.is_valid():
                    reason = reason_form.cleaned_data["reason"]
                    if action == "deactivate":
                        services.user_deactivate(actor=actor, user=user, reason=reason)
                        messages.success(request, _("The account was deactivated."))
                    elif action == "reactivate":
                        services.user_reactivate(actor=actor, user=user, reason=reason)
                        messages.success(request, _("The account was reactivated."))
                    elif action == "totp_reset":
                        services.totp_reset(actor=actor, user=user, reason=reason)
                        messages.success(request, _("Two-factor authentication was reset."))
                    else:
                        services.user_unlock(actor=actor, user=user, reason=reason)
                        messages.success(request, _("The account was unlocked."))
                    return redirect("web:user", pk=user.pk)
        except DomainError as exc:
            messages.error(request, exc.message)
    return render(
        request,
        "core/user_detail.html",
        {
            "subject": user,
            "is_admin": is_admin,
            "roles_form": roles_form,
            "reset_form": reset_form,
            "reason_form": reason_form,
            "totp_enrolled": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
            "is_self": user.pk == actor.pk,
        },
    )


@login_required
def sign(request: HttpRequest, record_type: str, record_id: str) -> HttpResponse:
    """Re-authenticate and sign a record (21 CFR 11.200(a))."""
    actor = actor_of(request)
    try:
        record = signing.record_for(actor, record_type, record_id)
    except NotFound as exc:
        raise Http404 from exc
    spec = signing.spec_of(record)
    meaning = request.POST.get("meaning") or request.GET.get("meaning") or spec.meanings[0]
    if meaning not in spec.meanings:
        raise Http404
    nxt = safe_next(request)
    digest = signing.record_digest(record)
    form = SignForm(request.POST or None, initial={"meaning": meaning, "expected_digest": digest})
    refusal = spec.can_sign(actor, record, meaning)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["expected_digest"] != digest:
            # the page this form came from showed another version of the record: show this
            # one before anyone signs (the service would refuse it too, after the password)
            messages.error(request, record_changed().message)
            return HttpResponseRedirect(request.get_full_path())
        try:
            record_sign(
                request=request,
                actor=actor,
                record=record,
                meaning=form.cleaned_data["meaning"],
                password=form.cleaned_data["password"],
                otp_token=form.cleaned_data["otp_token"],
                comment=form.cleaned_data["comment"],
                expected_digest=form.cleaned_data["expected_digest"],
            )
        except PermissionDenied as exc:
            messages.error(request, exc.message)
        except DomainError as exc:
            if exc.code == ErrorCode.RECORD_CHANGED:
                # show the record as it is now, with its new digest, before anyone signs it
                messages.error(request, exc.message)
                return HttpResponseRedirect(request.get_full_path())
            form_error(form, exc)
        else:
            messages.success(request, _("Signed."))
            return HttpResponseRedirect(nxt or getattr(record, "get_absolute_url", lambda: "/")())
        if not request.user.is_authenticated:  # that failure locked the account out
            return redirect("web:login")
    return render(
        request,
        "web/sign.html",
        {
            "record": record,
            "form": form,
            "meaning": meaning,
            "meaning_label": SignatureMeaning(meaning).label,
            "refusal": refusal,
            "signatures": signing.manifestations(record),
            "next": nxt,
            "needs_otp": TOTPDevice.objects.filter(user=actor, confirmed=True).exists(),
            "record_type": record_type,
            # what the signature binds, only to whom may sign it (a request's content holds
            # results its client does not see before release)
            "content": None if refusal else record.signature_content(),  # type: ignore[attr-defined]
            "digest": digest,
        },
    )


@login_required
def signature_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a signature with a reason (the signer or QA)."""
    actor = actor_of(request)
    sig = Signature.objects.filter(pk=pk).select_related("withdrawal").first()
    if sig is None:
        raise Http404
    try:
        record = signing.record_for(actor, sig.record_type, sig.record_id)
    except NotFound as exc:
        raise Http404 from exc
    nxt = safe_next(request)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            withdraw_signature(actor=actor, signature=sig, reason=form.cleaned_data["reason"])
        except PermissionDenied as exc:
            messages.error(request, exc.message)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The signature was withdrawn."))
            return HttpResponseRedirect(nxt or getattr(record, "get_absolute_url", lambda: "/")())
    return render(
        request,
        "web/withdraw.html",
        {
            "record": record,
            "signature": sig,
            "form": form,
            "next": nxt,
            "meaning_label": SignatureMeaning(sig.meaning).label,
            "frozen": signing.frozen_reason(record),
        },
    )


def sign_url(record: Any, meaning: str, next_url: str = "") -> str:
    base = reverse("web:sign", args=[record._meta.label_lower, record.pk])
    query = {"meaning": meaning}
    if next_url:
        query["next"] = next_url
    return f"{base}?{urlencode(query)}"


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the site's own page for a refused form, telling an expired form
    from missing cookies (Django's own view passes its template neither)."""
    from django.middleware.csrf import REASON_NO_CSRF_COOKIE

    return render(
        request,
        "403_csrf.html",
        {"no_cookie": reason == REASON_NO_CSRF_COOKIE, "origin_refused": "Origin" in reason},
        status=403,
    )
