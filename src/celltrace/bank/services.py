"""Writes of the bank app. Each is one transaction with exactly one ledger entry.

Personal data never reaches the ledger: donor entries name the fields that were set or
revealed, never their values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from celltrace.audit import ledger
from celltrace.audit.choices import Action, SignatureMeaning
from celltrace.bank import crypto, isbt128, sprec
from celltrace.bank.choices import (
    ALLOWED_TRANSITIONS,
    IN_STOCK_STATUSES,
    LEAVING_STATUSES,
    AliquotStatus,
    CollectionType,
    ContainerType,
    DistributionStatus,
    EventType,
    ProductType,
    ShippingCondition,
    Use,
)
from celltrace.bank.models import (
    DONOR_PERSONAL_FIELDS,
    Aliquot,
    BankBatch,
    Collection,
    Consent,
    DinSequence,
    Distribution,
    DistributionItem,
    Donor,
    Product,
)
from celltrace.config.env import env
from celltrace.core.choices import OrganisationKind, Role
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.core.models import Organisation, User
from celltrace.core.validation import require_reason

#: ICCBBA's example FIN from ST-001 (as in its worked examples): never a real facility's.
#: Set ``CELLTRACE_FACILITY_FIN`` (setting or environment) to the facility's licensed FIN.
DEFAULT_FACILITY_FIN = "A9999"
#: Roles that record donors, collections and aliquots and change their status.
BANK_ROLES = (Role.ADMIN, Role.BANK_TECHNICIAN)
#: Roles that release an aliquot from quarantine.
RELEASE_ROLES = (Role.ADMIN, Role.QA)
#: Roles that may reveal a donor's personal data (always with a reason on the ledger).
REVEAL_ROLES = (Role.ADMIN, Role.QA, Role.BANK_TECHNICIAN)
#: First-level divisions of a product, in the order they are handed out.
FIRST_LEVEL_DIVISIONS = [f"{chr(c)}0" for c in range(ord("A"), ord("Z") + 1)]


def facility_fin() -> str:
    """The facility's FIN: setting ``CELLTRACE_FACILITY_FIN``, else the environment, else the
    ICCBBA example FIN ``A9999`` (fine for tests and demos, never for real labels)."""
    fin = (
        str(getattr(settings, "CELLTRACE_FACILITY_FIN", "") or "")
        or env.str("CELLTRACE_FACILITY_FIN", default="")
        or DEFAULT_FACILITY_FIN
    )
    return isbt128.validate_fin(fin)


def _require(actor: User, roles: Sequence[str], message: str) -> None:
    if not (actor.is_active and actor.is_operator_staff and actor.has_role(*roles)):
        raise PermissionDenied(message)


def require_bank_role(actor: User) -> None:
    _require(
        actor,
        BANK_ROLES,
        _("Only bank technicians and administrators of the operator can do this."),
    )


def _clean(obj: models.Model, exclude: Sequence[str] = ()) -> None:
    try:
        obj.full_clean(exclude=list(exclude), validate_constraints=False)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            name, errors = next(iter(exc.message_dict.items()))
            raise Invalid(" ".join(errors), field=None if name == "__all__" else name) from exc
        raise Invalid(" ".join(exc.messages)) from exc


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise Invalid(_("%(name)s needs a time zone.") % {"name": name}, field=name)
    return moment.astimezone(dt.UTC)


# --- donors and consents -------------------------------------------------------------------


def _encrypted(values: Mapping[str, str]) -> dict[str, str]:
    return {
        f"{name}_enc": crypto.encrypt(values.get(name, "") or "", purpose=purpose)
        for name, purpose in DONOR_PERSONAL_FIELDS.items()
    }


#: The earliest date of birth a donor is registered with.
EARLIEST_DATE_OF_BIRTH = dt.date(1900, 1, 1)


def _date_of_birth_problem(date_of_birth: dt.date | None) -> str:
    """Why a date of birth is refused (after today in UTC, or before 1900), or ``""``. Checked
    before it is encrypted: nobody reads the stored value to notice."""
    if date_of_birth is None:
        return ""
    if isinstance(date_of_birth, dt.datetime):
        date_of_birth = date_of_birth.date()
    if EARLIEST_DATE_OF_BIRTH <= date_of_birth <= _now().date():
        return ""
    return _("The date of birth %(date)s is not between %(earliest)s and today.") % {
        "date": date_of_birth.isoformat(),
        "earliest": EARLIEST_DATE_OF_BIRTH.isoformat(),
    }


def _personal_values(
    name: str, national_id: str, phone: str, date_of_birth: dt.date | None
) -> dict[str, str]:
    return {
        "name": name.strip(),
        "national_id": national_id.strip().upper(),
        "phone": phone.strip(),
        "date_of_birth": date_of_birth.isoformat() if date_of_birth else "",
    }


def donor_create(
    *,
    actor: User,
    organisation: Organisation,
    reference: str,
    name: str = "",
    national_id: str = "",
    phone: str = "",
    date_of_birth: dt.date | None = None,
) -> Donor:
    """Register a donor under a pseudonymous reference; personal data is stored encrypted."""
    require_bank_role(actor)
    reference = reference.strip()
    if not reference:
        raise Invalid(_("Give the donor a reference."), field="reference")
    problem = _date_of_birth_problem(date_of_birth)
    if problem:
        raise Invalid(problem, field="date_of_birth")
    values = _personal_values(name, national_id, phone, date_of_birth)
    donor = Donor(organisation=organisation, reference=reference, **_encrypted(values))
    _clean(donor)
    with transaction.atomic():
        try:
            with transaction.atomic():
                donor.save()
        except IntegrityError as exc:
            raise Conflict(
                _("The donor reference %(ref)s is already used.") % {"ref": reference},
                field="reference",
            ) from exc
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.DONOR_CREATED,
            entity_type="bank.donor",
            entity_id=donor.pk,
            entity_label=reference,
            organisation_id=organisation.pk,
            new={
                "reference": reference,
                "personal_data_recorded": sorted(k for k, v in values.items() if v),
            },
        )
    return donor


def donor_reveal(*, actor: User, donor: Donor, reason: str) -> dict[str, str]:
    """The decrypted personal data of a donor, for an operator who says why (on the ledger)."""
    _require(
        actor,
        REVEAL_ROLES,
        _("Only administrators, QA and bank technicians of the operator can reveal personal data."),
    )
    reason = require_reason(reason)
    values = {name: donor.personal(name) for name in DONOR_PERSONAL_FIELDS}
    with transaction.atomic():
        ledger.append(
            actor=actor,
            action=Action.VIEW,
            event_type=EventType.DONOR_REVEALED,
            entity_type="bank.donor",
            entity_id=donor.pk,
            entity_label=donor.reference,
            organisation_id=donor.organisation_id,
            new={"revealed": sorted(k for k, v in values.items() if v)},
            reason=reason,
        )
    return values


def consent_record(
    *,
    actor: User,
    donor: Donor,
    version: str,
    signed_on: dt.date,
    storage: bool = True,
    clinical: bool = False,
    research: bool = False,
    reason: str = "",
) -> Consent:
    require_bank_role(actor)
    if not version.strip():
        raise Invalid(_("Give the consent form version."), field="version")
    if signed_on > _now().date():
        raise Invalid(_("A consent cannot be signed in the future."), field="signed_on")
    consent = Consent(
        organisation_id=donor.organisation_id,
        donor=donor,
        version=version.strip(),
        signed_on=signed_on,
        scope_storage=storage,
        scope_clinical=clinical,
        scope_research=research,
    )
    with transaction.atomic():
        consent.save()
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.CONSENT_RECORDED,
            entity_type="bank.donor",
            entity_id=donor.pk,
            entity_label=donor.reference,
            organisation_id=donor.organisation_id,
            new={
                "consent_id": consent.pk,
                "version": consent.version,
                "signed_on": signed_on,
                "storage": storage,
                "clinical": clinical,
                "research": research,
            },
            reason=reason,
        )
    return consent


def consent_withdraw(*, actor: User, consent: Consent, reason: str) -> Consent:
    require_bank_role(actor)
    reason = require_reason(reason)
    now = _now()
    with transaction.atomic():
        if not Consent.objects.filter(pk=consent.pk, withdrawn_at__isnull=True).update(
            withdrawn_at=now
        ):
            raise Conflict(_("This consent is already withdrawn."))
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.CONSENT_WITHDRAWN,
            entity_type="bank.donor",
            entity_id=consent.donor_id,
            entity_label=str(consent.donor),
            organisation_id=consent.organisation_id,
            old={"consent_id": consent.pk, "withdrawn_at": None},
            new={"consent_id": consent.pk, "withdrawn_at": now},
            reason=reason,
        )
    consent.withdrawn_at = now
    return consent


def consent_covers(donor_id: int, use: str) -> bool:
    """True if an active (not withdrawn) consent of the donor covers ``use``."""
    flag = {
        Use.CLINICAL: "scope_clinical",
        Use.RESEARCH: "scope_research",
    }.get(use, "scope_storage")  # type: ignore[call-overload]
    return Consent.objects.filter(
        donor_id=donor_id, withdrawn_at__isnull=True, **{flag: True}
    ).exists()


def consent_check(*, donor_id: int, use: str, reference: str = "") -> None:
    """Refuse (Conflict) a use of a donor's material that no active consent covers."""
    if not consent_covers(donor_id, use):
        label = Use(use).label if use in Use.values else _("storage")
        raise Conflict(
            _("Donor %(donor)s has no active consent covering %(use)s.")
            % {"donor": reference or donor_id, "use": label},
            field="use",
        )


# --- collections, products, aliquots ------------------------------------------------------


def din_allocate(*, count: int, year: int) -> list[str]:
    """Reserve ``count`` consecutive DINs of the facility for ``year`` (call in a transaction)."""
    fin = facility_fin()
    yy = year % 100
    with transaction.atomic():
        if not DinSequence.objects.filter(fin=fin, year=yy).exists():
            try:
                with transaction.atomic():
                    DinSequence.objects.create(fin=fin, year=yy, last=0)
            except IntegrityError:
                pass  # created by a concurrent transaction
        counter = DinSequence.objects.select_for_update().get(fin=fin, year=yy)
        updated = DinSequence.objects.filter(pk=counter.pk, last__lte=999_999 - count).update(
            last=F("last") + count
        )
        if not updated:
            raise Conflict(_("The DIN sequence numbers of %(year)s are used up.") % {"year": year})
        last = DinSequence.objects.values_list("last", flat=True).get(pk=counter.pk)
    return [isbt128.make_din(fin, yy, s).value for s in range(last - count + 1, last + 1)]


def _sprec_code(sprec_code: str, elements: Mapping[str, str] | None, version: str) -> str:
    try:
        if elements:
            return sprec.build_sprec(**elements, version=version).code
        if sprec_code:
            return sprec.parse_sprec(sprec_code.strip().upper(), version).code
    except (ValueError, TypeError) as exc:
        raise Invalid(str(exc), field="sprec_code") from exc
    return ""


def _validate_din(din: str) -> str:
    try:
        return isbt128.validate_din(din.strip().upper())
    except ValueError as exc:
        raise Invalid(str(exc), field="din") from exc


def collection_create(
    *,
    actor: User,
    donor: Donor,
    collection_type: str,
    collected_at: dt.datetime,
    volume_ml: Decimal,
    collection_site: str = "",
    sprec_code: str = "",
    sprec_elements: Mapping[str, str] | None = None,
    sprec_version: str = "3.0",
    din: str = "",
) -> Collection:
    """Record a collection; its DIN is allocated from the facility FIN unless given (legacy)."""
    require_bank_role(actor)
    if collection_type not in CollectionType.values:
        raise Invalid(_("Unknown collection type."), field="collection_type")
    collected_at = _aware(collected_at, "collected_at")
    if collected_at > _now() + dt.timedelta(minutes=5):
        raise Invalid(_("A collection cannot be in the future."), field="collected_at")
    if volume_ml < 0:
        raise Invalid(_("The volume cannot be negative."), field="volume_ml")
    code = _sprec_code(sprec_code, sprec_elements, sprec_version)
    given = _validate_din(din) if din else ""
    with transaction.atomic():
        consent_check(donor_id=donor.pk, use="storage", reference=donor.reference)
        value = given or din_allocate(count=1, year=collected_at.year)[0]
        collection = Collection(
            organisation_id=donor.organisation_id,
            donor=donor,
            din=value,
            collection_type=collection_type,
            collected_at=collected_at,
            volume_ml=volume_ml,
            collection_site=collection_site.strip(),
            sprec_code=code,
            sprec_version=sprec_version,
        )
        try:
            with transaction.atomic():
                collection.save()
        except IntegrityError as exc:
            raise Conflict(
                _("The DIN %(din)s is already assigned.") % {"din": value}, field="din"
            ) from exc
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.COLLECTION_CREATED,
            entity_type="bank.collection",
            entity_id=collection.pk,
            entity_label=value,
            organisation_id=donor.organisation_id,
            new={
                "donor_id": donor.pk,
                "din": value,
                "check_character": isbt128.check_character(value),
                "collection_type": collection_type,
                "collected_at": collected_at,
                "volume_ml": volume_ml,
                "collection_site": collection.collection_site,
                "sprec_code": code,
                "sprec_version": sprec_version,
            },
        )
    return collection


def _product_code(pdc: str, t: str, division: str = "00") -> isbt128.ProductCode:
    try:
        return isbt128.ProductCode(pdc, t, division)
    except ValueError as exc:
        raise Invalid(str(exc), field="pdc") from exc


def product_create(
    *,
    actor: User,
    collection: Collection,
    product_type: str,
    pdc: str,
    isbt_collection_type: str,
    processed_at: dt.datetime | None = None,
) -> Product:
    require_bank_role(actor)
    if product_type not in ProductType.values:
        raise Invalid(_("Unknown product type."), field="product_type")
    pdc = pdc.strip().upper()
    _product_code(pdc, isbt_collection_type)
    with transaction.atomic():
        product = Product.objects.create(
            organisation_id=collection.organisation_id,
            collection=collection,
            product_type=product_type,
            pdc=pdc,
            isbt_collection_type=isbt_collection_type,
            processed_at=_aware(processed_at, "processed_at") if processed_at else None,
        )
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.PRODUCT_CREATED,
            entity_type="bank.product",
            entity_id=product.pk,
            entity_label=f"{collection.din} {pdc}",
            organisation_id=collection.organisation_id,
            new={
                "collection_id": collection.pk,
                "product_type": product_type,
                "pdc": pdc,
                "isbt_collection_type": isbt_collection_type,
                "processed_at": product.processed_at,
            },
        )
    return product


def _next_division(product: Product, parent: Aliquot | None) -> str:
    used = set(
        Aliquot.objects.filter(din=product.collection.din, pdc=product.pdc).values_list(
            "division", flat=True
        )
    )
    if parent is None:
        candidates = FIRST_LEVEL_DIVISIONS
    else:
        if not parent.division.endswith("0") or parent.division == "00":
            raise Invalid(
                _("Only a first-level division (A0 … Z0) can be divided further."),
                field="parent",
            )
        letter = parent.division[0]
        candidates = [f"{letter}{chr(c)}" for c in range(ord("a"), ord("z") + 1)]
    for division in candidates:
        if division not in used:
            return division
    raise Conflict(_("No division code is left for this product."), field="division")


def _aliquot_values(
    *,
    container_type: str,
    volume_ul: Decimal,
    cell_count: int | None,
    viability_pct: Decimal | None,
    expiry: dt.datetime | None,
) -> None:
    if container_type not in ContainerType.values:
        raise Invalid(_("Unknown container type."), field="container_type")
    if not volume_ul.is_finite() or volume_ul < 0:
        raise Invalid(_("The volume cannot be negative."), field="volume_ul")
    if cell_count is not None and cell_count < 0:
        raise Invalid(_("The cell count cannot be negative."), field="cell_count")
    if viability_pct is not None and not (0 <= viability_pct <= 100):
        raise Invalid(_("Viability is a percentage between 0 and 100."), field="viability_pct")
    if expiry is not None:
        _aware(expiry, "expiry")


def _require_future_expiry(expiry: dt.datetime | None) -> dt.datetime | None:
    """New material is not made already expired: an expiry given to new aliquots lies after
    now (UTC). Only the writes that make new aliquots from the pages and the API check it
    (:func:`collection_process`, :func:`aliquot_create`); :func:`bank_batch_create` and the
    inventory import record existing, possibly expired, stock as it is."""
    if expiry is None:
        return None
    expiry = _aware(expiry, "expiry")
    if expiry <= _now():
        raise Invalid(
            _(
                "The expiry %(when)s UTC is not after now: new aliquots cannot be made "
                "already expired."
            )
            % {"when": expiry.strftime("%Y-%m-%d %H:%M")},
            field="expiry",
        )
    return expiry


def _ul(volume: Decimal) -> str:
    """A volume as written for people: 1000.0 → "1000", 250.5 → "250.5"."""
    text = f"{volume.normalize():f}"
    return "0" if text in {"-0", "0"} else text


@dataclass(frozen=True)
class Remaining:
    """What is left of an aliquot after its children: volume (µL) and, when its cell count is
    known, cells (None otherwise)."""

    volume_ul: Decimal
    cell_count: int | None
    children: int


def aliquot_remaining(aliquot: Aliquot) -> Remaining:
    """How much of ``aliquot``'s volume and cells its child aliquots have not taken (never
    below 0). The children are read from the database, so a caller holding the product lock
    and passing the aliquot as it reads it now gets it exact."""
    children = Aliquot.objects.filter(parent_id=aliquot.pk)
    # summed here: at most 26 children, and SQLite's SUM overflows past 2**63
    rows = list(children.values_list("volume_ul", "cell_count"))
    volume_left = aliquot.volume_ul - sum((v for v, _c in rows), Decimal(0))
    cells_left = (
        None
        if aliquot.cell_count is None
        else max(aliquot.cell_count - sum(c or 0 for _v, c in rows), 0)
    )
    return Remaining(max(volume_left, Decimal(0)), cells_left, len(rows))


def _refuse_overdrawn_parent(
    parent: Aliquot, volume_ul: Decimal, cell_count: int | None, count: int = 1
) -> None:
    """Children are portions of their parent: together they never exceed its volume, nor its
    cell count when the parent's is known. ``count`` children of ``volume_ul`` (and
    ``cell_count``) each are checked together, and the refusal states the total asked against
    what is left. Runs with the product locked, so two splits of one parent cannot both pass
    the check."""
    fresh = Aliquot.objects.get(pk=parent.pk)
    left = aliquot_remaining(fresh)
    asked = volume_ul * count
    if asked > left.volume_ul:
        values = {
            "count": count,
            "volume": _ul(volume_ul),
            "asked": _ul(asked),
            "left": _ul(left.volume_ul),
            "parent": str(fresh),
            "total": _ul(fresh.volume_ul),
        }
        if count == 1:
            message = _(
                "%(volume)s µL is more than the %(left)s µL left of parent %(parent)s (of "
                "%(total)s µL)."
            )
        else:
            message = _(
                "%(count)s × %(volume)s µL = %(asked)s µL is more than the %(left)s µL left of "
                "parent %(parent)s (of %(total)s µL)."
            )
        raise Invalid(message % values, field="volume_ul")
    if cell_count is not None and left.cell_count is not None:  # None: the parent's unknown
        cells_asked = cell_count * count
        if cells_asked > left.cell_count:
            values_cells = {
                "count": count,
                "cells": cell_count,
                "asked": cells_asked,
                "left": left.cell_count,
                "parent": str(fresh),
                "total": fresh.cell_count,
            }
            if count == 1:
                message = _(
                    "%(cells)s cells are more than the %(left)s cells left of parent "
                    "%(parent)s (of %(total)s cells)."
                )
            else:
                message = _(
                    "%(count)s × %(cells)s cells = %(asked)s cells are more than the %(left)s "
                    "cells left of parent %(parent)s (of %(total)s cells)."
                )
            raise Invalid(message % values_cells, field="cell_count")


def aliquot_create(
    *,
    actor: User,
    product: Product,
    container_type: str,
    volume_ul: Decimal,
    cell_count: int | None = None,
    viability_pct: Decimal | None = None,
    expiry: dt.datetime | None = None,
    parent: Aliquot | None = None,
    barcode: str = "",
) -> Aliquot:
    """A new container of ``product`` in quarantine, with the next free division code
    (``A0`` … ``Z0``; a child of ``parent`` gets ``Aa`` … under the parent's letter). An
    ``expiry`` lies after now: new material is not made already expired."""
    require_bank_role(actor)
    _aliquot_values(
        container_type=container_type,
        volume_ul=volume_ul,
        cell_count=cell_count,
        viability_pct=viability_pct,
        expiry=expiry,
    )
    expiry = _require_future_expiry(expiry)
    if parent is not None and parent.product_id != product.pk:
        raise Invalid(_("A child aliquot belongs to its parent's product."), field="parent")
    with transaction.atomic():
        locked = _lock_product(product)
        if parent is not None:
            _refuse_overdrawn_parent(parent, volume_ul, cell_count)
        return _aliquot_insert(
            actor=actor,
            product=locked,
            container_type=container_type,
            volume_ul=volume_ul,
            cell_count=cell_count,
            viability_pct=viability_pct,
            expiry=expiry,
            parent=parent,
            barcode=barcode,
        )


def _lock_product(product: Product) -> Product:
    return (
        Product.objects.select_for_update(of=("self",))
        .select_related("collection")
        .get(pk=product.pk)
    )


def _aliquot_insert(
    *,
    actor: User,
    product: Product,
    container_type: str,
    volume_ul: Decimal,
    cell_count: int | None,
    viability_pct: Decimal | None,
    expiry: dt.datetime | None,
    parent: Aliquot | None,
    barcode: str = "",
) -> Aliquot:
    """Insert one checked aliquot of the locked ``product`` and its ledger entry."""
    division = _next_division(product, parent)
    din = product.collection.din
    aliquot = Aliquot(
        organisation_id=product.organisation_id,
        product=product,
        din=din,
        pdc=product.pdc,
        isbt_collection_type=product.isbt_collection_type,
        division=division,
        barcode=barcode.strip() or f"{din}{product.pdc}{product.isbt_collection_type}{division}",
        parent=parent,
        container_type=container_type,
        volume_ul=volume_ul,
        cell_count=cell_count,
        viability_pct=viability_pct,
        expiry=expiry,
    )
    try:
        with transaction.atomic():
            aliquot.save()
    except IntegrityError as exc:
        raise Conflict(_("This barcode is already used."), field="barcode") from exc
    ledger.append(
        actor=actor,
        action=Action.CREATE,
        event_type=EventType.ALIQUOT_CREATED,
        entity_type="bank.aliquot",
        entity_id=aliquot.pk,
        entity_label=str(aliquot),
        organisation_id=aliquot.organisation_id,
        new=_aliquot_record(aliquot),
    )
    return aliquot


#: Child aliquots one division makes at most.
MAX_CHILDREN = 20


def aliquot_divide(
    *,
    actor: User,
    parent: Aliquot,
    count: int,
    volume_ul: Decimal,
    container_type: str = "",
    cell_count: int | None = None,
) -> list[Aliquot]:
    """Divide an aliquot in stock into ``count`` child aliquots of ``volume_ul`` each (its
    product, in quarantine, divisions ``Aa``, ``Ab`` … under the parent's letter), all or
    nothing: together they never take more than the parent holds. Each child is one ledger
    entry, as when created alone."""
    require_bank_role(actor)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_CHILDREN:
        raise Invalid(
            _("Divide into 1 to %(n)s child aliquots.") % {"n": MAX_CHILDREN}, field="count"
        )
    if parent.status not in IN_STOCK_STATUSES:
        raise Conflict(
            _("Aliquot %(aliquot)s is %(status)s: only an aliquot in stock is divided.")
            % {"aliquot": str(parent), "status": AliquotStatus(parent.status).label},
            field="parent",
        )
    container_type = container_type or parent.container_type
    _aliquot_values(
        container_type=container_type,
        volume_ul=volume_ul,
        cell_count=cell_count,
        viability_pct=parent.viability_pct,
        expiry=parent.expiry,
    )
    with transaction.atomic():
        locked = _lock_product(parent.product)
        # all the children together against what is left, before the first is made
        _refuse_overdrawn_parent(parent, volume_ul, cell_count, count)
        # the children keep the parent's expiry, as it is (the rule on new expiries is for
        # new material, see _require_future_expiry)
        return [
            _aliquot_insert(
                actor=actor,
                product=locked,
                container_type=container_type,
                volume_ul=volume_ul,
                cell_count=cell_count,
                viability_pct=parent.viability_pct,
                expiry=parent.expiry,
                parent=parent,
            )
            for _n in range(count)
        ]


def _aliquot_record(a: Aliquot) -> dict[str, Any]:
    return {
        "id": a.pk,
        "product_id": a.product_id,
        "din": a.din,
        "product_code": f"{a.pdc}{a.isbt_collection_type}{a.division}",
        "barcode": a.barcode,
        "parent_id": a.parent_id,
        "container_type": a.container_type,
        "volume_ul": a.volume_ul,
        "cell_count": a.cell_count,
        "viability_pct": a.viability_pct,
        "expiry": a.expiry,
        "status": a.status,
    }


def aliquot_set_status(
    *, actor: User, aliquot: Aliquot, status: str, reason: str, use: str = ""
) -> Aliquot:
    """Move an aliquot along its life cycle (:data:`ALLOWED_TRANSITIONS`).

    Release from quarantine needs QA (or an administrator) and an active consent; issuing
    needs ``use`` (clinical or research) covered by the donor's active consent. Issuing,
    thawing and discarding end the aliquot's storage placement in the same transaction.
    Anything refused changes nothing.
    """
    from celltrace.storage.services import end_placement, location_of

    seen = Aliquot.objects.values_list("status", flat=True).get(pk=aliquot.pk)
    require_status_role(actor, seen, status)
    reason = require_reason(reason)
    if status not in AliquotStatus.values:
        raise Invalid(_("Unknown status %(status)s.") % {"status": status}, field="status")
    if status == AliquotStatus.ISSUED and use not in Use.values:
        raise Invalid(
            _("Say whether the aliquot is issued for clinical or research use."), field="use"
        )
    _check_transition(seen, status)
    with transaction.atomic():
        now = _now()
        ended = (
            end_placement(actor=actor, aliquot=aliquot, now=now)
            if (status in LEAVING_STATUSES)
            else None
        )
        locked = (
            Aliquot.objects.select_for_update(of=("self",))
            .select_related("product__collection__donor")
            .get(pk=aliquot.pk)
        )
        old = locked.status
        require_status_role(actor, old, status)
        _check_transition(old, status)
        donor = locked.product.collection.donor
        if old == AliquotStatus.QUARANTINE and status == AliquotStatus.AVAILABLE:
            consent_check(donor_id=donor.pk, use="storage", reference=donor.reference)
        if status == AliquotStatus.ISSUED:
            consent_check(donor_id=donor.pk, use=use, reference=donor.reference)
            if use == Use.CLINICAL and locked.product_code.research_only:
                raise Conflict(
                    _("This product is coded for research only, not for clinical use."),
                    field="use",
                )
            if use == Use.CLINICAL and locked.is_expired:
                raise Conflict(_("The aliquot has expired."), field="use")
        changes: dict[str, Any] = {"status": status}
        if status == AliquotStatus.THAWED:
            changes["thaw_count"] = F("thaw_count") + 1
        if not Aliquot.objects.filter(pk=locked.pk, status=old).update(**changes):
            raise Conflict(_("The aliquot changed meanwhile; reload and try again."))
        locked.refresh_from_db(fields=["status", "thaw_count"])
        new: dict[str, Any] = {"status": status, "thaw_count": locked.thaw_count}
        if use:
            new["use"] = use
        old_values: dict[str, Any] = {"status": old}
        if ended is not None:
            old_values["location"] = location_of(ended.position)
            new["location"] = None
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.ALIQUOT_STATUS_CHANGED,
            entity_type="bank.aliquot",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=locked.organisation_id,
            old=old_values,
            new=new,
            reason=reason,
        )
    return locked


def require_status_role(actor: User, old: str, new: str) -> None:
    """Refuses (``PermissionDenied``) unless ``actor``'s roles may move an aliquot from ``old``
    to ``new``: QA or an administrator releases from quarantine, bank staff do the rest. The
    aliquot page asks it which statuses to offer."""
    if old == AliquotStatus.QUARANTINE and new == AliquotStatus.AVAILABLE:
        _require(
            actor,
            RELEASE_ROLES,
            _("Only QA or an administrator can release an aliquot from quarantine."),
        )
    else:
        require_bank_role(actor)


def _check_transition(old: str, new: str) -> None:
    if new not in ALLOWED_TRANSITIONS.get(old, frozenset()):
        raise Invalid(
            _("An aliquot cannot go from %(old)s to %(new)s.")
            % {"old": AliquotStatus(old).label, "new": AliquotStatus(new).label},
            field="status",
        )


# --- bulk creation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DonorRow:
    reference: str
    name: str = ""
    national_id: str = ""
    phone: str = ""
    date_of_birth: dt.date | None = None


@dataclass(frozen=True)
class ConsentRow:
    donor_reference: str
    version: str
    signed_on: dt.date
    storage: bool = True
    clinical: bool = False
    research: bool = False


@dataclass(frozen=True)
class CollectionRow:
    key: str
    donor_reference: str
    collection_type: str
    collected_at: dt.datetime
    volume_ml: Decimal
    collection_site: str = ""
    sprec_code: str = ""
    din: str = ""  # empty: allocated from the facility FIN


@dataclass(frozen=True)
class ProductRow:
    key: str
    collection_key: str
    product_type: str
    pdc: str
    isbt_collection_type: str
    processed_at: dt.datetime | None = None


@dataclass(frozen=True)
class AliquotRow:
    product_key: str
    division: str
    container_type: str
    volume_ul: Decimal
    cell_count: int | None = None
    viability_pct: Decimal | None = None
    expiry: dt.datetime | None = None
    status: str = AliquotStatus.QUARANTINE
    barcode: str = ""
    position_id: int | None = None  # a storage position to place it in, if any


@dataclass
class BankBatchInput:
    """Everything one bulk creation writes for one organisation.

    Rows refer to each other by keys: consents and collections name a donor reference (new in
    this batch, or an existing donor of the organisation), products a collection key, aliquots
    a product key. This is the shape the inventory importer fills, chunk by chunk.
    """

    organisation: Organisation
    source: str
    donors: list[DonorRow] = field(default_factory=list)
    consents: list[ConsentRow] = field(default_factory=list)
    collections: list[CollectionRow] = field(default_factory=list)
    products: list[ProductRow] = field(default_factory=list)
    aliquots: list[AliquotRow] = field(default_factory=list)


@dataclass(frozen=True)
class BankBatchResult:
    batch: BankBatch
    counts: dict[str, int]
    ledger_seq: int


def _validate_batch(data: BankBatchInput) -> list[str]:
    """Every problem of the batch (up to 50), before anything is written."""
    problems: list[str] = []

    def add(where: str, message: str) -> None:
        if len(problems) < 50:
            problems.append(f"{where}: {message}")

    refs = [d.reference.strip() for d in data.donors]
    if len(set(refs)) != len(refs):
        add("donors", _("a donor reference appears twice"))
    for i, d in enumerate(data.donors):
        problem = _date_of_birth_problem(d.date_of_birth)
        if problem:
            add(f"donor {i + 1}", problem)
    collection_keys = {c.key for c in data.collections}
    product_keys = {p.key for p in data.products}
    for i, c in enumerate(data.collections):
        where = f"collection {i + 1}"
        if c.collection_type not in CollectionType.values:
            add(where, _("unknown collection type"))
        if c.collected_at.tzinfo is None:
            add(where, _("the collection time needs a time zone"))
        if c.volume_ml < 0:
            add(where, _("negative volume"))
        if c.sprec_code:
            try:
                sprec.parse_sprec(c.sprec_code)
            except ValueError as exc:
                add(where, str(exc))
        if c.din:
            try:
                isbt128.validate_din(c.din)
            except ValueError as exc:
                add(where, str(exc))
    for i, p in enumerate(data.products):
        where = f"product {i + 1}"
        if p.collection_key not in collection_keys:
            add(where, _("unknown collection key"))
        if p.product_type not in ProductType.values:
            add(where, _("unknown product type"))
        try:
            isbt128.ProductCode(p.pdc, p.isbt_collection_type, "00")
        except ValueError as exc:
            add(where, str(exc))
    seen: set[tuple[str, str]] = set()
    positions = [a.position_id for a in data.aliquots if a.position_id is not None]
    if len(set(positions)) != len(positions):
        add("aliquots", _("two aliquots are given the same position"))
    for i, a in enumerate(data.aliquots):
        where = f"aliquot {i + 1}"
        if a.product_key not in product_keys:
            add(where, _("unknown product key"))
        if (a.product_key, a.division) in seen:
            add(where, _("division used twice in the product"))
        seen.add((a.product_key, a.division))
        if a.status not in AliquotStatus.values:
            add(where, _("unknown status"))
        if a.position_id is not None and a.status in LEAVING_STATUSES:
            add(where, _("an issued, thawed or discarded aliquot cannot be placed"))
        try:
            _aliquot_values(
                container_type=a.container_type,
                volume_ul=a.volume_ul,
                cell_count=a.cell_count,
                viability_pct=a.viability_pct,
                expiry=a.expiry,
            )
        except Invalid as exc:
            add(where, exc.message)
    return problems


def bank_batch_create(*, actor: User, data: BankBatchInput, reason: str) -> BankBatchResult:
    """Create donors, consents, collections, products and aliquots in bulk, placing aliquots
    that name a position, in one transaction with ONE ledger entry for the whole batch.

    The entry carries, per kind of row, ``{"rows": n, "digest": sha256}`` from
    :func:`celltrace.audit.ledger.rows_digest` over the rows as written (personal data
    excluded), and each created row points at its :class:`BankBatch`, so every aliquot's
    timeline can show the entry that created it. All or nothing: a refused batch writes
    nothing.
    """
    from celltrace.storage.models import Box
    from celltrace.storage.services import PlacementRow, placements_bulk_insert

    require_bank_role(actor)
    reason = require_reason(reason)
    problems = _validate_batch(data)
    if problems:
        raise Invalid("; ".join(problems))
    org = data.organisation
    now = _now()
    with transaction.atomic():
        batch = BankBatch.objects.create(
            organisation=org,
            created_by=actor,
            created_by_name=actor.full_name or actor.username,
            source=data.source[:200],
            reason=reason,
        )
        # donors (new ones) and the existing donors the rows refer to
        new_donors = [
            Donor(
                organisation=org,
                reference=d.reference.strip(),
                **_encrypted(_personal_values(d.name, d.national_id, d.phone, d.date_of_birth)),
            )
            for d in data.donors
        ]
        try:
            with transaction.atomic():
                Donor.objects.bulk_create(new_donors, batch_size=1000)
        except IntegrityError as exc:
            raise Conflict(_("A donor reference of the batch is already used.")) from exc
        wanted = {c.donor_reference for c in data.collections} | {
            c.donor_reference for c in data.consents
        }
        donors = {d.reference: d for d in new_donors}
        missing = sorted(wanted - donors.keys())
        for i in range(0, len(missing), 900):
            for d in Donor.objects.filter(organisation=org, reference__in=missing[i : i + 900]):
                donors[d.reference] = d
        unknown = sorted(wanted - donors.keys())
        if unknown:
            raise Invalid(
                _("Unknown donor references: %(refs)s.") % {"refs": ", ".join(unknown[:20])}
            )
        consents = [
            Consent(
                organisation=org,
                donor=donors[c.donor_reference],
                version=c.version,
                signed_on=c.signed_on,
                scope_storage=c.storage,
                scope_clinical=c.clinical,
                scope_research=c.research,
            )
            for c in data.consents
        ]
        Consent.objects.bulk_create(consents, batch_size=1000)
        # collections, with DINs allocated per nominal year
        by_year: dict[int, list[int]] = {}
        for i, c in enumerate(data.collections):
            if not c.din:
                by_year.setdefault(c.collected_at.astimezone(dt.UTC).year, []).append(i)
        dins = {i: c.din.strip().upper() for i, c in enumerate(data.collections) if c.din}
        for year, indexes in sorted(by_year.items()):
            for i, value in zip(indexes, din_allocate(count=len(indexes), year=year), strict=True):
                dins[i] = value
        collections = [
            Collection(
                organisation=org,
                donor=donors[c.donor_reference],
                din=dins[i],
                collection_type=c.collection_type,
                collected_at=c.collected_at.astimezone(dt.UTC),
                volume_ml=c.volume_ml,
                collection_site=c.collection_site,
                sprec_code=c.sprec_code.upper(),
                batch=batch,
            )
            for i, c in enumerate(data.collections)
        ]
        try:
            with transaction.atomic():
                Collection.objects.bulk_create(collections, batch_size=1000)
        except IntegrityError as exc:
            raise Conflict(_("A DIN of the batch is already assigned.")) from exc
        coll_by_key = {c.key: obj for c, obj in zip(data.collections, collections, strict=True)}
        products = [
            Product(
                organisation=org,
                collection=coll_by_key[p.collection_key],
                product_type=p.product_type,
                pdc=p.pdc,
                isbt_collection_type=p.isbt_collection_type,
                processed_at=p.processed_at,
                batch=batch,
            )
            for p in data.products
        ]
        Product.objects.bulk_create(products, batch_size=1000)
        prod_by_key = {p.key: obj for p, obj in zip(data.products, products, strict=True)}
        aliquots = []
        for a in data.aliquots:
            product = prod_by_key[a.product_key]
            din = product.collection.din
            aliquots.append(
                Aliquot(
                    organisation=org,
                    product=product,
                    din=din,
                    pdc=product.pdc,
                    isbt_collection_type=product.isbt_collection_type,
                    division=a.division,
                    barcode=a.barcode
                    or f"{din}{product.pdc}{product.isbt_collection_type}{a.division}",
                    container_type=a.container_type,
                    volume_ul=a.volume_ul,
                    cell_count=a.cell_count,
                    viability_pct=a.viability_pct,
                    expiry=a.expiry,
                    status=a.status,
                    batch=batch,
                )
            )
        try:
            with transaction.atomic():
                Aliquot.objects.bulk_create(aliquots, batch_size=2000)
        except IntegrityError as exc:
            raise Conflict(
                _("An aliquot identity or barcode of the batch is already used.")
            ) from exc
        # placements: lock the boxes involved (pk order), then insert
        placement_rows = [
            PlacementRow(obj.pk, org.pk, a.position_id)
            for a, obj in zip(data.aliquots, aliquots, strict=True)
            if a.position_id is not None
        ]
        placed: list[dict[str, Any]] = []
        if placement_rows:
            box_ids = sorted(
                set(
                    Box.objects.filter(
                        positions__pk__in=[r.position_id for r in placement_rows]
                    ).values_list("pk", flat=True)
                )
            )
            list(Box.objects.select_for_update().filter(pk__in=box_ids).order_by("pk"))
            placed = placements_bulk_insert(actor=actor, rows=placement_rows, now=now)
        counts = {
            "donors": len(new_donors),
            "consents": len(consents),
            "collections": len(collections),
            "products": len(products),
            "aliquots": len(aliquots),
            "placements": len(placed),
        }
        digests = {
            "donors": ledger.rows_digest(
                {"id": d.pk, "reference": d.reference} for d in new_donors
            ),
            "consents": ledger.rows_digest(
                {
                    "id": c.pk,
                    "donor_id": c.donor_id,
                    "version": c.version,
                    "signed_on": c.signed_on,
                    "storage": c.scope_storage,
                    "clinical": c.scope_clinical,
                    "research": c.scope_research,
                }
                for c in consents
            ),
            "collections": ledger.rows_digest(
                {
                    "id": c.pk,
                    "donor_id": c.donor_id,
                    "din": c.din,
                    "collection_type": c.collection_type,
                    "collected_at": c.collected_at,
                    "volume_ml": c.volume_ml,
                    "sprec_code": c.sprec_code,
                }
                for c in collections
            ),
            "products": ledger.rows_digest(
                {
                    "id": p.pk,
                    "collection_id": p.collection_id,
                    "product_type": p.product_type,
                    "pdc": p.pdc,
                    "isbt_collection_type": p.isbt_collection_type,
                }
                for p in products
            ),
            "aliquots": ledger.rows_digest(_aliquot_record(a) for a in aliquots),
            "placements": ledger.rows_digest(placed),
        }
        appended = ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.BANK_BATCH_CREATED,
            entity_type="bank.bankbatch",
            entity_id=batch.pk,
            entity_label=str(batch),
            organisation_id=org.pk,
            new={
                "source": batch.source,
                **{k: {"rows": n, "digest": d} for k, (n, d) in digests.items()},
            },
            reason=reason,
        )
        batch.ledger_seq = appended.seq
        batch.save(update_fields=["ledger_seq"])
    return BankBatchResult(batch=batch, counts=counts, ledger_seq=appended.seq)


def aliquot_labels_print(*, actor: User, aliquots: Iterable[Aliquot], layout_name: str) -> None:
    """Record on the ledger that labels were printed for these aliquots (one entry)."""
    require_bank_role(actor)
    items = list(aliquots)
    if not items:
        raise Invalid(_("Choose at least one aliquot."), field="aliquots")
    with transaction.atomic():
        ledger.append(
            actor=actor,
            action=Action.PRINT,
            event_type=EventType.ALIQUOTS_PRINTED,
            entity_type="bank.aliquot",
            entity_id=items[0].pk if len(items) == 1 else "batch",
            entity_label=str(items[0]) if len(items) == 1 else f"{len(items)} aliquots",
            new={"aliquot_ids": [a.pk for a in items], "layout": layout_name},
        )


# --- processing a collection into a product and its aliquots --------------------------------


@dataclass(frozen=True)
class ProcessingResult:
    batch: BankBatch
    product: Product
    aliquots: list[Aliquot]
    placed: int
    ledger_seq: int


#: At most this many aliquots per processing step (one first-level division letter each).
MAX_ALIQUOTS_PER_PROCESSING = len(FIRST_LEVEL_DIVISIONS)


def collection_process(
    *,
    actor: User,
    collection: Collection,
    product_type: str,
    pdc: str,
    isbt_collection_type: str,
    count: int,
    container_type: str,
    volume_ul: Decimal,
    cell_count: int | None = None,
    viability_pct: Decimal | None = None,
    expiry: dt.datetime | None = None,
    processed_at: dt.datetime | None = None,
    place: bool = False,
    unit: Any = None,
    reason: str = "",
) -> ProcessingResult:
    """Process a collection into one product and ``count`` aliquots (quarantine, divisions
    ``A0`` … in order), optionally placing them at once in free positions proposed by
    :func:`celltrace.storage.services.allocate_positions` (together in one box where possible,
    in the unit's fill order). One transaction, ONE ledger entry ``COLLECTION_PROCESSED`` on a
    :class:`BankBatch` that the aliquots point at, so each aliquot's timeline starts with it.
    """
    from celltrace.storage.models import Box
    from celltrace.storage.services import (
        PlacementRow,
        allocate_positions,
        location_of,
        placements_bulk_insert,
    )

    require_bank_role(actor)
    if product_type not in ProductType.values:
        raise Invalid(_("Unknown product type."), field="product_type")
    pdc = pdc.strip().upper()
    _product_code(pdc, isbt_collection_type)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise Invalid(_("Make at least one aliquot."), field="count")
    if count > MAX_ALIQUOTS_PER_PROCESSING:
        raise Invalid(
            _("At most %(n)s aliquots can be made in one step (divisions A0 to Z0).")
            % {"n": MAX_ALIQUOTS_PER_PROCESSING},
            field="count",
        )
    _aliquot_values(
        container_type=container_type,
        volume_ul=volume_ul,
        cell_count=cell_count,
        viability_pct=viability_pct,
        expiry=expiry,
    )
    expiry = _require_future_expiry(expiry)
    processed = _aware(processed_at, "processed_at") if processed_at else _now()
    if processed < collection.collected_at:
        raise Invalid(
            _("Processing cannot come before the collection (%(when)s UTC).")
            % {"when": collection.collected_at.strftime("%Y-%m-%d %H:%M")},
            field="processed_at",
        )
    if processed > _now() + dt.timedelta(minutes=5):
        raise Invalid(_("Processing cannot be in the future."), field="processed_at")
    reason = reason.strip()
    with transaction.atomic():
        locked = Collection.objects.select_for_update().get(pk=collection.pk)
        consent_check(donor_id=locked.donor_id, use="storage", reference=str(locked.donor))
        used = set(
            Aliquot.objects.filter(din=locked.din, pdc=pdc).values_list("division", flat=True)
        )
        free = [d for d in FIRST_LEVEL_DIVISIONS if d not in used]
        if len(free) < count:
            raise Conflict(
                _("Only %(n)s division codes are left for %(pdc)s on this collection.")
                % {"n": len(free), "pdc": pdc},
                field="count",
            )
        batch = BankBatch.objects.create(
            organisation_id=locked.organisation_id,
            created_by=actor,
            created_by_name=actor.full_name or actor.username,
            source=f"processing of {locked.din}",
            reason=reason,
        )
        product = Product.objects.create(
            organisation_id=locked.organisation_id,
            collection=locked,
            product_type=product_type,
            pdc=pdc,
            isbt_collection_type=isbt_collection_type,
            processed_at=processed,
            batch=batch,
        )
        aliquots = [
            Aliquot(
                organisation_id=locked.organisation_id,
                product=product,
                din=locked.din,
                pdc=pdc,
                isbt_collection_type=isbt_collection_type,
                division=division,
                barcode=f"{locked.din}{pdc}{isbt_collection_type}{division}",
                container_type=container_type,
                volume_ul=volume_ul,
                cell_count=cell_count,
                viability_pct=viability_pct,
                expiry=expiry,
                batch=batch,
            )
            for division in free[:count]
        ]
        try:
            with transaction.atomic():
                Aliquot.objects.bulk_create(aliquots)
        except IntegrityError as exc:
            raise Conflict(
                _("An aliquot identity or barcode is already used; reload and try again.")
            ) from exc
        placed: list[dict[str, Any]] = []
        locations: list[dict[str, Any]] = []
        if place:
            positions = allocate_positions(
                actor=actor, count=count, unit=unit, container_type=container_type
            )
            box_ids = sorted({p.box_id for p in positions})
            list(Box.objects.select_for_update().filter(pk__in=box_ids).order_by("pk"))
            placed = placements_bulk_insert(
                actor=actor,
                rows=[
                    PlacementRow(a.pk, a.organisation_id, p.pk)
                    for a, p in zip(aliquots, positions, strict=True)
                ],
                now=_now(),
            )
            locations = [location_of(p) for p in positions]
        appended = ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.COLLECTION_PROCESSED,
            entity_type="bank.bankbatch",
            entity_id=batch.pk,
            entity_label=str(batch),
            organisation_id=locked.organisation_id,
            new={
                "collection_id": locked.pk,
                "din": locked.din,
                "product": {
                    "id": product.pk,
                    "product_type": product_type,
                    "pdc": pdc,
                    "isbt_collection_type": isbt_collection_type,
                    "processed_at": processed,
                },
                "aliquots": [_aliquot_record(a) for a in aliquots],
                "locations": locations,
            },
            reason=reason,
        )
        batch.ledger_seq = appended.seq
        batch.save(update_fields=["ledger_seq"])
    return ProcessingResult(
        batch=batch,
        product=product,
        aliquots=aliquots,
        placed=len(placed),
        ledger_seq=appended.seq,
    )


# --- distributions: release out of the bank with QA's signature -----------------------------

#: Statuses an aliquot may have to be put on a distribution and released with it.
DISTRIBUTABLE_STATUSES = frozenset({AliquotStatus.AVAILABLE, AliquotStatus.RESERVED})


def distribution_problems(
    aliquots: Sequence[Aliquot], use: str, *, distribution_id: int | None = None
) -> list[str]:
    """Why these aliquots cannot leave the bank for ``use`` (one line per aliquot and rule);
    empty when they can. ``aliquots`` need ``product__collection__donor`` loaded."""
    problems: list[str] = []
    if use not in Use.values:
        return [_("Say whether the distribution is for clinical or research use.")]
    label = Use(use).label
    other = DistributionItem.objects.filter(
        aliquot__in=[a.pk for a in aliquots], distribution__status=DistributionStatus.DRAFT
    ).select_related("distribution")
    if distribution_id is not None:
        other = other.exclude(distribution_id=distribution_id)
    pending = {i.aliquot_id: i.distribution.number for i in other}
    covered: dict[int, bool] = {}
    for a in aliquots:
        name = f"{a.din} {a.product_code_text}"
        if a.status not in DISTRIBUTABLE_STATUSES:
            problems.append(
                _(
                    "Aliquot %(a)s is %(status)s; only available or reserved aliquots can be "
                    "distributed."
                )
                % {"a": name, "status": AliquotStatus(a.status).label}
            )
            continue
        donor = a.product.collection.donor
        if donor.pk not in covered:
            covered[donor.pk] = consent_covers(donor.pk, use)
        if not covered[donor.pk]:
            problems.append(
                _(
                    "Aliquot %(a)s: donor %(donor)s has no active consent covering %(use)s; "
                    "it cannot be distributed for this use."
                )
                % {"a": name, "donor": donor.reference, "use": label}
            )
        if use == Use.CLINICAL and a.product_code.research_only:
            problems.append(
                _("Aliquot %(a)s is coded for research only, not for clinical use.") % {"a": name}
            )
        if use == Use.CLINICAL and a.is_expired:
            problems.append(_("Aliquot %(a)s has expired.") % {"a": name})
        if a.pk in pending:
            problems.append(
                _("Aliquot %(a)s is already on distribution %(d)s.")
                % {"a": name, "d": pending[a.pk]}
            )
    return problems


def _delivery_address_problem(intended_use: str, recipient_address: str) -> str:
    """A distribution for clinical use names where it is delivered (the dispatch note prints
    it); empty when there is no problem."""
    if intended_use == Use.CLINICAL and not recipient_address.strip():
        return _("A distribution for clinical use needs a delivery address.")
    return ""


def distribution_create(
    *,
    actor: User,
    aliquots: Sequence[Aliquot],
    recipient_name: str,
    intended_use: str,
    shipping_conditions: str,
    recipient_organisation: Organisation | None = None,
    recipient_address: str = "",
    shipping_notes: str = "",
    reason: str = "",
) -> Distribution:
    """Draft a distribution of stock aliquots (one organisation's) to a recipient, checked
    against every donor's consent for ``intended_use``. QA then signs it *released*."""
    require_bank_role(actor)
    recipient_name = recipient_name.strip()
    if not recipient_name:
        raise Invalid(_("Name the recipient (clinical site or person)."), field="recipient_name")
    if intended_use not in Use.values:
        raise Invalid(
            _("Say whether the distribution is for clinical or research use."),
            field="intended_use",
        )
    missing_address = _delivery_address_problem(intended_use, recipient_address)
    if missing_address:
        raise Invalid(missing_address, field="recipient_address")
    if shipping_conditions not in ShippingCondition.values:
        raise Invalid(_("Choose the shipping conditions."), field="shipping_conditions")
    ids = sorted({a.pk for a in aliquots})
    if not ids:
        raise Invalid(_("Scan at least one aliquot."), field="aliquots")
    with transaction.atomic():
        locked = list(
            Aliquot.objects.select_for_update(of=("self",))
            .select_related("product__collection__donor", "organisation")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        orgs = {a.organisation_id for a in locked}
        if len(locked) != len(ids):
            raise Invalid(_("An aliquot does not exist."), field="aliquots")
        if len(orgs) != 1:
            raise Invalid(
                _("All aliquots of a distribution belong to one organisation."),
                field="aliquots",
            )
        owner = locked[0].organisation
        if (
            recipient_organisation is not None
            and owner.kind == OrganisationKind.CLIENT
            and recipient_organisation.pk != owner.pk
        ):
            raise Invalid(
                _(
                    "Material of %(owner)s can only go to %(owner)s or to a named clinical "
                    "site, not to %(other)s."
                )
                % {"owner": owner.name, "other": recipient_organisation.name},
                field="recipient_organisation",
            )
        problems = distribution_problems(locked, intended_use)
        if problems:
            raise Conflict(" ".join(problems), field="aliquots")
        dist = Distribution.objects.create(
            organisation=owner,
            recipient_organisation=recipient_organisation,
            recipient_name=recipient_name,
            recipient_address=recipient_address.strip(),
            intended_use=intended_use,
            shipping_conditions=shipping_conditions,
            shipping_notes=shipping_notes.strip(),
            created_by=actor,
        )
        DistributionItem.objects.bulk_create(
            DistributionItem(organisation=owner, distribution=dist, aliquot=a) for a in locked
        )
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=EventType.DISTRIBUTION_CREATED,
            entity_type="bank.distribution",
            entity_id=dist.pk,
            entity_label=dist.number,
            organisation_id=owner.pk,
            new={
                "recipient_organisation_id": recipient_organisation.pk
                if recipient_organisation
                else None,
                "recipient_name": recipient_name,
                "intended_use": intended_use,
                "shipping_conditions": shipping_conditions,
                "aliquots": [
                    {"id": a.pk, "din": a.din, "product_code": a.product_code_text} for a in locked
                ],
            },
            reason=reason.strip(),
        )
    return dist


def distribution_cancel(*, actor: User, distribution: Distribution, reason: str) -> Distribution:
    """Cancel a draft distribution (its aliquots stay in stock)."""
    require_bank_role(actor)
    reason = require_reason(reason)
    with transaction.atomic():
        locked = Distribution.objects.select_for_update().get(pk=distribution.pk)
        if locked.status != DistributionStatus.DRAFT:
            raise Conflict(
                _("Distribution %(d)s is %(status)s and can no longer be cancelled.")
                % {"d": locked.number, "status": DistributionStatus(locked.status).label}
            )
        now = _now()
        locked.status = DistributionStatus.CANCELLED
        locked.cancelled_at = now
        locked.save(update_fields=["status", "cancelled_at"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.DISTRIBUTION_CANCELLED,
            entity_type="bank.distribution",
            entity_id=locked.pk,
            entity_label=locked.number,
            organisation_id=locked.organisation_id,
            old={"status": DistributionStatus.DRAFT},
            new={"status": DistributionStatus.CANCELLED, "cancelled_at": now},
            reason=reason,
        )
    return locked


def _distribution_aliquots(distribution: Distribution) -> list[Aliquot]:
    return list(
        Aliquot.objects.select_related("product__collection__donor")
        .filter(distribution_items__distribution=distribution)
        .order_by("pk")
    )


def distribution_can_sign(actor: User, distribution: Distribution, meaning: str) -> str | None:
    """``can_sign`` of distributions: QA of the operator, not the person who drafted it, a
    draft whose aliquots may still leave for its use (consent re-checked now)."""
    if meaning != SignatureMeaning.RELEASED:
        return _("Distributions are signed as released.")
    if not (actor.is_active and actor.is_operator_staff and actor.has_role(Role.QA)):
        return _("Only QA of the operator releases a distribution.")
    if distribution.created_by_id == actor.pk:
        return _("The person who drafted the distribution cannot also release it.")
    if distribution.status != DistributionStatus.DRAFT:
        return _("Distribution %(d)s is %(status)s.") % {
            "d": distribution.number,
            "status": DistributionStatus(distribution.status).label,
        }
    missing_address = _delivery_address_problem(
        distribution.intended_use, distribution.recipient_address
    )
    if missing_address:
        return missing_address
    problems = distribution_problems(
        _distribution_aliquots(distribution),
        distribution.intended_use,
        distribution_id=distribution.pk,
    )
    return " ".join(problems) or None


def distribution_release_frozen(distribution: Distribution) -> str | None:
    """``frozen`` rule of distributions (read on the locked record): QA's release cannot be
    withdrawn once it has issued the aliquots (they have left the bank, each hand-over on the
    ledger)."""
    if distribution.status == DistributionStatus.RELEASED:
        return _(
            "Distribution %(d)s is released and its aliquots have left the bank: the "
            "release signature stays."
        ) % {"d": distribution.number}
    return None


def _lock_distribution(pk: int) -> tuple[Distribution, dict[int, Any], list[Aliquot]]:
    """Lock the distribution, then the boxes its aliquots are in (pk order), then the aliquots
    (pk order): the storage services' order of boxes before aliquots. Returns the distribution,
    the aliquots' open placements by aliquot id, and the locked aliquots. An aliquot moved to
    another box between reading its place and locking it is refused (its new box would be
    locked out of order)."""
    from celltrace.storage.models import Box, Placement

    dist = Distribution.objects.select_for_update().get(pk=pk)
    ids = sorted(dist.items.values_list("aliquot_id", flat=True))

    def placements() -> dict[int, Any]:
        return {
            p.aliquot_id: p
            for p in Placement.objects.select_related("position__box__rack__unit").filter(
                aliquot_id__in=ids, removed_at__isnull=True
            )
        }

    before = placements()
    box_ids = sorted({p.position.box_id for p in before.values()})
    list(Box.objects.select_for_update().filter(pk__in=box_ids).order_by("pk"))
    locked = list(
        Aliquot.objects.select_for_update(of=("self",))
        .select_related("product__collection__donor")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    now = placements()
    if {a: p.pk for a, p in now.items()} != {a: p.pk for a, p in before.items()}:
        raise Conflict(_("An aliquot was moved meanwhile; reload and try again."))
    return dist, now, locked


def distribution_lock(distribution: Distribution) -> Distribution:
    """Signing lock of a distribution (``signing.register(lock=…)``): the rows the release
    hook changes, taken before the ledger's head as the storage services take them."""
    return _lock_distribution(distribution.pk)[0]


def distribution_released(actor: User, distribution: Distribution, signature: Any) -> None:
    """``on_signed`` hook: QA's release signature issues every aliquot of the distribution for
    its intended use and ends its storage placement, each a custody hand-over on the ledger
    (``ALIQUOT_DISPATCHED``), then marks the distribution released (``DISTRIBUTION_RELEASED``).
    Runs inside the signing transaction: anything refused here rolls the signature back.
    Locks: the distribution, then the boxes (pk order), then the aliquots (pk order)."""
    from celltrace.storage.models import Placement
    from celltrace.storage.services import location_of

    with transaction.atomic():
        dist, placements, locked = _lock_distribution(distribution.pk)
        if dist.status != DistributionStatus.DRAFT:
            raise Conflict(
                _("Distribution %(d)s is %(status)s.")
                % {"d": dist.number, "status": DistributionStatus(dist.status).label}
            )
        missing_address = _delivery_address_problem(dist.intended_use, dist.recipient_address)
        if missing_address:
            raise Conflict(missing_address, field="recipient_address")
        problems = distribution_problems(locked, dist.intended_use, distribution_id=dist.pk)
        if problems:
            raise Conflict(" ".join(problems), field="aliquots")
        now = _now()
        ended = Placement.objects.filter(
            pk__in=[p.pk for p in placements.values()], removed_at__isnull=True
        ).update(removed_at=now, removed_by=actor)
        if ended != len(placements):
            raise Conflict(_("An aliquot was moved meanwhile; reload and try again."))
        recipient = {
            "distribution_id": dist.pk,
            "distribution": dist.number,
            "recipient_organisation_id": dist.recipient_organisation_id,
            "recipient_name": dist.recipient_name,
            "shipping_conditions": dist.shipping_conditions,
        }
        for a in locked:
            if not Aliquot.objects.filter(pk=a.pk, status=a.status).update(
                status=AliquotStatus.ISSUED
            ):
                raise Conflict(_("The aliquot changed meanwhile; reload and try again."))
            placement = placements.get(a.pk)
            ledger.append(
                actor=actor,
                action=Action.UPDATE,
                event_type=EventType.ALIQUOT_DISPATCHED,
                entity_type="bank.aliquot",
                entity_id=a.pk,
                entity_label=str(a),
                organisation_id=a.organisation_id,
                old={
                    "status": a.status,
                    "location": location_of(placement.position) if placement else None,
                    "custodian": "bank",
                },
                new={
                    "status": AliquotStatus.ISSUED,
                    "use": dist.intended_use,
                    "location": None,
                    "custodian": dist.recipient_name,
                    **recipient,
                },
                reason=_("Released with distribution %(d)s") % {"d": dist.number},
            )
        dist.status = DistributionStatus.RELEASED
        dist.released_at = now
        dist.save(update_fields=["status", "released_at"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=EventType.DISTRIBUTION_RELEASED,
            entity_type="bank.distribution",
            entity_id=dist.pk,
            entity_label=dist.number,
            organisation_id=dist.organisation_id,
            old={"status": DistributionStatus.DRAFT},
            new={
                "status": DistributionStatus.RELEASED,
                "released_at": now,
                "signature_id": signature.pk,
                "aliquot_ids": [a.pk for a in locked],
                "placements_ended": ended,
            },
        )
    distribution.status = dist.status
    distribution.released_at = now
