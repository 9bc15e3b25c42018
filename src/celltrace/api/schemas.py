"""Shared API schemas: RFC 9457 problem details and pagination."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from ninja import Schema
from pydantic import ConfigDict, Field, StrictInt

T = TypeVar("T")

#: Largest value a database integer column holds (64-bit signed): a larger identifier or offset
#: is refused as invalid input (422, naming the parameter) instead of overflowing the database
#: driver (SQLite: OverflowError, or "datatype mismatch" for a LIMIT/OFFSET; PostgreSQL: "bigint
#: out of range").
DB_INT_MAX = 2**63 - 1
#: An object identifier (or another positive key, a version number) in a path or query string.
IdParam = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
#: An object identifier in a JSON body: a JSON integer (not a string or boolean) in range.
IdIn = Annotated[StrictInt, Field(ge=1, le=DB_INT_MAX)]
#: A count stored in a database integer column (cells, …): a JSON integer from 0.
CountIn = Annotated[StrictInt, Field(ge=0, le=DB_INT_MAX)]
#: Paging: how many rows to skip (the number to return is bounded by each operation).
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


class PageQuery(Schema):
    """Paging of a collection, as ``/aliquots``: ``count`` is the total, ``items`` at most
    ``limit`` of them from ``offset``."""

    limit: int = Field(100, ge=1, le=500)
    offset: Offset = 0


#: Responses of a write: 400 is a body that is not JSON at all (Ninja's parser refuses it).
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
READ_ERRORS = {401: Problem, 403: Problem, 404: Problem, 422: Problem}
