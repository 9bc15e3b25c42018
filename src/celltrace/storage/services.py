"""Writes of the storage app. Each is one transaction that locks what it changes (hierarchy
downwards: rack → box → aliquot; several rows of one type in pk order) and appends exactly one
ledger entry.

Placement follows docs/design/reliability.md §1.1: the box row is locked, the position is checked to
belong to the box and to be free, and the insert runs in a savepoint so that the partial
unique constraints, the last line of defence, surface as a clean :class:`Conflict`.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from celltrace.audit import ledger
from celltrace.audit.choices import Action
from celltrace.bank.choices import IN_STOCK_STATUSES, AliquotStatus, ContainerType
from celltrace.bank.models import Aliquot
from celltrace.core.choices import Role
from celltrace.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from celltrace.core.models import User
from celltrace.core.validation import require_reason
from celltrace.storage.choices import BoxKind, EventType, FillOrder, UnitKind
from celltrace.storage.models import (
    Box,
    BoxType,
    Placement,
    Position,
    Rack,
    Site,
    StorageUnit,
    position_label,
)

#: Roles that may change storage: build the hierarchy, place, move and retrieve aliquots.
STORAGE_ROLES = (Role.ADMIN, Role.BANK_TECHNICIAN)


def require_storage_role(actor: User) -> None:
    if not (actor.is_active and actor.is_operator_staff and actor.has_role(*STORAGE_ROLES)):
        raise PermissionDenied(
            _("Only bank technicians and administrators of the operator can change storage.")
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _race_pause() -> None:
    """Test-only hook (``CELLTRACE_RACE_SLEEP``) widening the window between check and write."""
    pause = float(getattr(settings, "CELLTRACE_RACE_SLEEP", 0.0) or 0.0)
    if pause:
        time.sleep(pause)


_M = TypeVar("_M", bound=models.Model)


def _race_lock(qs: models.QuerySet[_M]) -> models.QuerySet[_M]:
    """``select_for_update()``, unless the test-only ``CELLTRACE_RACE_NO_LOCK`` switches the row
    lock off (the *constraint only* variant of the race test, docs/design/reliability.md §9.1)."""
    if getattr(settings, "CELLTRACE_RACE_NO_LOCK", False):
        return qs
    return qs.select_for_update()


def _clean(obj: models.Model, exclude: Sequence[str] = ()) -> None:
    try:
        obj.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            field, errors = next(iter(exc.message_dict.items()))
            raise Invalid(" ".join(errors), field=None if field == "__all__" else field) from exc
        raise Invalid(" ".join(exc.messages)) from exc


def location_of(position: Position) -> dict[str, Any]:
    """Where a position is, for ledger entries and messages (needs box, rack, unit loaded)."""
    box = position.box
    rack = box.rack
    return {
        "unit": rack.unit.code,
        "rack": rack.name,
        "box": box.name,
        "box_id": box.pk,
        "position": position.label,
        "position_id": position.pk,
    }


def location_text(position: Position) -> str:
    loc = location_of(position)
    return f"{loc['unit']} / {loc['rack']} / {loc['box']} / {loc['position']}"


def _position_with_path(pk: int) -> Position:
    return Position.objects.select_related("box__rack__unit").get(pk=pk)


# --- the hierarchy --------------------------------------------------------------------------


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def require_time_zone(timezone: str) -> str:
    """``timezone`` as a name of the IANA time zone database (``Asia/Shanghai``, ``UTC``), or
    :class:`Invalid` naming ``timezone``: labels and local times are computed in it."""
    name = timezone.strip()
    if name not in _time_zones():
        raise Invalid(
            _(
                "“%(tz)s” is not a time zone of the IANA database; write it like "
                "Asia/Shanghai or Europe/Berlin."
            )
            % {"tz": timezone[:64]},
            field="timezone",
        )
    return name


def site_create(*, actor: User, name: str, code: str, timezone: str = "UTC") -> Site:
    require_storage_role(actor)
    timezone = require_time_zone(timezone)
    site = Site(name=name.strip(), code=code.strip(), timezone=timezone)
    _clean(site)
    with transaction.atomic():
        site.save()
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.SITE_CREATED,
            entity_type="storage.site",
            entity_id=site.pk,
            entity_label=site.name,
            new={"name": site.name, "code": site.code, "timezone": timezone},
        )
    return site


def storage_unit_create(
    *,
    actor: User,
    site: Site,
    name: str,
    code: str,
    kind: str,
    set_point_c: Decimal,
    alarm_low_c: Decimal,
    alarm_high_c: Decimal,
    fill_order: str = FillOrder.ROW_MAJOR,
) -> StorageUnit:
    require_storage_role(actor)
    if kind not in UnitKind.values:
        raise Invalid(_("Unknown storage unit kind %(kind)s.") % {"kind": kind}, field="kind")
    if not alarm_low_c <= set_point_c <= alarm_high_c:
        raise Invalid(
            _("The set point must lie between the low and high alarm limits."),
            field="set_point_c",
        )
    unit = StorageUnit(
        site=site,
        name=name.strip(),
        code=code.strip(),
        kind=kind,
        set_point_c=set_point_c,
        alarm_low_c=alarm_low_c,
        alarm_high_c=alarm_high_c,
        fill_order=fill_order,
    )
    _clean(unit)
    with transaction.atomic():
        unit.save()
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.STORAGE_UNIT_CREATED,
            entity_type="storage.storageunit",
            entity_id=unit.pk,
            entity_label=unit.name,
            new={
                "site_id": site.pk,
                "name": unit.name,
                "code": unit.code,
                "kind": kind,
                "set_point_c": set_point_c,
                "alarm_low_c": alarm_low_c,
                "alarm_high_c": alarm_high_c,
                "fill_order": fill_order,
            },
        )
    return unit


def rack_create(*, actor: User, unit: StorageUnit, name: str) -> Rack:
    require_storage_role(actor)
    rack = Rack(unit=unit, name=name.strip())
    _clean(rack)
    with transaction.atomic():
        rack.save()
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.RACK_CREATED,
            entity_type="storage.rack",
            entity_id=rack.pk,
            entity_label=str(rack),
            new={"unit_id": unit.pk, "name": rack.name},
        )
    return rack


def box_type_create(
    *, actor: User, name: str, rows: int, columns: int, kind: str = BoxKind.VIAL_BOX
) -> BoxType:
    require_storage_role(actor)
    if kind not in BoxKind.values:
        raise Invalid(_("Unknown box kind %(kind)s.") % {"kind": kind}, field="kind")
    box_type = BoxType(name=name.strip(), rows=rows, columns=columns, kind=kind)
    _clean(box_type)
    with transaction.atomic():
        box_type.save()
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.BOX_TYPE_CREATED,
            entity_type="storage.boxtype",
            entity_id=box_type.pk,
            entity_label=box_type.name,
            new={"name": box_type.name, "rows": rows, "columns": columns, "kind": kind},
        )
    return box_type


def box_create(*, actor: User, rack: Rack, box_type: BoxType, name: str, barcode: str = "") -> Box:
    """A box with every position of its type (A1 … in row-major order) generated at once."""
    require_storage_role(actor)
    box = Box(rack=rack, box_type=box_type, name=name.strip(), barcode=barcode.strip())
    with transaction.atomic():
        if not box.barcode:
            box.barcode = f"BOX-{rack.unit_id}-{rack.pk}-{box.name}"[:40]
        _clean(box)
        box.save()
        Position.objects.bulk_create(
            Position(box=box, row=r, col=c, label=position_label(r, c))
            for r in range(1, box_type.rows + 1)
            for c in range(1, box_type.columns + 1)
        )
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.BOX_CREATED,
            entity_type="storage.box",
            entity_id=box.pk,
            entity_label=str(box),
            new={
                "rack_id": rack.pk,
                "box_type_id": box_type.pk,
                "name": box.name,
                "barcode": box.barcode,
                "positions": box_type.capacity,
            },
        )
    return box


def box_move(*, actor: User, box: Box, rack: Rack, reason: str) -> Box:
    """Move a whole box, with its contents, to another rack (racks locked in pk order).
    Refused like a rack (:func:`rack_move`) into a unit warmer than the one it comes from."""
    require_storage_role(actor)
    reason = require_reason(reason)
    with transaction.atomic():
        current = Box.objects.get(pk=box.pk)
        if current.rack_id == rack.pk:
            raise Invalid(_("The box is already in this rack."), field="rack")
        list(
            Rack.objects.select_for_update()
            .filter(pk__in=[current.rack_id, rack.pk])
            .order_by("pk")
        )
        locked = Box.objects.select_for_update().get(pk=box.pk)
        if locked.rack_id != current.rack_id:
            raise Conflict(_("The box was moved meanwhile; reload and try again."))
        if Box.objects.filter(rack=rack, name=locked.name).exists():
            raise Conflict(
                _("Rack %(rack)s already holds a box named %(name)s.")
                % {"rack": rack.name, "name": locked.name},
                field="rack",
            )
        source = StorageUnit.objects.get(racks__pk=current.rack_id)
        target = StorageUnit.objects.get(racks__pk=rack.pk)
        _refuse_warmer(source, target, _stored_in(position__box=locked), _("box"), field="rack")
        old_rack = locked.rack_id
        locked.rack = rack
        locked.save(update_fields=["rack"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.BOX_MOVED,
            entity_type="storage.box",
            entity_id=locked.pk,
            entity_label=str(locked),
            old={"rack_id": old_rack},
            new={"rack_id": rack.pk, "unit_id": rack.unit_id},
            reason=reason,
        )
    return locked


# --- placements -----------------------------------------------------------------------------


def _active_placement(aliquot_id: int) -> Placement | None:
    return (
        Placement.objects.select_related("position__box__rack__unit")
        .filter(aliquot_id=aliquot_id, removed_at__isnull=True)
        .first()
    )


#: Other apps' checks that a position holds none of their items (e.g. QC samples, registered
#: by the qc app): each raises :class:`Conflict` when the position is taken.
_OCCUPANT_CHECKS: list[Callable[[Position], None]] = []


def register_occupant_check(check: Callable[[Position], None]) -> None:
    """Have aliquot placement also refuse positions another app's items occupy."""
    if check not in _OCCUPANT_CHECKS:
        _OCCUPANT_CHECKS.append(check)


@dataclass(frozen=True)
class Occupant:
    """A position's non-aliquot item (e.g. a QC sample) as one viewer may see it.

    ``code`` (stable, e.g. ``qc_sample``, for the API) and ``kind`` (its translated name, e.g.
    "QC sample") always show; ``label`` (the item's number) and ``url`` (its page) are empty
    when the viewer may not see the item.
    """

    code: str
    kind: str
    label: str = ""
    url: str = ""

    def __str__(self) -> str:
        return self.label or self.kind


#: ``source(box_ids, viewer)`` → ``{position_id: Occupant}`` for the positions of those boxes
#: an app's items occupy, as ``viewer`` may see them (``viewer=None``: the system itself, every
#: label and no link).
OccupantSource = Callable[[Sequence[int], "User | None"], dict[int, Occupant]]
#: ``held()`` → a query of the ``position_id`` of every position an app's items occupy; used
#: as a subquery (counts, allocation), so it is never evaluated on its own.
HeldPositions = Callable[[], "models.QuerySet[Any]"]

#: Other apps' views of positions their items hold (QC samples, registered by the qc app),
#: for where positions are looked at in bulk: box maps, fill levels, allocation, import.
_OCCUPANT_SOURCES: list[tuple[OccupantSource, HeldPositions]] = []


def register_occupant_source(source: OccupantSource, *, held: HeldPositions) -> None:
    """Have box maps, fill levels, allocation and the importer see positions another app's
    items occupy: ``source`` names them per position, ``held`` is their positions as a query."""
    if all(s != source for s, _h in _OCCUPANT_SOURCES):
        _OCCUPANT_SOURCES.append((source, held))


def occupants_seen_by(box_ids: Sequence[int], viewer: User | None) -> dict[int, Occupant]:
    """``{position_id: Occupant}`` of the positions in ``box_ids`` held by items other than
    aliquots, labelled and linked as far as ``viewer`` may see them (one query per source)."""
    out: dict[int, Occupant] = {}
    for source, _held in _OCCUPANT_SOURCES:
        out.update(source(box_ids, viewer))
    return out


def other_occupants(box_ids: Sequence[int]) -> dict[int, str]:
    """``{position_id: label}`` of the positions in ``box_ids`` held by items other than
    aliquots (as the registered sources report them, e.g. the QC sample number)."""
    return {pid: str(o) for pid, o in occupants_seen_by(box_ids, None).items()}


def held_by_others() -> models.Q:
    """A condition on :class:`Position`: held by another app's item (a subquery per source;
    no query of its own). ``~held_by_others()`` keeps the positions no other item holds."""
    conditions = [models.Q(pk__in=held()) for _source, held in _OCCUPANT_SOURCES]
    if not conditions:
        return models.Q(pk__in=[])
    return functools.reduce(operator.or_, conditions)


def held_count(path: str) -> Coalesce:
    """Positions held by other apps' items whose ``path`` (from Position, e.g. ``box__rack``)
    is the outer row: a subquery for occupancy annotations next to the aliquot count."""
    sub = (
        Position.objects.filter(held_by_others(), **{path: OuterRef("pk")})
        .order_by()
        .values(path)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def _refuse_if_taken(position: Position, aliquot: Aliquot) -> None:
    """The check in front of the constraints: a clear message for each of the two rules."""
    if Placement.objects.filter(position_id=position.pk, removed_at__isnull=True).exists():
        raise Conflict(
            _("%(position)s is already occupied.") % {"position": position.label},
            field="position",
        )
    for check in _OCCUPANT_CHECKS:
        check(position)
    current = _active_placement(aliquot.pk)
    if current is not None:
        raise Conflict(
            _("Aliquot %(aliquot)s is already stored at %(location)s.")
            % {"aliquot": str(aliquot), "location": location_text(current.position)},
            field="aliquot",
        )


def _insert_placement(
    *, actor: User, aliquot: Aliquot, position: Position, now: dt.datetime
) -> Placement:
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives a violation
            return Placement.objects.create(
                organisation_id=aliquot.organisation_id,
                aliquot=aliquot,
                position=position,
                placed_at=now,
                placed_by=actor,
            )
    except IntegrityError as exc:
        # SQLite does not name the constraint: ask the database which rule was broken.
        _refuse_if_taken(position, aliquot)
        raise Conflict(
            _("The position or the aliquot changed meanwhile; reload and try again.")
        ) from exc


def box_kind_for(container_type: str) -> str:
    """The kind of box a container goes into: a cryobag into a bag rack, a vial into a vial
    box."""
    return BoxKind.BAG_RACK if container_type == ContainerType.CRYOBAG else BoxKind.VIAL_BOX


def _require_fits(container_type: str, kind: str, where: str) -> None:
    if box_kind_for(container_type) != kind:
        raise Invalid(
            _("A %(container)s does not go into %(where)s, a %(kind)s.")
            % {
                "container": ContainerType(container_type).label.lower(),
                "where": where,
                "kind": BoxKind(kind).label.lower(),
            },
            field="box",
        )


def _check_position(box: Box, position: Position) -> None:
    if position.box_id != box.pk:
        raise Invalid(
            _("Position %(position)s is not in box %(box)s.")
            % {"position": position.label, "box": box.name},
            field="position",
        )


def _lock_aliquot(aliquot: Aliquot) -> Aliquot:
    locked = _race_lock(Aliquot.objects.all()).get(pk=aliquot.pk)
    if locked.status not in IN_STOCK_STATUSES:
        raise Conflict(
            _("Aliquot %(aliquot)s is %(status)s and cannot be stored.")
            % {"aliquot": str(locked), "status": AliquotStatus(locked.status).label},
            field="aliquot",
        )
    return locked


def _place(
    *, actor: User, aliquot: Aliquot, box: Box, position: Position, reason: str, event: str
) -> Placement:
    require_storage_role(actor)
    _check_position(box, position)
    with transaction.atomic():
        _race_lock(Box.objects.all()).get(pk=box.pk)
        locked = _lock_aliquot(aliquot)
        _require_fits(locked.container_type, box.box_type.kind, box.name)
        if (
            event == EventType.ALIQUOT_RETURNED
            and not Placement.objects.filter(
                aliquot_id=locked.pk, removed_at__isnull=False
            ).exists()
        ):
            raise Conflict(
                _("Aliquot %(aliquot)s was never retrieved; place it instead.")
                % {"aliquot": str(locked)}
            )
        _refuse_if_taken(position, locked)
        _race_pause()
        now = _now()
        placement = _insert_placement(actor=actor, aliquot=locked, position=position, now=now)
        target = _position_with_path(position.pk)
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=event,
            entity_type="bank.aliquot",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=locked.organisation_id,
            old={"location": None},
            new={"location": location_of(target), "placed_at": now},
            reason=reason,
        )
    placement.position = target
    return placement


def aliquot_place(
    *, actor: User, aliquot: Aliquot, box: Box, position: Position, reason: str = ""
) -> Placement:
    """Put an aliquot that is not stored anywhere into a free position of ``box``."""
    return _place(
        actor=actor,
        aliquot=aliquot,
        box=box,
        position=position,
        reason=reason,
        event=EventType.ALIQUOT_PLACED,
    )


def aliquot_return(
    *, actor: User, aliquot: Aliquot, box: Box, position: Position, reason: str = ""
) -> Placement:
    """Put a retrieved aliquot back into storage (any free position)."""
    return _place(
        actor=actor,
        aliquot=aliquot,
        box=box,
        position=position,
        reason=reason,
        event=EventType.ALIQUOT_RETURNED,
    )


def aliquot_move(
    *, actor: User, aliquot: Aliquot, box: Box, position: Position, reason: str
) -> Placement:
    """Move a stored aliquot to a free position (both boxes locked in pk order)."""
    require_storage_role(actor)
    reason = require_reason(reason)
    _check_position(box, position)
    with transaction.atomic():
        seen = _active_placement(aliquot.pk)
        if seen is None:
            raise Conflict(
                _("Aliquot %(aliquot)s is not in storage; place it instead.")
                % {"aliquot": str(aliquot)},
                field="aliquot",
            )
        list(
            Box.objects.select_for_update()
            .filter(pk__in={seen.position.box_id, box.pk})
            .order_by("pk")
        )
        locked = _lock_aliquot(aliquot)
        _require_fits(locked.container_type, box.box_type.kind, box.name)
        current = _active_placement(locked.pk)
        if current is None or current.pk != seen.pk:
            raise Conflict(_("The aliquot was moved meanwhile; reload and try again."))
        if current.position_id == position.pk:
            raise Invalid(
                _("The aliquot is already at %(position)s.") % {"position": position.label},
                field="position",
            )
        if Placement.objects.filter(position_id=position.pk, removed_at__isnull=True).exists():
            raise Conflict(
                _("%(position)s is already occupied.") % {"position": position.label},
                field="position",
            )
        for check in _OCCUPANT_CHECKS:  # e.g. a QC sample stored there
            check(position)
        _race_pause()
        now = _now()
        Placement.objects.filter(pk=current.pk, removed_at__isnull=True).update(
            removed_at=now, removed_by=actor
        )
        placement = _insert_placement(actor=actor, aliquot=locked, position=position, now=now)
        target = _position_with_path(position.pk)
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.ALIQUOT_MOVED,
            entity_type="bank.aliquot",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=locked.organisation_id,
            old={"location": location_of(current.position)},
            new={"location": location_of(target), "placed_at": now},
            reason=reason,
        )
    placement.position = target
    return placement


def end_placement(*, actor: User, aliquot: Aliquot, now: dt.datetime) -> Placement | None:
    """End the aliquot's open placement, inside the caller's transaction, box locked first.

    For services that take an aliquot out of the bank (retrieve, issue, thaw, discard); the
    caller has not locked the aliquot yet and writes the ledger entry. Returns the ended
    placement (with its position path) or None if the aliquot was not stored.
    """
    seen = _active_placement(aliquot.pk)
    if seen is None:
        return None
    Box.objects.select_for_update().get(pk=seen.position.box_id)
    Aliquot.objects.select_for_update().get(pk=aliquot.pk)
    ended = Placement.objects.filter(pk=seen.pk, removed_at__isnull=True).update(
        removed_at=now, removed_by=actor
    )
    if ended != 1:
        raise Conflict(_("The aliquot was moved meanwhile; reload and try again."))
    seen.removed_at = now
    return seen


def aliquot_retrieve(*, actor: User, aliquot: Aliquot, reason: str) -> Placement:
    """Take a stored aliquot out of its position (it stays in stock; return it later)."""
    require_storage_role(actor)
    reason = require_reason(reason)
    with transaction.atomic():
        now = _now()
        ended = end_placement(actor=actor, aliquot=aliquot, now=now)
        if ended is None:
            raise Conflict(
                _("Aliquot %(aliquot)s is not in storage.") % {"aliquot": str(aliquot)},
                field="aliquot",
            )
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.ALIQUOT_RETRIEVED,
            entity_type="bank.aliquot",
            entity_id=aliquot.pk,
            entity_label=str(aliquot),
            organisation_id=aliquot.organisation_id,
            old={"location": location_of(ended.position)},
            new={"location": None, "removed_at": now},
            reason=reason,
        )
    return ended


# --- allocation -----------------------------------------------------------------------------


def _order_fields(fill_order: str) -> tuple[str, str]:
    return ("col", "row") if fill_order == FillOrder.COLUMN_MAJOR else ("row", "col")


def _boxes_with_free(unit: StorageUnit | None, kind: str | None = None) -> list[tuple[Box, int]]:
    """Boxes with room (of ``kind``, if given), in allocation order, each with its number of
    free positions."""
    active = (
        Placement.objects.filter(removed_at__isnull=True, position__box=OuterRef("pk"))
        .order_by()
        .values("position__box")
        .annotate(n=Count("pk"))
        .values("n")
    )
    boxes = Box.objects.select_related("box_type", "rack__unit").filter(rack__unit__is_active=True)
    if unit is not None:
        boxes = boxes.filter(rack__unit=unit)
    if kind is not None:
        boxes = boxes.filter(box_type__kind=kind)
    boxes = (
        boxes.annotate(
            used=Coalesce(Subquery(active, output_field=IntegerField()), Value(0))
            + held_count("box"),
            capacity=F("box_type__rows") * F("box_type__columns"),
        )
        .filter(used__lt=F("capacity"))
        .order_by("rack__unit__site__name", "rack__unit__name", "rack__name", "name", "pk")
    )
    return [(b, int(b.capacity) - int(b.used)) for b in boxes]


def _free_positions(box: Box, limit: int) -> list[Position]:
    order = _order_fields(box.rack.unit.fill_order)
    taken = Placement.objects.filter(removed_at__isnull=True, position__box=box).values(
        "position_id"
    )
    return list(
        Position.objects.filter(box=box)
        .exclude(pk__in=taken)
        .exclude(held_by_others())
        .select_related("box__rack__unit")
        .order_by(*order)[:limit]
    )


def allocate_positions(
    *,
    actor: User,
    count: int,
    unit: StorageUnit | None = None,
    container_type: str | None = None,
) -> list[Position]:
    """Propose ``count`` free positions, together in one box where possible; for
    ``container_type``, only in the boxes that kind of container goes into (vial boxes, bag
    racks).

    A free position holds neither an aliquot nor another app's item (a QC sample).

    The first box (site, unit, rack, box name order) with room for all of them wins; otherwise
    the positions spill over boxes in that order. Within a box, positions follow the unit's
    fill order. Nothing is reserved: placing is what claims a position, and it is safe under
    concurrency, so a proposal that went stale ends in a clean "already occupied" conflict.
    """
    require_storage_role(actor)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise Invalid(_("Ask for at least one position."), field="count")
    kind = box_kind_for(container_type) if container_type else None
    boxes = _boxes_with_free(unit, kind)
    free_total = sum(free for _, free in boxes)
    if free_total < count:
        raise Conflict(
            _("Only %(free)s free positions are left; %(count)s were asked for.")
            % {"free": free_total, "count": count},
            field="count",
        )
    for box, free in boxes:
        if free >= count:
            return _free_positions(box, count)
    chosen: list[Position] = []
    for box, _free in boxes:
        chosen.extend(_free_positions(box, count - len(chosen)))
        if len(chosen) == count:
            break
    return chosen


# --- bulk placement (used by the bank's bulk creation) ------------------------------------


@dataclass(frozen=True)
class PlacementRow:
    aliquot_id: int
    organisation_id: int
    position_id: int


def placements_bulk_insert(
    *, actor: User, rows: Iterable[PlacementRow], now: dt.datetime
) -> list[dict[str, Any]]:
    """Insert many placements inside the caller's transaction; the caller writes the ledger.

    Refuses (Conflict) if any position is taken or appears twice; the partial unique
    constraints stand behind the check. Returns the rows as written, for the batch digest.
    """
    require_storage_role(actor)
    rows = list(rows)
    wanted = [r.position_id for r in rows]
    if len(set(wanted)) != len(wanted):
        raise Conflict(_("Two aliquots are given the same position."), field="position")
    taken: set[int] = set()
    for i in range(0, len(rows), 900):
        chunk = rows[i : i + 900]
        part = [r.position_id for r in chunk]
        # each container into its kind of box
        containers = dict(
            Aliquot.objects.filter(pk__in=[r.aliquot_id for r in chunk]).values_list(
                "pk", "container_type"
            )
        )
        kinds = {
            pk: (kind, box)
            for pk, kind, box in Position.objects.filter(pk__in=part).values_list(
                "pk", "box__box_type__kind", "box__name"
            )
        }
        for r in chunk:
            kind, box_name = kinds[r.position_id]
            _require_fits(containers[r.aliquot_id], kind, box_name)
        taken.update(
            Placement.objects.filter(position_id__in=part, removed_at__isnull=True).values_list(
                "position_id", flat=True
            )
        )
        # positions another app's items hold (QC samples): no constraint stands behind these
        taken.update(
            Position.objects.filter(held_by_others(), pk__in=part).values_list("pk", flat=True)
        )
    if taken:
        labels = sorted(Position.objects.filter(pk__in=taken).values_list("label", flat=True))
        raise Conflict(
            _("These positions are already occupied: %(labels)s.")
            % {"labels": ", ".join(labels[:20])},
            field="position",
        )
    try:
        with transaction.atomic():
            Placement.objects.bulk_create(
                (
                    Placement(
                        organisation_id=r.organisation_id,
                        aliquot_id=r.aliquot_id,
                        position_id=r.position_id,
                        placed_at=now,
                        placed_by=actor,
                    )
                    for r in rows
                ),
                batch_size=2000,
            )
    except IntegrityError as exc:
        raise Conflict(_("A position or an aliquot was taken meanwhile; try again.")) from exc
    return [
        {"aliquot_id": r.aliquot_id, "position_id": r.position_id, "placed_at": now} for r in rows
    ]


def get_box(pk: int | str) -> Box:
    try:
        return Box.objects.select_related("rack__unit", "box_type").get(pk=pk)
    except (Box.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_("No such box.")) from exc


# --- moving a whole rack ----------------------------------------------------------------------


def _stored_in(**where: Any) -> int:
    """How many items (aliquots, and other apps' items such as QC samples) are stored in the
    positions ``where`` selects (``position__box=box``, ``position__box__rack=rack``)."""
    aliquots = Placement.objects.filter(removed_at__isnull=True, **where).count()
    inside = {key.removeprefix("position__"): value for key, value in where.items()}
    others = Position.objects.filter(held_by_others(), **inside).count()
    return aliquots + others


def _refuse_warmer(
    source: StorageUnit, target: StorageUnit, stored: int, what: str, *, field: str
) -> None:
    """Refuse moving ``stored`` items (a rack's or a box's) from ``source`` into ``target``
    when ``target`` runs warmer than ``source``'s high alarm limit: cryopreserved cells would
    warm up (an LN2 canister or box does not go into a -80 °C freezer)."""
    if stored and target.set_point_c > source.alarm_high_c:
        raise Conflict(
            _(
                "Unit %(target)s runs at %(set)s °C, warmer than the %(limit)s °C limit of "
                "%(source)s: the %(n)s items in this %(what)s would warm up. Empty it first "
                "or choose a colder unit."
            )
            % {
                "target": target.name,
                "set": target.set_point_c,
                "limit": source.alarm_high_c,
                "source": source.name,
                "n": stored,
                "what": what,
            },
            field=field,
        )


def rack_move(*, actor: User, rack: Rack, unit: StorageUnit, reason: str) -> Rack:
    """Move a rack or canister, with its boxes and their contents, to another storage unit.

    Locks in the documented order, hierarchy downwards: both units (pk order), then the rack.
    Refused: the same unit, a unit out of service, a name already used in the target unit, and
    a rack holding material moved into a unit whose set point is warmer than the high alarm
    limit of the unit it comes from (cryopreserved cells would warm up: an LN2 canister does
    not go into a -80 °C freezer). One ledger entry ``RACK_MOVED``.
    """
    require_storage_role(actor)
    reason = require_reason(reason)
    with transaction.atomic():
        current = Rack.objects.get(pk=rack.pk)
        if current.unit_id == unit.pk:
            raise Invalid(_("The rack is already in this unit."), field="unit")
        units = {
            u.pk: u
            for u in StorageUnit.objects.select_for_update()
            .filter(pk__in=[current.unit_id, unit.pk])
            .order_by("pk")
        }
        locked = Rack.objects.select_for_update().get(pk=rack.pk)
        if locked.unit_id != current.unit_id:
            raise Conflict(_("The rack was moved meanwhile; reload and try again."))
        source, target = units[locked.unit_id], units[unit.pk]
        if not target.is_active:
            raise Conflict(
                _("Unit %(unit)s is out of service.") % {"unit": target.name}, field="unit"
            )
        if Rack.objects.filter(unit=target, name=locked.name).exists():
            raise Conflict(
                _("Unit %(unit)s already holds a rack named %(name)s.")
                % {"unit": target.name, "name": locked.name},
                field="unit",
            )
        stored = _stored_in(position__box__rack=locked)
        _refuse_warmer(source, target, stored, _("rack"), field="unit")
        _race_pause()
        locked.unit = target
        locked.save(update_fields=["unit"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.RACK_MOVED,
            entity_type="storage.rack",
            entity_id=locked.pk,
            entity_label=locked.name,
            old={"unit_id": source.pk, "unit": source.code},
            new={"unit_id": target.pk, "unit": target.code, "aliquots_stored": stored},
            reason=reason,
        )
    return locked
