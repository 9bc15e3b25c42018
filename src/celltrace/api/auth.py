"""API authentication: personal bearer tokens (stored hashed) or the browser session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from celltrace.core.services import api_token_authenticate


class TokenAuth(HttpBearer):
    openapi_scheme = "bearer"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(token)
        if user is None:
            return None
        request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The logged-in browser session; unsafe methods must carry the CSRF token."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        from django.conf import settings

        return request.COOKIES.get(settings.SESSION_COOKIE_NAME)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None
