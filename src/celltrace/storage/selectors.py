"""Reads of the storage app. The hierarchy and box maps are for operator staff only: anyone
else gets :class:`NotFound`, so a client can never see the freezer map or a neighbouring
position. Occupancy is counted in SQL, one query per level; a position another app's item
holds (a QC sample, through :func:`celltrace.storage.services.register_occupant_source`)
counts as occupied and is never offered as free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from celltrace.bank.models import Aliquot
from celltrace.core.errors import Conflict, NotFound
from celltrace.core.models import User
from celltrace.core.tenancy import sees_all_tenants
from celltrace.storage.models import Box, Placement, Position, Rack, Site, StorageUnit
from celltrace.storage.services import (
    Occupant,
    held_by_others,
    held_count,
    occupants_seen_by,
)


def require_operator(actor: User) -> None:
    if not sees_all_tenants(actor):
        raise NotFound(_("Not found."))


def _active_count(path: str) -> Coalesce:
    """Active placements whose ``path`` (e.g. ``position__box__rack``) is the outer row."""
    sub = (
        Placement.objects.filter(removed_at__isnull=True, **{path: OuterRef("pk")})
        .order_by()
        .values(path)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def _capacity(path: str) -> Coalesce:
    """Sum of rows × columns of the boxes under the outer row (``path`` from Box)."""
    sub = (
        Box.objects.filter(**{path: OuterRef("pk")})
        .order_by()
        .values(path)
        .annotate(c=Sum(F("box_type__rows") * F("box_type__columns")))
        .values("c")
    )
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def sites(actor: User) -> QuerySet[Site]:
    require_operator(actor)
    return Site.objects.all()


def units_with_occupancy(actor: User) -> QuerySet[StorageUnit]:
    """Every storage unit with ``capacity`` and ``occupied`` (one query)."""
    require_operator(actor)
    return (
        StorageUnit.objects.select_related("site")
        .annotate(
            capacity=_capacity("rack__unit"),
            occupied=_active_count("position__box__rack__unit") + held_count("box__rack__unit"),
            rack_count=Count("racks", distinct=True),
        )
        .order_by("site__name", "name")
    )


def unit_get(actor: User, pk: int | str) -> StorageUnit:
    try:
        return units_with_occupancy(actor).get(pk=pk)
    except (StorageUnit.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_("No such storage unit.")) from exc


def racks_with_occupancy(actor: User, unit: StorageUnit | None = None) -> QuerySet[Rack]:
    require_operator(actor)
    qs = Rack.objects.select_related("unit")
    if unit is not None:
        qs = qs.filter(unit=unit)
    return qs.annotate(
        capacity=_capacity("rack"),
        occupied=_active_count("position__box__rack") + held_count("box__rack"),
        box_count=Count("boxes", distinct=True),
    ).order_by("unit__name", "name")


def rack_get(actor: User, pk: int | str) -> Rack:
    try:
        return racks_with_occupancy(actor).get(pk=pk)
    except (Rack.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_("No such rack.")) from exc


def boxes_with_occupancy(actor: User, rack: Rack | None = None) -> QuerySet[Box]:
    require_operator(actor)
    qs = Box.objects.select_related("box_type", "rack__unit")
    if rack is not None:
        qs = qs.filter(rack=rack)
    return qs.annotate(
        capacity=F("box_type__rows") * F("box_type__columns"),
        occupied=_active_count("position__box") + held_count("box"),
    ).order_by("rack__name", "name")


def box_get(actor: User, pk: int | str) -> Box:
    require_operator(actor)
    try:
        return Box.objects.select_related("box_type", "rack__unit__site").get(pk=pk)
    except (Box.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound(_("No such box.")) from exc


def box_by_code(actor: User, code: str) -> Box:
    """A box by its barcode (or, failing that, its unique name); for scanner input."""
    require_operator(actor)
    text = code.strip()
    qs = Box.objects.select_related("box_type", "rack__unit__site")
    box = qs.filter(barcode=text).first()
    if box is None:
        named = list(qs.filter(name=text)[:2])
        box = named[0] if len(named) == 1 else None
    if box is None:
        raise NotFound(_("No box with barcode %(code)s.") % {"code": text}, field="box")
    return box


def position_in_box(box: Box, label: str) -> Position:
    try:
        return Position.objects.get(box=box, label=label.strip().upper())
    except Position.DoesNotExist as exc:
        raise NotFound(
            _("Box %(box)s has no position %(position)s.")
            % {"box": box.name, "position": label.strip()},
            field="position",
        ) from exc


@dataclass
class Cell:
    position: Position
    aliquot: Aliquot | None = None
    #: another app's item in the position (a QC sample), as the viewer may see it
    other: Occupant | None = None


@dataclass
class BoxMap:
    box: Box
    columns: list[int]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    occupied: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    #: positions held by other apps' items, by kind (e.g. {"QC sample": 2}); in ``occupied``
    others: dict[str, int] = field(default_factory=dict)

    @property
    def capacity(self) -> int:
        return self.box.box_type.capacity


def box_map(actor: User, pk: int | str) -> BoxMap:
    """The grid of a box with the aliquot or other item (a QC sample) in each position (four
    queries, whatever the box holds; one more per further occupant source)."""
    box = box_get(actor, pk)
    placements = {
        p.position_id: p.aliquot
        for p in Placement.objects.filter(position__box=box, removed_at__isnull=True)
        .select_related("aliquot")
        .only(
            "position_id",
            "aliquot__id",
            "aliquot__din",
            "aliquot__pdc",
            "aliquot__isbt_collection_type",
            "aliquot__division",
            "aliquot__status",
            "aliquot__organisation_id",
        )
    }
    others = occupants_seen_by([box.pk], actor)
    result = BoxMap(box=box, columns=list(range(1, box.box_type.columns + 1)))
    current: list[Cell] = []
    row_letter = ""
    for pos in Position.objects.filter(box=box).order_by("row", "col"):
        if pos.label[0] != row_letter:
            row_letter = pos.label[0]
            current = []
            result.rows.append((row_letter, current))
        aliquot = placements.get(pos.pk)
        other = None if aliquot is not None else others.get(pos.pk)
        current.append(Cell(pos, aliquot, other))
        if aliquot is not None:
            result.occupied += 1
            result.by_status[aliquot.status] = result.by_status.get(aliquot.status, 0) + 1
        elif other is not None:
            result.occupied += 1
            result.others[other.kind] = result.others.get(other.kind, 0) + 1
    return result


def first_free_position(box: Box) -> Position:
    """The first free position of ``box`` in its unit's fill order (scanner desk default); a
    position holding another app's item (a QC sample) is not free."""
    from celltrace.storage.choices import FillOrder

    order = ("col", "row") if box.rack.unit.fill_order == FillOrder.COLUMN_MAJOR else ("row", "col")
    taken = Placement.objects.filter(removed_at__isnull=True, position__box=box).values(
        "position_id"
    )
    position = (
        Position.objects.filter(box=box)
        .exclude(pk__in=taken)
        .exclude(held_by_others())
        .order_by(*order)
        .first()
    )
    if position is None:
        raise Conflict(_("Box %(box)s is full.") % {"box": box.name}, field="box")
    return position
