"""In Chromium: log in, switch to Chinese, see the dashboard, sign an audit-trail review."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.audit.models import Signature
from celltrace.audit.services import audit_review_create
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_switch_to_chinese_and_sign(
    browser_page: Any, live_server: Any, qa_user: Any
) -> None:
    review = audit_review_create(actor=qa_user, conclusion="Nothing unexplained this month.")
    page = browser_page
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "qa")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Dashboard"

    page.click("button[name=language][value=zh-hans]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "仪表板"
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "审计账本" in page.locator("nav.mainnav").inner_text()

    page.goto(f"{live_server.url}/audit/reviews/{review.pk}/")
    page.click("a.button:has-text('签名')")
    page.wait_for_url("**/sign/audit.auditreview/**")
    page.fill("input[name=password]", "not my password at all")
    page.click("form button.primary")
    assert page.locator(".field-error").count() == 1
    assert Signature.objects.count() == 0

    page.fill("input[name=password]", PASSWORD)
    page.fill("textarea[name=comment]", "月度审核")
    page.click("form button.primary")
    page.wait_for_url(f"**/audit/reviews/{review.pk}/")
    row = page.locator("tr.sig").first
    assert "Quinn Assurance" in row.inner_text()
    assert "有效" in row.inner_text()
    sig = Signature.objects.get()
    assert sig.meaning == "reviewed" and sig.signer_id == qa_user.pk
