"""Builders for bank and storage tests. Everything is written through the real services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from celltrace.bank import services as bank
from celltrace.bank.choices import AliquotStatus, CollectionType, ContainerType, ProductType
from celltrace.bank.models import Aliquot, Donor
from celltrace.core.models import Organisation, User
from celltrace.storage import services as storage
from celltrace.storage.choices import UnitKind
from celltrace.storage.models import Box, Rack, StorageUnit

COLLECTED = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)
PDC = "S9001"  # a shape-valid placeholder product description code (no ICCBBA tables ship)


def hierarchy(
    actor: User, *, boxes: int = 2, rows: int = 9, columns: int = 9, code: str = "t1"
) -> dict[str, Any]:
    """A site with one LN2 tank, one rack and ``boxes`` boxes of ``rows`` × ``columns``."""
    from celltrace.storage.models import BoxType, Site

    site = Site.objects.filter(code="main").first() or storage.site_create(
        actor=actor, name="Main site", code="main"
    )
    unit = storage.storage_unit_create(
        actor=actor,
        site=site,
        name=f"Tank {code}",
        code=code,
        kind=UnitKind.LN2_VAPOUR,
        set_point_c=Decimal("-190"),
        alarm_low_c=Decimal("-196"),
        alarm_high_c=Decimal("-150"),
    )
    rack = storage.rack_create(actor=actor, unit=unit, name="R1")
    box_type = BoxType.objects.filter(rows=rows, columns=columns).first() or (
        storage.box_type_create(actor=actor, name=f"{rows}x{columns}", rows=rows, columns=columns)
    )
    made = [
        storage.box_create(
            actor=actor,
            rack=rack,
            box_type=box_type,
            name=f"B{i + 1}",
            barcode=f"{code.upper()}-B{i + 1}",
        )
        for i in range(boxes)
    ]
    return {"site": site, "unit": unit, "rack": rack, "box_type": box_type, "boxes": made}


def second_rack(actor: User, unit: StorageUnit, name: str = "R2") -> Rack:
    return storage.rack_create(actor=actor, unit=unit, name=name)


def donor(
    actor: User,
    org: Organisation,
    reference: str = "D-0001",
    *,
    clinical: bool = True,
    research: bool = True,
) -> Donor:
    d = bank.donor_create(
        actor=actor,
        organisation=org,
        reference=reference,
        name="Zhang Wei",
        national_id="110101199003071234",
        phone="+86 138 0013 8000",
        date_of_birth=dt.date(1990, 3, 7),
    )
    bank.consent_record(
        actor=actor,
        donor=d,
        version="2.1",
        signed_on=dt.date(2026, 1, 2),
        storage=True,
        clinical=clinical,
        research=research,
    )
    return d


def aliquots(
    actor: User,
    org: Organisation,
    count: int,
    *,
    reference: str = "D-0001",
    status: str = AliquotStatus.AVAILABLE,
    existing_donor: bool = False,
    positions: list[Any] | None = None,
) -> list[Aliquot]:
    """``count`` aliquots through the bulk service (25 per collection), not placed."""
    per = 25
    n_coll = (count + per - 1) // per
    data = bank.BankBatchInput(organisation=org, source="tests")
    if not existing_donor:
        data.donors.append(bank.DonorRow(reference=reference, name="Li Na"))
        data.consents.append(
            bank.ConsentRow(reference, "1.0", dt.date(2026, 1, 1), True, True, True)
        )
    for c in range(n_coll):
        data.collections.append(
            bank.CollectionRow(
                key=f"c{c}",
                donor_reference=reference,
                collection_type=CollectionType.APHERESIS,
                collected_at=COLLECTED,
                volume_ml=Decimal("150.00"),
                sprec_code="CEL-ACD-A-M-N-N-C",
            )
        )
        data.products.append(bank.ProductRow(f"p{c}", f"c{c}", ProductType.PBMC, PDC, "1"))
    for i in range(count):
        c, k = divmod(i, per)
        data.aliquots.append(
            bank.AliquotRow(
                product_key=f"p{c}",
                division=bank.FIRST_LEVEL_DIVISIONS[k],
                container_type=ContainerType.CRYOVIAL_1_8,
                volume_ul=Decimal("1000.0"),
                cell_count=10_000_000,
                viability_pct=Decimal("92.50"),
                status=status,
                position_id=positions[i].pk if positions and i < len(positions) else None,
            )
        )
    result = bank.bank_batch_create(actor=actor, data=data, reason="test set-up")
    return list(Aliquot.objects.filter(batch=result.batch).order_by("pk"))


def positions_of(box: Box) -> list[Any]:
    return list(box.positions.order_by("row", "col"))
