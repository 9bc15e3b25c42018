"""Monitoring pages: operator only, the chart SVG, the excursion page, the CSV upload."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from defusedxml import ElementTree
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from celltrace.monitoring import csvio
from celltrace.monitoring.models import Alarm, Excursion, Sensor
from tests.conftest import PASSWORD, post_sign_form
from tests.monitoring.conftest import STEP, T0, counts, series

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


def login(user: Any) -> Client:
    c = Client()
    assert c.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return c


@pytest.fixture
def excursion(sensor: Sensor, ingest: Any) -> Excursion:
    ingest(series("LN2-T1", ["-190", "-189", "-140", "-135", "-190", "-191"]))
    return Excursion.objects.get()


def test_client_users_get_404_on_every_monitoring_page(
    excursion: Excursion, unit: Any, client_a: Any, make_user: Any
) -> None:
    c = login(make_user(client_a, "client_user"))
    urls = [
        reverse("monitoring:index"),
        reverse("monitoring:unit", args=[unit.pk]),
        reverse("monitoring:unit_chart", args=[unit.pk]),
        reverse("monitoring:excursions"),
        reverse("monitoring:excursion", args=[excursion.pk]),
        reverse("monitoring:impact_csv", args=[excursion.pk]),
        reverse("monitoring:upload"),
        reverse("monitoring:template"),
        f"/sign/monitoring.alarm/{excursion.alarm.pk}/?meaning=acknowledged",
    ]
    for url in urls:
        assert c.get(url).status_code == 404, url
    before = counts()
    r = c.post(reverse("monitoring:alarm_comment", args=[excursion.alarm.pk]), {"comment": "x"})
    assert r.status_code == 404
    assert counts() == before


def test_overview_unit_and_excursion_pages(excursion: Excursion, unit: Any, qa_user: Any) -> None:
    c = login(qa_user)
    page = c.get(reverse("monitoring:index")).content.decode()
    assert unit.name in page and "-191.000" in page  # the current temperature
    page = c.get(reverse("monitoring:unit", args=[unit.pk])).content.decode()
    assert reverse("monitoring:unit_chart", args=[unit.pk]) in page
    assert f"#{excursion.pk}" in page
    page = c.get(reverse("monitoring:excursion", args=[excursion.pk])).content.decode()
    assert "-135.000" in page and "Impact report" in page
    assert "Electronic signatures" in page  # the signature block
    # the comment form leads to the signing page
    r = c.post(
        reverse("monitoring:alarm_comment", args=[excursion.alarm.pk]),
        {"comment": "Door left open; closed."},
    )
    assert r.status_code == 302
    assert r["Location"].startswith(f"/sign/monitoring.alarm/{excursion.alarm.pk}/")
    assert "meaning=acknowledged" in r["Location"]
    # signing through the shared page; without the password it is refused
    sign_url = r["Location"]
    r = c.post(sign_url, {"meaning": "acknowledged", "password": ""})
    assert r.status_code == 200 and Alarm.objects.get().comment == "Door left open; closed."
    r = post_sign_form(c, sign_url, {"meaning": "acknowledged", "password": PASSWORD})
    assert r.status_code == 302
    page = c.get(reverse("monitoring:excursion", args=[excursion.pk])).content.decode()
    assert "Quinn Assurance" in page and "badge-valid" in page


def test_the_chart_is_deterministic_svg_with_threshold_lines_and_excursions(
    excursion: Excursion, unit: Any, qa_user: Any
) -> None:
    c = login(qa_user)
    url = reverse("monitoring:unit_chart", args=[unit.pk])
    end = (T0 + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    r = c.get(url, {"window": "1d", "end": end})
    assert r.status_code == 200 and r["Content-Type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(r.content)
    assert root.tag == f"{SVG}svg"
    ids = {el.get("id") for el in root.iter()}
    for gid in (
        "threshold-alarm-high",
        "threshold-alarm-low",
        "threshold-warn-high",
        "threshold-warn-low",
        f"excursion-{excursion.pk}",
        f"sensor-{excursion.sensor_id}",
    ):
        assert gid in ids, gid
    assert r.content == c.get(url, {"window": "1d", "end": end}).content  # deterministic


def test_long_windows_are_downsampled_keeping_the_extremes(
    sensor: Sensor, ingest: Any, qa_user: Any, unit: Any
) -> None:
    from celltrace.monitoring import selectors

    values = ["-190"] * 6000
    values[3001] = "-120"
    ingest(series("LN2-T1", values))
    start, end = T0, T0 + 6000 * STEP
    [s] = selectors.unit_series(qa_user, unit, start, end, max_points=1000)
    assert s.raw_count == 6000 and len(s.times) <= 1000
    assert min(s.values) == -190 and max(s.values) == -120
    assert s.times == sorted(s.times)


def test_csv_upload_stores_a_clean_file(sensor: Sensor, tech: Any) -> None:
    c = login(tech)
    body = (
        "sensor,measured_at,temperature_c\n"
        "LN2-T1,2026-03-01T00:00:00Z,-190.5\n"
        "LN2-T1,2026-03-01T00:05:00Z,-140\n"
    )
    r = c.post(
        reverse("monitoring:upload"),
        {"file": SimpleUploadedFile("r.csv", body.encode(), content_type="text/csv")},
    )
    assert r.status_code == 302
    assert Sensor.objects.get().readings.count() == 2
    assert Excursion.objects.count() == 1


def test_the_template_as_downloaded_is_accepted(sensor: Sensor, tech: Any) -> None:
    """The template names this installation's sensors (it named example probes, so the file
    as downloaded was refused)."""
    c = login(tech)
    template = c.get(reverse("monitoring:template"))
    assert template.status_code == 200 and b"LN2-T1," in template.content
    r = c.post(
        reverse("monitoring:upload"),
        {"file": SimpleUploadedFile("t.csv", template.content, content_type="text/csv")},
    )
    assert r.status_code == 302
    assert sensor.readings.count() == 2


def test_csv_upload_refuses_a_bad_file_whole_with_row_column_and_rule(
    sensor: Sensor, tech: Any
) -> None:
    c = login(tech)
    body = (
        "sensor,measured_at,temperature_c\n"
        "LN2-T1,2026-03-01T00:00:00Z,-190.5\n"
        "LN2-T1,2026-03-01T00:05:00,-190\n"
        "LN2-T1,2026-03-01T00:10:00Z,warm\n"
    )
    before = counts()
    r = c.post(
        reverse("monitoring:upload"),
        {"file": SimpleUploadedFile("r.csv", body.encode(), content_type="text/csv")},
    )
    assert r.status_code == 422
    problems = r.context["problems"]
    assert [(p.row, p.field, p.rule) for p in problems] == [
        (3, "measured_at", "naive_timestamp"),
        (4, "temperature_c", "not_a_number"),
    ]
    page = r.content.decode()
    assert "naive_timestamp" in page and "Nothing was stored" in page
    assert counts() == before


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"probe,time,temp\nx,y,z\n", {("probe", "unknown_column"), ("sensor", "missing_column")}),
        (b"", {("file", "empty")}),
        (b"sensor,measured_at,temperature_c\n", {("file", "empty")}),
        (
            "sensor,measured_at,temperature_c\nZ\u00e4,1,2\n".encode("utf-16"),
            {("file", "encoding")},
        ),
    ],
)
def test_unreadable_files(data: bytes, expected: set[tuple[str, str]]) -> None:
    rows, problems = csvio.parse(data)
    assert rows == []
    assert expected <= {(p.field, p.rule) for p in problems}


def test_the_template_downloads_and_parses(sensor: Sensor, tech: Any) -> None:
    r = login(tech).get(reverse("monitoring:template"))
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    rows, problems = csvio.parse(r.content)
    assert problems == [] and len(rows) == 2  # two readings of the installation's one sensor
    assert set(rows[0]) == {"sensor", "measured_at", "temperature_c"}
    assert csvio.template_for([]) == csvio.TEMPLATE  # no sensor yet: the examples


def test_a_signature_binds_only_what_its_signer_was_shown(
    excursion: Excursion, qa_user: Any, operator: Any, make_user: Any
) -> None:
    """21 CFR 11.70: the sign page shows the content the signature binds, with its digest; if
    someone changes the record before the signer submits, nothing is signed and the page shows
    the record as it is now."""
    from celltrace.audit.models import Signature
    from celltrace.monitoring import services

    tech = make_user(operator, "bank_technician")
    alarm = services.alarm_comment_set(actor=qa_user, alarm=excursion.alarm, comment="Lid closed.")
    c = login(qa_user)
    sign_url = f"/sign/monitoring.alarm/{alarm.pk}/?meaning=acknowledged"
    page = c.get(sign_url).content.decode()
    assert "What this signature binds" in page and "Lid closed." in page
    shown = re.search(r'name="expected_digest" value="([0-9a-f]{64})"', page)
    assert shown and shown.group(1) in page.replace(f'value="{shown.group(1)}"', "")
    # meanwhile a technician rewrites the comment QA is about to sign
    services.alarm_comment_set(actor=tech, alarm=alarm, comment="No action needed.")
    before = counts()
    r = c.post(
        sign_url,
        {"meaning": "acknowledged", "password": PASSWORD, "expected_digest": shown.group(1)},
    )
    assert r.status_code == 302 and r["Location"] == sign_url
    assert counts() == before and not Signature.objects.exists()
    again = c.get(sign_url).content.decode()
    assert "The record changed after it was shown to you" in again and "No action needed." in again
    # signing what is shown now works
    assert (
        post_sign_form(c, sign_url, {"meaning": "acknowledged", "password": PASSWORD})["Location"]
        != sign_url
    )
    assert Signature.objects.get().record_digest != shown.group(1)
