"""Pages of the QC dashboards: figures with charts, chart images, the overdue CSV export.

Laboratory staff (QC analysts, reviewers, QA, administrators) see every client or one; a
client user sees its own organisation's turnaround and overdue tests only. Other operator
staff are refused (403). Charts are SVG images served by :func:`dashboard_chart` (the strict
CSP forbids inline styles, which matplotlib's SVG carries).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from celltrace.core.choices import OrganisationKind
from celltrace.core.errors import Invalid, NotFound, PermissionDenied
from celltrace.core.models import Organisation, User
from celltrace.qc import charts, dashboard
from celltrace.qc.dashboard import Filters
from celltrace.qc.models import Method
from celltrace.web.views import actor_of

CHARTS = ("tat_client", "tat_method", "tat_trend", "oos_method", "oos_trend", "workload")
PERIODS = (30, 90, 180, 365)


def _filters(request: HttpRequest, actor: User) -> Filters:
    try:
        return dashboard.parse_filters(
            actor,
            start=request.GET.get("start"),
            end=request.GET.get("end"),
            client=request.GET.get("client"),
            method=request.GET.get("method"),
        )
    except PermissionDenied as exc:
        raise HttpForbidden(exc.message) from exc
    except NotFound as exc:
        raise Http404 from exc


def _period_links(request: HttpRequest) -> list[tuple[int, str]]:
    """Quick links: the last 30, 90, 180 and 365 days, keeping the client and method."""
    today = dt.datetime.now(dt.UTC).date()
    keep = {k: request.GET[k] for k in ("client", "method") if request.GET.get(k)}
    return [
        (
            days,
            urlencode(
                {
                    "start": (today - dt.timedelta(days=days - 1)).isoformat(),
                    "end": today.isoformat(),
                    **keep,
                }
            ),
        )
        for days in PERIODS
    ]


@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    error = ""
    figures: dashboard.Dashboard | None = None
    try:
        f = _filters(request, actor)
    except Invalid as exc:
        error = exc.message
        lab = dashboard.require_viewer(actor)
    else:
        lab = f.lab
        figures = dashboard.dashboard(f)
    query = urlencode(figures.filters.params()) if figures else ""
    return render(
        request,
        "qc/dashboard.html",
        {
            "lab": lab,
            "error": error,
            "d": figures,
            "f": figures.filters if figures else None,
            "query": query,
            "values": request.GET,
            "clients": (
                Organisation.objects.filter(kind=OrganisationKind.CLIENT).order_by("name")
                if lab
                else []
            ),
            "methods": Method.objects.order_by("code"),
            "periods": _period_links(request),
            "active": "qc",
        },
    )


def _chart_svg(f: Filters, name: str) -> str:
    data: Any = dashboard.chart_data(f, name)
    if name == "tat_client":
        return charts.tat_bars(
            data["request_tat_by_client"], _("Request turnaround by client (median, p90)")
        )
    if name == "tat_method":
        return charts.tat_bars(
            data["test_tat_by_method"], _("Test turnaround by method (median, p90)")
        )
    if name == "tat_trend":
        return charts.month_line(
            data["tat_by_month"],
            _("Median request turnaround by month"),
            _("days"),
            "line-median",
        )
    if name == "oos_method":
        return charts.oos_bars(data["oos_by_method"], _("OOS rate by method"))
    if name == "oos_trend":
        return charts.month_line(
            data["oos_by_month"], _("OOS rate by month"), _("percent of results"), "line-rate"
        )
    return charts.workload_bars(data["workload_by_analyst"], _("Open tests by analyst"))


@login_required
def dashboard_chart(request: HttpRequest, name: str) -> HttpResponse:
    actor = actor_of(request)
    if name not in CHARTS:
        raise Http404
    try:
        f = _filters(request, actor)
        svg = _chart_svg(f, name)
    except Invalid as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    except NotFound as exc:
        raise Http404 from exc
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "private, max-age=60"
    return response


@login_required
def dashboard_overdue_csv(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    try:
        f = _filters(request, actor)
    except Invalid as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    _total, rows = dashboard.overdue(f, limit=None)
    buf = io.StringIO()
    writer = csv.writer(buf)  # RFC 4180 quoting; text cells neutralised in overdue_csv_rows
    for row in dashboard.overdue_csv_rows(rows, lab=f.lab):
        writer.writerow(row)
    response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="qc-overdue-tests-{f.today.isoformat()}.csv"'
    )
    return response
