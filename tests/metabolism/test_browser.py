"""Chromium: upload a Seahorse export, exclude a well with a reason, open the profile page."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.audit.models import AuditEvent
from celltrace.metabolism.choices import EventType
from celltrace.metabolism.models import MetabolismRun, WellExclusion
from tests.conftest import PASSWORD
from tests.metabolism.conftest import fixture_path


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_upload_exclude_a_well_and_open_the_profile(
    browser_page: Any, live_server: Any, analyst: Any, donor_a: Any
) -> None:
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", analyst.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/metabolism/runs/new/")
    page.set_input_files("input[name=file]", str(fixture_path("xfe24-mst-raw_1.xlsx")))
    page.select_option("select[name=assay]", "mito-stress")
    page.select_option("select[name=donor]", str(donor_a.pk))
    page.select_option("select[name=timepoint]", "at_banking")
    page.fill("input[name=sampled_on]", "2025-04-01")
    page.click("form.metabolism-upload button.primary")
    page.wait_for_selector("table.metabolism-plate")
    run = MetabolismRun.objects.get()
    assert page.url == f"{live_server.url}/metabolism/runs/{run.pk}/"

    page.click("td[data-well=B02] summary")
    page.fill("#reason-B02", "bubble under the probe")
    page.click("td[data-well=B02] button")
    page.wait_for_selector("td[data-well=B02].well-excluded")
    assert "bubble under the probe" in page.inner_text("body")
    exclusion = WellExclusion.objects.get()
    assert (exclusion.well, exclusion.reason) == ("B02", "bubble under the probe")
    (event,) = AuditEvent.objects.where(event_type=EventType.WELL_EXCLUDED)
    assert event.data["reason"] == "bubble under the probe"
    assert event.data["actor_id"] == analyst.pk

    page.click(f"a[href='/metabolism/donors/{donor_a.pk}/']")
    page.wait_for_selector("h1")
    assert "DEP-A-001" in page.inner_text("h1")
    assert "does not assess health" in page.inner_text("body")
    energy = page.locator(f"img[src='/metabolism/donors/{donor_a.pk}/charts/energy_map.svg']")
    energy.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=energy.element_handle()
    )
    page.wait_for_load_state("networkidle")
    broken = page.evaluate(
        "[...document.images].filter(i => i.loading !== 'lazy' && !i.naturalWidth).length"
    )
    assert broken == 0
    assert not errors, errors
