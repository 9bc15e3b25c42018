"""A site's time zone is a name of the IANA time zone database: anything else is refused naming
``timezone`` (service, page and API alike) and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from celltrace.audit.models import AuditEvent
from celltrace.core.errors import Invalid
from celltrace.core.services import api_token_create
from celltrace.storage import services
from celltrace.storage.models import Site

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, int]:
    return Site.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus", "   ", "", "asia/shanghai", "../etc/passwd", "zone.tab", "+08:00"]
)
def test_a_time_zone_outside_the_iana_database_is_refused(tech: Any, timezone: str) -> None:
    before = counts()
    with pytest.raises(Invalid) as refused:
        services.site_create(actor=tech, name="Tz", code="tz00001", timezone=timezone)
    assert refused.value.field == "timezone"
    assert "IANA" in refused.value.message
    assert counts() == before


def test_an_iana_time_zone_is_stored_without_surrounding_spaces(tech: Any) -> None:
    before = counts()
    site = services.site_create(actor=tech, name="Berlin", code="ber", timezone=" Europe/Berlin ")
    assert Site.objects.get(pk=site.pk).timezone == "Europe/Berlin"
    assert counts() == (before[0] + 1, before[1] + 1)
    entry = AuditEvent.objects.order_by("-seq").first()
    assert entry is not None and entry.data["new"]["timezone"] == "Europe/Berlin"
    assert services.site_create(actor=tech, name="Default", code="utc").timezone == "UTC"


def test_the_site_form_shows_the_time_zone_error_on_its_field(tech: Any) -> None:
    web = Client()
    web.force_login(tech)
    before = counts()
    page = web.post(
        "/storage/sites/new/", {"name": "Tz", "code": "tz00001", "timezone": "Mars/Olympus"}
    )
    assert page.status_code == 200
    errors = page.context["form"].errors
    assert list(errors) == ["timezone"]
    assert "is not a time zone of the IANA database" in errors["timezone"][0]
    assert "is not a time zone of the IANA database" in page.content.decode()
    assert counts() == before


def test_the_api_refuses_the_reviewed_time_zones(admin_user: Any) -> None:
    api = Client(HTTP_AUTHORIZATION="Bearer " + api_token_create(actor=admin_user, name="t").secret)
    before = counts()
    for timezone in ("Mars/Olympus", "   "):
        refused = api.post(
            "/api/v1/storage/sites",
            json.dumps({"name": "Tz", "code": "tz00001", "timezone": timezone}),
            content_type="application/json",
        )
        assert refused.status_code == 422, refused.content
        assert refused.json()["field"] == "timezone"
    assert counts() == before
