"""Writes of the QC laboratory. Each is one transaction with its ledger entries.

Signing (``performed``, ``reviewed`` on results; ``released`` on requests) goes through
:func:`celltrace.audit.services.record_sign`; :func:`result_can_sign` and
:func:`request_can_sign` enforce four-eyes and the release conditions, and
:func:`result_signed` / :func:`request_signed` (registered as ``on_signed`` hooks) move the
request's status in the signing transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from celltrace.audit import ledger, signing
from celltrace.audit.canonical import canonical_bytes
from celltrace.audit.choices import Action, SignatureMeaning
from celltrace.audit.models import Signature
from celltrace.core.choices import OrganisationKind, Role
from celltrace.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from celltrace.core.models import Organisation, User
from celltrace.qc.catalogue import METHODS
from celltrace.qc.choices import (
    REQUEST_TRANSITIONS,
    Conformance,
    Language,
    LimitKind,
    OosOutcome,
    OosPhase,
    Priority,
    QcCatalogueEvent,
    QcEvent,
    RemovalPurpose,
    RequestStatus,
    ResultStatus,
    ResultType,
    RoundingMode,
    SampleStatus,
    VersionStatus,
)
from celltrace.qc.evaluation import _require_storable, evaluate, value_range
from celltrace.qc.models import (
    Certificate,
    ClientContact,
    Method,
    MethodVersion,
    OosInvestigation,
    Result,
    Sample,
    SamplePlacement,
    Specification,
    SpecificationLimit,
    Test,
    TestPanel,
    TestRequest,
)
from celltrace.qc.rounding import parse_decimal

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from celltrace.storage.services import Occupant

LAB_ROLES = (Role.QC_ANALYST, Role.QC_REVIEWER, Role.QA)
RECEIPT_ROLES = (Role.QC_ANALYST, Role.QC_REVIEWER, Role.QA, Role.BANK_TECHNICIAN)
#: Who issues and amends certificates of analysis.
CERTIFICATE_ROLES = (Role.QA,)
#: Who completes phase I of an OOS investigation, and who closes phase II.
OOS_PHASE1_ROLES = (Role.QC_REVIEWER, Role.QA)
OOS_CLOSE_ROLES = (Role.QA,)
#: Request statuses in which results may still be entered, corrected or invalidated.
OPEN_FOR_TESTING = (RequestStatus.IN_TESTING, RequestStatus.REVIEWED)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_lab(actor: User | None, *roles: str) -> bool:
    """Whether ``actor`` is active operator staff holding one of ``roles``."""
    return bool(
        actor is not None
        and actor.is_active
        and actor.is_operator_staff
        and actor.has_role(*(roles or LAB_ROLES))
    )


def _require_lab(actor: User | None, roles: Sequence[str], message: str) -> User:
    if actor is None or not is_lab(actor, *roles):
        raise PermissionDenied(message)
    return actor


def _require_text(text: str, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid(message, field=field)
    return text


def _sees(actor: User, organisation_id: int) -> bool:
    return actor.is_active and (actor.is_operator_staff or actor.organisation_id == organisation_id)


def _lock_request(request: TestRequest) -> TestRequest:
    return TestRequest.objects.select_for_update().get(pk=request.pk)


def _transition(actor: User | None, req: TestRequest, to: str, reason: str = "") -> None:
    """Move ``req`` (locked) to ``to`` if the workflow allows it, with its ledger entry."""
    frm = req.status
    if to not in REQUEST_TRANSITIONS[frm]:
        raise Conflict(
            _("A request that is %(from)s cannot become %(to)s.")
            % {"from": RequestStatus(frm).label, "to": RequestStatus(to).label},
            field="status",
        )
    now = _now()
    req.status = to
    fields = ["status"]
    for status, attr in (
        (RequestStatus.SUBMITTED, "submitted_at"),
        (RequestStatus.RECEIVED, "received_at"),
        (RequestStatus.RELEASED, "released_at"),
    ):
        if to == status:
            setattr(req, attr, now)
            fields.append(attr)
    req.save(update_fields=fields)
    ledger.append(
        actor=actor,
        action=Action.UPDATE,
        event_type=QcEvent.REQUEST_STATUS_CHANGED,
        entity_type="qc.testrequest",
        entity_id=req.pk,
        entity_label=str(req),
        organisation_id=req.organisation_id,
        old={"status": frm},
        new={"status": to},
        reason=reason,
    )


# --- clients --------------------------------------------------------------------------------


def client_contact_create(
    *,
    actor: User | None,
    organisation: Organisation,
    name: str,
    email: str = "",
    phone: str = "",
    function: str = "",
    is_primary: bool = False,
) -> ClientContact:
    """Record a contact person of a client company (operator staff only)."""
    if actor is not None and not (actor.is_active and actor.is_operator_staff):
        raise PermissionDenied(_("Only laboratory staff record client contacts."))
    if organisation.kind != OrganisationKind.CLIENT:
        raise Invalid(_("Contacts belong to client organisations."), field="organisation")
    name = _require_text(name, "name", _("Give the contact's name."))
    with transaction.atomic():
        try:
            with transaction.atomic():
                contact = ClientContact.objects.create(
                    organisation=organisation,
                    name=name,
                    email=email.strip(),
                    phone=phone.strip(),
                    function=function.strip(),
                    is_primary=is_primary,
                )
        except IntegrityError as exc:
            raise Conflict(
                _("The client has a primary contact already."), field="is_primary"
            ) from exc
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcEvent.CLIENT_CONTACT_CREATED,
            entity_type="qc.clientcontact",
            entity_id=contact.pk,
            entity_label=name,
            organisation_id=organisation.pk,
            new={"name": name, "email": contact.email, "is_primary": is_primary},
        )
    return contact


# --- methods and specifications -------------------------------------------------------------


def methods_seed(*, actor: User | None = None) -> int:
    """Create the compendial methods that do not exist yet (idempotent). Returns how many."""
    with transaction.atomic():
        existing = set(Method.objects.values_list("code", flat=True))
        created = []
        for seed in METHODS:
            if seed.code in existing:
                continue
            method = Method.objects.create(code=seed.code, name=seed.name)
            MethodVersion.objects.create(
                method=method,
                version=1,
                name=seed.name,
                reference=seed.reference,
                result_type=seed.result_type,
                unit=seed.unit,
                reported_decimals=seed.reported_decimals,
                lod=seed.lod,
                loq=seed.loq,
                turnaround_days=seed.turnaround_days,
                qualitative_options=list(seed.qualitative_options),
                reason="Initial catalogue",
            )
            created.append({"code": seed.code, "reference": seed.reference})
        if created:
            count, digest = ledger.rows_digest(created)
            ledger.append(
                actor=actor,
                action=Action.CREATE,
                event_type=QcEvent.METHODS_SEEDED,
                entity_type="qc.method",
                entity_id="catalogue",
                entity_label="method catalogue",
                new={"count": count, "sha256": digest, "codes": [c["code"] for c in created]},
            )
    return len(created)


def _next_method_version(method: Method) -> int:
    latest = MethodVersion.objects.filter(method=method).order_by("-version").first()
    return latest.version + 1 if latest else 1


def method_version_create(
    *, actor: User | None, method: Method, changes: Mapping[str, Any], reason: str
) -> MethodVersion:
    """A new current version of ``method``: the previous one's fields with ``changes``."""
    if actor is not None:
        _require_lab(actor, (Role.QA, Role.ADMIN), _("Only QA changes methods."))
    reason = _require_text(reason, "reason", _("Give the reason for the new version."))
    allowed = {
        "name",
        "reference",
        "result_type",
        "unit",
        "reported_decimals",
        "lod",
        "loq",
        "turnaround_days",
        "qualitative_options",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise Invalid(
            _("Unknown method fields: %(f)s.") % {"f": ", ".join(sorted(unknown))}, field="changes"
        )
    with transaction.atomic():
        Method.objects.select_for_update().get(pk=method.pk)
        current = MethodVersion.objects.get(method=method, is_current=True)
        MethodVersion.objects.filter(pk=current.pk).update(
            is_current=False, status=VersionStatus.SUPERSEDED
        )
        values = {f: getattr(current, f) for f in allowed} | dict(changes)
        new = MethodVersion.objects.create(
            method=method,
            version=_next_method_version(method),
            reason=reason,
            is_current=True,
            **values,
        )
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcEvent.METHOD_VERSION_CREATED,
            entity_type="qc.method",
            entity_id=method.pk,
            entity_label=method.code,
            old={"version": current.version},
            new={"version": new.version, **{k: values[k] for k in sorted(changes)}},
            reason=reason,
        )
    return new


@dataclass(frozen=True)
class LimitSpec:
    """One criterion of a specification, as written: limits are strings with their decimals."""

    method_code: str
    kind: str
    lower: str = ""
    upper: str = ""
    lower_inclusive: bool = True
    upper_inclusive: bool = True
    expected_text: str = ""
    alert_lower: str = ""
    alert_upper: str = ""
    unit: str = ""


def _require_comparable(text: str, value: Decimal, field: str) -> None:
    """A limit is held to what a result value may be (at most 15 significant digits, 10
    decimal places and 20 digits before the point, :func:`celltrace.qc.evaluation.parse_reported`):
    a limit no result can be stored against is refused, naming ``field``."""
    try:
        _require_storable(text, value)
    except Invalid as exc:
        raise Invalid(exc.message, field=field) from exc


def _check_limit_text(text: str, field: str) -> str:
    text = text.strip()
    if text:
        try:
            value = parse_decimal(text, field)
        except (TypeError, ValueError) as exc:
            raise Invalid(
                _("%(v)s is not a limit; write it like 70, 70.0 or 0.50.") % {"v": text},
                field=field,
            ) from exc
        _require_comparable(text, value, field)
    return text


def specification_create(
    *,
    actor: User | None,
    code: str,
    title: str,
    product_type: str,
    limits: Sequence[LimitSpec],
    client: Organisation | None = None,
    rounding_mode: str = RoundingMode.USP,
    reason: str = "",
) -> Specification:
    """Create the next version of specification ``code`` and make it current."""
    if actor is not None:
        _require_lab(actor, (Role.QA,), _("Only QA approves specifications."))
    code = _require_text(code, "code", _("Give the specification a code."))
    title = _require_text(title, "title", _("Give the specification a title."))
    product_type = _require_text(product_type, "product_type", _("Name the product type."))
    if rounding_mode not in RoundingMode.values:
        raise Invalid(_("Unknown rounding mode."), field="rounding_mode")
    if client is not None and client.kind != OrganisationKind.CLIENT:
        raise Invalid(_("A specification can be specific to a client only."), field="client")
    if not limits:
        raise Invalid(_("A specification needs at least one limit."), field="limits")
    methods = {m.code: m for m in Method.objects.filter(code__in=[li.method_code for li in limits])}
    rows = []
    for li in limits:
        method = methods.get(li.method_code)
        if method is None:
            raise Invalid(_("Unknown method %(code)s.") % {"code": li.method_code}, field="limits")
        if li.kind not in LimitKind.values:
            raise Invalid(_("Unknown kind of limit %(k)s.") % {"k": li.kind}, field="limits")
        needs = {
            LimitKind.AT_LEAST: li.lower.strip(),
            LimitKind.AT_MOST: li.upper.strip(),
            LimitKind.RANGE: li.lower.strip() and li.upper.strip(),
            LimitKind.QUALITATIVE: li.expected_text.strip(),
            LimitKind.REPORT: "report",
        }[LimitKind(li.kind)]
        if not needs:
            raise Invalid(
                _("The limit for %(code)s is incomplete.") % {"code": li.method_code},
                field="limits",
            )
        rows.append(
            SpecificationLimit(
                method=method,
                kind=li.kind,
                lower=_check_limit_text(li.lower, "lower"),
                upper=_check_limit_text(li.upper, "upper"),
                lower_inclusive=li.lower_inclusive,
                upper_inclusive=li.upper_inclusive,
                expected_text=li.expected_text.strip(),
                alert_lower=_check_limit_text(li.alert_lower, "alert_lower"),
                alert_upper=_check_limit_text(li.alert_upper, "alert_upper"),
                unit=li.unit.strip(),
            )
        )
    if len({r.method_id for r in rows}) != len(rows):
        raise Invalid(_("A specification has one limit per method."), field="limits")
    with transaction.atomic():
        previous = (
            Specification.objects.select_for_update().filter(code=code).order_by("-version").first()
        )
        if previous is not None:
            Specification.objects.filter(code=code, is_current=True).update(
                is_current=False, status=VersionStatus.SUPERSEDED
            )
        spec = Specification.objects.create(
            code=code,
            version=(previous.version + 1) if previous else 1,
            title=title,
            product_type=product_type,
            client=client,
            rounding_mode=rounding_mode,
            reason=reason.strip(),
            created_by=actor,
        )
        for r in rows:
            r.specification = spec
        SpecificationLimit.objects.bulk_create(rows)
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcEvent.SPECIFICATION_CREATED,
            entity_type="qc.specification",
            entity_id=spec.pk,
            entity_label=str(spec),
            new={
                "code": code,
                "version": spec.version,
                "product_type": product_type,
                "client_id": client.pk if client else None,
                "rounding_mode": rounding_mode,
                "limits": [f"{r.method.code}: {r.display}" for r in rows],
            },
            reason=reason,
        )
    return spec


def applicable_specification(organisation_id: int, product_type: str) -> Specification | None:
    """The current specification for the client's product type, else the general one."""
    qs = Specification.objects.filter(product_type__iexact=product_type.strip(), is_current=True)
    return (
        qs.filter(client_id=organisation_id).order_by("-pk").first()
        or qs.filter(client__isnull=True).order_by("-pk").first()
    )


# --- requests and samples -------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSpec:
    client_sample_id: str
    container: str = ""
    description: str = ""


def request_create(
    *,
    actor: User,
    product: str,
    product_type: str,
    batch: str,
    samples: Sequence[SampleSpec],
    method_codes: Sequence[str],
    organisation: Organisation | None = None,
    priority: str = Priority.ROUTINE,
    notes: str = "",
    submit: bool = False,
    panel_codes: Sequence[str] = (),
) -> TestRequest:
    """A client user (for their own organisation) or the laboratory (for a client) creates a
    test request with the samples that will be sent and the methods wanted: single methods
    and test panels (global or the client's own); the tests are their union."""
    if actor.is_operator_staff:
        _require_lab(actor, LAB_ROLES, _("Only laboratory staff create requests for clients."))
        if organisation is None or organisation.kind != OrganisationKind.CLIENT:
            raise Invalid(_("Choose the client."), field="organisation")
    else:
        if not (actor.is_active and actor.has_role(Role.CLIENT_USER)):
            raise PermissionDenied(_("Only client users submit test requests."))
        if organisation is not None and organisation.pk != actor.organisation_id:
            raise NotFound(_("Not found."), field="organisation")
        organisation = actor.organisation
        assert organisation is not None
    product = _require_text(product, "product", _("Name the product."))
    product_type = _require_text(product_type, "product_type", _("Name the product type."))
    batch = _require_text(batch, "batch", _("Give the batch or lot number."))
    if priority not in Priority.values:
        raise Invalid(_("Unknown priority."), field="priority")
    ids = [s.client_sample_id.strip() for s in samples]
    if not ids or not all(ids):
        raise Invalid(_("List the samples you will send, each with its id."), field="samples")
    if len(set(ids)) != len(ids):
        raise Invalid(_("Each sample id may appear once."), field="samples")
    codes = sorted(set(method_codes))
    methods = list(
        Method.objects.filter(code__in=codes, versions__is_current=True).distinct().order_by("code")
    )
    if (not codes and not panel_codes) or len(methods) != len(codes):
        raise Invalid(_("Choose the tests from the method catalogue."), field="method_codes")
    panels = panels_for_request(organisation, panel_codes)
    for panel in panels:
        methods.extend(m for m in panel.methods.all() if m.code not in codes)
        codes = sorted(set(codes) | {m.code for m in panel.methods.all()})
    methods = sorted({m.pk: m for m in methods}.values(), key=lambda m: m.code)
    now = _now()
    with transaction.atomic():
        taken = list(
            Sample.objects.filter(organisation=organisation, client_sample_id__in=ids)
            .order_by("client_sample_id")
            .values_list("client_sample_id", flat=True)
        )
        if taken:
            raise Conflict(
                _("Sample ids already used: %(ids)s.") % {"ids": ", ".join(taken)},
                field="samples",
            )
        req = TestRequest.objects.create(
            organisation=organisation,
            product=product,
            product_type=product_type,
            batch=batch,
            priority=priority,
            notes=notes.strip(),
            status=RequestStatus.SUBMITTED if submit else RequestStatus.DRAFT,
            specification=applicable_specification(organisation.pk, product_type),
            created_by=actor,
            created_at=now,
            submitted_at=now if submit else None,
        )
        req.methods.set(methods)
        if panels:
            req.panels.set(panels)
        try:
            with transaction.atomic():
                Sample.objects.bulk_create(
                    [
                        Sample(
                            organisation=organisation,
                            request=req,
                            client_sample_id=s.client_sample_id.strip(),
                            container=s.container.strip(),
                            description=s.description.strip(),
                        )
                        for s in samples
                    ]
                )
        except IntegrityError as exc:
            raise Conflict(_("A sample id is already used."), field="samples") from exc
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcEvent.REQUEST_CREATED,
            entity_type="qc.testrequest",
            entity_id=req.pk,
            entity_label=str(req),
            organisation_id=organisation.pk,
            new={
                "product": product,
                "product_type": product_type,
                "batch": batch,
                "priority": priority,
                "status": req.status,
                "samples": ids,
                "methods": codes,
                "panels": [p.code for p in panels],
                "specification_id": req.specification_id,
            },
        )
    return req


def request_submit(*, actor: User, request: TestRequest) -> TestRequest:
    """Send a draft request to the laboratory (its client's users, or laboratory staff)."""
    if not _sees(actor, request.organisation_id):
        raise NotFound(_("Not found."))
    require_requester(
        actor,
        _("Only laboratory staff submit for a client."),
        _("Only client users submit test requests."),
    )
    with transaction.atomic():
        req = _lock_request(request)
        _transition(actor, req, RequestStatus.SUBMITTED)
    return req


def require_requester(actor: User, lab_message: str, client_message: str) -> None:
    """A request is submitted or cancelled by its client's users or by laboratory staff
    (QC analysts, reviewers, QA) on the client's behalf; not by other operator roles."""
    if actor.is_operator_staff:
        _require_lab(actor, LAB_ROLES, lab_message)
    elif not actor.has_role(Role.CLIENT_USER):
        raise PermissionDenied(client_message)


def request_cancel(*, actor: User, request: TestRequest, reason: str) -> TestRequest:
    """Withdraw a request before the laboratory has received it (its client's users, or
    laboratory staff)."""
    if not _sees(actor, request.organisation_id):
        raise NotFound(_("Not found."))
    require_requester(
        actor,
        _("Only laboratory staff cancel a client's request."),
        _("Only client users cancel test requests."),
    )
    reason = _require_text(reason, "reason", _("Give the reason for cancelling."))
    with transaction.atomic():
        req = _lock_request(request)
        _transition(actor, req, RequestStatus.CANCELLED, reason)
    return req


#: A temperature on arrival lies where monitoring readings do (``MIN_TEMPERATURE`` …
#: ``MAX_TEMPERATURE`` of :mod:`celltrace.monitoring.services`): never below absolute zero.
MIN_ARRIVAL_TEMPERATURE_C = Decimal("-273.15")
MAX_ARRIVAL_TEMPERATURE_C = Decimal("150")


def _arrival_temperature(temperature_c: Decimal | None) -> Decimal | None:
    """The temperature on arrival as stored (``Sample.arrival_temperature_c``), or
    :class:`Invalid` naming ``temperature_c``: beyond the physical range, or more decimals than
    the field keeps (rounded on storage, -273.15 would come back below absolute zero)."""
    if temperature_c is None:
        return None
    value = Decimal(temperature_c)
    if not (value.is_finite() and MIN_ARRIVAL_TEMPERATURE_C <= value <= MAX_ARRIVAL_TEMPERATURE_C):
        raise Invalid(
            _(
                "%(t)s °C is not a temperature on arrival: it lies between %(min)s °C "
                "(absolute zero) and %(max)s °C."
            )
            % {"t": value, "min": MIN_ARRIVAL_TEMPERATURE_C, "max": MAX_ARRIVAL_TEMPERATURE_C},
            field="temperature_c",
        )
    places = Sample._meta.get_field("arrival_temperature_c").decimal_places
    if value != value.quantize(Decimal(1).scaleb(-int(places))):
        raise Invalid(
            _("Give the temperature on arrival to one decimal place at most (e.g. -196.5)."),
            field="temperature_c",
        )
    return value


def sample_receive(
    *,
    actor: User,
    request: TestRequest,
    scanned_id: str,
    accept: bool,
    temperature_c: Decimal | None = None,
    container_intact: bool = True,
    label_matches: bool = True,
    rejection_reason: str = "",
) -> Sample:
    """Register the arrival of a scanned sample of ``request``: its condition, and acceptance
    or rejection with a reason. The hand-over from the client's courier to the laboratory is a
    custody entry on the ledger. When every sample is accounted for and one was accepted, the
    request is received."""
    _require_lab(actor, RECEIPT_ROLES, _("Only laboratory staff receive samples."))
    scanned = _require_text(scanned_id, "scanned_id", _("Scan the sample's label."))
    rejection_reason = rejection_reason.strip()
    if not accept and not rejection_reason:
        raise Invalid(_("Give the reason for rejecting the sample."), field="rejection_reason")
    if accept and not (container_intact and label_matches) and not rejection_reason:
        raise Invalid(
            _("A damaged or mislabelled sample is rejected, or accepted with a justification."),
            field="rejection_reason",
        )
    temperature_c = _arrival_temperature(temperature_c)
    with transaction.atomic():
        req = _lock_request(request)
        if req.status != RequestStatus.SUBMITTED:
            raise Conflict(
                _("Samples are received for submitted requests; this one is %(s)s.")
                % {"s": RequestStatus(req.status).label},
                field="scanned_id",
            )
        # the laboratory's label (QS-…, printed from the receipt page) or the client's
        ours = Sample.objects.select_for_update().filter(request=req)
        pk = Sample.pk_of_number(scanned)
        sample = ours.filter(pk=pk).first() if pk is not None else None
        if sample is None:
            sample = ours.filter(client_sample_id=scanned).first()
        if sample is None:
            raise NotFound(
                _("%(id)s is not a sample of request %(req)s.")
                % {"id": scanned, "req": req.number},
                field="scanned_id",
            )
        if sample.status != SampleStatus.EXPECTED:
            raise Conflict(
                _("Sample %(id)s has been received already.") % {"id": scanned},
                field="scanned_id",
            )
        now = _now()
        sample.status = SampleStatus.ACCEPTED if accept else SampleStatus.REJECTED
        sample.arrival_temperature_c = temperature_c
        sample.container_intact = container_intact
        sample.label_matches = label_matches
        sample.rejection_reason = rejection_reason if not accept else ""
        sample.received_at = now
        sample.received_by = actor
        sample.custodian = actor if accept else None
        sample.save(
            update_fields=[
                "status",
                "arrival_temperature_c",
                "container_intact",
                "label_matches",
                "rejection_reason",
                "received_at",
                "received_by",
                "custodian",
            ]
        )
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=QcEvent.SAMPLE_RECEIVED,
            entity_type="qc.sample",
            entity_id=sample.pk,
            entity_label=scanned,
            organisation_id=sample.organisation_id,
            old={"status": SampleStatus.EXPECTED, "custodian": "client courier"},
            new={
                "status": sample.status,
                "custodian": actor.full_name if accept else None,
                "received_at": now,
                "temperature_c": temperature_c,
                "container_intact": container_intact,
                "label_matches": label_matches,
                "request": req.number,
            },
            reason=rejection_reason,
        )
        statuses = set(req.samples.values_list("status", flat=True))
        if SampleStatus.EXPECTED not in statuses and SampleStatus.ACCEPTED in statuses:
            _transition(actor, req, RequestStatus.RECEIVED)
    return sample


def sample_hand_over(*, actor: User, sample: Sample, to: User, reason: str = "") -> Sample:
    """Hand an accepted sample to another member of the laboratory (a custody entry)."""
    _require_lab(actor, RECEIPT_ROLES, _("Only laboratory staff hand samples over."))
    if not (to.is_active and to.is_operator_staff):
        raise Invalid(_("Samples are handed to laboratory staff only."), field="to")
    with transaction.atomic():
        locked = Sample.objects.select_for_update().get(pk=sample.pk)
        if locked.status != SampleStatus.ACCEPTED:
            raise Conflict(_("Only accepted samples change hands."))
        if locked.custodian_id == to.pk:
            raise Conflict(_("The sample is already with %(n)s.") % {"n": to.full_name})
        old = locked.custodian
        locked.custodian = to
        locked.save(update_fields=["custodian"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=QcEvent.SAMPLE_HANDED_OVER,
            entity_type="qc.sample",
            entity_id=locked.pk,
            entity_label=locked.client_sample_id,
            organisation_id=locked.organisation_id,
            old={"custodian": old.full_name if old else None},
            new={"custodian": to.full_name},
            reason=reason,
        )
    return locked


# --- tests and results ----------------------------------------------------------------------


def tests_create(
    *, actor: User, request: TestRequest, analysts: Mapping[str, User] | None = None
) -> list[Test]:
    """Create one test per requested method, in the method's current version, on the first
    accepted sample; the request goes into testing."""
    _require_lab(actor, LAB_ROLES, _("Only laboratory staff plan tests."))
    analysts = analysts or {}
    for code, who in analysts.items():
        if not is_lab(who, Role.QC_ANALYST):
            raise Invalid(
                _("%(n)s is not a QC analyst.") % {"n": who.full_name}, field=f"analysts.{code}"
            )
    with transaction.atomic():
        req = _lock_request(request)
        if req.status != RequestStatus.RECEIVED:
            raise Conflict(_("Tests are planned once the samples are received."))
        sample = req.samples.filter(status=SampleStatus.ACCEPTED).order_by("pk").first()
        assert sample is not None  # RECEIVED implies an accepted sample
        now = _now()
        tests = []
        for method in req.methods.order_by("code"):
            version = MethodVersion.objects.get(method=method, is_current=True)
            tests.append(
                Test(
                    organisation_id=req.organisation_id,
                    request=req,
                    sample=sample,
                    method_version=version,
                    analyst=analysts.get(method.code),
                    created_at=now,
                    due_on=(now + dt.timedelta(days=version.turnaround_days)).date(),
                )
            )
        Test.objects.bulk_create(tests)
        rows = [
            {
                "method": t.method_version.method.code,
                "version": t.method_version.version,
                "analyst_id": t.analyst_id,
            }
            for t in tests
        ]
        count, digest = ledger.rows_digest(rows)
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcEvent.TESTS_CREATED,
            entity_type="qc.testrequest",
            entity_id=req.pk,
            entity_label=str(req),
            organisation_id=req.organisation_id,
            new={
                "count": count,
                "sha256": digest,
                "tests": rows,
                "sample": sample.client_sample_id,
            },
        )
        _transition(actor, req, RequestStatus.IN_TESTING)
    return list(req.tests.order_by("pk"))


def test_assign(*, actor: User, test: Test, analyst: User) -> Test:
    """Put a test on an analyst's worklist."""
    _require_lab(actor, LAB_ROLES, _("Only laboratory staff assign tests."))
    if not is_lab(analyst, Role.QC_ANALYST):
        raise Invalid(_("%(n)s is not a QC analyst.") % {"n": analyst.full_name}, field="analyst")
    with transaction.atomic():
        locked = Test.objects.select_for_update().get(pk=test.pk)
        old = locked.analyst_id
        locked.analyst = analyst
        locked.save(update_fields=["analyst"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=QcEvent.TEST_ASSIGNED,
            entity_type="qc.test",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=locked.organisation_id,
            old={"analyst_id": old},
            new={"analyst_id": analyst.pk},
        )
    return locked


def limit_for(test: Test) -> tuple[SpecificationLimit | None, str]:
    """The limit the request's specification sets for the test's method, and its rounding
    mode (None and "" without a specification or a limit for that method)."""
    spec = test.request.specification
    if spec is None:
        return None, ""
    limit = (
        SpecificationLimit.objects.select_related("method")
        .filter(specification=spec, method_id=test.method_version.method_id)
        .first()
    )
    return limit, spec.rounding_mode


def _signature_meanings(record: Any, valid_only: bool = False) -> set[str]:
    if not valid_only:
        return set(
            Signature.objects.filter(
                record_type=record._meta.label_lower,
                record_id=str(record.pk),
                withdrawal__isnull=True,
            ).values_list("meaning", flat=True)
        )
    return {m.meaning for m in signing.manifestations(record) if m.valid}


def _open_oos(actor: User, result: Result) -> OosInvestigation:
    oos = OosInvestigation.objects.create(
        organisation_id=result.organisation_id,
        result=result,
        request_id=result.test.request_id,
        opened_at=_now(),
        opened_by=actor,
    )
    ledger.append(
        actor=actor,
        action=Action.CREATE,
        event_type=QcEvent.OOS_OPENED,
        entity_type="qc.oosinvestigation",
        entity_id=oos.pk,
        entity_label=oos.number,
        organisation_id=oos.organisation_id,
        new={
            "result_id": result.pk,
            "test": str(result.test),
            "value": result.value_text,
            "specification": result.limit_text,
        },
    )
    return oos


def _result_values(result: Result) -> dict[str, Any]:
    return {
        "value_text": result.value_text,
        "unit": result.unit,
        "reported_value": result.reported_value,
        "conformance": result.conformance,
        "alert": result.alert,
        "specification": result.limit_text,
        "rounding_mode": result.rounding_mode,
    }


def result_enter(
    *,
    actor: User,
    test: Test,
    value: str,
    unit: str = "",
    comment: str = "",
    calculation: Mapping[str, Any] | None = None,
) -> Result:
    """Enter the result of a test; conformance is computed against the request's specification
    version. A non-conforming result opens an OOS investigation in the same transaction.

    ``calculation`` (inputs, calculator version, outputs) is the seam for the assay calculators.

    A numeric value its unit makes impossible (a percentage outside 0 to 100, a count or
    concentration below 0; :func:`celltrace.qc.evaluation.value_range`) is refused naming
    ``value``, as is a correction to one (:func:`result_correct`).
    """
    _require_lab(actor, (Role.QC_ANALYST,), _("Only QC analysts enter results."))
    with transaction.atomic():
        req = _lock_request(test.request)
        locked = (
            Test.objects.select_for_update(of=("self",))
            .select_related("method_version")
            .get(pk=test.pk)
        )
        if req.status != RequestStatus.IN_TESTING:
            raise Conflict(
                _("Results are entered while the request is in testing; it is %(s)s.")
                % {"s": RequestStatus(req.status).label}
            )
        if locked.analyst_id not in (None, actor.pk):
            raise PermissionDenied(_("This test is assigned to another analyst."))
        if locked.results.filter(status=ResultStatus.VALID).exists():
            raise Conflict(
                _("The test has a valid result; invalidate it before entering a retest."),
                field="value",
            )
        locked.request = req
        limit, mode = limit_for(locked)
        result_unit = (unit or locked.method_version.unit).strip()
        ev = evaluate(
            value, locked.method_version, limit, mode or RoundingMode.USP, unit=result_unit
        )
        result = Result.objects.create(
            organisation_id=req.organisation_id,
            test=locked,
            value_text=ev.value_text,
            comparator=ev.comparator,
            value=ev.value,
            unit=result_unit,
            reported_value=ev.reported_value,
            conformance=ev.conformance,
            alert=ev.alert,
            limit=limit,
            limit_text=ev.limit_text,
            rounding_mode=mode if limit is not None else "",
            comment=comment.strip(),
            calculation=dict(calculation) if calculation is not None else None,
            entered_by=actor,
            entered_at=_now(),
        )
        if locked.analyst_id is None:
            locked.analyst = actor
            locked.save(update_fields=["analyst"])
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcEvent.RESULT_ENTERED,
            entity_type="qc.result",
            entity_id=result.pk,
            entity_label=str(result),
            organisation_id=result.organisation_id,
            new={
                "test_id": locked.pk,
                **_result_values(result),
                # the ledger binds the calculation too (inputs incl. instrument-file hashes)
                "calculation_sha256": (
                    hashlib.sha256(canonical_bytes(result.calculation)).hexdigest()
                    if result.calculation
                    else None
                ),
            },
        )
        if result.conformance == Conformance.DOES_NOT_CONFORM:
            _open_oos(actor, result)
    return result


def result_correct(*, actor: User, result: Result, value: str, reason: str) -> Result:
    """Correct an unsigned result (its own analyst, with a reason). Signed results are never
    edited: invalidate and retest instead."""
    _require_lab(actor, (Role.QC_ANALYST,), _("Only QC analysts enter results."))
    reason = _require_text(reason, "reason", _("Give the reason for the correction."))
    with transaction.atomic():
        _lock_request(result.test.request)
        locked = Result.objects.select_for_update().get(pk=result.pk)
        if locked.entered_by_id != actor.pk:
            raise PermissionDenied(_("Only the analyst who entered the result corrects it."))
        if locked.status != ResultStatus.VALID:
            raise Conflict(_("The result has been invalidated."))
        if _signature_meanings(locked):
            raise Conflict(
                _("The result is signed and cannot be changed; invalidate it and retest."),
                field="value",
            )
        if OosInvestigation.objects.filter(result=locked).exists():
            raise Conflict(_("An OOS investigation is open on this result; it decides."))
        test = Test.objects.select_related("method_version", "request").get(pk=locked.test_id)
        limit, mode = limit_for(test)
        ev = evaluate(value, test.method_version, limit, mode or RoundingMode.USP, unit=locked.unit)
        old = _result_values(locked)
        locked.value_text = ev.value_text
        locked.comparator = ev.comparator
        locked.value = ev.value
        locked.reported_value = ev.reported_value
        locked.conformance = ev.conformance
        locked.alert = ev.alert
        locked.save(
            update_fields=[
                "value_text",
                "comparator",
                "value",
                "reported_value",
                "conformance",
                "alert",
            ]
        )
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=QcEvent.RESULT_CORRECTED,
            entity_type="qc.result",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=locked.organisation_id,
            old=old,
            new=_result_values(locked),
            reason=reason,
        )
        if locked.conformance == Conformance.DOES_NOT_CONFORM:
            _open_oos(actor, locked)
    return locked


def _invalidate(actor: User, result: Result, reason: str) -> None:
    now = _now()
    Result.objects.filter(pk=result.pk).update(
        status=ResultStatus.INVALIDATED,
        invalidated_reason=reason,
        invalidated_by=actor,
        invalidated_at=now,
    )
    result.status = ResultStatus.INVALIDATED
    result.invalidated_reason = reason
    result.invalidated_at = now
    ledger.append(
        actor=actor,
        action=Action.UPDATE,
        event_type=QcEvent.RESULT_INVALIDATED,
        entity_type="qc.result",
        entity_id=result.pk,
        entity_label=str(result),
        organisation_id=result.organisation_id,
        old={"status": ResultStatus.VALID},
        new={"status": ResultStatus.INVALIDATED, "retest": True},
        reason=reason,
    )


def result_invalidate(*, actor: User, result: Result, reason: str) -> Result:
    """Invalidate a result (a QC reviewer or QA, with a reason) so the test can be retested.
    An out-of-specification result is invalidated only by its investigation's phase I."""
    _require_lab(
        actor, (Role.QC_REVIEWER, Role.QA), _("Only a QC reviewer or QA invalidates results.")
    )
    reason = _require_text(reason, "reason", _("Give the reason for invalidating the result."))
    with transaction.atomic():
        req = _lock_request(result.test.request)
        locked = Result.objects.select_for_update().get(pk=result.pk)
        if locked.status != ResultStatus.VALID:
            raise Conflict(_("The result is already invalidated."))
        if req.status not in OPEN_FOR_TESTING:
            raise Conflict(
                _("The request is %(s)s; its results can no longer be invalidated.")
                % {"s": RequestStatus(req.status).label}
            )
        if OosInvestigation.objects.filter(result=locked).exists():
            raise Conflict(
                _(
                    "This result is out of specification: only its OOS investigation can "
                    "invalidate it (phase I, assignable cause)."
                )
            )
        _invalidate(actor, locked, reason)
        if req.status == RequestStatus.REVIEWED:
            _transition(actor, req, RequestStatus.IN_TESTING, reason)
    return locked


# --- signatures: four-eyes and release ------------------------------------------------------


def result_can_sign(actor: User, result: Result, meaning: str) -> str | None:
    """Four-eyes: the analyst who entered the result signs it performed; a different QC
    reviewer signs it reviewed, and only after it was signed performed."""
    if result.status != ResultStatus.VALID:
        return _("An invalidated result is not signed.")
    if result.test.request.status not in OPEN_FOR_TESTING:
        return _("The request is no longer in testing.")
    if meaning == SignatureMeaning.PERFORMED:
        if not is_lab(actor, Role.QC_ANALYST):
            return _("Only a QC analyst signs a result as performed.")
        if actor.pk != result.entered_by_id:
            return _("Only the analyst who entered the result signs it as performed.")
        return None
    if meaning == SignatureMeaning.REVIEWED:
        if not is_lab(actor, Role.QC_REVIEWER):
            return _("Only a QC reviewer signs a result as reviewed.")
        performed = [
            m
            for m in signing.manifestations(result)
            if m.meaning == SignatureMeaning.PERFORMED and m.valid
        ]
        if not performed:
            return _("The result must be signed as performed before it is reviewed.")
        if actor.pk == result.entered_by_id or any(
            m.signature.signer_id == actor.pk for m in performed
        ):
            return _("Nobody reviews their own result: the reviewer must be another person.")
        return None
    return _("Results are signed as performed or reviewed.")


def test_is_reviewed(test: Test) -> bool:
    """Whether the test's current result carries valid performed and reviewed signatures."""
    current = test.current_result
    if current is None:
        return False
    valid = _signature_meanings(current, valid_only=True)
    return {SignatureMeaning.PERFORMED, SignatureMeaning.REVIEWED} <= valid


def release_refusal(req: TestRequest) -> str | None:
    """Why ``req`` cannot be released now, or None: every test needs a valid reviewed result
    and no OOS investigation may be open."""
    if req.status not in OPEN_FOR_TESTING:
        return _("Only a request in testing or reviewed can be released; it is %(s)s.") % {
            "s": RequestStatus(req.status).label
        }
    tests = list(req.tests.select_related("method_version__method").order_by("pk"))
    if not tests:
        return _("The request has no tests.")
    open_oos = req.oos.exclude(phase=OosPhase.CLOSED).order_by("pk").first()
    if open_oos is not None:
        return _("OOS investigation %(n)s is open.") % {"n": open_oos.number}
    for test in tests:
        if not test_is_reviewed(test):
            return _("Test %(t)s has no reviewed result.") % {"t": test.method_version.method.code}
    return None


def request_can_sign(actor: User, req: TestRequest, meaning: str) -> str | None:
    """QA releases, and independently: not someone who took part in the request's testing,
    i.e. entered one of its results or signed one (performed or reviewed), whatever became of
    that result or signature since (invalidated, withdrawn): a user holding both roles releases
    others' work only, and cannot step out of the testing by withdrawing their own review."""
    if meaning != SignatureMeaning.RELEASED:
        return _("Requests are signed as released.")
    if not is_lab(actor, Role.QA):
        return _("Only QA releases a request.")
    results = list(Result.objects.filter(test__request=req).values_list("pk", "entered_by_id"))
    took_part = any(entered_by == actor.pk for _pk, entered_by in results) or (
        Signature.objects.filter(
            record_type=Result._meta.label_lower,
            record_id__in=[str(pk) for pk, _entered_by in results],
            signer=actor,
        ).exists()
    )
    if took_part:
        return _(
            "The release is independent of the testing: you entered or signed one of this "
            "request's results, so another QA officer releases it."
        )
    return release_refusal(req)


def result_lock(result: Result) -> Result:
    """Signing lock of a result: its request, then the result (the order of result entry,
    correction and invalidation)."""
    request_id = Test.objects.filter(pk=result.test_id).values_list("request_id", flat=True).get()
    TestRequest.objects.select_for_update().get(pk=request_id)
    return Result.objects.select_for_update().get(pk=result.pk)


def result_signed(actor: User, result: Result, signature: Signature) -> None:
    """``on_signed`` hook of results: a performed/reviewed signature may complete the request."""
    request_sync_status(actor=actor, request=result.test.request)


def request_signed(actor: User, request: TestRequest, signature: Signature) -> None:
    """``on_signed`` hook of requests: QA's release signature releases the request. The status
    is looked at again under the lock: a review withdrawn since the signing page was checked
    refuses the release (it must not wait on the request to release it later)."""
    req = _lock_request(request)
    if signature.meaning == SignatureMeaning.RELEASED and req.status != RequestStatus.REVIEWED:
        raise Conflict(
            _("Request %(request)s is no longer reviewed; it cannot be released now.")
            % {"request": req.number}
        )
    request_sync_status(actor=actor, request=request)


def result_signature_withdrawn(actor: User, result: Result, signature: Signature) -> None:
    """``on_withdrawn`` hook of results: a withdrawn review takes a reviewed request back into
    testing."""
    request_sync_status(actor=actor, request=result.test.request)


def request_signature_withdrawn(actor: User, request: TestRequest, signature: Signature) -> None:
    """``on_withdrawn`` hook of requests: the request's status follows its signatures."""
    request_sync_status(actor=actor, request=request)


def request_frozen(request: TestRequest) -> str | None:
    """``frozen`` rule of requests (read on the locked request): once released, QA's release
    cannot be withdrawn (the certificate may be out: amend it instead)."""
    if request.status in (RequestStatus.RELEASED, RequestStatus.CERTIFIED):
        return _(
            "Request %(request)s is released: its signatures stay as they are. Amend its "
            "certificate to correct it."
        ) % {"request": request.number}
    return None


def result_frozen(result: Result) -> str | None:
    """``frozen`` rule of results (read under ``result_lock``, request first): once the
    request is released its results stay as signed."""
    return request_frozen(TestRequest.objects.get(pk=result.test.request_id))


def request_sync_status(*, actor: User | None, request: TestRequest) -> TestRequest:
    """Bring the request's status in line with its signatures (idempotent): in testing ↔
    reviewed as the results' reviews complete or break, reviewed → released after QA's
    release signature. Runs in the signing transaction (see :func:`result_signed`)."""
    with transaction.atomic():
        req = _lock_request(request)
        if req.status in OPEN_FOR_TESTING:
            tests = list(req.tests.all())
            all_reviewed = bool(tests) and all(test_is_reviewed(t) for t in tests)
            if req.status == RequestStatus.IN_TESTING and all_reviewed:
                _transition(actor, req, RequestStatus.REVIEWED)
            elif req.status == RequestStatus.REVIEWED and not all_reviewed:
                _transition(actor, req, RequestStatus.IN_TESTING)
        if req.status == RequestStatus.REVIEWED and SignatureMeaning.RELEASED in (
            _signature_meanings(req, valid_only=True)
        ):
            _transition(actor, req, RequestStatus.RELEASED)
    return req


# --- OOS investigations ---------------------------------------------------------------------


def oos_complete_phase1(
    *, actor: User, oos: OosInvestigation, assignable_cause: bool, summary: str
) -> OosInvestigation:
    """Conclude the laboratory investigation. With an assignable cause the result is
    invalidated (retest) and the investigation closes; without, phase II begins."""
    _require_lab(actor, OOS_PHASE1_ROLES, _("A QC reviewer or QA completes phase I."))
    summary = _require_text(summary, "summary", _("Write the findings of phase I."))
    with transaction.atomic():
        req = _lock_request(oos.request)
        # the result it may invalidate, then the investigation (which refers to the result),
        # all before the ledger's head
        result = (
            Result.objects.select_for_update().get(pk=oos.result_id) if assignable_cause else None
        )
        locked = OosInvestigation.objects.select_for_update().get(pk=oos.pk)
        if locked.phase != OosPhase.PHASE_1:
            raise Conflict(_("Phase I of this investigation is complete."))
        now = _now()
        locked.phase1_summary = summary
        locked.assignable_cause = assignable_cause
        locked.phase1_by = actor
        locked.phase1_at = now
        fields = ["phase1_summary", "assignable_cause", "phase1_by", "phase1_at", "phase"]
        if assignable_cause:
            locked.phase = OosPhase.CLOSED
            locked.outcome = OosOutcome.INVALIDATED
            locked.conclusion = summary
            locked.closed_at = now
            locked.closed_by = actor
            fields += ["outcome", "conclusion", "closed_at", "closed_by"]
        else:
            locked.phase = OosPhase.PHASE_2
        locked.save(update_fields=fields)
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=QcEvent.OOS_PHASE1_COMPLETED,
            entity_type="qc.oosinvestigation",
            entity_id=locked.pk,
            entity_label=locked.number,
            organisation_id=locked.organisation_id,
            old={"phase": OosPhase.PHASE_1},
            new={
                "phase": locked.phase,
                "assignable_cause": assignable_cause,
                "outcome": locked.outcome,
            },
            reason=summary,
        )
        if result is not None:
            _invalidate_for_oos(actor, req, result, summary)
    return locked


def _invalidate_for_oos(actor: User, req: TestRequest, result: Result, reason: str) -> None:
    """An investigation found a laboratory cause: the result (locked) is invalidated if still
    valid, and a reviewed request goes back into testing for the retest."""
    if result.status == ResultStatus.VALID:
        _invalidate(actor, result, reason)
        if req.status == RequestStatus.REVIEWED:
            _transition(actor, req, RequestStatus.IN_TESTING, reason)


def oos_close(
    *,
    actor: User,
    oos: OosInvestigation,
    summary: str,
    capa_reference: str,
    conclusion: str,
    invalidate_result: bool = False,
) -> OosInvestigation:
    """QA closes phase II: findings, CAPA reference and conclusion. The result stands as a
    confirmed OOS unless the full investigation found a laboratory cause after all."""
    _require_lab(actor, OOS_CLOSE_ROLES, _("Only QA closes a phase II investigation."))
    summary = _require_text(summary, "summary", _("Write the findings of phase II."))
    capa_reference = _require_text(capa_reference, "capa_reference", _("Give the CAPA reference."))
    conclusion = _require_text(conclusion, "conclusion", _("Write the conclusion."))
    with transaction.atomic():
        req = _lock_request(oos.request)
        # the result it may invalidate, then the investigation (which refers to the result),
        # all before the ledger's head
        result = (
            Result.objects.select_for_update().get(pk=oos.result_id) if invalidate_result else None
        )
        locked = OosInvestigation.objects.select_for_update().get(pk=oos.pk)
        if locked.phase != OosPhase.PHASE_2:
            raise Conflict(_("Only an investigation in phase II is closed this way."))
        now = _now()
        locked.phase = OosPhase.CLOSED
        locked.phase2_summary = summary
        locked.capa_reference = capa_reference
        locked.conclusion = conclusion
        locked.outcome = OosOutcome.INVALIDATED if invalidate_result else OosOutcome.CONFIRMED
        locked.closed_at = now
        locked.closed_by = actor
        locked.save(
            update_fields=[
                "phase",
                "phase2_summary",
                "capa_reference",
                "conclusion",
                "outcome",
                "closed_at",
                "closed_by",
            ]
        )
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=QcEvent.OOS_CLOSED,
            entity_type="qc.oosinvestigation",
            entity_id=locked.pk,
            entity_label=locked.number,
            organisation_id=locked.organisation_id,
            old={"phase": OosPhase.PHASE_2},
            new={
                "phase": OosPhase.CLOSED,
                "outcome": locked.outcome,
                "capa_reference": capa_reference,
                "conclusion": conclusion,
            },
            reason=conclusion,
        )
        if result is not None:
            _invalidate_for_oos(actor, req, result, conclusion)
    return locked


# --- certificates ---------------------------------------------------------------------------
#
# A certificate's *version* changes only by amendment (a reason, version n+1 superseding n). A
# *translation* renders the same version in another language: its own PDF, SHA-256 and UUID,
# linked to the version's original through ``translation_of``; amending the version supersedes
# the original and, through it, every translation of it.


def _language(language: str) -> str:
    if language not in Language.values:
        raise Invalid(
            _("Certificates are issued in English or Simplified Chinese."), field="language"
        )
    return language


def _render_into(cert: Certificate, verify_base: str) -> None:
    """Render ``cert``'s PDF and record its SHA-256 and that of what it states."""
    from celltrace.qc.certificates import render

    rendered = render(cert, verify_base=verify_base)
    cert.pdf = rendered.pdf
    cert.sha256 = hashlib.sha256(rendered.pdf).hexdigest()
    cert.content_sha256 = rendered.content_sha256


def _issued_facts(cert: Certificate) -> dict[str, Any]:
    """What the ledger entry of an issued certificate or translation records of it."""
    return {
        "request": cert.request.number,
        "version": cert.version,
        "uuid": str(cert.uuid),
        "sha256": cert.sha256,
        "content_sha256": cert.content_sha256,
        "language": cert.language,
    }


def _issue(
    actor: User,
    req: TestRequest,
    language: str,
    verify_base: str,
    previous: Certificate | None,
    reason: str,
) -> Certificate:
    cert = Certificate(
        organisation_id=req.organisation_id,
        request=req,
        version=(previous.version + 1) if previous else 1,
        supersedes=previous,
        language=_language(language),
        reason=reason,
        issued_at=_now(),
        issued_by=actor,
    )
    _render_into(cert, verify_base)
    cert.save()
    new = {**_issued_facts(cert), "supersedes": previous.number if previous else None}
    if previous is not None:
        # the amendment supersedes the previous version's translations too
        new["supersedes_translations"] = [
            {"uuid": str(t.uuid), "language": t.language}
            for t in previous.translations.order_by("pk")
        ]
    ledger.append(
        actor=actor,
        action=Action.CREATE,
        event_type=QcEvent.CERTIFICATE_ISSUED,
        entity_type="qc.certificate",
        entity_id=cert.pk,
        entity_label=str(cert),
        organisation_id=cert.organisation_id,
        new=new,
        reason=reason,
    )
    return cert


def _latest_original(req: TestRequest) -> Certificate:
    """The latest version's original (not a translation) of the locked request ``req``."""
    latest = (
        Certificate.objects.select_for_update()
        .filter(request=req, translation_of__isnull=True)
        .order_by("-version")
        .first()
    )
    if latest is None:
        raise Conflict(_("No certificate has been issued for this request."))
    return latest


def certificate_issue(
    *, actor: User, request: TestRequest, language: str = Language.EN, verify_base: str = ""
) -> Certificate:
    """Issue the certificate of analysis of a released request (QA); the request is certified.
    ``verify_base`` is the public origin printed in the QR code (``https://lab.example``)."""
    _require_lab(actor, CERTIFICATE_ROLES, _("Only QA issues certificates of analysis."))
    request_sync_status(actor=actor, request=request)
    with transaction.atomic():
        req = _lock_request(request)
        if req.certificates.exists():
            raise Conflict(_("A certificate has been issued; amend it instead."))
        if req.status != RequestStatus.RELEASED:
            raise Conflict(
                _("A certificate is issued once QA has released the request; it is %(s)s.")
                % {"s": RequestStatus(req.status).label}
            )
        cert = _issue(actor, req, language, verify_base, None, "")
        _transition(actor, req, RequestStatus.CERTIFIED)
    return cert


def certificate_amend(
    *,
    actor: User,
    certificate: Certificate,
    reason: str,
    language: str | None = None,
    verify_base: str = "",
) -> Certificate:
    """Issue a new version that supersedes ``certificate``'s version (the latest); history is
    kept. ``certificate`` may be the version's original or one of its translations: the new
    version supersedes the original, and with it every translation of that version. The new
    version is in ``language``, by default the language of ``certificate``."""
    _require_lab(actor, CERTIFICATE_ROLES, _("Only QA amends certificates of analysis."))
    reason = _require_text(reason, "reason", _("Give the reason for the amendment."))
    with transaction.atomic():
        req = _lock_request(certificate.request)
        latest = _latest_original(req)
        if latest.version != certificate.version:
            raise Conflict(_("Only the latest version of a certificate is amended."))
        return _issue(actor, req, language or certificate.language, verify_base, latest, reason)


def certificate_translate(
    *, actor: User, certificate: Certificate, language: str, verify_base: str = ""
) -> Certificate:
    """Issue ``certificate``'s version in ``language`` (QA): the same request, results and
    version number, rendered in the other language as its own PDF with its own SHA-256 and
    UUID (the QR code verifies it byte for byte), linked to the version's original. Not an
    amendment: no new version, no reason. Only the latest version is translated, once per
    language; ``certificate`` may be the original or a translation of that version.

    The translation is rendered from the data as they are now, so it is refused when they no
    longer state what the original states (its ``content_sha256``: a party's name or address,
    a sample, a result, a signature's status or a closed investigation changed since): that
    calls for an amendment, with its reason, not a translation."""

    _require_lab(actor, CERTIFICATE_ROLES, _("Only QA translates certificates of analysis."))
    language = _language(language)
    with transaction.atomic():
        req = _lock_request(certificate.request)
        latest = _latest_original(req)
        if latest.version != certificate.version:
            raise Conflict(
                _(
                    "Only the latest version of a certificate is translated; %(n)s supersedes "
                    "this one."
                )
                % {"n": latest.number}
            )
        if language == latest.language:
            raise Invalid(
                _("Certificate %(n)s is issued in %(lang)s; choose the other language.")
                % {"n": latest.number, "lang": Language(language).label},
                field="language",
            )
        if latest.translations.filter(language=language).exists():
            raise Conflict(
                _("Certificate %(n)s has been translated into %(lang)s already.")
                % {"n": latest.number, "lang": Language(language).label}
            )
        cert = Certificate(
            organisation_id=req.organisation_id,
            request=req,
            version=latest.version,
            translation_of=latest,
            language=language,
            issued_at=_now(),
            issued_by=actor,
        )
        _render_into(cert, verify_base)
        if not latest.content_sha256:
            # issued before certificates recorded what they state: nothing shows the data
            # still say the same, so the version is amended (and the amendment translated)
            raise Conflict(
                _(
                    "Certificate %(n)s was issued before certificates recorded what they state, "
                    "so a translation cannot be shown to say the same. Amend it, then translate "
                    "the amendment."
                )
                % {"n": latest.number}
            )
        if cert.content_sha256 != latest.content_sha256:
            raise Conflict(
                _(
                    "What certificate %(n)s states has changed since it was issued (a party, "
                    "sample, result, signature or investigation); a translation would not say "
                    "the same. Amend the certificate instead, giving the reason."
                )
                % {"n": latest.number}
            )
        cert.save()
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcEvent.CERTIFICATE_TRANSLATED,
            entity_type="qc.certificate",
            entity_id=cert.pk,
            entity_label=str(cert),
            organisation_id=cert.organisation_id,
            new={
                **_issued_facts(cert),
                "translation_of": {
                    "number": latest.number,
                    "uuid": str(latest.uuid),
                    "language": latest.language,
                    "sha256": latest.sha256,
                },
            },
        )
    return cert


@dataclass(frozen=True)
class Verification:
    certificate: Certificate
    matches: bool
    superseded_by: Certificate | None
    sha256: str


def certificate_verify(*, certificate: Certificate, pdf: bytes) -> Verification:
    """Whether ``pdf`` is byte for byte the certificate issued (SHA-256), and whether a later
    version supersedes it (``superseded_by``: the newest version's original; a translation is
    superseded with its version). Public: it reveals nothing beyond the certificate's own
    number and language."""
    digest = hashlib.sha256(pdf).hexdigest()
    later = Certificate.objects.filter(
        request_id=certificate.request_id,
        version__gt=certificate.version,
        translation_of__isnull=True,
    )
    return Verification(
        certificate=certificate,
        matches=digest == certificate.sha256,
        superseded_by=later.select_related("request").order_by("-version").first(),
        sha256=digest,
    )


# --- method catalogue and specifications: proposals, QA approval, withdrawal ----------------
#
# A proposed version (``VersionStatus.PENDING``) is never used: requests and tests keep using
# the effective (``is_current``) version until QA signs the proposal "approved" through the
# signature page or ``POST /signatures``; :func:`method_version_approved` and
# :func:`specification_approved` (``on_signed`` hooks) then make it effective in the signing
# transaction. Versions seeded or created directly (:func:`methods_seed`,
# :func:`method_version_create`, :func:`specification_create`) are effective at once.

#: Who proposes methods, specifications and panels (QA approves; analysts only use them).
CATALOGUE_ROLES = (Role.QC_REVIEWER, Role.QA, Role.ADMIN)
METHOD_FIELDS = (
    "name",
    "reference",
    "result_type",
    "unit",
    "reported_decimals",
    "lod",
    "loq",
    "turnaround_days",
    "qualitative_options",
)
MAX_REPORTED_DECIMALS = 6
_CODE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def _check_code(code: str, field: str = "code") -> str:
    code = (code or "").strip()
    if not _CODE_RE.fullmatch(code):
        raise Invalid(
            _(
                "A code is 1 to 40 lower-case letters, digits and hyphens, starting with a "
                "letter or digit (e.g. car-t-release)."
            ),
            field=field,
        )
    return code


def _short_text(values: Mapping[str, Any], field: str, limit: int) -> str:
    text = str(values.get(field) or "").strip()
    if len(text) > limit:
        raise Invalid(
            _("At most %(n)d characters.") % {"n": limit},
            field=field,
        )
    return text


def clean_method_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the content of a method version; each error names its field."""
    unknown = set(values) - set(METHOD_FIELDS)
    if unknown:
        raise Invalid(
            _("Unknown method fields: %(f)s.") % {"f": ", ".join(sorted(unknown))}, field="changes"
        )
    name = _require_text(str(values.get("name") or ""), "name", _("Give the method's name."))
    if len(name) > 200:
        raise Invalid(_("At most %(n)d characters.") % {"n": 200}, field="name")
    reference = _require_text(
        str(values.get("reference") or ""),
        "reference",
        _("Give the pharmacopoeial chapter or in-house procedure the method follows."),
    )
    if len(reference) > 300:
        raise Invalid(_("At most %(n)d characters.") % {"n": 300}, field="reference")
    result_type = values.get("result_type")
    if result_type not in ResultType.values:
        raise Invalid(
            _("Choose the result type: numeric, qualitative or text."), field="result_type"
        )
    unit = _short_text(values, "unit", 40)
    lod = _short_text(values, "lod", 40)
    loq = _short_text(values, "loq", 40)
    decimals = values.get("reported_decimals")
    tat = values.get("turnaround_days")
    if isinstance(tat, bool) or not isinstance(tat, int) or not 1 <= tat <= 365:
        raise Invalid(
            _("The turnaround is a whole number of days from 1 to 365."), field="turnaround_days"
        )
    raw_options = values.get("qualitative_options") or []
    if not isinstance(raw_options, list | tuple) or not all(
        isinstance(o, str) for o in raw_options
    ):
        raise Invalid(_("List the qualitative outcomes as text."), field="qualitative_options")
    options = [o.strip() for o in raw_options if o.strip()]
    if len({o.casefold() for o in options}) != len(options):
        raise Invalid(_("Each qualitative outcome may appear once."), field="qualitative_options")
    if any(len(o) > 100 for o in options):
        raise Invalid(
            _("A qualitative outcome has at most 100 characters."), field="qualitative_options"
        )
    if result_type == ResultType.NUMERIC:
        if decimals is not None and (
            isinstance(decimals, bool)
            or not isinstance(decimals, int)
            or not 0 <= decimals <= MAX_REPORTED_DECIMALS
        ):
            raise Invalid(
                _("Reported decimals are a whole number from 0 to %(n)d.")
                % {"n": MAX_REPORTED_DECIMALS},
                field="reported_decimals",
            )
        if options:
            raise Invalid(
                _("A numeric method has no qualitative outcomes."), field="qualitative_options"
            )
    else:
        if decimals is not None:
            raise Invalid(
                _("Only numeric methods report decimals; leave it empty."),
                field="reported_decimals",
            )
        if unit:
            raise Invalid(_("Only numeric methods have a unit; leave it empty."), field="unit")
    if result_type == ResultType.QUALITATIVE and len(options) < 2:
        raise Invalid(
            _("List at least two qualitative outcomes, one per line (e.g. No growth, Growth)."),
            field="qualitative_options",
        )
    if result_type == ResultType.TEXT and options:
        raise Invalid(
            _("A text method has no fixed outcomes; choose qualitative instead."),
            field="qualitative_options",
        )
    return {
        "name": name,
        "reference": reference,
        "result_type": result_type,
        "unit": unit,
        "reported_decimals": decimals,
        "lod": lod,
        "loq": loq,
        "turnaround_days": tat,
        "qualitative_options": options,
    }


def method_create(
    *, actor: User, code: str, values: Mapping[str, Any], reason: str
) -> MethodVersion:
    """Add a method to the catalogue; its first version awaits QA's approval."""
    _require_lab(
        actor, CATALOGUE_ROLES, _("Only QC reviewers, QA and administrators change the catalogue.")
    )
    code = _check_code(code)
    reason = _require_text(reason, "reason", _("Give the reason for the new method."))
    fields = clean_method_fields(values)
    with transaction.atomic():
        if Method.objects.filter(code=code).exists():
            raise Conflict(_("Method %(code)s exists already.") % {"code": code}, field="code")
        try:
            with transaction.atomic():
                method = Method.objects.create(code=code, name=fields["name"])
        except IntegrityError as exc:
            raise Conflict(
                _("Method %(code)s exists already.") % {"code": code}, field="code"
            ) from exc
        version = MethodVersion.objects.create(
            method=method,
            version=1,
            status=VersionStatus.PENDING,
            is_current=False,
            created_by=actor,
            reason=reason,
            **fields,
        )
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcEvent.METHOD_CREATED,
            entity_type="qc.method",
            entity_id=method.pk,
            entity_label=code,
            new={"code": code, "version": 1, "status": VersionStatus.PENDING, **fields},
            reason=reason,
        )
    return version


def method_version_propose(
    *, actor: User, method: Method, values: Mapping[str, Any], reason: str
) -> MethodVersion:
    """Propose the next version of ``method``; it becomes effective once QA approves it.
    The effective version stays in use meanwhile, and tests keep the version they used."""
    _require_lab(
        actor, CATALOGUE_ROLES, _("Only QC reviewers, QA and administrators change the catalogue.")
    )
    reason = _require_text(reason, "reason", _("Give the reason for the new version."))
    fields = clean_method_fields(values)
    with transaction.atomic():
        Method.objects.select_for_update().get(pk=method.pk)
        pending = MethodVersion.objects.filter(method=method, status=VersionStatus.PENDING).first()
        if pending is not None:
            raise Conflict(
                _("Version %(v)d of %(code)s awaits approval; approve or withdraw it first.")
                % {"v": pending.version, "code": method.code}
            )
        current = MethodVersion.objects.filter(method=method, is_current=True).first()
        old = {f: getattr(current, f) for f in METHOD_FIELDS} if current else {}
        if current is not None and old == fields:
            raise Invalid(_("The new version changes nothing."), field="name")
        version = MethodVersion.objects.create(
            method=method,
            version=_next_method_version(method),
            status=VersionStatus.PENDING,
            is_current=False,
            created_by=actor,
            reason=reason,
            **fields,
        )
        changed = sorted(f for f in METHOD_FIELDS if old.get(f) != fields[f])
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcCatalogueEvent.METHOD_VERSION_PROPOSED,
            entity_type="qc.methodversion",
            entity_id=version.pk,
            entity_label=str(version),
            old={"version": current.version if current else None}
            | {f: old[f] for f in changed if f in old},
            new={"version": version.version, "status": VersionStatus.PENDING}
            | {f: fields[f] for f in changed},
            reason=reason,
        )
    return version


def _approval_refusal(actor: User, record: Any, meaning: str, what: str) -> str | None:
    if meaning != SignatureMeaning.APPROVED:
        return _("%(what)s are signed as approved.") % {"what": what}
    if not is_lab(actor, Role.QA):
        return _("Only QA approves %(what)s.") % {"what": what.lower()}
    if record.status != VersionStatus.PENDING:
        return _("Only a version awaiting approval is approved; this one is %(s)s.") % {
            "s": VersionStatus(record.status).label.lower()
        }
    if record.created_by_id is not None and record.created_by_id == actor.pk:
        return _("Nobody approves their own proposal: another QA officer approves it.")
    return None


def _make_effective(
    actor: User,
    locked: MethodVersion | Specification,
    previous: MethodVersion | Specification | None,
    signature: Any,
    event_type: str,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> None:
    """QA approved ``locked`` (a pending version, locked by the caller with its siblings):
    supersede ``previous`` and make ``locked`` effective, each version's change with its own
    ledger entry (so each one's history shows it); ``old``/``new`` add to the approval's."""
    now = _now()
    if previous is not None:
        type(locked)._default_manager.filter(pk=previous.pk).update(
            is_current=False, status=VersionStatus.SUPERSEDED
        )
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=(
                QcCatalogueEvent.METHOD_VERSION_SUPERSEDED
                if isinstance(previous, MethodVersion)
                else QcCatalogueEvent.SPECIFICATION_SUPERSEDED
            ),
            entity_type=previous._meta.label_lower,
            entity_id=previous.pk,
            entity_label=str(previous),
            old={"status": VersionStatus.EFFECTIVE, "is_current": True},
            new={
                "status": VersionStatus.SUPERSEDED,
                "is_current": False,
                "superseded_by": locked.version,
            },
        )
    locked.status = VersionStatus.EFFECTIVE
    locked.is_current = True
    locked.approved_at = now
    locked.save(update_fields=["status", "is_current", "approved_at"])
    ledger.append(
        actor=actor,
        action=Action.UPDATE,
        event_type=event_type,
        entity_type=locked._meta.label_lower,
        entity_id=locked.pk,
        entity_label=str(locked),
        old={
            "status": VersionStatus.PENDING,
            "effective_version": previous.version if previous else None,
            **(old or {}),
        },
        new={
            "status": VersionStatus.EFFECTIVE,
            "effective_version": locked.version,
            "signature_id": signature.pk,
            "approved_at": now,
            **(new or {}),
        },
    )


def _withdraw_pending(
    actor: User, locked: MethodVersion | Specification, event_type: str, reason: str
) -> None:
    """Withdraw a pending version (locked by the caller) with one ledger entry."""
    if locked.status != VersionStatus.PENDING:
        raise Conflict(_("Only a version awaiting approval can be withdrawn."))
    locked.status = VersionStatus.WITHDRAWN
    locked.save(update_fields=["status"])
    ledger.append(
        actor=actor,
        action=Action.UPDATE,
        event_type=event_type,
        entity_type=locked._meta.label_lower,
        entity_id=locked.pk,
        entity_label=str(locked),
        old={"status": VersionStatus.PENDING},
        new={"status": VersionStatus.WITHDRAWN},
        reason=reason,
    )


def method_version_can_sign(actor: User, version: MethodVersion, meaning: str) -> str | None:
    """QA approves a proposed method version; never the person who proposed it."""
    return _approval_refusal(actor, version, meaning, _("Method versions"))


def method_version_approved(actor: User, version: MethodVersion, signature: Any) -> None:
    """``on_signed`` hook: QA's approval makes the version effective (in the signing
    transaction); the previous effective version is superseded."""
    with transaction.atomic():
        locked = method_version_lock(version)
        if locked.status != VersionStatus.PENDING:
            raise Conflict(_("Only a version awaiting approval is approved."))
        previous = MethodVersion.objects.filter(method_id=locked.method_id, is_current=True).first()
        method_name = (
            Method.objects.filter(pk=locked.method_id).values_list("name", flat=True).get()
        )
        renamed = method_name != locked.name
        _make_effective(
            actor,
            locked,
            previous,
            signature,
            QcCatalogueEvent.METHOD_VERSION_APPROVED,
            # the method takes the effective version's name: the rename is on this entry
            old={"method_name": method_name} if renamed else None,
            new={"method_name": locked.name} if renamed else None,
        )
        if renamed:
            Method.objects.filter(pk=locked.method_id).update(name=locked.name)


def method_version_lock(version: MethodVersion) -> MethodVersion:
    """Signing lock of a method version: its method, then every version of it in pk order
    (approval supersedes the effective one): the order of proposing, approving and
    withdrawing versions."""
    Method.objects.select_for_update().get(pk=version.method_id)
    versions = MethodVersion.objects.select_for_update().filter(method_id=version.method_id)
    return next(v for v in versions.order_by("pk") if v.pk == version.pk)


def specification_lock(spec: Specification) -> Specification:
    """Signing lock of a specification version: every version of its code in pk order (the
    order of approval)."""
    versions = Specification.objects.select_for_update().filter(code=spec.code).order_by("pk")
    return next(s for s in versions if s.pk == spec.pk)


def approval_frozen(record: MethodVersion | Specification) -> str | None:
    """``frozen`` rule of method and specification versions (read on the locked version): QA's
    approval cannot be withdrawn once it has put the version into effect (tests and requests
    use it); a new version replaces it instead."""
    if record.status in (VersionStatus.EFFECTIVE, VersionStatus.SUPERSEDED):
        return _(
            "%(version)s is in effect or has been: its approval stays. Propose a new "
            "version to replace it."
        ) % {"version": str(record)}
    return None


def method_version_withdraw(*, actor: User, version: MethodVersion, reason: str) -> MethodVersion:
    """Withdraw a proposed version that will not be approved (it stays in the history)."""
    _require_lab(
        actor, CATALOGUE_ROLES, _("Only QC reviewers, QA and administrators change the catalogue.")
    )
    reason = _require_text(reason, "reason", _("Give the reason for withdrawing the version."))
    with transaction.atomic():
        Method.objects.select_for_update().get(pk=version.method_id)
        locked = MethodVersion.objects.select_for_update().get(pk=version.pk)
        _withdraw_pending(actor, locked, QcCatalogueEvent.METHOD_VERSION_WITHDRAWN, reason)
    return locked


#: Which kinds of limit fit which result type.
KINDS_FOR_RESULT = {
    ResultType.NUMERIC: (LimitKind.AT_LEAST, LimitKind.AT_MOST, LimitKind.RANGE, LimitKind.REPORT),
    ResultType.QUALITATIVE: (LimitKind.QUALITATIVE, LimitKind.REPORT),
    ResultType.TEXT: (LimitKind.QUALITATIVE, LimitKind.REPORT),
}


def _decimals_of(text: str) -> int:
    exponent = Decimal(text).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _limit_number(li: LimitSpec, field: str, mv: MethodVersion) -> Decimal | None:
    text = str(getattr(li, field)).strip()
    if not text:
        return None
    where = f"limits.{li.method_code}.{field}"
    try:
        value = parse_decimal(text, field)
    except (TypeError, ValueError) as exc:
        raise Invalid(
            _("%(code)s: %(v)s is not a limit; write it like 70, 70.0 or 0.50.")
            % {"code": li.method_code, "v": text},
            field=where,
        ) from exc
    if mv.reported_decimals is not None and _decimals_of(text) > mv.reported_decimals:
        raise Invalid(
            _(
                "%(code)s: %(v)s has %(n)d decimals, but the method reports %(d)d; a limit "
                "cannot be more precise than the results compared with it."
            )
            % {
                "code": li.method_code,
                "v": text,
                "n": _decimals_of(text),
                "d": mv.reported_decimals,
            },
            field=where,
        )
    _require_comparable(text, value, where)
    # a limit no result could reach (a viability of at least 150 %) is a mistake
    bounds = value_range(li.unit or mv.unit)
    if bounds is not None and (
        (bounds.lower is not None and value < bounds.lower)
        or (bounds.upper is not None and value > bounds.upper)
    ):
        raise Invalid(
            _("%(value)s %(unit)s is not a possible result: %(rule)s.")
            % {"value": text, "unit": " ".join((li.unit or mv.unit).split()), "rule": bounds.rule},
            field=where,
        )
    return value


def validate_limits(limits: Sequence[LimitSpec]) -> list[SpecificationLimit]:
    """Check each criterion against its method's effective version; errors name the method
    and the field (``limits.<method>.<field>``). Returns unsaved rows."""
    if not limits:
        raise Invalid(_("A specification needs at least one limit."), field="limits")
    codes = [li.method_code for li in limits]
    if len(set(codes)) != len(codes):
        raise Invalid(_("A specification has one limit per method."), field="limits")
    versions = {
        mv.method.code: mv
        for mv in MethodVersion.objects.select_related("method").filter(
            method__code__in=codes, is_current=True
        )
    }
    rows = []
    for li in limits:
        code = li.method_code
        mv = versions.get(code)
        if mv is None:
            raise Invalid(
                _("%(code)s is not an effective method of the catalogue.") % {"code": code},
                field=f"limits.{code}",
            )
        if li.kind not in LimitKind.values:
            raise Invalid(
                _("%(code)s: unknown kind of limit %(k)s.") % {"code": code, "k": li.kind},
                field=f"limits.{code}.kind",
            )
        kind = LimitKind(li.kind)
        if kind not in KINDS_FOR_RESULT[ResultType(mv.result_type)]:
            raise Invalid(
                _("%(code)s reports %(t)s results; a limit of kind '%(k)s' does not fit.")
                % {
                    "code": code,
                    "t": ResultType(mv.result_type).label.lower(),
                    "k": kind.label,
                },
                field=f"limits.{code}.kind",
            )
        lower = _limit_number(li, "lower", mv)
        upper = _limit_number(li, "upper", mv)
        alert_lower = _limit_number(li, "alert_lower", mv)
        alert_upper = _limit_number(li, "alert_upper", mv)
        expected = li.expected_text.strip()
        needs_lower = kind in (LimitKind.AT_LEAST, LimitKind.RANGE)
        needs_upper = kind in (LimitKind.AT_MOST, LimitKind.RANGE)
        for field, value, needed in (("lower", lower, needs_lower), ("upper", upper, needs_upper)):
            if needed and value is None:
                raise Invalid(
                    _("%(code)s: a limit of kind '%(k)s' needs this value.")
                    % {"code": code, "k": kind.label},
                    field=f"limits.{code}.{field}",
                )
            if not needed and value is not None:
                raise Invalid(
                    _("%(code)s: a limit of kind '%(k)s' has no such value; leave it empty.")
                    % {"code": code, "k": kind.label},
                    field=f"limits.{code}.{field}",
                )
        if lower is not None and upper is not None and lower >= upper:
            raise Invalid(
                _("%(code)s: the low end %(lo)s must be below the high end %(hi)s.")
                % {"code": code, "lo": li.lower.strip(), "hi": li.upper.strip()},
                field=f"limits.{code}.lower",
            )
        if kind == LimitKind.QUALITATIVE:
            if not expected:
                raise Invalid(
                    _("%(code)s: name the expected result (e.g. No growth).") % {"code": code},
                    field=f"limits.{code}.expected_text",
                )
            options = {o.casefold(): o for o in mv.qualitative_options or []}
            if options and expected.casefold() not in options:
                raise Invalid(
                    _("%(code)s: the expected result is one of %(o)s.")
                    % {"code": code, "o": ", ".join(mv.qualitative_options)},
                    field=f"limits.{code}.expected_text",
                )
            expected = options.get(expected.casefold(), expected)
        elif expected:
            raise Invalid(
                _("%(code)s: only a qualitative limit names an expected result.") % {"code": code},
                field=f"limits.{code}.expected_text",
            )
        numeric_kind = kind in (LimitKind.AT_LEAST, LimitKind.AT_MOST, LimitKind.RANGE)
        for field, value in (("alert_lower", alert_lower), ("alert_upper", alert_upper)):
            if value is None:
                continue
            if not numeric_kind:
                raise Invalid(
                    _("%(code)s: alert limits go with numeric limits only.") % {"code": code},
                    field=f"limits.{code}.{field}",
                )
            if (lower is not None and value < lower) or (upper is not None and value > upper):
                raise Invalid(
                    _("%(code)s: the alert limit %(v)s lies outside the acceptance limits.")
                    % {"code": code, "v": getattr(li, field).strip()},
                    field=f"limits.{code}.{field}",
                )
        if alert_lower is not None and alert_upper is not None and alert_lower >= alert_upper:
            raise Invalid(
                _("%(code)s: the lower alert limit must be below the upper one.") % {"code": code},
                field=f"limits.{code}.alert_lower",
            )
        unit = li.unit.strip()
        if mv.result_type == ResultType.NUMERIC:
            if unit and mv.unit and unit != mv.unit:
                raise Invalid(
                    _("%(code)s reports in %(u)s; write the limit in that unit.")
                    % {"code": code, "u": mv.unit},
                    field=f"limits.{code}.unit",
                )
            unit = unit or mv.unit
        else:
            unit = ""
        rows.append(
            SpecificationLimit(
                method=mv.method,
                kind=kind,
                lower=li.lower.strip(),
                upper=li.upper.strip(),
                lower_inclusive=li.lower_inclusive,
                upper_inclusive=li.upper_inclusive,
                expected_text=expected,
                alert_lower=li.alert_lower.strip(),
                alert_upper=li.alert_upper.strip(),
                unit=unit,
            )
        )
    return rows


def specification_propose(
    *,
    actor: User,
    code: str,
    title: str,
    product_type: str,
    limits: Sequence[LimitSpec],
    client: Organisation | None = None,
    rounding_mode: str = RoundingMode.USP,
    reason: str = "",
) -> Specification:
    """Propose a specification, or the next version of one (same code: product type and client
    stay). It takes effect when QA approves it; requests meanwhile use the effective version."""
    _require_lab(
        actor,
        CATALOGUE_ROLES,
        _("Only QC reviewers, QA and administrators change specifications."),
    )
    code = _check_code(code)
    title = _require_text(title, "title", _("Give the specification a title."))
    product_type = _require_text(product_type, "product_type", _("Name the product type."))
    reason = _require_text(reason, "reason", _("Give the reason for this version."))
    if len(title) > 200:
        raise Invalid(_("At most %(n)d characters.") % {"n": 200}, field="title")
    if len(product_type) > 100:
        raise Invalid(_("At most %(n)d characters.") % {"n": 100}, field="product_type")
    if rounding_mode not in RoundingMode.values:
        raise Invalid(_("Unknown rounding mode."), field="rounding_mode")
    if client is not None and client.kind != OrganisationKind.CLIENT:
        raise Invalid(_("A specification can be specific to a client only."), field="client")
    rows = validate_limits(limits)
    with transaction.atomic():
        versions = list(Specification.objects.select_for_update().filter(code=code).order_by("pk"))
        latest = max(versions, key=lambda s: s.version) if versions else None
        if latest is not None:
            if latest.product_type.casefold() != product_type.casefold():
                raise Invalid(
                    _(
                        "Specification %(code)s is for %(p)s; a new version keeps the product "
                        "type (create a new specification for another)."
                    )
                    % {"code": code, "p": latest.product_type},
                    field="product_type",
                )
            if latest.client_id != (client.pk if client else None):
                raise Invalid(_("A new version keeps the specification's client."), field="client")
            pending = [s for s in versions if s.status == VersionStatus.PENDING]
            if pending:
                raise Conflict(
                    _("Version %(v)d of %(code)s awaits approval; approve or withdraw it first.")
                    % {"v": pending[0].version, "code": code}
                )
        try:
            with transaction.atomic():
                spec = Specification.objects.create(
                    code=code,
                    version=(latest.version + 1) if latest else 1,
                    title=title,
                    product_type=latest.product_type if latest else product_type,
                    client=client,
                    rounding_mode=rounding_mode,
                    is_current=False,
                    status=VersionStatus.PENDING,
                    reason=reason,
                    created_by=actor,
                )
        except IntegrityError as exc:
            raise Conflict(
                _("Specification %(code)s changed meanwhile; reload and try again.")
                % {"code": code}
            ) from exc
        for r in rows:
            r.specification = spec
        SpecificationLimit.objects.bulk_create(rows)
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcCatalogueEvent.SPECIFICATION_PROPOSED,
            entity_type="qc.specification",
            entity_id=spec.pk,
            entity_label=str(spec),
            old={"version": latest.version if latest else None},
            new={
                "code": code,
                "version": spec.version,
                "status": VersionStatus.PENDING,
                "product_type": spec.product_type,
                "client_id": client.pk if client else None,
                "rounding_mode": rounding_mode,
                "limits": [f"{r.method.code}: {r.display}" for r in rows],
            },
            reason=reason,
        )
    return spec


def specification_can_sign(actor: User, spec: Specification, meaning: str) -> str | None:
    """QA approves a proposed specification version; never the person who proposed it."""
    return _approval_refusal(actor, spec, meaning, _("Specifications"))


def specification_approved(actor: User, spec: Specification, signature: Any) -> None:
    """``on_signed`` hook: QA's approval makes the specification version effective; requests
    created from now on use it (existing requests keep theirs)."""
    with transaction.atomic():
        locked = specification_lock(spec)
        if locked.status != VersionStatus.PENDING:
            raise Conflict(_("Only a version awaiting approval is approved."))
        previous = Specification.objects.filter(code=locked.code, is_current=True).first()
        _make_effective(actor, locked, previous, signature, QcCatalogueEvent.SPECIFICATION_APPROVED)


def specification_withdraw(*, actor: User, spec: Specification, reason: str) -> Specification:
    """Withdraw a proposed specification version that will not be approved."""
    _require_lab(
        actor,
        CATALOGUE_ROLES,
        _("Only QC reviewers, QA and administrators change specifications."),
    )
    reason = _require_text(reason, "reason", _("Give the reason for withdrawing the version."))
    with transaction.atomic():
        locked = Specification.objects.select_for_update().get(pk=spec.pk)
        _withdraw_pending(actor, locked, QcCatalogueEvent.SPECIFICATION_WITHDRAWN, reason)
    return locked


# --- test panels ----------------------------------------------------------------------------


def _panel_methods(method_codes: Sequence[str]) -> list[Method]:
    codes = sorted({c.strip() for c in method_codes if c.strip()})
    if not codes:
        raise Invalid(_("A panel holds at least one method."), field="method_codes")
    methods = list(
        Method.objects.filter(code__in=codes, versions__is_current=True).distinct().order_by("code")
    )
    missing = sorted(set(codes) - {m.code for m in methods})
    if missing:
        raise Invalid(
            _("Not effective methods of the catalogue: %(c)s.") % {"c": ", ".join(missing)},
            field="method_codes",
        )
    return methods


def _panel_state(panel: TestPanel, methods: Sequence[Method] | None = None) -> dict[str, Any]:
    return {
        "name": panel.name,
        "description": panel.description,
        "product_type": panel.product_type,
        "client_id": panel.client_id,
        "is_active": panel.is_active,
        "methods": sorted(
            m.code for m in (methods if methods is not None else panel.methods.all())
        ),
    }


def _panel_fields(
    name: str, description: str, product_type: str, client: Organisation | None
) -> tuple[str, str, str]:
    name = _require_text(name, "name", _("Give the panel a name."))
    if len(name) > 200:
        raise Invalid(_("At most %(n)d characters.") % {"n": 200}, field="name")
    product_type = (product_type or "").strip()
    if len(product_type) > 100:
        raise Invalid(_("At most %(n)d characters.") % {"n": 100}, field="product_type")
    if client is not None and client.kind != OrganisationKind.CLIENT:
        raise Invalid(_("A panel can be specific to a client only."), field="client")
    return name, (description or "").strip(), product_type


def panel_create(
    *,
    actor: User,
    code: str,
    name: str,
    method_codes: Sequence[str],
    description: str = "",
    product_type: str = "",
    client: Organisation | None = None,
    is_active: bool = True,
) -> TestPanel:
    """Define a test panel (a set of methods requested together), for all clients or one."""
    _require_lab(
        actor, CATALOGUE_ROLES, _("Only QC reviewers, QA and administrators manage test panels.")
    )
    code = _check_code(code)
    name, description, product_type = _panel_fields(name, description, product_type, client)
    methods = _panel_methods(method_codes)
    with transaction.atomic():
        try:
            with transaction.atomic():
                panel = TestPanel.objects.create(
                    code=code,
                    name=name,
                    description=description,
                    product_type=product_type,
                    client=client,
                    is_active=is_active,
                    created_by=actor,
                )
        except IntegrityError as exc:
            raise Conflict(
                _("Panel %(code)s exists already.") % {"code": code}, field="code"
            ) from exc
        panel.methods.set(methods)
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=QcCatalogueEvent.PANEL_CREATED,
            entity_type="qc.testpanel",
            entity_id=panel.pk,
            entity_label=str(panel),
            organisation_id=client.pk if client else None,
            new={"code": code, **_panel_state(panel, methods)},
        )
    return panel


def panel_update(
    *,
    actor: User,
    panel: TestPanel,
    name: str,
    method_codes: Sequence[str],
    description: str = "",
    product_type: str = "",
    client: Organisation | None = None,
    is_active: bool = True,
    reason: str,
) -> TestPanel:
    """Change a panel (its code stays); requests made earlier keep the methods they had."""
    _require_lab(
        actor, CATALOGUE_ROLES, _("Only QC reviewers, QA and administrators manage test panels.")
    )
    reason = _require_text(reason, "reason", _("Give the reason for the change."))
    name, description, product_type = _panel_fields(name, description, product_type, client)
    methods = _panel_methods(method_codes)
    with transaction.atomic():
        locked = TestPanel.objects.select_for_update().get(pk=panel.pk)
        old = _panel_state(locked)
        locked.name = name
        locked.description = description
        locked.product_type = product_type
        locked.client = client
        locked.is_active = is_active
        new = _panel_state(locked, methods)
        if new == old:
            raise Invalid(_("Nothing changed."), field="name")
        locked.save(
            update_fields=[
                "name",
                "description",
                "product_type",
                "client",
                "is_active",
                "updated_at",
            ]
        )
        locked.methods.set(methods)
        changed = sorted(k for k in new if new[k] != old[k])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=QcCatalogueEvent.PANEL_UPDATED,
            entity_type="qc.testpanel",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=client.pk if client else old["client_id"],
            old={k: old[k] for k in changed},
            new={k: new[k] for k in changed},
            reason=reason,
        )
    return locked


def panels_for_request(organisation: Organisation, panel_codes: Sequence[str]) -> list[TestPanel]:
    """The active panels ``panel_codes`` names that the client may request (global or its own);
    any other code is refused as unknown, never revealed."""
    codes = sorted({c.strip() for c in panel_codes if c.strip()})
    if not codes:
        return []
    panels = list(
        TestPanel.objects.filter(code__in=codes, is_active=True)
        .filter(Q(client__isnull=True) | Q(client=organisation))
        .prefetch_related("methods")
        .order_by("code")
    )
    missing = sorted(set(codes) - {p.code for p in panels})
    if missing:
        raise Invalid(
            _("Unknown test panels: %(c)s.") % {"c": ", ".join(missing)}, field="panel_codes"
        )
    return panels


# --- sample labels and storage --------------------------------------------------------------


def sample_labels_print(*, actor: User, request: TestRequest, samples: Sequence[Sample]) -> None:
    """Record on the ledger that labels were printed for these samples of ``request``."""
    _require_lab(actor, RECEIPT_ROLES, _("Only laboratory staff print sample labels."))
    items = list(samples)
    if not items:
        raise Invalid(_("The request has no sample to label."), field="samples")
    if any(s.request_id != request.pk for s in items):
        raise Invalid(_("Every sample must belong to the request."), field="samples")
    with transaction.atomic():
        ledger.append(
            actor=actor,
            action=Action.PRINT,
            event_type=QcCatalogueEvent.SAMPLE_LABELS_PRINTED,
            entity_type="qc.testrequest",
            entity_id=request.pk,
            entity_label=str(request),
            organisation_id=request.organisation_id,
            new={"samples": [s.number for s in items], "count": len(items)},
        )


def sample_active_placement(sample: Sample) -> SamplePlacement | None:
    return (
        SamplePlacement.objects.select_related("position__box__rack__unit")
        .filter(sample=sample, removed_at__isnull=True)
        .first()
    )


def refuse_position_with_sample(position: Any) -> None:
    """Occupancy check the storage app runs before placing an aliquot: refuse a position
    holding a QC sample (registered in :class:`celltrace.qc.apps.QcConfig`)."""
    held = (
        SamplePlacement.objects.filter(position_id=position.pk, removed_at__isnull=True)
        .select_related("sample")
        .first()
    )
    if held is not None:
        raise Conflict(
            _("%(position)s holds QC sample %(sample)s.")
            % {"position": position.label, "sample": held.sample.number},
            field="position",
        )


def positions_with_samples(
    box_ids: Sequence[int], viewer: User | None = None
) -> dict[int, Occupant]:
    """``{position_id: Occupant}`` of the QC samples stored in these boxes (the storage app's
    occupant source, registered in :class:`celltrace.qc.apps.QcConfig`), in one query.

    The sample number and a link to the sample's page are given only where ``viewer`` may see
    the sample (:func:`celltrace.qc.selectors.samples_visible`); anyone else sees just "QC
    sample". ``viewer=None`` is the system itself (the importer): numbers, no links.
    """
    from django.db.models import Exists, OuterRef, Value
    from django.urls import reverse

    from celltrace.qc.selectors import samples_visible
    from celltrace.storage.services import Occupant

    qs = SamplePlacement.objects.filter(position__box_id__in=list(box_ids), removed_at__isnull=True)
    if viewer is None:
        qs = qs.annotate(visible=Value(True))
    else:
        qs = qs.annotate(visible=Exists(samples_visible(viewer).filter(pk=OuterRef("sample_id"))))
    kind = _("QC sample")
    out: dict[int, Occupant] = {}
    for position_id, sample_id, visible in qs.values_list("position_id", "sample_id", "visible"):
        if not visible:
            out[position_id] = Occupant(code="qc_sample", kind=kind)
            continue
        out[position_id] = Occupant(
            code="qc_sample",
            kind=kind,
            label=Sample(pk=sample_id).number,
            url="" if viewer is None else reverse("qc:sample", args=[sample_id]),
        )
    return out


def positions_holding_samples() -> QuerySet[SamplePlacement, Any]:
    """The positions holding a QC sample, as a query of ``position_id`` (the storage app uses
    it as a subquery for fill levels and allocation)."""
    return SamplePlacement.objects.filter(removed_at__isnull=True).values("position_id")


def sample_store(
    *, actor: User, sample: Sample, position: Any, reason: str = ""
) -> SamplePlacement:
    """Put an accepted sample into a free storage position (a custody entry: the sample leaves
    its custodian's hands for the position). Locks the box, then the position, then the
    sample; a position holding an aliquot or another sample is refused."""
    from celltrace.storage.models import Box, Placement, Position
    from celltrace.storage.services import location_of, location_text

    _require_lab(actor, RECEIPT_ROLES, _("Only laboratory staff store samples."))
    with transaction.atomic():
        Box.objects.select_for_update().get(pk=position.box_id)
        pos = (
            Position.objects.select_for_update(of=("self",))
            .select_related("box__rack__unit")
            .get(pk=position.pk)
        )
        locked = Sample.objects.select_for_update().get(pk=sample.pk)
        if locked.status != SampleStatus.ACCEPTED:
            raise Conflict(
                _("Sample %(s)s is %(st)s; only accepted samples are stored.")
                % {"s": locked.number, "st": SampleStatus(locked.status).label.lower()},
                field="sample",
            )
        if SamplePlacement.objects.filter(
            sample=locked, removal_purpose=RemovalPurpose.DISPOSAL
        ).exists():
            raise Conflict(
                _("Sample %(s)s has been disposed of.") % {"s": locked.number}, field="sample"
            )
        current = sample_active_placement(locked)
        if current is not None:
            raise Conflict(
                _("Sample %(s)s is already stored at %(loc)s.")
                % {"s": locked.number, "loc": location_text(current.position)},
                field="sample",
            )
        if Placement.objects.filter(position_id=pos.pk, removed_at__isnull=True).exists():
            raise Conflict(
                _("%(position)s holds an aliquot.") % {"position": pos.label}, field="position"
            )
        refuse_position_with_sample(pos)
        now = _now()
        try:
            with transaction.atomic():
                placement = SamplePlacement.objects.create(
                    organisation_id=locked.organisation_id,
                    sample=locked,
                    position=pos,
                    placed_at=now,
                    placed_by=actor,
                )
        except IntegrityError as exc:
            raise Conflict(
                _("The position or the sample changed meanwhile; reload and try again.")
            ) from exc
        old_custodian = locked.custodian
        locked.custodian = None
        locked.save(update_fields=["custodian"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=QcCatalogueEvent.SAMPLE_STORED,
            entity_type="qc.sample",
            entity_id=locked.pk,
            entity_label=locked.number,
            organisation_id=locked.organisation_id,
            old={"custodian": old_custodian.full_name if old_custodian else None},
            new={"custodian": None, "stored_at": now, **location_of(pos)},
            reason=reason.strip(),
        )
    return placement


def sample_retrieve(
    *, actor: User, sample: Sample, purpose: str, reason: str = ""
) -> SamplePlacement:
    """Take a stored sample out of its position: for testing (the actor becomes its custodian)
    or for disposal (a reason is required; a disposed sample is never stored again)."""
    from celltrace.storage.models import Box
    from celltrace.storage.services import location_of

    _require_lab(actor, RECEIPT_ROLES, _("Only laboratory staff retrieve samples."))
    if purpose not in RemovalPurpose.values:
        raise Invalid(_("Say why the sample is retrieved: testing or disposal."), field="purpose")
    reason = reason.strip()
    if purpose == RemovalPurpose.DISPOSAL and not reason:
        raise Invalid(_("Give the reason for disposing of the sample."), field="reason")
    current = sample_active_placement(sample)
    if current is None:
        raise Conflict(_("Sample %(s)s is not in storage.") % {"s": sample.number}, field="sample")
    with transaction.atomic():
        Box.objects.select_for_update().get(pk=current.position.box_id)
        locked = Sample.objects.select_for_update().get(pk=sample.pk)
        placement = (
            SamplePlacement.objects.select_for_update()
            .filter(pk=current.pk, removed_at__isnull=True)
            .first()
        )
        if placement is None:
            raise Conflict(
                _("Sample %(s)s was retrieved meanwhile.") % {"s": locked.number}, field="sample"
            )
        now = _now()
        placement.removed_at = now
        placement.removed_by = actor
        placement.removal_purpose = purpose
        placement.removal_reason = reason
        placement.save(
            update_fields=["removed_at", "removed_by", "removal_purpose", "removal_reason"]
        )
        locked.custodian = actor if purpose == RemovalPurpose.TESTING else None
        locked.save(update_fields=["custodian"])
        ledger.append(
            actor=actor,
            action=Action.UPDATE,
            event_type=QcCatalogueEvent.SAMPLE_RETRIEVED,
            entity_type="qc.sample",
            entity_id=locked.pk,
            entity_label=locked.number,
            organisation_id=locked.organisation_id,
            old={"custodian": None, **location_of(current.position)},
            new={
                "custodian": actor.full_name if purpose == RemovalPurpose.TESTING else None,
                "purpose": purpose,
                "removed_at": now,
            },
            reason=reason,
        )
    return placement
