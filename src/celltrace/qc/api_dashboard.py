"""API operations of the QC dashboards and the OOS report.

The same figures as the dashboard page (:mod:`celltrace.qc.dashboard`), scoped the same way:
laboratory staff see every client or one (``client``), a client's users and API tokens only
their own organisation (naming another client answers 404), other operator staff 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from ninja import Field, Query, Router, Schema

from celltrace.api.schemas import READ_ERRORS, DateIn, IdParam, Offset, Page
from celltrace.core.api import actor_of
from celltrace.qc import dashboard, reports, selectors
from celltrace.qc.dashboard import Filters, OverdueTest

router = Router(tags=["qc"])


class DashboardFilter(Schema):
    start: DateIn | None = Field(None, description="First day (UTC), default 89 days before end")
    end: DateIn | None = Field(None, description="Last day (UTC, included), default today")
    client: IdParam | None = Field(None, description="A client organisation's id (laboratory only)")
    method: str = Field("", max_length=40, description="A method code")


class OverdueFilter(DashboardFilter):
    limit: int = Field(100, ge=1, le=1000)
    offset: Offset = 0


def figure(value: float | None) -> str | None:
    """A dashboard figure (days, percent; computed to two decimals) as a decimal string with
    two decimals, like the API's other decimals: ``"2.50"``, ``"0.00"``; null when there is
    nothing to compute it from."""
    return None if value is None else f"{value:.2f}"


class TatGroupOut(Schema):
    key: str
    label: str
    count: int
    median_days: str | None = Field(description="Decimal string, two decimals; null: none")
    p90_days: str | None = Field(description="Decimal string, two decimals; null: none")

    @staticmethod
    def resolve_median_days(obj: Any) -> str | None:
        return figure(obj.median_days)

    @staticmethod
    def resolve_p90_days(obj: Any) -> str | None:
        return figure(obj.p90_days)


class MonthPointOut(Schema):
    month: str
    count: int
    value: str | None = Field(description="Decimal string, two decimals; null: none")

    @staticmethod
    def resolve_value(obj: Any) -> str | None:
        return figure(obj.value)


class OosGroupOut(Schema):
    key: str
    label: str
    results: int
    oos: int
    rate_percent: str | None = Field(description="Decimal string, two decimals; null: none")

    @staticmethod
    def resolve_rate_percent(obj: Any) -> str | None:
        return figure(obj.rate_percent)


class WorkloadOut(Schema):
    key: str
    label: str
    open: int
    overdue: int


class OverdueOut(Schema):
    test_id: int
    request_id: int
    request: str
    client_id: int
    client: str
    sample: str
    method: str
    method_version: int
    analyst: str | None  # None for client users, and for an unassigned test
    received_on: dt.date
    due_on: dt.date
    age_days: int
    days_overdue: int


class DashboardOut(Schema):
    start: dt.date
    end: dt.date
    today: dt.date
    scope: str  # "laboratory" or "organisation"
    client: int | None
    method: str
    requests_completed: int
    request_tat_median_days: str | None
    request_tat_p90_days: str | None
    open_tests: int
    overdue_tests: int
    request_tat_by_client: list[TatGroupOut]
    test_tat_by_method: list[TatGroupOut]
    test_tat_by_client: list[TatGroupOut]
    tat_by_month: list[MonthPointOut]
    oos_rate: OosGroupOut | None  # laboratory only
    oos_by_method: list[OosGroupOut]
    oos_by_month: list[MonthPointOut]
    workload_by_analyst: list[WorkloadOut]
    workload_by_method: list[WorkloadOut]


def _filters(request: HttpRequest, q: DashboardFilter) -> Filters:
    return dashboard.parse_filters(
        actor_of(request), start=q.start, end=q.end, client=q.client, method=q.method
    )


def _overdue_out(r: OverdueTest, lab: bool) -> dict[str, Any]:
    t = r.test
    return {
        "test_id": t.pk,
        "request_id": t.request_id,
        "request": t.request.number,
        "client_id": t.request.organisation_id,
        "client": t.request.organisation.name,
        "sample": t.sample.client_sample_id,
        "method": t.method_version.method.code,
        "method_version": t.method_version.version,
        "analyst": t.analyst.full_name if (lab and t.analyst) else None,
        "received_on": r.received_on,
        "due_on": r.due_on,
        "age_days": r.age_days,
        "days_overdue": r.days_overdue,
    }


@router.get(
    "/qc/dashboard",
    response={200: DashboardOut, **READ_ERRORS},
    operation_id="qc_dashboard_get",
)
def qc_dashboard_get(request: HttpRequest, q: Query[DashboardFilter]) -> dict[str, Any]:
    """Turnaround, open and overdue tests, OOS rate and workload over a period (see the
    definitions in docs/qc-laboratory.md, section Dashboards)."""
    f = _filters(request, q)
    d = dashboard.dashboard(f, overdue_limit=0)
    return {
        "start": f.start,
        "end": f.end,
        "today": f.today,
        "scope": "laboratory" if f.lab else "organisation",
        "client": f.organisation_id,
        "method": f.method_code,
        "requests_completed": d.requests_completed,
        "request_tat_median_days": figure(d.request_tat_median),
        "request_tat_p90_days": figure(d.request_tat_p90),
        "open_tests": d.open_tests,
        "overdue_tests": d.overdue_count,
        "request_tat_by_client": d.request_tat_by_client,
        "test_tat_by_method": d.test_tat_by_method,
        "test_tat_by_client": d.test_tat_by_client if f.lab else [],
        "tat_by_month": d.tat_by_month,
        "oos_rate": d.oos_total,
        "oos_by_method": d.oos_by_method,
        "oos_by_month": d.oos_by_month,
        "workload_by_analyst": d.workload_by_analyst,
        "workload_by_method": d.workload_by_method,
    }


@router.get(
    "/qc/dashboard/overdue",
    response={200: Page[OverdueOut], **READ_ERRORS},
    operation_id="qc_dashboard_overdue_list",
)
def qc_dashboard_overdue_list(request: HttpRequest, q: Query[OverdueFilter]) -> dict[str, Any]:
    """Overdue tests today, oldest receipt first (the period filter does not apply)."""
    f = _filters(request, q)
    qs = dashboard.overdue_queryset(f)
    rows = dashboard.overdue_rows(qs[q.offset : q.offset + q.limit], f.today)
    return {"count": qs.count(), "items": [_overdue_out(r, f.lab) for r in rows]}


class ReportQuery(Schema):
    language: str = Field(
        "", max_length=10, description="en or zh-hans; default: the request's language"
    )


@router.get(
    "/qc/oos/{oos_id}/report",
    response={200: None, **READ_ERRORS},
    operation_id="qc_oos_report_pdf",
)
def qc_oos_report_pdf(request: HttpRequest, oos_id: IdParam, q: Query[ReportQuery]) -> HttpResponse:
    """The printable OOS investigation report as a PDF."""
    actor = actor_of(request)
    oos = selectors.oos_get(actor, oos_id)
    language = reports.chosen_language(q.language, translation.get_language())
    pdf = reports.render_pdf(oos, language=language, printed_by=actor)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{reports.filename(oos, language)}"'
    response["Cache-Control"] = "private, no-store"
    return response
