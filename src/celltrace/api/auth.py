"""API authentication: personal bearer tokens (stored hashed) or the browser session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from celltrace.core.choices import ErrorCode
from celltrace.core.errors import PermissionDenied
from celltrace.core.middleware import mfa_required, password_change_message
from celltrace.core.services import api_token_authenticate, user_tokens_stopped
from celltrace.web.decorators import from_another_site


class TokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(token)
        if user is None:
            return None
        if user.must_change_password:
            raise PermissionDenied(
                password_change_message(), code=ErrorCode.PASSWORD_CHANGE_REQUIRED
            )
        if user_tokens_stopped(user, request):
            raise PermissionDenied(
                _(
                    "The account is locked after repeated failed attempts; its tokens are refused "
                    "until an administrator unlocks it or the lockout ends."
                ),
                code=ErrorCode.ACCOUNT_LOCKED,
            )
        if mfa_required(user) and not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            # a token outlives the session that made it: for a role that requires a second
            # factor it works only once the user has enrolled one
            raise PermissionDenied(
                _("Your role requires two-factor authentication: enrol an authenticator first."),
                code=ErrorCode.MFA_REQUIRED,
            )
        request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The logged-in browser session; unsafe methods must carry the CSRF token."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        """The session cookie (under its configured name), after Django's CSRF check for
        unsafe methods: a session rides along with any cross-site request, a bearer token
        does not (:class:`TokenAuth` is tried first and needs no CSRF token)."""
        from django.conf import settings

        key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if key is None:
            return None
        if from_another_site(request):
            # another site's link or form: a session is for celltrace's own pages (the
            # browser's Fetch Metadata; some GETs record something, e.g. printing labels)
            raise PermissionDenied(
                _("A request another site started cannot use your celltrace session.")
            )
        if check_csrf(request) is not None:
            raise PermissionDenied(
                _(
                    "The CSRF check failed: a request made with the browser session must send "
                    "the X-CSRFToken header (or use an API token)."
                )
            )
        return key

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None
