"""Reads of computed QC results: sterility readings on a test, readings due, dot plots.

Scoped like every selector: laboratory staff see all, a client only its own organisation's
released results (a foreign object is :class:`~celltrace.core.errors.NotFound`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from celltrace.assays import sterility
from celltrace.core.models import User
from celltrace.core.tenancy import scope
from celltrace.qc.choices import RequestStatus, ResultStatus
from celltrace.qc.models import Test
from celltrace.qc.models_compute import SterilityIncubation


def _incubation(i: SterilityIncubation) -> sterility.Incubation:
    return sterility.Incubation(
        medium=i.medium, started_at=timezone.localtime(i.started_at), days=i.days
    )


def sterility_inputs(test: Test, *, as_of: dt.datetime) -> dict[str, Any]:
    """The incubations and readings recorded on ``test``, for the sterility calculator."""
    incubations = list(test.incubations.order_by("medium"))
    readings = [
        sterility.Reading(
            medium=i.medium,
            observed_at=timezone.localtime(r.observed_at),
            growth=r.growth,
            note=r.note,
        )
        for i in incubations
        for r in i.readings.order_by("observed_at", "pk")
    ]
    return {
        "incubations": [_incubation(i) for i in incubations],
        "readings": readings,
        "as_of": timezone.localtime(as_of),
    }


@dataclass(frozen=True)
class ReadingRow:
    medium: str
    started_at: dt.datetime
    days: int
    #: day -> (growth, observed_at, recorded by)
    cells: list[tuple[int, Any]]


def sterility_grid(test: Test) -> list[ReadingRow]:
    """One row per incubated medium with its readings by incubation day (0..days)."""
    rows = []
    for inc in test.incubations.order_by("medium"):
        start = timezone.localtime(inc.started_at).date()
        by_day: dict[int, Any] = {}
        for r in inc.readings.select_related("recorded_by").order_by("observed_at"):
            by_day[(timezone.localtime(r.observed_at).date() - start).days] = r
        rows.append(
            ReadingRow(
                medium=inc.medium,
                started_at=inc.started_at,
                days=inc.days,
                cells=[(d, by_day.get(d)) for d in range(0, inc.days + 1)],
            )
        )
    return rows


@dataclass(frozen=True)
class Due:
    test: Test
    medium: str
    day: int
    due_date: dt.date
    overdue: bool


def readings_due(actor: User, on: dt.date) -> list[Due]:
    """Sterility readings due on ``on`` (and missed before it) for tests still in incubation."""
    tests = (
        scope(Test.objects.all(), actor)
        .filter(incubations__isnull=False, request__status=RequestStatus.IN_TESTING)
        .exclude(results__status=ResultStatus.VALID)
        .select_related("request__organisation", "sample", "method_version__method")
        .prefetch_related("incubations__readings")
        .distinct()
        .order_by("pk")
    )
    out: list[Due] = []
    for test in tests:
        incubations = list(test.incubations.all())
        readings = [
            sterility.Reading(
                medium=i.medium,
                observed_at=timezone.localtime(r.observed_at),
                growth=r.growth,
            )
            for i in incubations
            for r in i.readings.all()
        ]
        for d in sterility.readings_due([_incubation(i) for i in incubations], readings, on):
            out.append(Due(test, d.medium, d.day, d.due_date, d.overdue))
    return sorted(out, key=lambda d: (d.due_date, d.test.pk, d.medium))
