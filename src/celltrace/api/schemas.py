"""Shared API schemas: RFC 9457 problem details and pagination."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, TypeVar

from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Field, StrictInt
from pydantic_core import PydanticCustomError

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

#: A number, as pydantic would read it as seconds since 1970 (Unix time) for a date or time: a
#: JSON number, or a query or form value of digits only.
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _not_a_number(value: Any) -> Any:
    """Refuse a number where a date or a time is expected: pydantic would read it as a Unix
    time (``12345`` is 1970-01-01T03:25:45Z). Python mode (how Ninja validates) keeps
    accepting ISO 8601 strings, which strict mode would refuse."""
    if isinstance(value, bool):
        return value  # pydantic refuses it as it is
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise PydanticCustomError(
            "date_time_number",
            _("Input should be an ISO 8601 date or time (text), not a number"),
        )
    return value


#: A date-time input with a UTC offset (ISO 8601 text): a naive time or a number is refused.
AwareDateTimeIn = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
#: A date-time input the service checks for a time zone itself (it refuses a naive one with a
#: message of its own): a number is refused here.
DateTimeIn = Annotated[dt.datetime, BeforeValidator(_not_a_number)]
#: A date input (ISO 8601 ``YYYY-MM-DD``): a number is refused.
DateIn = Annotated[dt.date, BeforeValidator(_not_a_number)]


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
