"""Demo data for the cell bank: a site with two LN2 tanks and a -80 °C freezer, racks, 9×9 and
10×10 boxes and a bag rack, donors with consents for ``aurora`` and the operator, and over
5,000 aliquots in a mix of statuses, most of them placed in boxes; then a distribution
released by QA's signature and one awaiting QA.

Written through the services: the hierarchy one service call per object, the inventory in two
bulk batches (one ledger entry each). Idempotent: each part is skipped when it exists.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db.models import Q
from django.test import RequestFactory

from celltrace.audit.choices import SignatureMeaning
from celltrace.audit.services import record_sign
from celltrace.bank import services
from celltrace.bank.choices import (
    AliquotStatus,
    CollectionType,
    ContainerType,
    ProductType,
    ShippingCondition,
    Use,
)
from celltrace.bank.models import Aliquot, BankBatch, Consent, Distribution
from celltrace.core.demo import DEMO_PASSWORD
from celltrace.core.models import Organisation, User
from celltrace.storage import services as storage
from celltrace.storage.choices import BoxKind, FillOrder, UnitKind
from celltrace.storage.models import Box, BoxType, Placement, Position, Site

SITE_CODE = "demo-site"
SOURCE = "demo data"
#: Placeholder product description codes (shape-valid; no ICCBBA tables ship with celltrace).
DEMO_PDC = {
    ProductType.PBMC: "S9001",
    ProductType.T_CELLS: "S9002",
    ProductType.NK_CELLS: "S9003",
    ProductType.MSC: "S9004",
}
#: (unit code, name, kind, set point, low, high, fill order, racks, boxes per rack, box type)
UNITS = [
    (
        "ln2-a",
        "LN2 tank A",
        UnitKind.LN2_VAPOUR,
        "-190",
        "-196",
        "-150",
        FillOrder.ROW_MAJOR,
        5,
        6,
        "10x10",
    ),
    (
        "ln2-b",
        "LN2 tank B",
        UnitKind.LN2_LIQUID,
        "-196",
        "-200",
        "-170",
        FillOrder.ROW_MAJOR,
        4,
        6,
        "9x9",
    ),
    (
        "f80-1",
        "-80 °C freezer 1",
        UnitKind.FREEZER_80,
        "-80",
        "-90",
        "-70",
        FillOrder.COLUMN_MAJOR,
        2,
        4,
        "9x9",
    ),
]
STATUS_WEIGHTS = [
    (AliquotStatus.AVAILABLE, 70),
    (AliquotStatus.QUARANTINE, 12),
    (AliquotStatus.RESERVED, 6),
    (AliquotStatus.ISSUED, 5),
    (AliquotStatus.THAWED, 4),
    (AliquotStatus.DISCARDED, 3),
]
#: (organisation code, donors, reference prefix)
DEPOSITORS = [("aurora", 150, "AUR"), ("demo-lab", 80, "OPS")]
SURNAMES = ["Zhang", "Wang", "Li", "Liu", "Chen", "Yang", "Huang", "Müller", "Schmidt", "Novak"]
GIVEN = ["Wei", "Fang", "Min", "Jing", "Lei", "Anna", "Jonas", "Lena", "Hao", "Yan"]


def _hierarchy(tech: User) -> None:
    site = storage.site_create(
        actor=tech, name="Demo bank, Shanghai", code=SITE_CODE, timezone="Asia/Shanghai"
    )
    types = {
        "9x9": BoxType.objects.filter(name="9x9 cryobox").first()
        or storage.box_type_create(actor=tech, name="9x9 cryobox", rows=9, columns=9),
        "10x10": BoxType.objects.filter(name="10x10 cryobox").first()
        or storage.box_type_create(actor=tech, name="10x10 cryobox", rows=10, columns=10),
        "bag": BoxType.objects.filter(name="Bag rack 8").first()
        or storage.box_type_create(
            actor=tech, name="Bag rack 8", rows=8, columns=1, kind=BoxKind.BAG_RACK
        ),
    }
    for code, name, kind, sp, lo, hi, order, racks, per_rack, box_type in UNITS:
        unit = storage.storage_unit_create(
            actor=tech,
            site=site,
            name=name,
            code=code,
            kind=kind,
            set_point_c=Decimal(sp),
            alarm_low_c=Decimal(lo),
            alarm_high_c=Decimal(hi),
            fill_order=order,
        )
        for r in range(1, racks + 1):
            rack = storage.rack_create(
                actor=tech, unit=unit, name=f"{'C' if code.startswith('ln2') else 'R'}{r}"
            )
            for b in range(1, per_rack + 1):
                storage.box_create(
                    actor=tech,
                    rack=rack,
                    box_type=types[box_type],
                    name=f"{rack.name}-B{b:02d}",
                    barcode=f"{code.upper()}-{rack.name}-B{b:02d}",
                )
            if code == "ln2-a" and r == 1:
                storage.box_create(
                    actor=tech,
                    rack=rack,
                    box_type=types["bag"],
                    name=f"{rack.name}-BAGS",
                    barcode=f"{code.upper()}-{rack.name}-BAGS",
                )


def _free_positions() -> list[int]:
    """Free vial positions for the demo's aliquots, leaving the last box of every rack empty
    (room for the aliquots a demo user processes and places)."""
    taken = Placement.objects.filter(removed_at__isnull=True).values("position_id")
    last_boxes: dict[int, tuple[str, int]] = {}
    for pk, rack_id, name in Box.objects.filter(
        rack__unit__site__code=SITE_CODE, box_type__kind="vial_box"
    ).values_list("pk", "rack_id", "name"):
        if rack_id not in last_boxes or name > last_boxes[rack_id][0]:
            last_boxes[rack_id] = (name, pk)
    spare = [pk for _name, pk in last_boxes.values()]
    rows = (
        Position.objects.filter(
            box__rack__unit__site__code=SITE_CODE, box__box_type__kind="vial_box"
        )
        .exclude(pk__in=taken)
        .exclude(box_id__in=spare)
        .order_by("box__rack__unit__code", "box__rack__name", "box__name", "row", "col")
        .values_list("pk", flat=True)
    )
    return list(rows)


def _batch(
    org: Organisation, donors: int, prefix: str, rng: random.Random, free: list[int]
) -> services.BankBatchInput:
    data = services.BankBatchInput(organisation=org, source=SOURCE)
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    products = list(DEMO_PDC)
    pos_iter = iter(free)
    for d in range(1, donors + 1):
        ref = f"{prefix}-{d:05d}"
        data.donors.append(
            services.DonorRow(
                reference=ref,
                name=f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
                national_id=f"{rng.randrange(10**17, 10**18)}",
                phone=f"+86 1{rng.randrange(10**9, 10**10)}",
                date_of_birth=dt.date(
                    rng.randrange(1950, 2005), rng.randrange(1, 13), 1 + rng.randrange(28)
                ),
            )
        )
        data.consents.append(
            services.ConsentRow(
                donor_reference=ref,
                version=rng.choice(["2.0", "2.1"]),
                signed_on=dt.date(2025, 1 + rng.randrange(12), 1 + rng.randrange(28)),
                storage=True,
                clinical=rng.random() < 0.85,
                research=rng.random() < 0.6,
            )
        )
        for c in range(rng.choice([1, 2, 2, 3])):
            key = f"{ref}/{c}"
            collected = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
                days=rng.randrange(400), minutes=rng.randrange(600)
            )
            kind = rng.choice(
                [CollectionType.APHERESIS] * 3
                + [CollectionType.PERIPHERAL_BLOOD, CollectionType.CORD_BLOOD]
            )
            data.collections.append(
                services.CollectionRow(
                    key=key,
                    donor_reference=ref,
                    collection_type=kind,
                    collected_at=collected,
                    volume_ml=Decimal(rng.randrange(50, 300)),
                    collection_site="Shanghai collection centre",
                    sprec_code="CEL-ACD-A-M-N-N-C"
                    if kind != CollectionType.CORD_BLOOD
                    else "CEL-PED-B-M-N-N-E",
                )
            )
            for p, ptype in enumerate(rng.sample(products, rng.choice([1, 1, 2]))):
                pkey = f"{key}/{p}"
                data.products.append(
                    services.ProductRow(pkey, key, ptype, DEMO_PDC[ptype], "1", collected)
                )
                for k in range(rng.randrange(6, 16)):
                    status = rng.choices(statuses, weights)[0]
                    position = None
                    if status not in (
                        AliquotStatus.ISSUED,
                        AliquotStatus.THAWED,
                        AliquotStatus.DISCARDED,
                    ):
                        position = next(pos_iter, None)
                    data.aliquots.append(
                        services.AliquotRow(
                            product_key=pkey,
                            division=services.FIRST_LEVEL_DIVISIONS[k],
                            container_type=ContainerType.CRYOVIAL_1_8,
                            volume_ul=Decimal(rng.choice([1000, 1500, 1800])),
                            cell_count=rng.randrange(5, 50) * 1_000_000,
                            viability_pct=Decimal(rng.randrange(8500, 9900)) / 100,
                            expiry=collected + dt.timedelta(days=3650),
                            status=status,
                            position_id=position,
                        )
                    )
    return data


def load(progress: bool = False) -> None:
    tech = User.objects.get(username="tech")
    if not Site.objects.filter(code=SITE_CODE).exists():
        _hierarchy(tech)
    rng = random.Random(20260101)  # noqa: S311 - demo data, not security
    for org_code, donors, prefix in DEPOSITORS:
        org = Organisation.objects.get(code=org_code)
        if BankBatch.objects.filter(Q(organisation=org) & Q(source=SOURCE)).exists():
            continue
        data = _batch(org, donors, prefix, rng, _free_positions())
        result = services.bank_batch_create(actor=tech, data=data, reason="demo data")
        if progress:
            print(f"  {org.name}: {result.counts}", flush=True)
    _distributions(tech, progress)
    _genealogy(tech)


def _genealogy(tech: User) -> None:
    """Two of aurora's stored aliquots divided into two children each (the genealogy)."""
    if Aliquot.objects.filter(parent__isnull=False).exists():
        return
    parents = Aliquot.objects.filter(
        organisation__code="aurora",
        status=AliquotStatus.AVAILABLE,
        volume_ul__gte=Decimal("600"),
        placements__removed_at__isnull=True,
    ).order_by("pk")[:2]
    for parent in parents:
        services.aliquot_divide(actor=tech, parent=parent, count=2, volume_ul=Decimal("250.0"))


DEMO_RECIPIENTS = ("Aurora clinical site Pudong", "Aurora research laboratory")


def _distributable(org: Organisation, use: str, count: int, skip: set[int]) -> list[Aliquot]:
    """Stored, available aliquots of ``org`` whose donors' consent covers ``use``."""
    flag = "scope_clinical" if use == Use.CLINICAL else "scope_research"
    donors = Consent.objects.filter(
        organisation=org, withdrawn_at__isnull=True, **{flag: True}
    ).values("donor_id")
    return list(
        Aliquot.objects.select_related("product__collection__donor")
        .filter(
            organisation=org,
            status=AliquotStatus.AVAILABLE,
            product__collection__donor__in=donors,
            placements__removed_at__isnull=True,
        )
        .exclude(pk__in=skip)
        .order_by("pk")[:count]
    )


def _distributions(tech: User, progress: bool) -> None:
    """A distribution released with QA's signature (aliquots issued, out of storage) and one
    awaiting QA, both of aurora's material."""
    org = Organisation.objects.get(code="aurora")
    qa = User.objects.filter(username="qa").first()
    if qa is None or Distribution.objects.filter(recipient_name__in=DEMO_RECIPIENTS).exists():
        return
    released = services.distribution_create(
        actor=tech,
        aliquots=_distributable(org, Use.CLINICAL, 3, set()),
        recipient_organisation=org,
        recipient_name=DEMO_RECIPIENTS[0],
        recipient_address="88 Zhangjiang Road, Pudong, Shanghai",
        intended_use=Use.CLINICAL,
        shipping_conditions=ShippingCondition.LN2_DRY_SHIPPER,
        shipping_notes="Dry shipper DS-07, data logger 4411.",
    )
    request = RequestFactory().post("/sign/")
    request.user = qa
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    record_sign(
        request=request,
        actor=qa,
        record=released,
        meaning=SignatureMeaning.RELEASED,
        password=DEMO_PASSWORD,
    )
    taken = set(released.items.values_list("aliquot_id", flat=True))
    services.distribution_create(
        actor=tech,
        aliquots=_distributable(org, Use.RESEARCH, 2, taken),
        recipient_organisation=org,
        recipient_name=DEMO_RECIPIENTS[1],
        intended_use=Use.RESEARCH,
        shipping_conditions=ShippingCondition.DRY_ICE,
    )
    if progress:
        print("  distributions: one released, one awaiting QA", flush=True)
