"""In Chromium, the bank's day from registration to dispatch: a technician registers a donor
and consent, a collection with SPREC, processes it into aliquots placed in a box, QA releases
them from quarantine, the technician drafts a distribution by scanning; QA (a second browser
session) signs the release; the aliquots are issued and the dispatch note is offered."""

from __future__ import annotations

from typing import Any

import pytest

from celltrace.audit.verification import verify_database
from celltrace.bank.choices import AliquotStatus, DistributionStatus
from celltrace.bank.models import Aliquot, Collection, Distribution, Donor
from celltrace.storage.models import Placement
from tests.bank import factories
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Any, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"**{next_url}")


def test_donor_to_signed_release(
    browser_page: Any,
    live_server: Any,
    operator: Any,
    client_a: Any,
    make_user: Any,
    qa_user: Any,
) -> None:
    tech = make_user(operator, "bank_technician", username="tech", full_name="Tom Technician")
    store = factories.hierarchy(tech, boxes=1, rows=9, columns=9)
    box = store["boxes"][0]
    base = live_server.url
    page = browser_page
    log_in(page, base, "tech", "/bank/donors/")

    # 1. the donor and a consent covering clinical use
    page.click("#donor-new")
    page.select_option("select[name=organisation]", str(client_a.pk))
    page.fill("input[name=reference]", "BRW-001")
    page.fill("input[name=name]", "Liu Yang")
    page.fill("input[name=national_id]", "110101199201011234")
    page.click("#donor-form button.primary")
    page.wait_for_url("**/bank/donors/*/")
    assert "Liu" not in page.content()
    page.click("#consent-form >> xpath=.. >> summary")
    page.fill("input[name=consent-version]", "3.1")
    page.fill("input[name=consent-signed_on]", "2026-01-20")
    page.check("input[name=consent-clinical]")
    page.click("#consent-form button.primary")
    page.wait_for_selector("text=The consent was recorded.")
    assert "3.1" in page.locator("#consents").inner_text()

    # 2. a collection (DIN allocated, SPREC from its elements)
    page.click("#collection-new")
    page.select_option("select[name=collection_type]", "apheresis")
    page.fill("input[name=collected_at]", "2026-02-10T07:30")
    page.fill("input[name=volume_ml]", "200")
    for name, value in (
        ("type_of_sample", "CEL"),
        ("primary_container", "ACD"),
        ("pre_centrifugation", "A"),
        ("centrifugation", "M"),
        ("second_centrifugation", "N"),
        ("post_centrifugation", "N"),
        ("long_term_storage", "C"),
    ):
        page.select_option(f"select[name=sprec_{name}]", value)
    page.click("#collection-form button.primary")
    page.wait_for_url("**/bank/collections/*/")
    assert page.locator("#sprec").inner_text() == "CEL-ACD-A-M-N-N-C"

    # 3. processing into three aliquots placed in the box at once
    page.click("#process-link")
    page.select_option("select[name=product_type]", "pbmc")
    page.fill("input[name=pdc]", "S9001")
    page.fill("input[name=processed_at]", "2026-02-10T11:00")
    page.fill("input[name=count]", "3")
    page.fill("input[name=volume_ul]", "1000")
    page.fill("input[name=viability_pct]", "93.5")
    page.check("input[name=place]")
    page.select_option("select[name=unit]", str(store["unit"].pk))
    page.click("#process-form button.primary")
    page.wait_for_url("**/bank/collections/*/?batch=*")
    assert page.locator("tr.new").count() == 3
    assert page.locator("p.labels a.button").count() == 4  # the label sheet is offered
    donor = Donor.objects.get(reference="BRW-001")
    aliquots = list(Aliquot.objects.filter(product__collection__donor=donor).order_by("division"))
    assert [a.division for a in aliquots] == ["A0", "B0", "C0"]
    assert list(
        Placement.objects.filter(aliquot__in=aliquots, removed_at__isnull=True)
        .order_by("aliquot_id")
        .values_list("position__box_id", "position__label")
    ) == [(box.pk, "A1"), (box.pk, "A2"), (box.pk, "A3")]
    assert Collection.objects.get(donor=donor).sprec_code == "CEL-ACD-A-M-N-N-C"

    # QA releases them from quarantine (second browser session)
    qa_context = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
    qa = qa_context.new_page()
    qa.set_default_timeout(30_000)
    try:
        log_in(qa, base, "qa", f"/bank/aliquots/{aliquots[0].pk}/")
        for a in aliquots[:2]:
            qa.goto(f"{base}/bank/aliquots/{a.pk}/")
            qa.select_option("select[name=status-status]", "available")
            qa.fill("input[name=status-reason]", "QC passed")
            qa.click("#status-form button")
            qa.wait_for_selector("text=The status was changed.")

        # 4. the technician drafts the distribution by scanning the two labels
        page.goto(f"{base}/bank/distributions/")
        page.click("#distribution-new")
        page.fill("input[name=recipient_name]", "Ruijin Hospital, cell therapy")
        page.fill("textarea[name=recipient_address]", "197 Ruijin Er Road, Shanghai")
        page.select_option("select[name=intended_use]", "clinical")
        page.select_option("select[name=shipping_conditions]", "ln2_dry_shipper")
        scan = page.locator("textarea[name=aliquots]")
        for a in aliquots[:2]:
            scan.press_sequentially(a.barcode)
            scan.press("Enter")
        page.click("#distribution-form button.primary")
        page.wait_for_url("**/bank/distributions/*/")
        dist = Distribution.objects.get()
        assert dist.status == DistributionStatus.DRAFT
        assert page.locator("#dist-items tbody tr").count() == 2

        # 5. QA signs the release
        qa.goto(f"{base}/bank/distributions/{dist.pk}/")
        qa.click("a.button:has-text('Sign')")
        qa.wait_for_url("**/sign/bank.distribution/**")
        qa.fill("input[name=password]", PASSWORD)
        qa.click("button.primary")
        qa.wait_for_url(f"**/bank/distributions/{dist.pk}/")
        assert "Quinn Assurance" in qa.locator("section.signatures").inner_text()
        assert qa.locator("#dispatch-note").count() == 1
    finally:
        qa_context.close()

    dist.refresh_from_db()
    assert dist.status == DistributionStatus.RELEASED
    statuses = dict(
        Aliquot.objects.filter(pk__in=[a.pk for a in aliquots]).values_list("pk", "status")
    )
    assert statuses == {
        aliquots[0].pk: AliquotStatus.ISSUED,
        aliquots[1].pk: AliquotStatus.ISSUED,
        aliquots[2].pk: AliquotStatus.QUARANTINE,
    }
    assert Placement.objects.filter(aliquot__in=aliquots, removed_at__isnull=True).count() == 1
    # the technician's view of the issued aliquot shows the custody hand-over
    page.goto(f"{base}/bank/aliquots/{aliquots[0].pk}/")
    timeline = page.locator("#timeline").inner_text()
    assert "ALIQUOT_DISPATCHED" in timeline and "Ruijin Hospital" in timeline
    assert verify_database().ok


def test_storage_desk_with_a_scanner(
    browser_page: Any, live_server: Any, operator: Any, client_a: Any, make_user: Any
) -> None:
    """A scanner types and sends Enter: aliquot, then box; then the box stays for the next."""
    tech = make_user(operator, "bank_technician", username="tech", full_name="Tom Technician")
    box = factories.hierarchy(tech, boxes=1, rows=9, columns=9)["boxes"][0]
    first, second = factories.aliquots(tech, client_a, 2, reference="SCAN-1")
    page = browser_page
    log_in(page, live_server.url, "tech", "/bank/desk/")
    page.locator("input[name=code]:focus").wait_for()  # the cursor starts in the aliquot field
    page.keyboard.type(first.barcode)
    page.keyboard.press("Enter")
    page.wait_for_selector("#desk-found")
    page.locator("input[name=box]:focus").wait_for()  # now in the box field
    page.keyboard.type(box.barcode)
    page.keyboard.press("Enter")
    page.wait_for_selector("#desk-done")
    assert "B1 / A1" in page.locator("ul.messages").inner_text()
    page.locator("input[name=code]:focus").wait_for()  # back in the aliquot field, box kept
    assert page.locator("input[name=box]").input_value() == box.barcode
    page.keyboard.type(second.barcode)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#desk-done >> text={second}")
    assert list(
        Placement.objects.filter(aliquot__in=[first, second], removed_at__isnull=True)
        .order_by("aliquot_id")
        .values_list("position__label", flat=True)
    ) == ["A1", "A2"]
