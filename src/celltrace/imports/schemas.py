"""API schemas of the inventory import."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from celltrace.api.schemas import IdParam, StrictIn


class ImportCreateIn(StrictIn):
    organisation_id: IdParam
    reason: str = Field(min_length=1, max_length=2000)
    dry_run: bool = False


class ProblemOut(Schema):
    row: int | None
    column: str
    value: str
    rule: str


class ImportRunOut(Schema):
    id: int
    organisation_id: int
    created_at: dt.datetime
    created_by_id: int
    file_name: str
    file_format: str
    file_size: int
    file_sha256: str
    reason: str
    dry_run: bool
    status: str
    phase: str
    done: int
    total: int
    rows_read: int
    rows_written: int
    error_count: int
    errors: list[ProblemOut]
    counts: dict[str, Any]
    batch_id: int | None
    ledger_seq: int | None
    finished_at: dt.datetime | None
