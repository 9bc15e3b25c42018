"""Names of records on Chinese pages: model names in Django's messages, records on signing
pages (UI review item 9)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.utils import translation

from celltrace.audit.services import audit_review_create
from celltrace.core.errors import DomainError
from celltrace.monitoring import services as monitoring
from celltrace.monitoring.models import Excursion
from celltrace.storage import services as storage
from celltrace.storage.models import Box, BoxType, Rack, Site
from tests.bank import factories
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")
#: Apps whose models are named by Django's messages on forms (unique fields and constraints).
APPS = ("storage", "bank", "qc", "monitoring")


def chinese(user: Any) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert c.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return c


def test_every_model_of_the_form_apps_has_a_translated_name() -> None:
    models = [m for app in APPS for m in apps.get_app_config(app).get_models()]
    assert len(models) > 30
    with translation.override("zh-hans"):
        english = [
            f"{m._meta.label}: {name}"
            for m in models
            for name in (str(m._meta.verbose_name), str(m._meta.verbose_name_plural))
            if not CJK.search(name)
        ]
        assert str(Site._meta.verbose_name) == "场所"
        assert str(BoxType._meta.verbose_name) == "冻存盒类型"
        assert str(Box._meta.verbose_name) == "冻存盒"
    assert english == []
    with translation.override("en"):
        assert str(BoxType._meta.verbose_name) == "box type"
        assert str(Box._meta.verbose_name_plural) == "boxes"


def test_duplicate_errors_on_storage_forms_name_the_model_in_chinese(tech: Any) -> None:
    store = factories.hierarchy(tech, boxes=1)
    c = chinese(tech)
    cases = [
        (
            "/storage/sites/new/",
            {"name": "Other", "code": "main", "timezone": "Asia/Shanghai"},
            "具有 代码 的 场所 已存在。",
        ),
        (
            "/storage/box-types/new/",
            {"name": "9x9", "kind": "vial_box", "rows": "9", "columns": "9"},
            "具有 名称 的 冻存盒类型 已存在。",
        ),
        (
            f"/storage/racks/{store['rack'].pk}/",
            {
                "action": "box",
                "box-name": "Another",
                "box-box_type": str(store["box_type"].pk),
                "box-barcode": "T1-B1",
            },
            "具有 条形码 的 冻存盒 已存在。",
        ),
    ]
    for url, data, message in cases:
        page = c.post(url, data).content.decode()
        assert message in page, url
        assert not re.search(r"的 [A-Za-z ]+ 已存在", page), url
        assert "already exists" not in page, url


def test_a_constraint_message_of_the_storage_hierarchy_is_translated(tech: Any) -> None:
    store = factories.hierarchy(tech, boxes=1)
    with translation.override("zh-hans"), pytest.raises(DomainError) as caught:
        storage.rack_create(actor=tech, unit=store["unit"], name="R1")
    assert "该储存设备中已有同名的冻存架。" in str(caught.value)
    assert Rack.objects.filter(name="R1").count() == 1


def test_signing_pages_name_the_alarm_and_the_audit_review_in_chinese(
    tech: Any, qa_user: Any
) -> None:
    store = factories.hierarchy(tech, boxes=1)
    monitoring.sensor_create(
        actor=tech,
        unit=store["unit"],
        probe_id="LN2-T1",
        calibration_due=dt.date(2027, 1, 1),
        interval_s=300,
    )
    rows = [
        {"sensor": "LN2-T1", "measured_at": f"2026-03-01T00:{m:02d}:00Z", "temperature_c": t}
        for m, t in ((0, "-190"), (5, "-140"), (10, "-190"))
    ]
    monitoring.readings_ingest(actor=tech, readings=rows)
    alarm = Excursion.objects.get().alarm
    review = audit_review_create(actor=qa_user, conclusion="Nothing unexplained.")
    c = chinese(qa_user)
    page = c.get(f"/sign/monitoring.alarm/{alarm.pk}/?meaning=acknowledged").content.decode()
    assert f"报警 {alarm.pk}" in page and f"Alarm {alarm.pk}" not in page
    page = c.get(f"/sign/audit.auditreview/{review.pk}/?meaning=reviewed").content.decode()
    expected = f"审计追踪审核 {review.from_seq}–{review.to_seq}"
    assert expected in page and "Audit review" not in page
    with translation.override("en"):
        assert str(alarm) == f"Alarm {alarm.pk}"
        assert str(review) == f"Audit review {review.from_seq}–{review.to_seq}"
