"""Security headers, the absolute session limit, the password change a temporary password
calls for, and request context for the ledger."""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from celltrace.audit import context
from celltrace.core.choices import ErrorCode

Handler = Callable[[HttpRequest], HttpResponse]
LOGIN_AT_KEY = "celltrace_login_at"


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class SessionLifetimeMiddleware:
    """End a session 12 hours after login, however active (docs/design/reliability.md §7).

    The 30-minute idle limit is ``SESSION_COOKIE_AGE`` with ``SESSION_SAVE_EVERY_REQUEST``.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            login_at = request.session.get(LOGIN_AT_KEY)
            now = time.time()
            if login_at is None:
                request.session[LOGIN_AT_KEY] = now
            elif now - float(login_at) > settings.SESSION_ABSOLUTE_LIMIT_SECONDS:
                logout(request)
                if request.path.startswith("/api/"):
                    from celltrace.api.errors import problem_response

                    return problem_response(
                        request,
                        401,
                        _("Your session ended after 12 hours; log in again or use an API token."),
                        ErrorCode.AUTHENTICATION_FAILED.value,
                    )
                return HttpResponseRedirect(f"{reverse('web:login')}?expired=1")
        return self.get_response(request)


class _OnlyThisPageUntil:
    """Sends a signed-in user to one page (``TARGET``) until ``holds_up(user)`` is over: pages
    redirect there (htmx gets ``HX-Redirect``, so the whole page changes, not a fragment), the
    API answers a 403 problem document (``problem()``); logging out, switching the language and
    the ``ALLOWED`` pages still work."""

    TARGET = ""
    ALLOWED: tuple[str, ...] = ()

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self._allowed: tuple[str, ...] | None = None

    def holds_up(self, user: Any) -> bool:
        raise NotImplementedError

    def problem(self) -> HttpResponse:
        raise NotImplementedError

    def target(self, user: Any) -> str:
        """The page ``user`` is sent to (``TARGET``)."""
        return self.TARGET

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and self.holds_up(user)
            and request.path not in self._allowed_paths()
        ):
            if request.path.startswith("/api/"):
                return self.problem()
            if request.headers.get("HX-Request"):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = reverse(self.target(user))
                return response
            return HttpResponseRedirect(reverse(self.target(user)))
        return self.get_response(request)

    def _allowed_paths(self) -> tuple[str, ...]:
        if self._allowed is None:
            names = (self.TARGET, *self.ALLOWED, "web:logout", "set_language")
            self._allowed = tuple(reverse(name) for name in names)
        return self._allowed


class PasswordChangeRequiredMiddleware(_OnlyThisPageUntil):
    """A user holding a temporary password (created or reset by an administrator, who knows
    it) changes it before anything else; the API answers 403 ``password_change_required``.
    (API tokens are refused the same way in :class:`celltrace.api.auth.TokenAuth`.)"""

    TARGET = "web:password_change"

    def holds_up(self, user: Any) -> bool:
        return bool(getattr(user, "must_change_password", False))

    def problem(self) -> HttpResponse:
        return password_change_problem()


class MfaRequiredMiddleware(_OnlyThisPageUntil):
    """Users holding a role listed in ``MFA_REQUIRED_ROLES`` (``CELLTRACE_MFA_ROLES``;
    administrators and QA in production) work only in a session verified with a one-time code:
    without an authenticator they are sent to enrol one first, with one to give its current
    code (the API answers 403 ``mfa_required``). Logging in with a code, giving one, or
    enrolling verifies the session. Their API tokens work only once they have enrolled
    (:class:`celltrace.api.auth.TokenAuth`)."""

    TARGET = "web:totp_enrol"
    ALLOWED = ("web:totp_verify", "web:password_change")

    def holds_up(self, user: Any) -> bool:
        return mfa_required(user) and not user.is_verified()

    def target(self, user: Any) -> str:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            return "web:totp_verify"
        return self.TARGET

    def problem(self) -> HttpResponse:
        return mfa_problem()


def mfa_required(user: Any) -> bool:
    """Whether ``user``'s roles require a second factor (``settings.MFA_REQUIRED_ROLES``)."""
    roles = getattr(settings, "MFA_REQUIRED_ROLES", ())
    return bool(roles) and bool(getattr(user, "has_role", None)) and user.has_role(*roles)


def mfa_problem() -> HttpResponse:
    """The API's refusal for a user whose role requires a second factor not yet given."""
    from celltrace.api.errors import problem_body

    message = _("Your role requires two-factor authentication: enrol an authenticator first.")
    body = problem_body(403, message, ErrorCode.MFA_REQUIRED.value)
    return HttpResponse(json.dumps(body), status=403, content_type="application/problem+json")


def password_change_problem() -> HttpResponse:
    """The API's refusal for a user who must change a temporary password first."""
    from celltrace.api.errors import problem_body

    body = problem_body(403, password_change_message(), ErrorCode.PASSWORD_CHANGE_REQUIRED.value)
    return HttpResponse(json.dumps(body), status=403, content_type="application/problem+json")


def password_change_message() -> str:
    return _("Change your temporary password on your account page first.")


class RequestContextMiddleware:
    """Give every request a correlation id and record the client address for ledger entries."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex
        client = client_ip(request)
        with context.bound(context.AuditContext(request_id=request_id, client_id=client)):
            response = self.get_response(request)
        response.headers["X-Request-ID"] = request_id
        return response


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``PROXY_COUNT`` reverse proxies
    (``CELLTRACE_PROXY_COUNT``) the address the outermost of them saw, which is the
    ``PROXY_COUNT``-th entry from the right of ``X-Forwarded-For`` (each proxy appends the
    address it was connected from; entries further left are the client's own claims). Used for
    the ledger's ``client_id`` and by django-axes (``AXES_CLIENT_IP_CALLABLE``)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    count = int(getattr(settings, "PROXY_COUNT", 0) or 0)
    if count <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        if part.strip()
    ]
    if len(forwarded) < count:
        return remote
    candidate = forwarded[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not an address (a proxy that appends "ip:port", a misconfiguration)
        return remote
