"""Domain errors. Services raise these; the web and API layers map them to responses.

Each error carries a machine-readable :class:`~celltrace.core.choices.ErrorCode`, a message for
people, and optionally the field it concerns, so that both a form and an RFC 9457 problem
document can name it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celltrace.core.choices import ErrorCode


class DomainError(Exception):
    status = 422
    default_code = ErrorCode.INVALID

    def __init__(
        self, message: str, *, field: str | None = None, code: ErrorCode | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code


class NotFound(DomainError):
    """Also what a foreign tenant's object answers: its existence must not leak."""

    status = 404
    default_code = ErrorCode.NOT_FOUND


class PermissionDenied(DomainError):
    status = 403
    default_code = ErrorCode.PERMISSION_DENIED


class Conflict(DomainError):
    status = 409
    default_code = ErrorCode.CONFLICT


class Invalid(DomainError):
    status = 422
    default_code = ErrorCode.INVALID


class AuthenticationFailed(DomainError):
    status = 403
    default_code = ErrorCode.AUTHENTICATION_FAILED


def permitted(check: Callable[..., object], *args: Any) -> bool:
    """Whether a service's role ``check`` (which raises :class:`PermissionDenied` to refuse)
    lets ``args`` through: pages offer an action only to whom its service accepts."""
    try:
        check(*args)
    except PermissionDenied:
        return False
    return True
