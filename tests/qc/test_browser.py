"""One lean walk through the QC laboratory in Chromium: client submits, the laboratory receives,
enters the result, signs it performed and reviewed, QA releases and issues the certificate, and
the client downloads the PDF whose hash the verification page confirms."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from celltrace.qc.models import Certificate, TestRequest
from tests.conftest import PASSWORD
from tests.qc.conftest import CAR_T, Lab

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_as(browser_page: Any, live_server: Any, username: str) -> Any:
    context = browser_page.context.browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/")
    return page


def sign_here(page: Any, label: str) -> None:
    page.click(f"a.button:has-text('{label}')")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button.primary")
    page.wait_for_selector("text=Signed.")


def test_client_to_certificate_in_chromium(browser_page: Any, live_server: Any, lab: Lab) -> None:
    url = live_server.url
    client = open_as(browser_page, live_server, "alice")
    client.goto(f"{url}/qc/requests/new/")
    client.fill("input[name=product]", "Aurocel")
    client.fill("input[name=product_type]", CAR_T)
    client.fill("input[name=batch]", "PW-1")
    client.fill("textarea[name=samples]", "PW-S1;cryobag")
    client.check("input[name=methods][value=viability]")
    client.click("#request-form button.primary")
    client.wait_for_selector("#request-status:has-text('Submitted')")
    req = TestRequest.objects.get(batch="PW-1")

    analyst = open_as(browser_page, live_server, "analyst")
    analyst.goto(f"{url}/qc/requests/{req.pk}/receive/")
    analyst.fill("input[name=scanned_id]", "PW-S1")
    analyst.fill("input[name=temperature_c]", "-150")
    analyst.click("#receipt-form button.primary")
    analyst.wait_for_selector("text=Sample PW-S1: Accepted.")
    analyst.goto(f"{url}/qc/requests/{req.pk}/")
    analyst.click("button:has-text('Plan the tests')")
    analyst.click("#tests a")
    analyst.fill("input[name=value]", "69.5")
    analyst.click("#result-form button.primary")
    analyst.wait_for_selector("#current-result .qc-conforms")
    test_url = analyst.url
    sign_here(analyst, "Sign: performed")

    reviewer = open_as(browser_page, live_server, "reviewer")
    reviewer.goto(test_url)
    sign_here(reviewer, "Sign: Reviewed")

    qa = open_as(browser_page, live_server, "qa")
    qa.goto(f"{url}/qc/requests/{req.pk}/")
    qa.wait_for_selector("#request-status:has-text('Reviewed')")
    sign_here(qa, "Sign: released")
    qa.wait_for_selector("#request-status:has-text('Released')")
    # issuing asks first: QA confirms the dialog
    asked: list[str] = []
    qa.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    qa.click("#release button.primary")
    qa.wait_for_selector("#request-status:has-text('Certified')")
    assert asked and asked[0].startswith("Issue the certificate of analysis now?")

    client.goto(f"{url}/qc/requests/{req.pk}/")
    client.wait_for_selector("#tests:has-text('69.5')")
    with client.expect_download() as download:
        client.click("#certificates a.qc-download")
    with open(download.value.path(), "rb") as fh:
        pdf = fh.read()
    cert = Certificate.objects.get(request=req)
    assert hashlib.sha256(pdf).hexdigest() == cert.sha256
    client.goto(f"{url}/qc/verify/{cert.uuid}/")
    client.set_input_files("input[name=file]", download.value.path())
    client.click("form.form button.primary")
    client.wait_for_selector("#verdict:has-text('matches the certificate issued')")
