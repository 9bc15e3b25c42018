"""QC dashboards: figures on a small known data set equal hand-computed values (turnaround,
overdue tests, OOS rate, workload); a client sees only its own figures (page, API, CSV, charts);
bad filters are refused naming the field; the CSV export is injection-safe; charts are
well-formed SVG.

Timestamps are shaped after the services wrote the records: ``received_at`` is set relative to
the reviewer's signature time (signatures are append-only, so that is the fixed point) and the
first certificate's ``issued_at`` relative to ``received_at``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from defusedxml import ElementTree as ET
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from celltrace.audit.models import Signature
from celltrace.core import services as core_services
from celltrace.core.errors import Invalid, NotFound, PermissionDenied
from celltrace.qc import dashboard, services
from celltrace.qc.models import Certificate, Test, TestRequest
from tests.conftest import PASSWORD
from tests.qc.conftest import Lab, in_testing, reviewed, sign, snapshot

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
SVG = "{http://www.w3.org/2000/svg}"


def _review_time(req: TestRequest) -> dt.datetime:
    test = req.tests.get()
    result = test.current_result
    assert result is not None
    return Signature.objects.get(
        record_type="qc.result", record_id=str(result.pk), meaning="reviewed"
    ).signed_at


def completed(
    lab: Lab, *, client: Any, sample: str, method: str, test_days: float, request_days: float
) -> tuple[TestRequest, Certificate]:
    """A request of one method, reviewed ``test_days`` after receipt and certified
    ``request_days`` after receipt."""
    req = reviewed(lab, client=client, sample=sample, methods=[method], batch=sample)
    sign(lab.qa, req, "released")
    cert = services.certificate_issue(actor=lab.qa, request=req)
    received = _review_time(req) - dt.timedelta(days=test_days)
    TestRequest.objects.filter(pk=req.pk).update(received_at=received)
    Certificate.objects.filter(pk=cert.pk).update(
        issued_at=received + dt.timedelta(days=request_days)
    )
    return req, cert


def open_test(
    lab: Lab, *, client: Any, sample: str, method: str, received: dt.datetime, analyst: Any = None
) -> Test:
    req = in_testing(lab, client=client, sample=sample, methods=[method], batch=sample)
    TestRequest.objects.filter(pk=req.pk).update(received_at=received)
    test = req.tests.get()
    if analyst is not None:
        services.test_assign(actor=lab.reviewer, test=test, analyst=analyst)
    return test


@dataclass
class Data:
    today: dt.date
    a1: Certificate
    c1: Test
    c2: Test
    c3: Test
    e: Test


@pytest.fixture
def data(lab: Lab) -> Data:
    today = dt.datetime.now(dt.UTC).date()
    noon = dt.time(12, 0, tzinfo=dt.UTC)
    # certified: client A 2, 4, 9 days (tests 1, 3, 5 days); client B 2.5 days (test 2 days)
    _r, a1 = completed(
        lab, client=lab.alice, sample="A1", method="viability", test_days=1, request_days=2
    )
    completed(lab, client=lab.alice, sample="A2", method="viability", test_days=3, request_days=4)
    completed(lab, client=lab.alice, sample="A3", method="endotoxin", test_days=5, request_days=9)
    completed(lab, client=lab.bob, sample="B1", method="viability", test_days=2, request_days=2.5)
    # the amendment of A1 is version 2: it must not count a second time
    services.certificate_amend(actor=lab.qa, certificate=a1, reason="Typo in the batch number")
    # reviewed, not released: 7 days (laboratory view only)
    d = reviewed(lab, client=lab.alice, sample="D1", methods=["viability"], batch="D1")
    TestRequest.objects.filter(pk=d.pk).update(received_at=_review_time(d) - 7 * DAY)
    # open tests: viability is due 1 day after receipt, endotoxin 2 days
    c1 = open_test(
        lab,
        client=lab.alice,
        sample="C1",
        method="viability",
        received=dt.datetime.combine(today - 2 * DAY, noon),
        analyst=lab.analyst,
    )  # due yesterday: 1 day overdue
    c2 = open_test(
        lab,
        client=lab.alice,
        sample="C2",
        method="viability",
        received=dt.datetime.combine(today - DAY, dt.time(0, 0, 1, tzinfo=dt.UTC)),
    )  # due today: not overdue
    c3 = open_test(
        lab,
        client=lab.bob,
        sample="C3",
        method="endotoxin",
        received=dt.datetime.combine(today - 5 * DAY, dt.time(23, 59, tzinfo=dt.UTC)),
        analyst=lab.analyst2,
    )  # due 3 days ago
    # an out-of-specification result of client B (open, received now)
    e_req = in_testing(lab, client=lab.bob, sample="E1", methods=["viability"], batch="E1")
    e = e_req.tests.get()
    services.result_enter(actor=lab.analyst, test=e, value="10")
    return Data(today=today, a1=a1, c1=c1, c2=c2, c3=c3, e=e)


def _groups(groups: list[dashboard.TatGroup]) -> dict[str, tuple[int, Any, Any]]:
    return {g.label: (g.count, g.median_days, g.p90_days) for g in groups}


def _by_key(groups: list[Any]) -> dict[str, Any]:
    return {g.key: g for g in groups}


def test_laboratory_figures_equal_hand_computed_values(lab: Lab, data: Data) -> None:
    t = data.today
    f = dashboard.parse_filters(lab.qa, start=t - 80 * DAY, end=t + 20 * DAY, today=t)
    d = dashboard.dashboard(f)
    # requests: A = 2, 4, 9 -> median 4, p90 (nearest rank 3 of 3) 9; B = 2.5
    assert _groups(d.request_tat_by_client) == {
        "Client A": (3, 4.0, 9.0),
        "Client B": (1, 2.5, 2.5),
    }
    assert d.requests_completed == 4
    assert d.request_tat_median == 3.25 and d.request_tat_p90 == 9.0  # 2, 2.5, 4, 9
    # tests by method: viability 1, 3, 2, 7 -> median 2.5, p90 (rank 4 of 4) 7; endotoxin 5
    by_method = {g.key: (g.count, g.median_days, g.p90_days) for g in d.test_tat_by_method}
    assert by_method == {"viability": (4, 2.5, 7.0), "endotoxin": (1, 5.0, 5.0)}
    # tests by client: A 1, 3, 5, 7 -> median 4, p90 7; B 2
    assert _groups(d.test_tat_by_client) == {"Client A": (4, 4.0, 7.0), "Client B": (1, 2.0, 2.0)}
    # the monthly trend holds the four requests in the months their certificates were issued
    issued = sorted(
        Certificate.objects.filter(version=1).values_list("issued_at", flat=True), key=str
    )
    months = {i.strftime("%Y-%m") for i in issued}
    assert sum(p.count for p in d.tat_by_month) == 4
    assert {p.month for p in d.tat_by_month if p.count} == months
    # open and overdue tests
    assert d.open_tests == 4  # C1, C2, C3, E
    assert d.overdue_count == 2
    assert [(r.test.pk, r.age_days, r.days_overdue, r.due_on) for r in d.overdue] == [
        (data.c3.pk, 5, 3, t - 3 * DAY),
        (data.c1.pk, 2, 1, t - DAY),
    ]
    # OOS rate: viability 5 results (A1, A2, B1, D1, E1), 1 OOS; endotoxin 1 result, none
    oos = {g.key: (g.results, g.oos, g.rate_percent) for g in d.oos_by_method}
    assert oos == {"endotoxin": (1, 0, 0.0), "viability": (5, 1, 20.0)}
    assert d.oos_total is not None
    assert (d.oos_total.results, d.oos_total.oos, d.oos_total.rate_percent) == (6, 1, 16.67)
    this_month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    month = {p.month: (p.count, p.value) for p in d.oos_by_month}
    assert month[this_month] == (6, 16.67)
    assert all(v == (0, None) for m, v in month.items() if m != this_month)
    # workload: open tests per analyst (most first) and per method, with the overdue ones
    assert [(w.label, w.open, w.overdue) for w in d.workload_by_analyst] == [
        ("Li Na", 2, 1),  # C1 and E1 (entering a result takes the test)
        ("Not assigned", 1, 0),
        ("Wang Fang", 1, 1),
    ]
    assert {w.key: (w.open, w.overdue) for w in d.workload_by_method} == {
        "viability": (3, 1),
        "endotoxin": (1, 1),
    }


def test_filters_by_period_client_and_method(lab: Lab, data: Data) -> None:
    t = data.today
    # the certificates were issued 0.5 to 4 days after the review (today): from today + 2 only
    # the A3 request (issued 4 days after today) remains
    late = dashboard.dashboard(
        dashboard.parse_filters(lab.qa, start=t + 2 * DAY, end=t + 20 * DAY, today=t)
    )
    assert _groups(late.request_tat_by_client) == {"Client A": (1, 9.0, 9.0)}
    assert late.oos_total is not None and late.oos_total.results == 0
    assert late.overdue_count == 2  # overdue is as of today: the period does not apply
    b = dashboard.dashboard(
        dashboard.parse_filters(
            lab.qa, start=t - 80 * DAY, end=t + 20 * DAY, client=lab.client_b.pk, today=t
        )
    )
    assert _groups(b.request_tat_by_client) == {"Client B": (1, 2.5, 2.5)}
    assert [r.test.pk for r in b.overdue] == [data.c3.pk]
    assert b.oos_total is not None
    assert (b.oos_total.results, b.oos_total.oos, b.oos_total.rate_percent) == (2, 1, 50.0)
    endo = dashboard.dashboard(
        dashboard.parse_filters(
            lab.qa, start=t - 80 * DAY, end=t + 20 * DAY, method="endotoxin", today=t
        )
    )
    assert _groups(endo.request_tat_by_client) == {"Client A": (1, 9.0, 9.0)}
    assert [r.test.pk for r in endo.overdue] == [data.c3.pk]
    assert list(_by_key(endo.test_tat_by_method)) == ["endotoxin"]


def test_client_sees_only_its_own_figures(lab: Lab, data: Data) -> None:
    t = data.today
    f = dashboard.parse_filters(lab.alice, start=t - 80 * DAY, end=t + 20 * DAY, today=t)
    assert not f.lab and f.organisation_id == lab.client_a.pk
    d = dashboard.dashboard(f)
    assert _groups(d.request_tat_by_client) == {"Client A": (3, 4.0, 9.0)}
    # tests of released requests only: D1 (reviewed, not released) is left out
    by_method = {g.key: (g.count, g.median_days, g.p90_days) for g in d.test_tat_by_method}
    assert by_method == {"viability": (2, 2.0, 3.0), "endotoxin": (1, 5.0, 5.0)}
    assert d.open_tests == 2 and [r.test.pk for r in d.overdue] == [data.c1.pk]
    assert d.oos_by_method == [] and d.oos_total is None and d.workload_by_analyst == []
    # naming another client is a 404, whatever the client's number
    with pytest.raises(NotFound):
        dashboard.parse_filters(lab.alice, client=lab.client_b.pk)

    before = snapshot()
    alice = Client()
    alice.force_login(lab.alice)
    page = alice.get(f"/qc/dashboard/?start={t - 80 * DAY}&end={t + 20 * DAY}")
    assert page.status_code == 200
    html = page.content.decode()
    # short sample codes are looked for as words of the page's text: a random token of the
    # page (the CSRF token) may contain "C3"
    words = set(re.findall(r"[\w ]+", " ".join(re.findall(r">([^<]*)<", html))))
    words |= {w for part in words for w in part.split()}
    assert "Client A" in html and "C1" in words
    for foreign in ("Client B", "Wang Fang", "Li Na", 'id="oos-rate"'):
        assert foreign not in html
    for code in ("C3", "E1"):
        assert code not in words
    assert alice.get(f"/qc/dashboard/?client={lab.client_b.pk}").status_code == 404
    assert alice.get("/qc/dashboard/charts/oos_method.svg").status_code == 404
    assert alice.get("/qc/dashboard/charts/workload.svg").status_code == 404
    csv_rows = list(
        csv.reader(io.StringIO(alice.get("/qc/dashboard/overdue.csv").content.decode()))
    )
    assert [r[4] for r in csv_rows[1:]] == ["C1"]
    assert csv_rows[0][7] == "analyst" and [r[7] for r in csv_rows[1:]] == [""]  # not Li Na
    staff = Client()
    staff.force_login(lab.qa)
    lab_rows = list(
        csv.reader(io.StringIO(staff.get("/qc/dashboard/overdue.csv").content.decode()))
    )
    assert {r[4]: r[7] for r in lab_rows[1:]}["C1"] == "Li Na"  # the laboratory sees who
    assert snapshot() == before

    # the API with client B's token: B's figures only, no analyst names
    secret = core_services.api_token_create(actor=lab.bob, name="dash").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = api.get(f"/api/v1/qc/dashboard?start={t - 80 * DAY}&end={t + 20 * DAY}").json()
    assert body["scope"] == "organisation" and body["client"] == lab.client_b.pk
    assert [(g["label"], g["count"], g["median_days"]) for g in body["request_tat_by_client"]] == [
        ("Client B", 1, "2.50")  # decimals are strings in the API
    ]
    assert body["oos_rate"] is None and body["workload_by_analyst"] == []
    assert body["overdue_tests"] == 1
    overdue = api.get("/api/v1/qc/dashboard/overdue").json()
    assert overdue["count"] == 1
    assert overdue["items"][0]["test_id"] == data.c3.pk
    assert overdue["items"][0]["analyst"] is None and overdue["items"][0]["days_overdue"] == 3
    assert api.get(f"/api/v1/qc/dashboard?client={lab.client_a.pk}").status_code == 404


def test_api_laboratory_figures_and_refusals(lab: Lab, data: Data, make_user: Any) -> None:
    t = data.today
    secret = core_services.api_token_create(actor=lab.qa, name="dash").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = api.get(f"/api/v1/qc/dashboard?start={t - 80 * DAY}&end={t + 20 * DAY}").json()
    assert body["scope"] == "laboratory"
    assert body["oos_rate"] == {
        "key": "",
        "label": "All methods",
        "results": 6,
        "oos": 1,
        "rate_percent": "16.67",
    }
    assert body["overdue_tests"] == 2 and body["open_tests"] == 4
    items = api.get("/api/v1/qc/dashboard/overdue?limit=1&offset=1").json()
    assert items["count"] == 2 and [i["test_id"] for i in items["items"]] == [data.c1.pk]
    assert items["items"][0]["analyst"] == "Li Na"
    # bad filters name their field
    bad = api.get(f"/api/v1/qc/dashboard?start={t}&end={t - DAY}")
    assert bad.status_code == 422 and bad.json()["field"] == "start"
    assert api.get("/api/v1/qc/dashboard?client=999999").json()["field"] == "client"
    assert api.get("/api/v1/qc/dashboard?method=nope").json()["field"] == "method"
    assert api.get("/api/v1/qc/dashboard?start=2026-13-01").status_code == 422
    # operator staff outside the laboratory are refused
    tech = make_user(lab.qa.organisation, "bank_technician", username="tech")
    with pytest.raises(PermissionDenied):
        dashboard.parse_filters(tech)
    tech_secret = core_services.api_token_create(actor=tech, name="dash").secret
    refused = Client(HTTP_AUTHORIZATION=f"Bearer {tech_secret}").get("/api/v1/qc/dashboard")
    assert refused.status_code == 403
    web = Client()
    web.force_login(tech)
    assert web.get("/qc/dashboard/").status_code == 403


def test_bad_filters_are_refused_naming_the_field(lab: Lab) -> None:
    with pytest.raises(Invalid) as exc:
        dashboard.parse_filters(lab.qa, start="2026-02-30")
    assert exc.value.field == "start" and "YYYY-MM-DD" in exc.value.message
    with pytest.raises(Invalid) as exc:
        dashboard.parse_filters(lab.qa, start="2020-01-01", end="2026-01-01")
    assert exc.value.field == "start"
    with pytest.raises(Invalid) as exc:
        dashboard.parse_filters(lab.qa, client="x1")
    assert exc.value.field == "client"
    with pytest.raises(Invalid) as exc:  # the operator is not a client
        dashboard.parse_filters(lab.qa, client=lab.qa.organisation_id)
    assert exc.value.field == "client"
    web = Client()
    web.force_login(lab.qa)
    page = web.get("/qc/dashboard/?start=2026-02-30")
    assert page.status_code == 200
    assert "2026-02-30" in page.content.decode() and "YYYY-MM-DD" in page.content.decode()
    assert web.get("/qc/dashboard/charts/tat_client.svg?end=soon").status_code == 400
    assert web.get("/qc/dashboard/charts/nothing.svg").status_code == 404


def test_percentiles() -> None:
    assert dashboard.median([]) is None and dashboard.percentile([], 0.9) is None
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert dashboard.median(values) == 5.5
    assert dashboard.percentile(values, 0.9) == 9.0  # rank ceil(9) = 9
    assert dashboard.percentile([*values, 11.0], 0.9) == 10.0  # rank ceil(9.9) = 10


def test_overdue_csv_is_injection_safe(lab: Lab) -> None:
    t = dt.datetime.now(dt.UTC).date()
    test = open_test(
        lab,
        client=lab.alice,
        sample="@SUM(A1)",
        method="viability",
        received=dt.datetime.combine(t - 4 * DAY, dt.time(9, 0, tzinfo=dt.UTC)),
    )
    TestRequest.objects.filter(pk=test.request_id).update(
        product='=HYPERLINK("http://x")', batch="-2+3"
    )
    web = Client()
    web.force_login(lab.qa)
    response = web.get("/qc/dashboard/overdue.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == list(dashboard.OVERDUE_COLUMNS)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["product"] == '\'=HYPERLINK("http://x")'
    assert row["batch"] == "'-2+3"
    assert row["sample"] == "'@SUM(A1)"
    assert row["age_days"] == "4" and row["days_overdue"] == "3"  # numbers stay numbers
    assert row["received_on"] == (t - 4 * DAY).isoformat()
    assert dashboard.csv_text("\tx") == "'\tx" and dashboard.csv_text("a=b") == "a=b"


def test_charts_are_well_formed_svg(lab: Lab, data: Data) -> None:
    t = data.today
    web = Client()
    web.force_login(lab.qa)
    query = f"start={t - 80 * DAY}&end={t + 20 * DAY}"
    expected = {
        "tat_client": "bar-1",
        "tat_method": "p90-0",
        "tat_trend": "line-median",
        "oos_method": "bar-1",
        "oos_trend": "line-rate",
        "workload": "bar-2",
    }
    for name, gid in expected.items():
        response = web.get(f"/qc/dashboard/charts/{name}.svg?{query}")
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("image/svg+xml")
        root = ET.fromstring(response.content)
        assert root.tag == f"{SVG}svg"
        ids = {el.get("id") for el in root.iter()}
        assert gid in ids, (name, sorted(i for i in ids if i and not i.startswith("m")))
    # an empty period draws an honest empty chart
    empty = web.get("/qc/dashboard/charts/tat_client.svg?start=2020-01-01&end=2020-01-31")
    assert "No data in this period." in empty.content.decode()
    ET.fromstring(empty.content)
    # the page links the charts with the same filters
    page = web.get(f"/qc/dashboard/?{query}").content.decode()
    assert f"/qc/dashboard/charts/tat_client.svg?{query}".replace("&", "&amp;") in page


def test_request_list_codes_without_a_query_per_request(
    lab: Lab,
) -> None:
    """The API request list (timed by bench/qc.py) reads methods and panels in two queries
    whatever the page size, and lists the same codes as the request's own page."""
    secret = core_services.api_token_create(actor=lab.alice, name="list").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    in_testing(lab, sample="L-1", methods=["viability"], batch="L-1")
    api.get("/api/v1/qc/requests")  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as one:
        assert api.get("/api/v1/qc/requests").json()["count"] == 1
    for i in range(2, 6):
        in_testing(lab, sample=f"L-{i}", methods=["viability", "endotoxin"], batch=f"L-{i}")
    in_testing(lab, client=lab.bob, sample="L-B", methods=["viability"], batch="L-B")
    with CaptureQueriesContext(connection) as five:
        page = api.get("/api/v1/qc/requests").json()
    assert len(five.captured_queries) == len(one.captured_queries)
    assert page["count"] == 5  # client B's request is not listed
    for item in page["items"]:
        detail = api.get(f"/api/v1/qc/requests/{item['id']}").json()
        assert item["methods"] == detail["methods"] and item["panels"] == detail["panels"]
    assert page["items"][0]["methods"] == ["endotoxin", "viability"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dashboard_in_chromium(browser_page: Any, live_server: Any, lab: Lab) -> None:
    """The page and its chart images load under the strict CSP; the filter form works."""
    t = dt.datetime.now(dt.UTC).date()
    open_test(
        lab,
        client=lab.alice,
        sample="W-1",
        method="viability",
        received=dt.datetime.combine(t - 3 * DAY, dt.time(8, 0, tzinfo=dt.UTC)),
        analyst=lab.analyst,
    )
    violations: list[str] = []
    page = browser_page
    page.on(
        "console", lambda m: violations.append(m.text) if "Content-Security" in m.text else None
    )
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(60_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "qa")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/qc/")
    page.click("nav.qc-subnav a:has-text('Dashboards')")
    page.wait_for_selector("#overdue-list")
    page.select_option("#method", "viability")
    page.click("#dashboard-filters button.primary")
    page.wait_for_url("**method=viability**")
    assert page.inner_text("#tile-overdue") == "1"
    assert "W-1" in page.inner_text("#overdue-list")
    images = page.locator("section.card figure img")
    assert images.count() == 6
    page.wait_for_load_state("networkidle")
    widths = page.eval_on_selector_all(
        "section.card figure img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
    )
    assert all(w > 0 for w in widths), widths
    assert violations == []


def test_workload_legend_uses_the_bar_colours() -> None:
    """The legend squares are the bars' green and vermilion, never matplotlib's default blue."""
    import re

    from celltrace.qc import charts
    from celltrace.qc.dashboard import WorkloadRow

    svg = charts.workload_bars([WorkloadRow("a", "Li Na", 5, 2)], "Workload")
    fills = set(re.findall(r"fill: ?(#[0-9a-f]{6})", svg))
    assert {charts.GREEN.lower(), charts.VERMILION.lower()} <= fills
    assert "#1f77b4" not in fills


def test_all_zero_figures_draw_axes_from_zero() -> None:
    """Turnarounds of 0 days (certificate on the day of receipt) or a 0 % rate: the value axes
    start at 0, with no negative ticks."""
    import re

    from celltrace.qc import charts
    from celltrace.qc.dashboard import MonthPoint, OosGroup, TatGroup

    svgs = [
        charts.tat_bars([TatGroup("a", "Aurora", 2, 0.0, 0.0)], "Turnaround"),
        charts.oos_bars([OosGroup("v", "viability", 4, 0)], "OOS"),
        charts.month_line([MonthPoint("2026-12", 2, 0.0)], "By month", "days", "line-median"),
    ]
    for svg in svgs:
        ticks = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        assert "0" in [t.strip() for t in ticks] or "0.0" in [t.strip() for t in ticks], ticks
        assert not any(t.strip().startswith(("−", "-")) for t in ticks), ticks
