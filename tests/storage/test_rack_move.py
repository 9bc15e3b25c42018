"""rack_move: a whole rack to another unit, one ledger entry, refusals change nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.storage import services as storage
from celltrace.storage.choices import EventType, UnitKind
from celltrace.storage.models import Placement, Rack
from tests.bank import factories

pytestmark = pytest.mark.django_db


def freezer(tech: Any, site: Any, code: str = "f80") -> Any:
    return storage.storage_unit_create(
        actor=tech,
        site=site,
        name=f"Freezer {code}",
        code=code,
        kind=UnitKind.FREEZER_80,
        set_point_c=Decimal("-80"),
        alarm_low_c=Decimal("-90"),
        alarm_high_c=Decimal("-70"),
    )


def test_rack_moves_with_its_boxes_and_contents(
    tech: Any, client_a: Any, store: dict[str, Any]
) -> None:
    other = factories.hierarchy(tech, boxes=1, code="t2")["unit"]
    b1 = store["boxes"][0]
    factories.aliquots(tech, client_a, 3, positions=factories.positions_of(b1))
    rack = store["rack"]
    Rack.objects.filter(pk=rack.pk).update(name="R-move")  # t2 has its own R1
    before = AuditEvent.objects.count()
    moved = storage.rack_move(actor=tech, rack=rack, unit=other, reason="tank t1 defrost")
    assert AuditEvent.objects.count() == before + 1
    entry = AuditEvent.objects.with_fields().order_by("-seq").first()
    assert entry is not None and entry.event_type == EventType.RACK_MOVED
    assert entry.data["new"]["aliquots_stored"] == 3
    assert moved.unit_id == other.pk
    assert set(
        Placement.objects.filter(removed_at__isnull=True).values_list(
            "position__box__rack__unit_id", flat=True
        )
    ) == {other.pk}
    assert verify_database().ok


def test_rack_move_refusals_change_nothing(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    rack = store["rack"]
    cold = factories.hierarchy(tech, boxes=0, code="t2")["unit"]  # has a rack named R1
    warm = freezer(tech, store["site"])
    factories.aliquots(tech, client_a, 1, positions=factories.positions_of(store["boxes"][0]))
    before = AuditEvent.objects.count()
    cases: list[tuple[Any, Any, type[Exception], str]] = [
        (tech, store["unit"], Invalid, "already in this unit"),
        (tech, cold, Conflict, "already holds a rack named R1"),
        (tech, warm, Conflict, "warmer than"),
        (qa_user, cold, PermissionDenied, "Only bank technicians"),
    ]
    for actor, unit, error, text in cases:
        with pytest.raises(error) as info:
            storage.rack_move(actor=actor, rack=rack, unit=unit, reason="try")
        assert text in info.value.message  # type: ignore[attr-defined]
    with pytest.raises(Invalid):
        storage.rack_move(actor=tech, rack=rack, unit=cold, reason=" ")
    rack.refresh_from_db()
    assert rack.unit_id == store["unit"].pk
    assert AuditEvent.objects.count() == before


def test_an_empty_rack_may_go_into_a_warmer_unit_but_not_one_out_of_service(
    tech: Any, store: dict[str, Any]
) -> None:
    warm = freezer(tech, store["site"])
    rack = storage.rack_create(actor=tech, unit=store["unit"], name="spare")
    assert storage.rack_move(actor=tech, rack=rack, unit=warm, reason="reuse").unit_id == warm.pk
    off = freezer(tech, store["site"], "f81")
    type(off).objects.filter(pk=off.pk).update(is_active=False)
    off.refresh_from_db()
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict) as info:
        storage.rack_move(actor=tech, rack=rack, unit=off, reason="x")
    assert "out of service" in info.value.message
    assert AuditEvent.objects.count() == before


def test_a_box_holding_material_does_not_go_into_a_warmer_unit_either(
    tech: Any, client_a: Any, store: dict[str, Any]
) -> None:
    """The rack's rule holds for a box: an LN2 box of aliquots does not go into a -80 °C
    freezer (it did, while the same move of its rack was refused); an empty box may."""
    from celltrace.storage.models import Box

    warm_rack = storage.rack_create(actor=tech, unit=freezer(tech, store["site"]), name="F1")
    full, empty = store["boxes"][0], store["boxes"][1]
    factories.aliquots(tech, client_a, 2, positions=factories.positions_of(full))
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict) as info:
        storage.box_move(actor=tech, box=full, rack=warm_rack, reason="defrost")
    assert "warmer than" in info.value.message and "2 items in this box" in info.value.message
    assert info.value.field == "rack"
    assert Box.objects.get(pk=full.pk).rack_id == store["rack"].pk
    assert AuditEvent.objects.count() == before
    moved = storage.box_move(actor=tech, box=empty, rack=warm_rack, reason="spare box")
    assert moved.rack_id == warm_rack.pk and AuditEvent.objects.count() == before + 1
