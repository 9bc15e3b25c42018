"""Storage services: placing, moving, retrieving, allocating; refusals leave no trace."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.bank.choices import AliquotStatus
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.storage import selectors, services
from celltrace.storage.choices import EventType, FillOrder, UnitKind
from celltrace.storage.models import Box, Placement, Position
from tests.bank import factories

pytestmark = pytest.mark.django_db


def pos(box: Box, label: str) -> Position:
    return Position.objects.get(box=box, label=label)


def snapshot() -> tuple[int, int, int]:
    return (
        Placement.objects.count(),
        Placement.objects.filter(removed_at__isnull=True).count(),
        AuditEvent.objects.count(),
    )


def test_box_positions_are_generated_from_the_box_type(store: dict[str, Any]) -> None:
    box = store["boxes"][0]
    labels = list(box.positions.order_by("row", "col").values_list("label", flat=True))
    assert len(labels) == 81
    assert labels[:3] == ["A1", "A2", "A3"] and labels[-1] == "I9"
    with pytest.raises(IntegrityError), transaction.atomic():
        Position.objects.create(box=box, row=1, col=1, label="Z1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Position.objects.create(box=box, row=0, col=12, label="Z12")


def test_place_writes_the_placement_and_one_ledger_entry(
    tech: Any, store: dict[str, Any], stock: list[Any]
) -> None:
    box = store["boxes"][0]
    before = AuditEvent.objects.count()
    placement = services.aliquot_place(
        actor=tech, aliquot=stock[0], box=box, position=pos(box, "A3"), reason=""
    )
    assert placement.removed_at is None and placement.position.label == "A3"
    assert placement.organisation_id == stock[0].organisation_id
    assert AuditEvent.objects.count() == before + 1
    entry = AuditEvent.objects.order_by("-seq").first()
    assert entry is not None
    assert entry.data["event_type"] == EventType.ALIQUOT_PLACED
    assert entry.data["entity_type"] == "bank.aliquot"
    assert entry.data["new"]["location"]["position"] == "A3"
    assert verify_database().ok


def test_occupied_position_is_refused_cleanly_and_nothing_changes(
    tech: Any, store: dict[str, Any], stock: list[Any]
) -> None:
    box = store["boxes"][0]
    services.aliquot_place(actor=tech, aliquot=stock[0], box=box, position=pos(box, "A3"))
    before = snapshot()
    with pytest.raises(Conflict, match="A3 is already occupied"):
        services.aliquot_place(actor=tech, aliquot=stock[1], box=box, position=pos(box, "A3"))
    with pytest.raises(Conflict, match="already stored at t1 / R1 / B1 / A3"):
        services.aliquot_place(actor=tech, aliquot=stock[0], box=box, position=pos(box, "A4"))
    assert snapshot() == before


def test_position_of_another_box_is_invalid(
    tech: Any, store: dict[str, Any], stock: list[Any]
) -> None:
    b1, b2 = store["boxes"]
    before = snapshot()
    with pytest.raises(Invalid, match="not in box B1"):
        services.aliquot_place(actor=tech, aliquot=stock[0], box=b1, position=pos(b2, "A1"))
    assert snapshot() == before


def test_only_bank_roles_of_the_operator_change_storage(
    operator: Any, client_a: Any, make_user: Any, store: dict[str, Any], stock: list[Any]
) -> None:
    box = store["boxes"][0]
    analyst = make_user(operator, "qc_analyst")
    client_user = make_user(client_a, "client_user")
    before = snapshot()
    for who in (analyst, client_user):
        with pytest.raises(PermissionDenied):
            services.aliquot_place(actor=who, aliquot=stock[0], box=box, position=pos(box, "A1"))
        with pytest.raises(PermissionDenied):
            services.allocate_positions(actor=who, count=1)
    assert snapshot() == before


def test_issued_aliquot_cannot_be_placed(tech: Any, client_a: Any, store: dict[str, Any]) -> None:
    issued = factories.aliquots(tech, client_a, 1, reference="D-9", status=AliquotStatus.ISSUED)[0]
    box = store["boxes"][0]
    before = snapshot()
    with pytest.raises(Conflict, match="cannot be stored"):
        services.aliquot_place(actor=tech, aliquot=issued, box=box, position=pos(box, "A1"))
    assert snapshot() == before


def test_constraints_hold_without_the_service(
    tech: Any, store: dict[str, Any], stock: list[Any]
) -> None:
    box = store["boxes"][0]
    services.aliquot_place(actor=tech, aliquot=stock[0], box=box, position=pos(box, "A1"))
    first = Placement.objects.get()
    for aliquot, label in ((stock[1], "A1"), (stock[0], "A2")):
        with pytest.raises(IntegrityError), transaction.atomic():
            Placement.objects.create(
                organisation_id=aliquot.organisation_id,
                aliquot=aliquot,
                position=pos(box, label),
                placed_at=first.placed_at,
            )


def test_move_closes_the_old_placement_and_records_both_locations(
    tech: Any, store: dict[str, Any], stock: list[Any]
) -> None:
    b1, b2 = store["boxes"]
    services.aliquot_place(actor=tech, aliquot=stock[0], box=b1, position=pos(b1, "A1"))
    moved = services.aliquot_move(
        actor=tech, aliquot=stock[0], box=b2, position=pos(b2, "C5"), reason="consolidation"
    )
    assert moved.position.box_id == b2.pk
    rows = list(Placement.objects.filter(aliquot=stock[0]).order_by("pk"))
    assert len(rows) == 2 and rows[0].removed_at is not None and rows[1].removed_at is None
    entry = AuditEvent.objects.where(event_type=EventType.ALIQUOT_MOVED).get()
    assert entry.data["old"]["location"]["box"] == "B1"
    assert entry.data["new"]["location"]["position"] == "C5"
    assert entry.data["reason"] == "consolidation"


def test_move_refusals_change_nothing(tech: Any, store: dict[str, Any], stock: list[Any]) -> None:
    b1, b2 = store["boxes"]
    services.aliquot_place(actor=tech, aliquot=stock[0], box=b1, position=pos(b1, "A1"))
    services.aliquot_place(actor=tech, aliquot=stock[1], box=b2, position=pos(b2, "A1"))
    before = snapshot()
    with pytest.raises(Invalid):
        services.aliquot_move(
            actor=tech, aliquot=stock[0], box=b2, position=pos(b2, "A2"), reason=" "
        )
    with pytest.raises(Conflict, match="A1 is already occupied"):
        services.aliquot_move(
            actor=tech, aliquot=stock[0], box=b2, position=pos(b2, "A1"), reason="x"
        )
    with pytest.raises(Conflict, match="not in storage"):
        services.aliquot_move(
            actor=tech, aliquot=stock[2], box=b2, position=pos(b2, "A2"), reason="x"
        )
    assert snapshot() == before


def test_retrieve_and_return(tech: Any, store: dict[str, Any], stock: list[Any]) -> None:
    box = store["boxes"][0]
    with pytest.raises(Conflict, match="never retrieved"):
        services.aliquot_return(
            actor=tech, aliquot=stock[0], box=box, position=pos(box, "A1"), reason="x"
        )
    services.aliquot_place(actor=tech, aliquot=stock[0], box=box, position=pos(box, "A1"))
    ended = services.aliquot_retrieve(actor=tech, aliquot=stock[0], reason="to the lab")
    assert ended.removed_at is not None
    assert not Placement.objects.filter(aliquot=stock[0], removed_at__isnull=True).exists()
    with pytest.raises(Conflict, match="not in storage"):
        services.aliquot_retrieve(actor=tech, aliquot=stock[0], reason="again")
    back = services.aliquot_return(
        actor=tech, aliquot=stock[0], box=box, position=pos(box, "A1"), reason="back"
    )
    assert back.removed_at is None
    kinds = list(
        AuditEvent.objects.where(entity_type="bank.aliquot", entity_id=str(stock[0].pk))
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    events = [AuditEvent.objects.get(seq=s).data["event_type"] for s in kinds]
    assert events == [
        EventType.ALIQUOT_PLACED,
        EventType.ALIQUOT_RETRIEVED,
        EventType.ALIQUOT_RETURNED,
    ]


def test_box_move_to_another_rack(tech: Any, store: dict[str, Any], stock: list[Any]) -> None:
    b1, b2 = store["boxes"]
    services.aliquot_place(actor=tech, aliquot=stock[0], box=b1, position=pos(b1, "A1"))
    r2 = factories.second_rack(tech, store["unit"])
    moved = services.box_move(actor=tech, box=b1, rack=r2, reason="rack replaced")
    assert Box.objects.get(pk=b1.pk).rack_id == r2.pk == moved.rack_id
    assert Placement.objects.filter(position__box__rack=r2, removed_at__isnull=True).count() == 1
    before = snapshot()
    with pytest.raises(Invalid, match="already in this rack"):
        services.box_move(actor=tech, box=b1, rack=r2, reason="again")
    b2.refresh_from_db()
    services.box_create(
        actor=tech, rack=r2, box_type=store["box_type"], name="B2", barcode="OTHER-B2"
    )
    before = snapshot()
    with pytest.raises(Conflict, match="already holds a box named B2"):
        services.box_move(actor=tech, box=b2, rack=r2, reason="x")
    assert snapshot() == before


def test_allocation_keeps_aliquots_together_in_fill_order(
    tech: Any, store: dict[str, Any], stock: list[Any]
) -> None:
    b1, b2 = store["boxes"]
    # fill B1 until only 3 positions are left
    first = list(b1.positions.order_by("row", "col"))[:78]
    factories.aliquots(tech, stock[0].organisation, 78, reference="F-1", positions=first)
    together = services.allocate_positions(actor=tech, count=5, unit=store["unit"])
    assert {p.box_id for p in together} == {b2.pk}
    assert [p.label for p in together] == ["A1", "A2", "A3", "A4", "A5"]
    small = services.allocate_positions(actor=tech, count=2)
    assert [p.label for p in small] == ["I7", "I8"] and small[0].box_id == b1.pk


def test_allocation_follows_column_major_and_spills_over(tech: Any, store: dict[str, Any]) -> None:
    unit = services.storage_unit_create(
        actor=tech,
        site=store["site"],
        name="Freezer",
        code="f1",
        kind=UnitKind.FREEZER_80,
        set_point_c=Decimal("-80"),
        alarm_low_c=Decimal("-90"),
        alarm_high_c=Decimal("-70"),
        fill_order=FillOrder.COLUMN_MAJOR,
    )
    rack = services.rack_create(actor=tech, unit=unit, name="R1")
    small = services.box_type_create(actor=tech, name="2x2", rows=2, columns=2)
    services.box_create(actor=tech, rack=rack, box_type=small, name="S1")
    services.box_create(actor=tech, rack=rack, box_type=small, name="S2")
    got = services.allocate_positions(actor=tech, count=3, unit=unit)
    assert [p.label for p in got] == ["A1", "B1", "A2"]
    spill = services.allocate_positions(actor=tech, count=6, unit=unit)
    assert [(p.box.name, p.label) for p in spill] == [
        ("S1", "A1"),
        ("S1", "B1"),
        ("S1", "A2"),
        ("S1", "B2"),
        ("S2", "A1"),
        ("S2", "B1"),
    ]
    with pytest.raises(Conflict, match="Only 8 free positions"):
        services.allocate_positions(actor=tech, count=9, unit=unit)


def test_unit_alarm_limits_are_checked(tech: Any, store: dict[str, Any]) -> None:
    with pytest.raises(Invalid, match="between the low and high alarm"):
        services.storage_unit_create(
            actor=tech,
            site=store["site"],
            name="Bad",
            code="bad",
            kind=UnitKind.LN2_LIQUID,
            set_point_c=Decimal("-100"),
            alarm_low_c=Decimal("-196"),
            alarm_high_c=Decimal("-150"),
        )


def test_occupancy_is_one_query_per_level(
    tech: Any,
    store: dict[str, Any],
    stock: list[Any],
    django_assert_num_queries: Any,
) -> None:
    b1, b2 = store["boxes"]
    for a, (box, label) in zip(stock[:3], [(b1, "A1"), (b1, "A2"), (b2, "A1")], strict=True):
        services.aliquot_place(actor=tech, aliquot=a, box=box, position=pos(box, label))
    services.aliquot_retrieve(actor=tech, aliquot=stock[2], reason="out")
    tech.roles  # noqa: B018 - roles are cached on the user; not part of the count
    with django_assert_num_queries(1):
        units = list(selectors.units_with_occupancy(tech))
    assert [(u.code, u.capacity, u.occupied) for u in units] == [("t1", 162, 2)]
    with django_assert_num_queries(1):
        racks = list(selectors.racks_with_occupancy(tech, store["unit"]))
    assert [(r.capacity, r.occupied) for r in racks] == [(162, 2)]
    with django_assert_num_queries(1):
        boxes = list(selectors.boxes_with_occupancy(tech, store["rack"]))
    assert [(b.name, b.capacity, b.occupied) for b in boxes] == [("B1", 81, 2), ("B2", 81, 0)]


def test_a_vial_goes_into_a_vial_box_and_is_never_proposed_a_bag_rack(
    tech: Any, store: dict[str, Any], client_a: Any
) -> None:
    """A cryovial cannot sit in a bag rack's slot: placing or moving it there is refused and
    changes nothing, and allocation for vials skips bag racks (it used to propose them)."""
    from celltrace.bank.choices import ContainerType
    from celltrace.storage.choices import BoxKind

    rack = store["boxes"][0].rack
    bags = services.box_type_create(
        actor=tech, name="Bag rack 1x8", rows=1, columns=8, kind=BoxKind.BAG_RACK
    )
    bag_rack = services.box_create(actor=tech, rack=rack, box_type=bags, name="A-BAGS")
    [vial] = factories.aliquots(tech, client_a, 1)
    assert vial.container_type == ContainerType.CRYOVIAL_1_8
    before = snapshot()
    with pytest.raises(Invalid) as refused:
        services.aliquot_place(actor=tech, aliquot=vial, box=bag_rack, position=pos(bag_rack, "A1"))
    assert refused.value.field == "box" and "bag rack" in refused.value.message
    assert snapshot() == before
    box = store["boxes"][0]
    services.aliquot_place(actor=tech, aliquot=vial, box=box, position=pos(box, "A1"))
    moved = snapshot()
    with pytest.raises(Invalid):
        services.aliquot_move(
            actor=tech, aliquot=vial, box=bag_rack, position=pos(bag_rack, "A2"), reason="x"
        )
    assert snapshot() == moved
    # allocation proposes the kind of box the container goes into
    proposed = services.allocate_positions(
        actor=tech, count=3, container_type=ContainerType.CRYOVIAL_1_8
    )
    assert {p.box.box_type.kind for p in proposed} == {BoxKind.VIAL_BOX}
    for_bags = services.allocate_positions(
        actor=tech, count=3, container_type=ContainerType.CRYOBAG
    )
    assert {p.box_id for p in for_bags} == {bag_rack.pk}
