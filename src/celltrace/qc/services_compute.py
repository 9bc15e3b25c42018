"""Services of computed QC results: compute a result from assay inputs or instrument files, and
record a sterility test's incubation and daily readings.

Like every service these are the only writers of their rows: each is one transaction that locks
what it changes and appends exactly one ledger entry (:func:`result_compute` delegates the write
to :func:`celltrace.qc.services.result_enter`, whose entry records the result; the calculation,
with the SHA-256 of every instrument file, is stored on the result and bound by its signatures).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from celltrace.audit import ledger
from celltrace.audit.choices import Action
from celltrace.core.choices import Role
from celltrace.core.errors import Conflict, Invalid
from celltrace.core.models import User
from celltrace.qc import calculators, instrument_files, services
from celltrace.qc.choices import RequestStatus, ResultStatus
from celltrace.qc.instrument_files import Upload
from celltrace.qc.models import Result, Test, TestRequest
from celltrace.qc.models_compute import SterilityIncubation, SterilityReading
from celltrace.qc.selectors_compute import sterility_inputs

#: Methods read day by day from incubated media.
STERILITY_METHODS: Final = ("sterility", "sterility-cell")
MEDIA: Final = ("FTM", "SCDM")
#: Clock skew tolerated between the analyst's watch and the server for "not in the future".
SKEW: Final = dt.timedelta(minutes=5)


class ComputeEvent:
    """Ledger event types written by the computed-results services."""

    STERILITY_INCUBATION_STARTED = "QC_STERILITY_INCUBATION_STARTED"
    STERILITY_READING_RECORDED = "QC_STERILITY_READING_RECORDED"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def result_compute(
    *,
    actor: User,
    test: Test,
    kind: str | None,
    inputs: Mapping[str, Any],
    uploads: Sequence[Upload] = (),
    comment: str = "",
) -> Result:
    """Compute ``test``'s result with its method's calculator ``kind`` and enter it with the
    calculation. Instrument files are stored (content-addressed) inside the result's transaction
    once the result has been entered; a refusal writes nothing."""
    services._require_lab(actor, (Role.QC_ANALYST,), _("Only QC analysts enter results."))
    code = test.method_version.method.code
    chosen = calculators.kind_for(code, kind)
    if chosen is None:
        raise Invalid(
            _("Method %(code)s has no calculator %(kind)s; enter the result.")
            % {"code": code, "kind": kind or ""},
            field="kind",
        )
    data = dict(inputs)
    if chosen.slug == "readings":
        data.update(sterility_inputs(test, as_of=_now()))
    value, unit, calculation = calculators.compute(
        code,
        data,
        decimals=test.method_version.reported_decimals,
        unit=test.method_version.unit,
        kind=chosen.slug,
    )
    with transaction.atomic():
        result = services.result_enter(
            actor=actor,
            test=test,
            value=value,
            unit=unit,
            comment=comment,
            calculation=calculation,
        )
        # only now, inside the result's transaction: a refused result stores no file
        for upload in uploads:
            instrument_files.store(upload)
    return result


def _sterility_test(actor: User, test: Test) -> tuple[TestRequest, Test]:
    """Lock the request and the test; refuse when readings can no longer be recorded."""
    req = services._lock_request(test.request)
    locked = (
        Test.objects.select_for_update(of=("self",))
        .select_related("method_version__method")
        .get(pk=test.pk)
    )
    if locked.method_version.method.code not in STERILITY_METHODS:
        raise Invalid(_("Only sterility tests are read from incubated media."))
    if req.status != RequestStatus.IN_TESTING:
        raise Conflict(
            _("Readings are recorded while the request is in testing; it is %(s)s.")
            % {"s": RequestStatus(req.status).label}
        )
    if locked.results.filter(status=ResultStatus.VALID).exists():
        raise Conflict(_("The test has a result; its readings are closed."))
    return req, locked


def sterility_incubation_start(
    *,
    actor: User,
    test: Test,
    media: Sequence[str],
    started_at: dt.datetime,
    days: int = 14,
) -> list[SterilityIncubation]:
    """Record that ``media`` of a sterility test were inoculated at ``started_at`` and incubate
    for ``days`` days (FTM and SCDM, 14 days by default)."""
    services._require_lab(actor, (Role.QC_ANALYST,), _("Only QC analysts record incubations."))
    wanted = sorted({m.strip().upper() for m in media})
    if not wanted or any(m not in MEDIA for m in wanted):
        raise Invalid(
            _("Media: choose among %(media)s.") % {"media": ", ".join(MEDIA)},
            field="incubated_media",
        )
    if timezone.is_naive(started_at):
        raise Invalid(_("Give the time zone of the inoculation time."), field="started_at")
    now = _now()
    if started_at > now + SKEW:
        raise Invalid(_("The inoculation time is in the future."), field="started_at")
    if not 1 <= days <= 60:
        raise Invalid(_("Incubation: 1 to 60 days."), field="days")
    with transaction.atomic():
        _req, locked = _sterility_test(actor, test)
        started = set(locked.incubations.values_list("medium", flat=True))
        again = [m for m in wanted if m in started]
        if again:
            raise Conflict(
                _("Already incubating: %(media)s.") % {"media": ", ".join(again)},
                field="incubated_media",
            )
        rows = [
            SterilityIncubation.objects.create(
                organisation_id=locked.organisation_id,
                test=locked,
                medium=m,
                started_at=started_at,
                days=days,
                started_by=actor,
                created_at=now,
            )
            for m in wanted
        ]
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=ComputeEvent.STERILITY_INCUBATION_STARTED,
            entity_type="qc.test",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=locked.organisation_id,
            new={"media": wanted, "started_at": started_at, "days": days},
        )
    return rows


def sterility_reading_record(
    *,
    actor: User,
    test: Test,
    growth: Mapping[str, bool],
    observed_at: dt.datetime,
    note: str = "",
) -> list[SterilityReading]:
    """Record one reading of each medium in ``growth`` (medium -> growth seen) made at
    ``observed_at``. Readings are never edited; one per medium and incubation day."""
    services._require_lab(actor, (Role.QC_ANALYST,), _("Only QC analysts record readings."))
    if not growth:
        raise Invalid(_("Record the reading of at least one medium."))
    if timezone.is_naive(observed_at):
        raise Invalid(_("Give the time zone of the reading time."), field="observed_at")
    now = _now()
    if observed_at > now + SKEW:
        raise Invalid(_("The reading time is in the future."), field="observed_at")
    with transaction.atomic():
        _req, locked = _sterility_test(actor, test)
        by_medium = {i.medium: i for i in locked.incubations.select_for_update()}
        rows: list[SterilityReading] = []
        recorded: dict[str, Any] = {}
        for medium, grew in sorted(growth.items()):
            key = medium.strip().upper()
            inc = by_medium.get(key)
            if inc is None:
                raise Invalid(
                    _("%(m)s is not incubating for this test; start its incubation first.")
                    % {"m": key},
                    field=key.lower(),
                )
            local = timezone.localtime(inc.started_at)
            day = (timezone.localtime(observed_at).date() - local.date()).days
            if observed_at < inc.started_at:
                raise Invalid(
                    _("%(m)s: the reading is before the inoculation (%(t)s).")
                    % {"m": key, "t": local.strftime("%Y-%m-%d %H:%M")},
                    field="observed_at",
                )
            if day > inc.days:
                raise Invalid(
                    _("%(m)s: day %(d)s is after the end of the %(n)s-day incubation.")
                    % {"m": key, "d": day, "n": inc.days},
                    field="observed_at",
                )
            for earlier in inc.readings.all():
                if (timezone.localtime(earlier.observed_at).date() - local.date()).days == day:
                    raise Conflict(
                        _("%(m)s was already read on day %(d)s.") % {"m": key, "d": day},
                        field=key.lower(),
                    )
            rows.append(
                SterilityReading.objects.create(
                    organisation_id=locked.organisation_id,
                    incubation=inc,
                    observed_at=observed_at,
                    growth=bool(grew),
                    note=note.strip(),
                    recorded_by=actor,
                    recorded_at=now,
                )
            )
            recorded[key] = {"day": day, "growth": bool(grew)}
        ledger.append(
            actor=actor,
            action=Action.CREATE,
            event_type=ComputeEvent.STERILITY_READING_RECORDED,
            entity_type="qc.test",
            entity_id=locked.pk,
            entity_label=str(locked),
            organisation_id=locked.organisation_id,
            new={"observed_at": observed_at, "readings": recorded, "note": note.strip()},
        )
    return rows
