"""API schemas of the bank app."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ninja import Field, Schema
from pydantic import StrictBool, StrictInt, StrictStr

from celltrace.api.schemas import CountIn, DateIn, DateTimeIn, IdIn, StrictIn
from celltrace.bank.choices import (
    AliquotStatus,
    CollectionType,
    ContainerType,
    DistributionStatus,
    ProductType,
    ShippingCondition,
    Use,
)


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


# --- registration, processing, distributions ------------------------------------------------


class DonorIn(StrictIn):
    organisation_id: IdIn = Field(description="The depositing organisation.")
    reference: StrictStr = Field(min_length=1, max_length=40, description="Pseudonymous.")
    name: StrictStr = Field(default="", max_length=200, description="Stored encrypted.")
    national_id: StrictStr = Field(default="", max_length=40, description="Stored encrypted.")
    phone: StrictStr = Field(default="", max_length=40, description="Stored encrypted.")
    date_of_birth: DateIn | None = Field(default=None, description="Stored encrypted.")


class ConsentIn(StrictIn):
    version: StrictStr = Field(min_length=1, max_length=20)
    signed_on: DateIn
    storage: StrictBool = True
    clinical: StrictBool = False
    research: StrictBool = False


class ConsentOut(Schema):
    id: int
    donor_id: int
    version: str
    signed_on: dt.date
    storage: bool
    clinical: bool
    research: bool
    withdrawn_at: dt.datetime | None


class CollectionIn(StrictIn):
    collection_type: CollectionType
    collected_at: DateTimeIn = Field(description="With a time zone.")
    volume_ml: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    collection_site: StrictStr = Field(default="", max_length=200)
    sprec_code: StrictStr = Field(default="", max_length=17, description="e.g. CEL-ACD-A-M-N-N-C")
    din: StrictStr = Field(
        default="", max_length=13, description="Empty: allocated from the facility FIN."
    )


class CollectionOut(Schema):
    id: int
    organisation_id: int
    donor_id: int
    donor_reference: str
    din: str
    check_character: str
    collection_type: str
    collected_at: dt.datetime
    volume_ml: Decimal
    collection_site: str
    sprec_code: str
    sprec_version: str
    product_ids: list[int]


class ProcessIn(StrictIn):
    product_type: ProductType
    pdc: StrictStr = Field(min_length=5, max_length=5)
    isbt_collection_type: StrictStr = Field(min_length=1, max_length=1)
    count: StrictInt = Field(ge=1, le=26)
    container_type: ContainerType
    volume_ul: Decimal = Field(ge=0, max_digits=10, decimal_places=1)
    cell_count: CountIn | None = None
    viability_pct: Decimal | None = Field(default=None, ge=0, le=100, decimal_places=2)
    expiry: DateTimeIn | None = None
    processed_at: DateTimeIn | None = Field(default=None, description="Default: now.")
    place: StrictBool = Field(default=False, description="Place the aliquots at once.")
    unit_id: IdIn | None = Field(default=None, description="Where to place (any unit).")
    reason: StrictStr = Field(default="", max_length=1000)


class DivideIn(StrictIn):
    count: StrictInt = Field(ge=1, le=20, description="Child aliquots to make.")
    volume_ul: Decimal = Field(gt=0, max_digits=10, decimal_places=1, description="Each, µL.")
    container_type: ContainerType | None = Field(default=None, description="Default: the parent's.")
    cell_count: CountIn | None = Field(default=None, description="Cells in each.")


class ProcessOut(Schema):
    batch_id: int
    product_id: int
    ledger_seq: int
    placed: int
    aliquots: list[AliquotOut]


class DistributionIn(StrictIn):
    aliquot_ids: list[IdIn] = Field(min_length=1, max_length=500)
    recipient_organisation_id: IdIn | None = None
    recipient_name: StrictStr = Field(min_length=1, max_length=200)
    recipient_address: StrictStr = Field(default="", max_length=2000)
    intended_use: Use
    shipping_conditions: ShippingCondition
    shipping_notes: StrictStr = Field(default="", max_length=2000)
    reason: StrictStr = Field(default="", max_length=1000)


class DistributionOut(Schema):
    id: int
    number: str
    organisation_id: int
    recipient_organisation_id: int | None
    recipient_name: str
    recipient_address: str
    intended_use: str
    shipping_conditions: str
    shipping_notes: str
    status: DistributionStatus
    created_at: dt.datetime
    created_by: str
    released_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    aliquot_ids: list[int]
    signatures: list[str] = Field(description="Manifestations: name, meaning, time, status.")


class ReasonIn(StrictIn):
    reason: StrictStr = Field(min_length=1, max_length=1000)
