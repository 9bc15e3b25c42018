"""Figures of the QC dashboards: turnaround, overdue tests, OOS rate and workload.

Every figure is scoped to what the acting user may see: laboratory staff (QC analysts,
reviewers, QA, administrators) see every client or one chosen client; a client user sees only
its own organisation, and only figures about its own requests (no OOS rate, no workload).
Aggregation happens in the database (grouped counts) or over one query's rows (medians and
percentiles, which SQLite cannot compute); nothing is queried per row.

Definitions (also in ``docs/qc-laboratory.md``, section *Dashboards*):

* **Request turnaround**: from the request's receipt (``TestRequest.received_at``, when the
  last expected sample was accounted for) to the issue of its first certificate of analysis
  (version 1). A request counts in the period in which its first certificate was issued.
* **Test turnaround**: from the request's receipt to the latest *reviewed* signature (not
  withdrawn) on the test's valid result. A test counts in the period of that signature.
  Client users see the test turnaround of their released requests only.
* Median: the middle value (mean of the two middle values for an even count); p90: nearest
  rank, the smallest value with at least 90 % of the values at or below it. In days.
* **Open test**: a test of a request in testing or reviewed, with no valid result carrying a
  reviewed signature. **Due date**: the UTC date of the request's receipt plus the method
  version's turnaround days; an open test is **overdue** from the day after its due date.
* **OOS rate**: OOS investigations opened on results ÷ results evaluated against a
  specification limit (conforming or not), by the month and method of the result's entry.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Cast, TruncMonth
from django.utils.translation import gettext as _

from celltrace.audit.choices import SignatureMeaning
from celltrace.audit.models import Signature
from celltrace.core.choices import OrganisationKind, Role
from celltrace.core.csvcells import csv_text
from celltrace.core.errors import Invalid, NotFound, PermissionDenied
from celltrace.core.models import Organisation, User
from celltrace.core.tenancy import sees_all_tenants
from celltrace.qc.choices import Conformance, RequestStatus, ResultStatus
from celltrace.qc.models import Certificate, Method, MethodVersion, Result, Test

#: Who sees the laboratory-wide dashboards (operator staff with one of these roles).
DASHBOARD_ROLES = (Role.QC_ANALYST, Role.QC_REVIEWER, Role.QA, Role.ADMIN)
#: Request statuses in which a test is still being worked on.
OPEN_STATUSES = (RequestStatus.IN_TESTING, RequestStatus.REVIEWED)
RELEASED = (RequestStatus.RELEASED, RequestStatus.CERTIFIED)
DEFAULT_DAYS = 90
MAX_DAYS = 1100  # three years and a little
#: Overdue tests listed on the page and in the API (the CSV export has them all).
OVERDUE_PAGE = 500
SECONDS_PER_DAY = 86400.0


# --- filters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a dashboard shows: the period (UTC dates, both included), the client, the method."""

    start: dt.date
    end: dt.date
    today: dt.date
    lab: bool  # laboratory-wide view (False: the actor's own organisation only)
    organisation: Organisation | None  # None: every client (laboratory view only)
    method: Method | None

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        """Exclusive: midnight UTC after the last day."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)

    @property
    def organisation_id(self) -> int | None:
        return self.organisation.pk if self.organisation is not None else None

    @property
    def method_code(self) -> str:
        return self.method.code if self.method is not None else ""

    def params(self) -> dict[str, str]:
        """The query parameters that reproduce these filters (for chart and CSV links)."""
        out = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.lab and self.organisation is not None:
            out["client"] = str(self.organisation.pk)
        if self.method is not None:
            out["method"] = self.method.code
        return out


def is_lab_viewer(actor: User) -> bool:
    return bool(sees_all_tenants(actor) and actor.has_role(*DASHBOARD_ROLES))


def require_viewer(actor: User) -> bool:
    """True for the laboratory-wide view, False for a client's own view; refuses the rest."""
    if not actor.is_active or actor.organisation_id is None:
        raise PermissionDenied(_("Sign in to see the dashboards."))
    if sees_all_tenants(actor):
        if not actor.has_role(*DASHBOARD_ROLES):
            raise PermissionDenied(
                _("The QC dashboards are for QC analysts, reviewers, QA and administrators.")
            )
        return True
    return False


def _date(value: str | dt.date | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise Invalid(
            _("%(field)s: “%(value)s” is not a date; write it as YYYY-MM-DD.")
            % {"field": name, "value": value[:40]},
            field=name,
        ) from exc


def parse_filters(
    actor: User,
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    client: str | int | None = None,
    method: str | None = None,
    today: dt.date | None = None,
) -> Filters:
    """Validate the dashboard's filters for ``actor``; a bad value names its field and rule.

    A client user always gets its own organisation; naming another client answers NotFound.
    """
    lab = require_viewer(actor)
    today = today or dt.datetime.now(dt.UTC).date()
    end_d = _date(end, "end") or today
    start_d = _date(start, "start") or end_d - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start_d > end_d:
        raise Invalid(
            _("start: the period starts on %(start)s, after its end %(end)s.")
            % {"start": start_d.isoformat(), "end": end_d.isoformat()},
            field="start",
        )
    if (end_d - start_d).days + 1 > MAX_DAYS:
        raise Invalid(
            _("start: a period covers at most %(n)d days.") % {"n": MAX_DAYS}, field="start"
        )
    organisation: Organisation | None = None
    client_text = "" if client is None else str(client).strip()
    if client_text:
        if not client_text.isdigit():
            raise Invalid(
                _("client: “%(value)s” is not a client's number.") % {"value": client_text[:40]},
                field="client",
            )
        if lab:
            organisation = Organisation.objects.filter(
                pk=int(client_text), kind=OrganisationKind.CLIENT
            ).first()
            if organisation is None:
                raise Invalid(
                    _("client: there is no client number %(value)s.") % {"value": client_text},
                    field="client",
                )
        elif int(client_text) != actor.organisation_id:
            raise NotFound(_("Not found."), field="client")
    if not lab:
        organisation = actor.organisation
    method_obj: Method | None = None
    if method:
        method_obj = Method.objects.filter(code=method.strip()).first()
        if method_obj is None:
            raise Invalid(
                _("method: there is no method with the code “%(value)s”.")
                % {"value": method.strip()[:40]},
                field="method",
            )
    return Filters(
        start=start_d,
        end=end_d,
        today=today,
        lab=lab,
        organisation=organisation,
        method=method_obj,
    )


# --- statistics -----------------------------------------------------------------------------


def median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``q`` of the values at or
    below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _days(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds() / SECONDS_PER_DAY


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(frozen=True)
class TatGroup:
    """Turnaround of one client or method: how many, median and p90 in days."""

    key: str
    label: str
    count: int
    median_days: float | None
    p90_days: float | None


@dataclass(frozen=True)
class MonthPoint:
    month: str  # YYYY-MM
    count: int
    value: float | None  # median days (turnaround) or percent (OOS rate)


@dataclass(frozen=True)
class OosGroup:
    key: str
    label: str
    results: int
    oos: int

    @property
    def rate_percent(self) -> float | None:
        return round(100.0 * self.oos / self.results, 2) if self.results else None


@dataclass(frozen=True)
class OverdueTest:
    test: Test
    received_on: dt.date
    due_on: dt.date
    age_days: int
    days_overdue: int


@dataclass(frozen=True)
class WorkloadRow:
    key: str
    label: str
    open: int
    overdue: int


@dataclass
class Dashboard:
    filters: Filters
    request_tat_by_client: list[TatGroup] = field(default_factory=list)
    test_tat_by_method: list[TatGroup] = field(default_factory=list)
    test_tat_by_client: list[TatGroup] = field(default_factory=list)
    tat_by_month: list[MonthPoint] = field(default_factory=list)
    requests_completed: int = 0
    request_tat_median: float | None = None
    request_tat_p90: float | None = None
    open_tests: int = 0
    overdue_count: int = 0
    overdue: list[OverdueTest] = field(default_factory=list)
    oos_by_method: list[OosGroup] = field(default_factory=list)
    oos_by_month: list[MonthPoint] = field(default_factory=list)
    oos_total: OosGroup | None = None
    workload_by_analyst: list[WorkloadRow] = field(default_factory=list)
    workload_by_method: list[WorkloadRow] = field(default_factory=list)


def months_of(f: Filters) -> list[str]:
    """Every month the period touches, as YYYY-MM."""
    out = []
    y, m = f.start.year, f.start.month
    while (y, m) <= (f.end.year, f.end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _group(rows: Iterable[tuple[str, str, float]]) -> list[TatGroup]:
    values: dict[str, list[float]] = defaultdict(list)
    labels: dict[str, str] = {}
    for key, label, days in rows:
        values[key].append(days)
        labels[key] = label
    groups = [
        TatGroup(
            key=key,
            label=labels[key],
            count=len(v),
            median_days=_round(median(v)),
            p90_days=_round(percentile(v, 0.9)),
        )
        for key, v in values.items()
    ]
    return sorted(groups, key=lambda g: (g.label.casefold(), g.key))


# --- turnaround -----------------------------------------------------------------------------


def _request_tat_rows(f: Filters) -> list[tuple[str, str, dt.datetime, float]]:
    """(organisation id, name, completed at, days) per request completed in the period."""
    qs = Certificate.objects.filter(
        version=1,
        translation_of__isnull=True,  # a translation of version 1 is not a second completion
        issued_at__gte=f.start_at,
        issued_at__lt=f.end_at,
        request__received_at__isnull=False,
    )
    if f.organisation is not None:
        qs = qs.filter(organisation=f.organisation)
    if f.method is not None:
        qs = qs.filter(request__methods=f.method)
    return [
        (str(org_id), name, issued, _days(received, issued))
        for org_id, name, received, issued in qs.values_list(
            "organisation_id", "organisation__name", "request__received_at", "issued_at"
        ).order_by("issued_at", "pk")
        if received is not None
    ]


def _reviewed_signatures() -> QuerySet[Signature]:
    return Signature.objects.filter(
        record_type="qc.result", meaning=SignatureMeaning.REVIEWED, withdrawal__isnull=True
    )


def _test_tat_rows(f: Filters) -> list[tuple[str, str, str, str, float]]:
    """(method code, method name, organisation id, name, days) per test reviewed in the
    period."""
    in_period = _reviewed_signatures().filter(signed_at__gte=f.start_at, signed_at__lt=f.end_at)
    latest_review = (
        _reviewed_signatures()
        .filter(record_id=Cast(OuterRef("pk"), output_field=CharField()))
        .order_by("-signed_at")
        .values("signed_at")[:1]
    )
    # record_id is text; a qc.result signature's record_id is always the result's number
    reviewed_ids = in_period.annotate(rid=Cast("record_id", output_field=BigIntegerField()))
    qs = Result.objects.filter(
        status=ResultStatus.VALID,
        pk__in=Subquery(reviewed_ids.values("rid")),
        test__request__received_at__isnull=False,
    )
    if f.organisation is not None:
        qs = qs.filter(organisation=f.organisation)
    if f.method is not None:
        qs = qs.filter(test__method_version__method=f.method)
    if not f.lab:
        qs = qs.filter(test__request__status__in=RELEASED)
    rows = qs.annotate(reviewed_at=Subquery(latest_review)).values_list(
        "test_id",
        "test__method_version__method__code",
        "test__method_version__method__name",
        "organisation_id",
        "organisation__name",
        "test__request__received_at",
        "reviewed_at",
    )
    per_test: dict[int, tuple[str, str, str, str, float]] = {}
    latest: dict[int, dt.datetime] = {}
    for test_id, code, name, org_id, org_name, received, reviewed in rows:
        if received is None or reviewed is None or not (f.start_at <= reviewed < f.end_at):
            continue
        if test_id in latest and latest[test_id] >= reviewed:
            continue
        latest[test_id] = reviewed
        per_test[test_id] = (code, name, str(org_id), org_name, _days(received, reviewed))
    return list(per_test.values())


# --- open and overdue tests -----------------------------------------------------------------


def _has_reviewed_result() -> Exists:
    reviewed = _reviewed_signatures().filter(
        record_id=Cast(OuterRef("pk"), output_field=CharField())
    )
    return Exists(
        Result.objects.filter(test=OuterRef("pk"), status=ResultStatus.VALID)
        .annotate(is_reviewed=Exists(reviewed))
        .filter(is_reviewed=True)
    )


def open_tests(f: Filters) -> QuerySet[Test]:
    """Tests still being worked on, within the filters' client and method (not the period)."""
    qs = (
        Test.objects.filter(request__status__in=OPEN_STATUSES, request__received_at__isnull=False)
        .annotate(done=_has_reviewed_result())
        .filter(done=False)
    )
    if f.organisation is not None:
        qs = qs.filter(organisation=f.organisation)
    if f.method is not None:
        qs = qs.filter(method_version__method=f.method)
    return qs


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def overdue_condition(today: dt.date) -> Q:
    """Overdue: received on a UTC date before ``today`` minus the turnaround days, i.e. due
    (received date + turnaround days) before today. One branch per distinct turnaround."""
    cond = Q(pk__in=[])
    days = MethodVersion.objects.values_list("turnaround_days", flat=True).distinct()
    for d in sorted(set(days)):
        cond |= Q(
            method_version__turnaround_days=d,
            request__received_at__lt=_midnight(today - dt.timedelta(days=d)),
        )
    return cond


def overdue_queryset(f: Filters) -> QuerySet[Test]:
    return (
        open_tests(f)
        .filter(overdue_condition(f.today))
        .select_related(
            "request__organisation", "sample", "method_version__method", "analyst", "organisation"
        )
        .order_by("request__received_at", "pk")
    )


def overdue_rows(tests: Iterable[Test], today: dt.date) -> list[OverdueTest]:
    out = []
    for t in tests:
        received_at = t.request.received_at
        assert received_at is not None  # open_tests() requires it
        received_on = received_at.astimezone(dt.UTC).date()
        due_on = received_on + dt.timedelta(days=t.method_version.turnaround_days)
        out.append(
            OverdueTest(
                test=t,
                received_on=received_on,
                due_on=due_on,
                age_days=(today - received_on).days,
                days_overdue=(today - due_on).days,
            )
        )
    return out


def overdue(f: Filters, limit: int | None = OVERDUE_PAGE) -> tuple[int, list[OverdueTest]]:
    """How many tests are overdue today, and the oldest ``limit`` of them."""
    qs = overdue_queryset(f)
    total = qs.count()
    tests = list(qs[:limit] if limit is not None else qs)
    return total, overdue_rows(tests, f.today)


def _workload(f: Filters, key: str, label: str) -> list[WorkloadRow]:
    rows = (
        open_tests(f)
        .values(key, label)
        .annotate(
            n_open=Count("pk", distinct=True),
            n_overdue=Count("pk", filter=overdue_condition(f.today), distinct=True),
        )
        .order_by(label)
    )
    out = [
        WorkloadRow(
            key="" if r[key] is None else str(r[key]),
            label=r[label] or str(_("Not assigned")),
            open=r["n_open"],
            overdue=r["n_overdue"],
        )
        for r in rows
    ]
    return sorted(out, key=lambda w: (-w.open, w.label.casefold()))


# --- OOS rate -------------------------------------------------------------------------------


def _oos_base(f: Filters) -> QuerySet[Result]:
    qs = Result.objects.filter(
        entered_at__gte=f.start_at,
        entered_at__lt=f.end_at,
        conformance__in=[Conformance.CONFORMS, Conformance.DOES_NOT_CONFORM],
    )
    if f.organisation is not None:
        qs = qs.filter(organisation=f.organisation)
    if f.method is not None:
        qs = qs.filter(test__method_version__method=f.method)
    return qs


def oos_by_method(f: Filters) -> list[OosGroup]:
    rows = (
        _oos_base(f)
        .values(code=F("test__method_version__method__code"))
        .annotate(
            name=F("test__method_version__method__name"),
            n_results=Count("pk"),
            n_oos=Count("oos"),
        )
        .order_by("code")
    )
    groups: dict[str, OosGroup] = {}
    for r in rows:  # a method's versions may carry different names: add them up
        old = groups.get(r["code"])
        groups[r["code"]] = OosGroup(
            key=r["code"],
            label=old.label if old else r["name"],
            results=(old.results if old else 0) + r["n_results"],
            oos=(old.oos if old else 0) + r["n_oos"],
        )
    return list(groups.values())


def oos_by_month(f: Filters) -> list[MonthPoint]:
    rows = (
        _oos_base(f)
        .annotate(month=TruncMonth("entered_at", tzinfo=dt.UTC))
        .values("month")
        .annotate(n_results=Count("pk"), n_oos=Count("oos"))
        .order_by("month")
    )
    found: dict[str, tuple[int, int]] = {}
    for r in rows:
        month = r["month"]
        key = month.strftime("%Y-%m") if hasattr(month, "strftime") else str(month)[:7]
        found[key] = (r["n_results"], r["n_oos"])
    out = []
    for month in months_of(f):
        n, oos = found.get(month, (0, 0))
        out.append(MonthPoint(month, n, round(100.0 * oos / n, 2) if n else None))
    return out


# --- the whole dashboard --------------------------------------------------------------------


def turnaround(f: Filters) -> dict[str, Any]:
    req_rows = _request_tat_rows(f)
    test_rows = _test_tat_rows(f)
    by_month: dict[str, list[float]] = defaultdict(list)
    for _org, _name, done, days in req_rows:
        by_month[done.astimezone(dt.UTC).strftime("%Y-%m")].append(days)
    all_days = [days for *_rest, days in req_rows]
    return {
        "request_tat_by_client": _group((o, n, d) for o, n, _done, d in req_rows),
        "test_tat_by_method": _group((c, n, d) for c, n, _o, _on, d in test_rows),
        "test_tat_by_client": _group((o, on, d) for _c, _n, o, on, d in test_rows),
        "tat_by_month": [
            MonthPoint(m, len(by_month.get(m, [])), _round(median(by_month.get(m, []))))
            for m in months_of(f)
        ],
        "requests_completed": len(req_rows),
        "request_tat_median": _round(median(all_days)),
        "request_tat_p90": _round(percentile(all_days, 0.9)),
    }


def oos_total(groups: Sequence[OosGroup]) -> OosGroup:
    return OosGroup(
        key="",
        label=str(_("All methods")),
        results=sum(g.results for g in groups),
        oos=sum(g.oos for g in groups),
    )


def dashboard(f: Filters, *, overdue_limit: int | None = OVERDUE_PAGE) -> Dashboard:
    """Every figure of the dashboard for ``f`` (from :func:`parse_filters`)."""
    out = Dashboard(filters=f, **turnaround(f))
    out.open_tests = open_tests(f).count()
    out.overdue_count, out.overdue = overdue(f, overdue_limit)
    if f.lab:
        out.oos_by_method = oos_by_method(f)
        out.oos_by_month = oos_by_month(f)
        out.oos_total = oos_total(out.oos_by_method)
        out.workload_by_analyst = _workload(f, "analyst_id", "analyst__full_name")
        out.workload_by_method = _workload(
            f, "method_version__method__code", "method_version__method__name"
        )
    return out


# --- CSV ------------------------------------------------------------------------------------

OVERDUE_COLUMNS = (
    "request",
    "client",
    "product",
    "batch",
    "sample",
    "method",
    "method_version",
    "analyst",
    "received_on",
    "due_on",
    "age_days",
    "days_overdue",
)


def overdue_csv_rows(rows: Iterable[OverdueTest], *, lab: bool) -> Iterable[list[object]]:
    """The overdue list as CSV rows: text neutralised, day counts as numbers. The analyst's
    name only in the laboratory's view (``lab``), as on the page and in the API."""
    yield list(OVERDUE_COLUMNS)
    for r in rows:
        t = r.test
        analyst = t.analyst.full_name if (lab and t.analyst) else ""
        yield [
            csv_text(t.request.number),
            csv_text(t.request.organisation.name),
            csv_text(t.request.product),
            csv_text(t.request.batch),
            csv_text(t.sample.client_sample_id),
            csv_text(t.method_version.method.code),
            t.method_version.version,
            csv_text(analyst),
            r.received_on.isoformat(),
            r.due_on.isoformat(),
            r.age_days,
            r.days_overdue,
        ]


def chart_data(f: Filters, name: str) -> Mapping[str, Any]:
    """The figures one chart needs (so a chart image does not compute the whole page)."""
    if name in ("tat_client", "tat_method", "tat_trend"):
        return turnaround(f)
    if name in ("oos_method", "oos_trend") and f.lab:
        return {"oos_by_method": oos_by_method(f), "oos_by_month": oos_by_month(f)}
    if name == "workload" and f.lab:
        return {"workload_by_analyst": _workload(f, "analyst_id", "analyst__full_name")}
    raise NotFound(_("No such chart."))
