"""API schemas of the bank app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema
from pydantic import StrictStr

from celltrace.api.schemas import StrictIn
from celltrace.bank.choices import AliquotStatus, Use


class LocationOut(Schema):
    unit: str
    rack: str
    box: str
    box_id: int
    position: str
    position_id: int
    placed_at: dt.datetime


class AliquotOut(Schema):
    id: int
    organisation_id: int
    din: str
    check_character: str
    product_code: str = Field(description="PDC + collection type + division (8 characters).")
    pdc: str
    isbt_collection_type: str
    division: str
    barcode: str
    product_type: str
    donor_reference: str
    parent_id: int | None
    container_type: str
    volume_ul: Decimal
    cell_count: int | None
    viability_pct: Decimal | None
    expiry: dt.datetime | None
    thaw_count: int
    status: AliquotStatus
    stored: bool
    location: LocationOut | None = Field(
        description="Only for operator staff; client users see `stored` alone."
    )


class AliquotDetailOut(AliquotOut):
    children: list[int]


class AliquotStatusIn(StrictIn):
    status: AliquotStatus
    reason: StrictStr = Field(min_length=1, max_length=1000)
    use: Use | None = Field(default=None, description="Required when issuing.")


class DonorOut(Schema):
    id: int
    organisation_id: int
    reference: str
    name: str = Field(description="Masked.")
    national_id: str = Field(description="Masked.")
    phone: str = Field(description="Masked.")
    date_of_birth: str = Field(description="Masked (year only).")


class DonorRevealIn(StrictIn):
    reason: StrictStr = Field(min_length=1, max_length=1000)


class DonorRevealOut(Schema):
    id: int
    reference: str
    name: str
    national_id: str
    phone: str
    date_of_birth: str
