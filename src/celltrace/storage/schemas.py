"""API schemas of the storage app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema
from pydantic import StrictInt, StrictStr

from celltrace.api.schemas import IdIn, StrictIn
from celltrace.storage.choices import BoxKind, FillOrder, UnitKind


class PlaceIn(StrictIn):
    box_id: IdIn
    position: StrictStr = Field(min_length=2, max_length=4, description="Label, e.g. A3.")
    reason: StrictStr = Field(default="", max_length=1000)


class MoveIn(StrictIn):
    box_id: IdIn
    position: StrictStr = Field(min_length=2, max_length=4)
    reason: StrictStr = Field(min_length=1, max_length=1000)


class ReasonIn(StrictIn):
    reason: StrictStr = Field(min_length=1, max_length=1000)


class PlacementOut(Schema):
    aliquot_id: int
    unit: str
    rack: str
    box: str
    box_id: int
    position: str
    position_id: int
    placed_at: dt.datetime
    removed_at: dt.datetime | None


class OccupancyOut(Schema):
    id: int
    name: str
    capacity: int
    occupied: int


class UnitOut(OccupancyOut):
    code: str
    site: str
    kind: str
    set_point_c: Decimal
    alarm_low_c: Decimal
    alarm_high_c: Decimal
    fill_order: str


class BoxOut(OccupancyOut):
    barcode: str
    rack_id: int
    box_type: str
    rows: int
    columns: int


class CellOut(Schema):
    position: str
    position_id: int
    row: int
    col: int
    aliquot_id: int | None
    status: str | None
    din: str | None
    product_code: str | None
    occupant: str | None = Field(
        None,
        description="What else holds the position, as a stable code ('qc_sample'); null if nothing",
    )
    occupant_name: str | None = Field(
        None, description="The occupant's kind in the caller's language (e.g. 'QC sample')"
    )
    occupant_label: str | None = Field(
        None, description="The item's number (e.g. QS-000123), if the caller may see it"
    )


class BoxMapOut(Schema):
    box: BoxOut
    cells: list[CellOut]


class AllocateIn(StrictIn):
    count: StrictInt = Field(ge=1, le=10_000)
    unit_id: IdIn | None = None


class PositionOut(Schema):
    position_id: int
    position: str
    box_id: int
    box: str


class BoxMoveIn(StrictIn):
    rack_id: IdIn
    reason: StrictStr = Field(min_length=1, max_length=1000)


# --- building the hierarchy, moving racks -------------------------------------------------


class SiteIn(StrictIn):
    name: StrictStr = Field(min_length=1, max_length=200)
    code: StrictStr = Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
    timezone: StrictStr = Field(default="UTC", max_length=64)


class SiteOut(Schema):
    id: int
    name: str
    code: str
    timezone: str


class UnitIn(StrictIn):
    site_id: IdIn
    name: StrictStr = Field(min_length=1, max_length=200)
    code: StrictStr = Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")
    kind: UnitKind
    set_point_c: Decimal = Field(max_digits=6, decimal_places=1)
    alarm_low_c: Decimal = Field(max_digits=6, decimal_places=1)
    alarm_high_c: Decimal = Field(max_digits=6, decimal_places=1)
    fill_order: FillOrder = FillOrder.ROW_MAJOR


class RackIn(StrictIn):
    name: StrictStr = Field(min_length=1, max_length=100)


class RackOut(Schema):
    id: int
    name: str
    unit_id: int


class BoxTypeIn(StrictIn):
    name: StrictStr = Field(min_length=1, max_length=100)
    kind: BoxKind = BoxKind.VIAL_BOX
    rows: StrictInt = Field(ge=1, le=26)
    columns: StrictInt = Field(ge=1, le=50)


class BoxTypeOut(Schema):
    id: int
    name: str
    kind: str
    rows: int
    columns: int


class BoxIn(StrictIn):
    box_type_id: IdIn
    name: StrictStr = Field(min_length=1, max_length=100)
    barcode: StrictStr = Field(default="", max_length=40, description="Empty: generated.")


class RackMoveIn(StrictIn):
    unit_id: IdIn
    reason: StrictStr = Field(min_length=1, max_length=1000)
