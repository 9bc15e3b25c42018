"""In Chromium: scan an aliquot's barcode into search, open its box map, move it to another
box, see the move in its timeline."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.storage.models import Placement
from tests.bank import factories
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_scan_open_box_map_move_and_see_it_in_the_timeline(
    browser_page: Any, live_server: Any, operator: Any, client_a: Any, make_user: Any
) -> None:
    tech = make_user(operator, "bank_technician", username="tech", full_name="Tom Technician")
    store = factories.hierarchy(tech, boxes=2, rows=9, columns=9)
    b1, b2 = store["boxes"]
    aliquot = factories.aliquots(
        tech, client_a, 2, reference="PW-1", positions=list(b1.positions.order_by("row", "col"))
    )[1]

    page = browser_page
    page.goto(f"{live_server.url}/login/?next=/bank/")
    page.fill("input[name=username]", "tech")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/bank/")

    # the scanner types the barcode and sends Enter
    page.fill("input[name=q]", aliquot.barcode)
    page.press("input[name=q]", "Enter")
    page.wait_for_url(f"**/bank/aliquots/{aliquot.pk}/")
    assert aliquot.din in page.locator("#din").inner_text()
    assert "A2" in page.locator("#location").inner_text()

    page.click("#box-link")
    page.wait_for_url(f"**/storage/boxes/{b1.pk}/**")
    cell = page.locator("td.cell.hl")
    assert cell.get_attribute("data-position") == "A2"
    assert page.locator("td.cell.st-available").count() == 2
    cell.locator("a").click()
    page.wait_for_url(f"**/bank/aliquots/{aliquot.pk}/")

    page.fill("input[name=move-box]", b2.barcode)
    page.fill("input[name=move-position]", "d4")
    page.fill("input[name=move-reason]", "consolidate box B1")
    page.click("#move-form button.primary")
    page.wait_for_url(f"**/bank/aliquots/{aliquot.pk}/")
    assert "B2" in page.locator("#location").inner_text()
    assert "D4" in page.locator("#location").inner_text()
    timeline = page.locator("#timeline").inner_text()
    assert "ALIQUOT_MOVED" in timeline
    assert "consolidate box B1" in timeline
    assert "t1 / R1 / B2 / D4" in timeline
    active = Placement.objects.get(aliquot=aliquot, removed_at__isnull=True)
    assert (active.position.box_id, active.position.label) == (b2.pk, "D4")
