"""Shared API schemas: RFC 9457 problem details and pagination."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from ninja import Schema
from pydantic import ConfigDict, Field

T = TypeVar("T")

#: Largest value a database integer column holds (64-bit signed): a larger identifier or offset
#: is refused as invalid input (422) instead of overflowing the database driver.
DB_INT_MAX = 2**63 - 1
#: An object identifier in a query string.
IdParam = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
#: Paging: how many rows to skip, and how many to return.
Offset = Annotated[int, Field(ge=0, le=DB_INT_MAX)]


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


#: Responses of a write: 400 is a body that is not JSON at all (Ninja's parser refuses it).
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
READ_ERRORS = {401: Problem, 403: Problem, 404: Problem, 422: Problem}
