"""API operations of temperature monitoring (operator staff only; others get 404)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Body, Query, Router, Status

from celltrace.api.errors import problem_response
from celltrace.api.schemas import ERRORS, READ_ERRORS, IdParam, Page
from celltrace.core.api import actor_of
from celltrace.core.choices import ErrorCode
from celltrace.core.errors import Invalid
from celltrace.monitoring import selectors, services
from celltrace.monitoring.choices import ReadingSource
from celltrace.monitoring.schemas import (
    AlarmFilter,
    AlarmOut,
    ExcursionFilter,
    ExcursionOut,
    ImpactOut,
    IngestOut,
    ReadingIn,
    SeriesOut,
    SeriesQuery,
)

router = Router(tags=["monitoring"])

MAX_BATCH = 50_000
MAX_WINDOW = dt.timedelta(days=366)


def _rejected(request: HttpRequest, exc: services.ReadingsRejected) -> HttpResponse:
    errors = [
        {"loc": ["body", p.row, p.field], "msg": p.message, "type": p.rule} for p in exc.problems
    ]
    first = exc.problems[0]
    return problem_response(
        request,
        422,
        exc.message,
        ErrorCode.INVALID.value,
        f"{first.row}.{first.field}",
        errors,
    )


@router.post(
    "/monitoring/readings",
    response={201: IngestOut, **ERRORS},
    operation_id="monitoring_readings_ingest",
    summary="Send a batch of temperature readings (all or nothing)",
)
def monitoring_readings_ingest(
    request: HttpRequest,
    payload: Annotated[list[ReadingIn], Body(min_length=1, max_length=MAX_BATCH)],
) -> Status[dict[str, Any]] | HttpResponse:
    """Rows are numbered by their index in the list (from 0) in error documents: each error's
    ``loc`` is ``["body", index, field]`` and its ``type`` the rule broken. Nothing is written
    when any row is refused."""
    actor = actor_of(request)
    selectors.require_operator(actor)
    rows = [r.model_dump() for r in payload]
    try:
        result = services.readings_ingest(
            actor=actor, readings=rows, source=ReadingSource.API, first_row=0
        )
    except services.ReadingsRejected as exc:
        return _rejected(request, exc)
    return Status(
        201,
        {
            "batch_id": result.batch.pk,
            "rows": result.rows,
            "digest": result.digest,
            "ledger_seq": result.ledger_seq,
            "excursions_opened": [e.pk for e in result.opened],
            "excursions_closed": [e.pk for e in result.closed],
        },
    )


@router.get(
    "/monitoring/excursions",
    response={200: Page[ExcursionOut], **READ_ERRORS},
    operation_id="monitoring_excursions_list",
)
def monitoring_excursions_list(request: HttpRequest, q: Query[ExcursionFilter]) -> dict[str, Any]:
    qs = selectors.excursions_visible(actor_of(request)).order_by("-started_at", "-pk")
    if q.unit_id is not None:
        qs = qs.filter(unit_id=q.unit_id)
    if q.kind:
        qs = qs.filter(kind=q.kind)
    if q.open is not None:
        qs = qs.filter(ended_at__isnull=q.open)
    if q.acknowledged is not None:
        qs = qs.filter(Q(acknowledged=q.acknowledged))
    return {"count": qs.count(), "items": list(qs[q.offset : q.offset + q.limit])}


@router.get(
    "/monitoring/excursions/{excursion_id}",
    response={200: ExcursionOut, **READ_ERRORS},
    operation_id="monitoring_excursions_get",
)
def monitoring_excursions_get(request: HttpRequest, excursion_id: IdParam) -> Any:
    return selectors.excursion_get(actor_of(request), excursion_id)


@router.get(
    "/monitoring/excursions/{excursion_id}/impact",
    response={200: ImpactOut, **READ_ERRORS},
    operation_id="monitoring_excursions_impact",
    summary="Aliquots that were in the unit at any time during the excursion",
)
def monitoring_excursions_impact(request: HttpRequest, excursion_id: IdParam) -> dict[str, Any]:
    actor = actor_of(request)
    exc = selectors.excursion_get(actor, excursion_id)
    rows = selectors.excursion_impact(actor, exc)
    return {"excursion": exc, "count": len(rows), "aliquots": rows}


@router.get(
    "/monitoring/alarms",
    response={200: Page[AlarmOut], **READ_ERRORS},
    operation_id="monitoring_alarms_list",
)
def monitoring_alarms_list(request: HttpRequest, q: Query[AlarmFilter]) -> dict[str, Any]:
    qs = selectors.alarms_visible(actor_of(request)).order_by("-raised_at", "-pk")
    if q.acknowledged is not None:
        qs = qs.filter(Q(acknowledged=q.acknowledged))
    return {"count": qs.count(), "items": list(qs[q.offset : q.offset + q.limit])}


@router.get(
    "/monitoring/alarms/{alarm_id}",
    response={200: AlarmOut, **READ_ERRORS},
    operation_id="monitoring_alarms_get",
)
def monitoring_alarms_get(request: HttpRequest, alarm_id: IdParam) -> Any:
    return selectors.alarm_get(actor_of(request), alarm_id)


@router.get(
    "/monitoring/units/{unit_id}/series",
    response={200: SeriesOut, **READ_ERRORS},
    operation_id="monitoring_units_series",
    summary="Temperature series of a unit's sensors (downsampled to max_points per sensor)",
)
def monitoring_units_series(
    request: HttpRequest, unit_id: IdParam, q: Query[SeriesQuery]
) -> dict[str, Any]:
    actor = actor_of(request)
    unit = selectors.unit_get(actor, unit_id)
    end = q.end or dt.datetime.now(dt.UTC)
    start = q.start or end - dt.timedelta(days=3)
    if start >= end:
        raise Invalid(_("start must be before end."), field="start")
    if end - start > MAX_WINDOW:
        raise Invalid(
            _("The window is at most %(days)d days.") % {"days": MAX_WINDOW.days}, field="start"
        )
    t = selectors.thresholds_of(unit)
    series = selectors.unit_series(actor, unit, start, end, max_points=q.max_points)
    return {
        "unit_id": unit.pk,
        "start": start,
        "end": end,
        "alarm_low_c": t.low_c,
        "alarm_high_c": t.high_c,
        "warn_low_c": t.warn_low_c,
        "warn_high_c": t.warn_high_c,
        "sensors": [
            {
                "sensor": s.sensor.probe_id,
                "raw_count": s.raw_count,
                "points": [{"t": a, "c": b} for a, b in zip(s.times, s.values, strict=True)],
            }
            for s in series
        ],
    }
