"""In Chromium at phone width (390 px): no page scrolls sideways, "Log out" stays on screen,
timeline hashes stay inside their card, wide tables scroll inside themselves. At 1280 px the
top bar and table headers still stick."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bank import factories
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOWING = """() => {
  const w = document.documentElement.clientWidth, out = [];
  for (const e of document.querySelectorAll("body *")) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.right <= w + 1) continue;
    let inside = false;  // clipped by a scroll box (a table or wrapper) is fine
    for (let a = e.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") { inside = true; break; }
    }
    if (!inside) out.push(e.tagName + "." + e.className);
  }
  return out;
}"""


def test_pages_fit_a_phone_and_desktop_keeps_sticky_headers(
    browser_page: Any, live_server: Any, tech: Any, client_a: Any
) -> None:
    box = factories.hierarchy(tech, boxes=1, rows=10, columns=10)["boxes"][0]
    [aliquot] = factories.aliquots(tech, client_a, 1, positions=factories.positions_of(box)[:1])
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "tech")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/")

    pages = [
        "/",
        "/bank/",
        "/bank/donors/",
        f"/bank/aliquots/{aliquot.pk}/",
        f"/storage/boxes/{box.pk}/",
    ]
    for path in pages:
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        assert page.evaluate(OVERFLOWING) == [], path
        logout = page.locator("header.topbar button:has-text('Log out')").bounding_box()
        assert logout is not None and logout["x"] + logout["width"] <= 390, path

    page.goto(f"{live_server.url}/bank/aliquots/{aliquot.pk}/")
    card = page.locator("#timeline").bounding_box()
    assert card is not None
    for item in page.locator("#timeline .changes li").all():
        box_ = item.bounding_box()
        assert box_ is not None and box_["x"] + box_["width"] <= card["x"] + card["width"] + 1

    page.goto(f"{live_server.url}/bank/donors/")
    table = page.locator("table.grid").first
    assert table.evaluate("t => getComputedStyle(t).overflowX") == "auto"

    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.locator("header.topbar").evaluate("e => getComputedStyle(e).position") == "sticky"
    th = page.locator("table.grid th").first
    assert th.evaluate("e => getComputedStyle(e).position") == "sticky"
    assert table.evaluate("t => getComputedStyle(t).display") == "table"
