"""Pages of temperature monitoring. Operator staff only: anyone else gets a 404."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from celltrace.core.csvcells import csv_text
from celltrace.core.errors import DomainError, NotFound
from celltrace.core.models import User
from celltrace.core.tenancy import sees_all_tenants
from celltrace.monitoring import charts, csvio, selectors, services
from celltrace.monitoring.choices import ExcursionKind, ReadingSource
from celltrace.monitoring.forms import (
    DEFAULT_WINDOW,
    WINDOW_DAYS,
    WINDOWS,
    CommentForm,
    UploadForm,
)
from celltrace.monitoring.models import Excursion
from celltrace.storage.models import StorageUnit
from celltrace.web.views import actor_of, form_error, sign_url


def _operator(request: HttpRequest) -> User:
    actor = actor_of(request)
    if not sees_all_tenants(actor):
        raise Http404
    return actor


def _get(fn: Any, actor: User, pk: Any) -> Any:
    try:
        return fn(actor, pk)
    except NotFound as exc:
        raise Http404 from exc


def _window(request: HttpRequest) -> tuple[str, dt.datetime, dt.datetime]:
    key = request.GET.get("window", DEFAULT_WINDOW)
    if key not in WINDOW_DAYS:
        key = DEFAULT_WINDOW
    end = dt.datetime.now(dt.UTC)
    raw_end = request.GET.get("end", "")
    if raw_end:
        try:
            parsed = dt.datetime.fromisoformat(raw_end)
        except ValueError:
            parsed = None
        if parsed is not None:
            end = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return key, end - dt.timedelta(days=WINDOW_DAYS[key]), end


@login_required
def index(request: HttpRequest) -> HttpResponse:
    actor = _operator(request)
    open_alarms = list(
        selectors.alarms_visible(actor).filter(Q(acknowledged=False)).order_by("-raised_at")[:50]
    )
    return render(
        request,
        "monitoring/index.html",
        {
            "units": selectors.units_overview(actor),
            "open_alarms": open_alarms,
            "active": "monitoring",
        },
    )


@login_required
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _operator(request)
    unit = _get(selectors.unit_get, actor, pk)
    key, start, end = _window(request)
    excursions = list(
        selectors.excursions_visible(actor).filter(unit=unit).order_by("-started_at")[:200]
    )
    return render(
        request,
        "monitoring/unit.html",
        {
            "unit": unit,
            "thresholds": selectors.thresholds_of(unit),
            "sensors": list(selectors.sensors_visible(actor).filter(unit=unit)),
            "excursions": excursions,
            "windows": [(k, label) for k, label, _days in WINDOWS],
            "window": key,
            "start": start,
            "end": end,
            "end_param": request.GET.get("end", ""),
            "active": "monitoring",
        },
    )


def unit_chart_svg(actor: User, unit: StorageUnit, start: dt.datetime, end: dt.datetime) -> str:
    series = selectors.unit_series(actor, unit, start, end)
    excursions = list(
        selectors.excursions_visible(actor)
        .filter(unit=unit, started_at__lte=end)
        .exclude(ended_at__lt=start)
    )
    return charts.temperature_chart(
        title=f"{unit.name} ({unit.code})",
        series=series,
        thresholds=selectors.thresholds_of(unit),
        excursions=excursions,
        start=start,
        end=end,
    )


@login_required
def unit_chart(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _operator(request)
    unit = _get(selectors.unit_get, actor, pk)
    _key, start, end = _window(request)
    svg = unit_chart_svg(actor, unit, start, end)
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "private, max-age=60"
    return response


@login_required
def excursion_list(request: HttpRequest) -> HttpResponse:
    actor = _operator(request)
    qs = selectors.excursions_visible(actor).order_by("-started_at")
    state = request.GET.get("state", "")
    if state == "open":
        qs = qs.filter(ended_at__isnull=True)
    elif state == "unacknowledged":
        qs = qs.filter(Q(acknowledged=False))
    kind = request.GET.get("kind", "")
    if kind in ExcursionKind.values:
        qs = qs.filter(kind=kind)
    return render(
        request,
        "monitoring/excursions.html",
        {
            "excursions": list(qs[:500]),
            "state": state,
            "kind": kind,
            "kinds": ExcursionKind.choices,
            "active": "monitoring",
        },
    )


@login_required
def excursion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _operator(request)
    exc: Excursion = _get(selectors.excursion_get, actor, pk)
    alarm = exc.alarm
    signable = services.alarm_can_sign(actor, alarm, "acknowledged") is None
    return render(
        request,
        "monitoring/excursion.html",
        {
            "exc": exc,
            "alarm": alarm,
            "impact": selectors.excursion_impact(actor, exc),
            "duration": exc.duration(),
            "comment_form": CommentForm(initial={"comment": alarm.comment}),
            "acknowledged": exc.acknowledged,  # type: ignore[attr-defined]
            "signable": signable,
            "active": "monitoring",
        },
    )


@login_required
def excursion_impact_csv(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _operator(request)
    exc = _get(selectors.excursion_get, actor, pk)
    buf = io.StringIO()
    writer = csv.writer(buf)
    columns = [
        "din",
        "product_code",
        "division",
        "barcode",
        "organisation",
        "rack",
        "box",
        "position",
        "placed_at",
        "removed_at",
    ]
    writer.writerow(columns)
    for row in selectors.excursion_impact(actor, exc):  # text cells neutralised (csv_text)
        writer.writerow(
            [
                row[c].isoformat() if isinstance(row[c], dt.datetime) else csv_text(row[c])
                for c in columns
            ]
        )
    response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="excursion-{exc.pk}-impact.csv"'
    return response


@login_required
@require_POST
def alarm_comment(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _operator(request)
    alarm = _get(selectors.alarm_get, actor, pk)
    form = CommentForm(request.POST)
    back = alarm.get_absolute_url()
    if not form.is_valid():
        messages.error(request, _("Write a comment."))
        return redirect(back)
    try:
        services.alarm_comment_set(actor=actor, alarm=alarm, comment=form.cleaned_data["comment"])
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    return redirect(sign_url(alarm, "acknowledged", back))


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    actor = _operator(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    problems: list[services.RowProblem] = []
    total = 0
    result = None
    if request.method == "POST" and form.is_valid():
        f = form.cleaned_data["file"]
        if f.size > csvio.MAX_BYTES:
            problems = [
                services.RowProblem(1, "file", "too_large", str(_("the file is too large")))
            ]
            total = 1
        else:
            rows, problems = csvio.parse(f.read())
            total = len(problems)
            if not problems:
                try:
                    result = services.readings_ingest(
                        actor=actor,
                        readings=rows,
                        source=ReadingSource.CSV,
                        filename=f.name,
                        first_row=csvio.FIRST_ROW,
                    )
                except services.ReadingsRejected as exc:
                    problems, total = exc.problems, exc.total
                except DomainError as exc:
                    form_error(form, exc)
        if result is not None:
            messages.success(
                request,
                _("%(rows)s readings stored; %(opened)s excursion(s) opened, %(closed)s closed.")
                % {
                    "rows": result.rows,
                    "opened": len(result.opened),
                    "closed": len(result.closed),
                },
            )
            return redirect("monitoring:upload")
    return render(
        request,
        "monitoring/upload.html",
        {
            "form": form,
            "problems": problems,
            "total": total,
            "template_text": csvio.template_for(selectors.template_sensors()),
            "active": "monitoring",
        },
        status=422 if problems else 200,
    )


@login_required
def template_csv(request: HttpRequest) -> HttpResponse:
    _operator(request)
    text = csvio.template_for(selectors.template_sensors())
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="temperature-readings-template.csv"'
    return response
