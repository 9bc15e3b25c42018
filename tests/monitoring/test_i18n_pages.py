"""Monitoring pages in Chinese: the excursion's duration, the chart's time axis, the reason an
already stored reading is refused (UI review items 9, 11 and 18)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from defusedxml import ElementTree
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from celltrace.monitoring.models import Excursion, Sensor
from celltrace.monitoring.templatetags.durations import duration_text
from tests.conftest import PASSWORD
from tests.monitoring.conftest import T0

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"
MONTHS = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b")


def login(user: Any, language: str) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert c.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return c


def at(delta: dt.timedelta, temperature: str) -> dict[str, Any]:
    return {
        "sensor": "LN2-T1",
        "measured_at": (T0 + delta).isoformat(),
        "temperature_c": temperature,
    }


@pytest.mark.parametrize(
    ("seconds", "english", "chinese"),
    [
        (22542.361845, "6 h 15 min", "6 小时 15 分钟"),
        (3600, "1 h 0 min", "1 小时 0 分钟"),
        (942, "15 min 42 s", "15 分 42 秒"),
        (7, "7 s", "7 秒"),
        (0, "0 s", "0 秒"),
        (2 * 86400 + 3 * 3600 + 59 * 60, "2 d 3 h", "2 天 3 小时"),
    ],
)
def test_durations_read_as_hours_and_minutes(seconds: float, english: str, chinese: str) -> None:
    value = dt.timedelta(seconds=seconds)
    with translation.override("en"):
        assert duration_text(value) == english
    with translation.override("zh-hans"):
        assert duration_text(value) == chinese


def test_the_excursion_page_shows_a_readable_duration(
    sensor: Sensor, ingest: Any, qa_user: Any
) -> None:
    minutes = dt.timedelta(minutes=1)
    ingest(
        [
            at(0 * minutes, "-190"),
            at(5 * minutes + dt.timedelta(microseconds=361845), "-140"),
            at(380 * minutes, "-190"),
        ]
    )
    exc = Excursion.objects.get()
    assert exc.duration() == dt.timedelta(minutes=375) - dt.timedelta(microseconds=361845)
    url = reverse("monitoring:excursion", args=[exc.pk])
    page = login(qa_user, "zh-hans").get(url).content.decode()
    assert re.search(r"<dt>持续时间</dt><dd>(.*?)</dd>", page)[1] == "6 小时 14 分钟"  # type: ignore[index]
    page = login(qa_user, "en").get(url).content.decode()
    assert re.search(r"<dt>Duration</dt><dd>(.*?)</dd>", page)[1] == "6 h 14 min"  # type: ignore[index]


def _axis_texts(svg: bytes) -> list[str]:
    root = ElementTree.fromstring(svg)
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(("window", "days"), [("1d", 1), ("3d", 3), ("30d", 30), ("90d", 90)])
def test_the_chart_time_axis_has_no_english_month_names(
    sensor: Sensor, ingest: Any, qa_user: Any, unit: Any, window: str, days: int
) -> None:
    ingest([at(dt.timedelta(hours=h), "-190") for h in range(0, 24 * days, max(days // 3, 1))])
    end = (T0 + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")
    r = login(qa_user, "zh-hans").get(
        reverse("monitoring:unit_chart", args=[unit.pk]), {"window": window, "end": end}
    )
    assert r.status_code == 200
    texts = _axis_texts(r.content)
    assert not [t for t in texts if MONTHS.search(t)], texts
    assert any(re.fullmatch(r"(\d{4}-)?\d\d-\d\d|\d{4}-\d\d|\d\d:\d\d", t) for t in texts), texts


def test_re_uploading_a_file_says_the_readings_are_not_newer(sensor: Sensor, tech: Any) -> None:
    body = (
        b"sensor,measured_at,temperature_c\n"
        b"LN2-T1,2026-03-01T00:00:00Z,-190.5\n"
        b"LN2-T1,2026-03-01T00:05:00Z,-190.4\n"
    )

    def upload(c: Client) -> Any:
        file = SimpleUploadedFile("r.csv", body, content_type="text/csv")
        return c.post(reverse("monitoring:upload"), {"file": file})

    assert upload(login(tech, "en")).status_code == 302
    r = upload(login(tech, "zh-hans"))
    assert r.status_code == 422
    page = r.content.decode()
    assert "不晚于该传感器已存储的最新读数（时间相同或更早）" in page
    assert "早于该传感器" not in page and "older" not in page
    r = upload(login(tech, "en"))
    page = r.content.decode()
    assert "not newer than the sensor&#x27;s latest stored reading (same time or earlier)" in page
    assert "older than" not in page
