"""Shared API schemas: RFC 9457 problem details and pagination."""

from __future__ import annotations

from typing import Generic, TypeVar

from ninja import Schema
from pydantic import ConfigDict

T = TypeVar("T")


class StrictIn(Schema):
    """Base for input schemas: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class FieldProblem(Schema):
    loc: list[str | int]
    msg: str
    type: str


class Problem(Schema):
    """RFC 9457 problem details, with a machine-readable ``code`` and the ``field`` concerned."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    errors: list[FieldProblem] = []


class Page(Schema, Generic[T]):
    count: int
    items: list[T]


ERRORS = {401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
READ_ERRORS = {401: Problem, 403: Problem, 404: Problem, 422: Problem}
