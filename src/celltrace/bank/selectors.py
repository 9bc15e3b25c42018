"""Reads of the bank app, scoped to what the acting user may see (client users: their own
organisation only; anything else is NotFound)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from celltrace.audit.models import AuditEvent
from celltrace.bank import isbt128
from celltrace.bank.models import Aliquot, Collection, Distribution, Donor
from celltrace.core.errors import Invalid, NotFound
from celltrace.core.models import User
from celltrace.core.tenancy import get_visible, scope, sees_all_tenants
from celltrace.storage.models import Placement


def donors_visible(actor: User) -> QuerySet[Donor]:
    return scope(Donor.objects.all(), actor).select_related("organisation")


def donor_get(actor: User, pk: int | str) -> Donor:
    return get_visible(donors_visible(actor), actor, pk=pk)


def collections_visible(actor: User) -> QuerySet[Collection]:
    return scope(Collection.objects.all(), actor).select_related("donor")


def collection_get(actor: User, pk: int | str) -> Collection:
    return get_visible(collections_visible(actor).select_related("organisation"), actor, pk=pk)


def distributions_visible(actor: User) -> QuerySet[Distribution]:
    return scope(Distribution.objects.all(), actor).select_related(
        "organisation", "recipient_organisation", "created_by"
    )


def distribution_get(actor: User, pk: int | str) -> Distribution:
    return get_visible(distributions_visible(actor), actor, pk=pk)


def aliquots_visible(actor: User) -> QuerySet[Aliquot]:
    return scope(Aliquot.objects.all(), actor).select_related(
        "product__collection__donor", "organisation"
    )


def aliquot_get(actor: User, pk: int | str) -> Aliquot:
    qs = aliquots_visible(actor).select_related("parent", "batch")
    return get_visible(qs, actor, pk=pk)


@dataclass(frozen=True)
class AliquotFilter:
    """One filter definition for the search page and the API list."""

    q: str = ""
    donor: str = ""
    product_type: str = ""
    status: str = ""
    unit: int | None = None
    box: int | None = None


@dataclass(frozen=True)
class ScanMatch:
    """What a scanned or typed code means: aliquot conditions, or a problem to show."""

    condition: Q
    kind: str


def _din_condition(text: str) -> ScanMatch | None:
    """A 13-character DIN, or 14 with its check character; spaces allowed."""
    compact = text.replace(" ", "").upper()
    if len(compact) == 14:
        din, k = compact[:13], compact[13]
        try:
            expected = isbt128.check_character(din)
        except ValueError:
            return None
        if expected != k:
            raise Invalid(
                _("The check character of %(din)s is %(expected)s, not %(given)s: re-scan.")
                % {"din": din, "expected": expected, "given": k},
                field="q",
            )
        return ScanMatch(Q(din=din), "din")
    if len(compact) == 13:
        try:
            isbt128.validate_din(compact)
        except ValueError:
            return None
        return ScanMatch(Q(din=compact), "din")
    return None


def scan_condition(code: str) -> ScanMatch:
    """Read a scanner input: an ISBT 128 structure (``=A9999…`` DIN, ``=<`` product code, a
    compound message with both), a DIN with or without check character, or a barcode."""
    text = code.strip()
    if not text:
        raise Invalid(_("Scan or type a code."), field="q")
    if text[0] in "=&" or text.startswith("]"):
        try:
            parsed = isbt128.parse_scan(text)
        except ValueError as exc:
            # not an ISBT 128 structure after all: it may still be a local barcode
            return ScanMatch(Q(barcode=text), "barcode") if text[0] not in "=&" else _bad(text, exc)
        return _structure_condition(parsed)
    din = _din_condition(text)
    if din is not None:
        return ScanMatch(din.condition | Q(barcode=text), din.kind)
    return ScanMatch(Q(barcode=text) | Q(barcode=text.upper()), "barcode")


def _bad(text: str, exc: ValueError) -> ScanMatch:
    raise Invalid(unreadable_label(text, exc), field="q") from exc


def unreadable_label(text: str, exc: ValueError) -> str:
    """A scan that is not a readable ISBT 128 label, in the page's language (the parser's
    own reason, technical, in parentheses)."""
    return _("%(code)s is not a readable ISBT 128 label (%(detail)s).") % {
        "code": text[:60],
        "detail": exc,
    }


def _structure_condition(parsed: isbt128.ScannedStructure) -> ScanMatch:
    if isinstance(parsed, isbt128.Din):
        return ScanMatch(Q(din=parsed.value), "din")
    if isinstance(parsed, isbt128.ProductCode):
        return ScanMatch(
            Q(
                pdc=parsed.pdc,
                isbt_collection_type=parsed.collection_type,
                division=parsed.division,
            ),
            "product_code",
        )
    if isinstance(parsed, isbt128.CompoundMessage):
        cond = Q()
        kinds = []
        for part in parsed.structures:
            if isinstance(part, isbt128.Din | isbt128.ProductCode):
                cond &= _structure_condition(part).condition
                kinds.append("din" if isinstance(part, isbt128.Din) else "product_code")
        if kinds:
            return ScanMatch(cond, "+".join(kinds))
    raise Invalid(
        _("This barcode carries no DIN or product code; scan the aliquot's label."), field="q"
    )


def aliquot_search(actor: User, flt: AliquotFilter) -> QuerySet[Aliquot]:
    qs = aliquots_visible(actor)
    if flt.q:
        qs = qs.filter(scan_condition(flt.q).condition)
    if flt.donor:
        qs = qs.filter(product__collection__donor__reference=flt.donor.strip())
    if flt.product_type:
        qs = qs.filter(product__product_type=flt.product_type)
    if flt.status:
        qs = qs.filter(status=flt.status)
    if flt.unit is not None or flt.box is not None:
        if not sees_all_tenants(actor):
            raise NotFound(_("Not found."))
        placed = Placement.objects.filter(removed_at__isnull=True)
        if flt.unit is not None:
            placed = placed.filter(position__box__rack__unit_id=flt.unit)
        if flt.box is not None:
            placed = placed.filter(position__box_id=flt.box)
        qs = qs.filter(pk__in=placed.values("aliquot_id"))
    return qs.order_by("din", "pdc", "division")


def active_placement(aliquot: Aliquot) -> Placement | None:
    return (
        Placement.objects.select_related("position__box__rack__unit__site")
        .filter(aliquot=aliquot, removed_at__isnull=True)
        .first()
    )


def aliquot_timeline(actor: User, aliquot: Aliquot) -> list[AuditEvent]:
    """Every ledger entry about the aliquot, oldest first, with the batch entry that created
    it when it came in bulk. ``aliquot`` must come from :func:`aliquot_get` (visible)."""
    qs = AuditEvent.objects.with_fields()
    cond = Q(f_entity_type="bank.aliquot", f_entity_id=str(aliquot.pk))
    if aliquot.batch_id is not None:
        cond |= Q(f_entity_type="bank.bankbatch", f_entity_id=str(aliquot.batch_id))
    return list(qs.filter(cond).order_by("seq"))
