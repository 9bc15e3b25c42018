"""In Chromium: upload an inventory, watch its progress, see the result; then a bad file and
its list of problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from celltrace.bank.models import Aliquot
from celltrace.imports.inventory import COLUMN_NAMES
from tests.bank import factories
from tests.conftest import PASSWORD
from tests.imports.conftest import csv_bytes, din, join_import_threads, row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = 4000


def _big() -> bytes:
    rows = []
    for i in range(ROWS):
        box, cell = divmod(i, 100)
        rows.append(
            {
                **dict.fromkeys(COLUMN_NAMES, ""),
                "donor_reference": f"PW-{i // 40}",
                "din": din(i // 4 + 1, year=24),
                "collection_type": "cord_blood",
                "collected_at": "2024-05-06T10:00:00Z",
                "collection_volume_ml": "80",
                "product_type": "cd34",
                "product_code": f"S1234V{'ABCD'[i % 4]}0",
                "container": "cryovial_5ml",  # into 10 x 10 vial boxes
                "volume_ul": "4000",
                "storage_path": f"main/pw/R1/B{box + 1}",
                "position": f"{'ABCDEFGHIJ'[cell // 10]}{cell % 10 + 1}",
            }
        )
    return csv_bytes(rows)


def test_upload_progress_result_and_problems(
    browser_page: Any,
    live_server: Any,
    operator: Any,
    client_a: Any,
    make_user: Any,
    tmp_path: Path,
) -> None:
    tech = make_user(operator, "bank_technician", username="tech", full_name="Tom Technician")
    factories.hierarchy(tech, boxes=ROWS // 100, rows=10, columns=10, code="pw")
    good = tmp_path / "legacy-inventory.csv"
    good.write_bytes(_big())

    page = browser_page
    page.goto(f"{live_server.url}/login/?next=/bank/")
    page.fill("input[name=username]", "tech")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/bank/")
    page.click("a[href='/imports/']")
    page.wait_for_url("**/imports/")

    page.select_option("select[name=organisation]", label="Client A")
    page.set_input_files("input[name=file]", str(good))
    page.fill("textarea[name=reason]", "Migration from the paper ledger")
    page.click("form.import-upload button.primary")
    page.wait_for_url("**/imports/*/")
    # the progress block is shown (and polled) until the run finishes
    assert page.locator("#import-progress").count() == 1
    seen_bar = page.locator("progress.import-bar").count() == 1
    page.wait_for_selector("table.import-counts", timeout=180_000)
    assert seen_bar, "the progress bar was not shown while the import ran"
    text = page.locator("#import-progress").inner_text()
    assert f"{ROWS} aliquots written" in text.replace(",", "")
    assert Aliquot.objects.filter(organisation=client_a).count() == ROWS

    bad = tmp_path / "bad.csv"
    rows = [row(0, storage_path="main/pw/R1/B1", position="K1", din=din(1, year=23))]
    bad.write_bytes(csv_bytes(rows))
    page.goto(f"{live_server.url}/imports/")
    page.select_option("select[name=organisation]", label="Client A")
    page.set_input_files("input[name=file]", str(bad))
    page.fill("textarea[name=reason]", "second try")
    page.click("form.import-upload button.primary")
    page.wait_for_selector("table.import-errors", timeout=60_000)
    join_import_threads()
    cells = page.locator("table.import-errors tbody tr").first.locator("td").all_inner_texts()
    assert cells[0] == "2" and cells[1] == "position" and cells[2] == "K1"
    assert Aliquot.objects.count() == ROWS
