"""Sterility read day by day: the incubation and each reading are recorded on the test (one
ledger entry each), the result is decided once every medium was read on every day or growth is
seen, and the readings due today are listed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from celltrace.assays import sterility
from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.qc import calculators
from celltrace.qc.models import Result
from celltrace.qc.models_compute import SterilityIncubation, SterilityReading
from celltrace.qc.selectors_compute import sterility_inputs
from celltrace.qc.services_compute import sterility_incubation_start, sterility_reading_record
from tests.qc.conftest import Lab, in_testing, lab_test, snapshot
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return (
        *snapshot(),
        SterilityIncubation.objects.count(),
        SterilityReading.objects.count(),
    )


def started(lab: Lab, days_ago: int = 15) -> tuple[Any, dt.datetime]:
    test = lab_test(in_testing(lab, methods=["sterility"]), "sterility")
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=days_ago)
    sterility_incubation_start(
        actor=lab.analyst, test=test, media=["FTM", "SCDM"], started_at=start
    )
    return test, start


def read_days(lab: Lab, test: Any, start: dt.datetime, days: range, growth: bool = False) -> None:
    for d in days:
        sterility_reading_record(
            actor=lab.analyst,
            test=test,
            growth={"FTM": growth, "SCDM": False},
            observed_at=start + dt.timedelta(days=d),
        )


def test_fourteen_days_of_readings_give_no_growth_through_the_page(lab: Lab) -> None:
    test, start = started(lab)
    events = AuditEvent.objects.count()
    read_days(lab, test, start, range(1, 15))
    assert AuditEvent.objects.count() == events + 14  # one ledger entry per day's reading
    client = logged_in(lab.analyst)
    page = client.get(f"/qc/tests/{test.pk}/compute/?kind=readings").content.decode()
    assert "qc-read-ok" in page
    assert client.post(f"/qc/tests/{test.pk}/compute/?kind=readings", {}).status_code == 302
    result = Result.objects.get(test=test)
    assert result.value_text == "No growth"
    calc = result.calculation
    assert calc is not None and calc["outputs"]["outcome"] == "No growth"
    assert len(calc["inputs"]["readings"]) == 28
    # the same decision from the assay directly, on the stored readings
    incs = [sterility.Incubation(m, start) for m in ("FTM", "SCDM")]
    reads = [
        sterility.Reading(m, start + dt.timedelta(days=d), False)
        for m in ("FTM", "SCDM")
        for d in range(1, 15)
    ]
    direct = sterility.evaluate_sterility(incs, reads, as_of=timezone.now())
    assert direct.outcome.value == "No growth"
    assert verify_database().ok
    # closed once the result is in
    with pytest.raises(Conflict):
        read_days(lab, test, start, range(14, 15))


def test_pending_incubation_is_refused_with_the_missing_readings(lab: Lab) -> None:
    test, start = started(lab, days_ago=5)
    read_days(lab, test, start, range(1, 4))
    client = logged_in(lab.analyst)
    before = counts()
    response = client.post(f"/qc/tests/{test.pk}/compute/?kind=readings", {})
    body = response.content.decode()
    assert "The incubation is not complete" in body
    assert "FTM day 4" in body and "overdue" in body
    assert counts() == before


def test_growth_concludes_at_once(lab: Lab) -> None:
    test, start = started(lab, days_ago=4)
    read_days(lab, test, start, range(1, 3))
    read_days(lab, test, start, range(3, 4), growth=True)
    value, _u, calc = calculators.compute(
        "sterility",
        sterility_inputs(test, as_of=timezone.now()),
        decimals=None,
        unit="",
        kind="readings",
    )
    assert value == "Growth" and calc["outputs"]["growth"] == ["FTM day 3"]
    client = logged_in(lab.analyst)
    assert client.post(f"/qc/tests/{test.pk}/compute/?kind=readings", {}).status_code == 302
    assert Result.objects.get(test=test).value_text == "Growth"


def test_reading_refusals_write_nothing(lab: Lab) -> None:
    test, start = started(lab, days_ago=3)
    read_days(lab, test, start, range(1, 2))
    before = counts()
    # later or earlier on the same calendar day as the day-1 reading, whatever the time of day
    day1 = timezone.localtime(start + dt.timedelta(days=1))
    same_day = day1.replace(hour=0 if day1.hour >= 12 else 23, minute=30)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"observed_at": timezone.now() + dt.timedelta(hours=2)}, Invalid, "in the future"),
        ({"observed_at": start - dt.timedelta(hours=1)}, Invalid, "before the inoculation"),
        ({"observed_at": same_day}, Conflict, "already read on day 1"),
        ({"growth": {"XYZ": False}}, Invalid, "XYZ is not incubating"),
        ({"growth": {}}, Invalid, "at least one medium"),
    ]
    for over, error, text in cases:
        kw: dict[str, Any] = {"observed_at": start + dt.timedelta(days=2), "growth": {"FTM": False}}
        kw |= over
        with pytest.raises(error) as exc:
            sterility_reading_record(actor=lab.analyst, test=test, **kw)
        assert text in str(exc.value)
    with pytest.raises(PermissionDenied):
        sterility_reading_record(
            actor=lab.reviewer, test=test, growth={"FTM": False}, observed_at=start
        )
    with pytest.raises(Conflict):
        sterility_incubation_start(actor=lab.analyst, test=test, media=["FTM"], started_at=start)
    assert counts() == before


def test_readings_page_and_due_list(lab: Lab) -> None:
    test = lab_test(in_testing(lab, methods=["sterility"]), "sterility")
    client = logged_in(lab.analyst)
    start = timezone.localtime() - dt.timedelta(days=2)
    response = client.post(
        f"/qc/tests/{test.pk}/sterility/",
        {
            "action": "start",
            "start-incubated_media": ["FTM", "SCDM"],
            "start-started_at": start.strftime("%Y-%m-%d %H:%M"),
            "start-days": "14",
        },
    )
    assert response.status_code == 302
    assert SterilityIncubation.objects.filter(test=test).count() == 2
    due = client.get("/qc/sterility/due/").content.decode()
    # day 1 missed (overdue), day 2 due today, for both media
    assert due.count(f"/qc/tests/{test.pk}/sterility/") == 4
    assert "overdue" in due
    for day in (1, 2):
        response = client.post(
            f"/qc/tests/{test.pk}/sterility/",
            {
                "action": "read",
                "read-observed_at": (start + dt.timedelta(days=day)).strftime("%Y-%m-%d %H:%M"),
                "read-ftm": "no",
                "read-scdm": "no",
            },
        )
        assert response.status_code == 302, response.content.decode()[-2000:]
    due = client.get("/qc/sterility/due/").content.decode()
    assert f"/qc/tests/{test.pk}/sterility/" not in due
    page = client.get(f"/qc/tests/{test.pk}/sterility/").content.decode()
    assert page.count("qc-read-ok") == 4
    # a bad reading names its field and writes nothing
    before = counts()
    response = client.post(
        f"/qc/tests/{test.pk}/sterility/",
        {"action": "read", "read-observed_at": "2020-01-01 10:00", "read-ftm": "no"},
    )
    assert "before the inoculation" in response.content.decode()
    assert counts() == before
    # client users never reach these pages
    alice = logged_in(lab.alice)
    assert alice.get(f"/qc/tests/{test.pk}/sterility/").status_code == 404
    assert alice.get("/qc/sterility/due/").status_code == 404
