"""Request context for ledger entries: correlation id and client address, per request/task."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditContext:
    request_id: str = ""
    client_id: str = ""


_current: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "celltrace_audit_context",
    default=AuditContext(),  # noqa: B039 - a frozen dataclass, not mutable
)


def current() -> AuditContext:
    return _current.get()


@contextmanager
def bound(ctx: AuditContext) -> Iterator[None]:
    token = _current.set(ctx)
    try:
        yield
    finally:
        _current.reset(token)
