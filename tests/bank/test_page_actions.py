"""Bank and storage pages offer what the user may use: the import link and label sheets only to
bank staff, the status dropdown only the allowed next statuses, and the box legend counts the
free positions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from celltrace.bank.choices import AliquotStatus
from tests.bank import factories
from tests.bank.test_pages import login

pytestmark = pytest.mark.django_db


def test_import_link_only_for_bank_staff(
    tech: Any, qa_user: Any, admin_user: Any, client_a: Any, make_user: Any
) -> None:
    make_user(client_a, "client_user", username="alice")
    for username, shown, imports in [
        ("tech", True, 200),
        ("admin", True, 200),
        ("qa", False, 403),
        ("alice", False, 404),
    ]:
        c = login(username)
        page = c.get("/bank/").content.decode()
        assert ('href="/imports/"' in page) is shown, username
        assert c.get("/imports/").status_code == imports, username


def test_label_buttons_only_for_bank_staff(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    box = store["boxes"][0]
    [aliquot] = factories.aliquots(tech, client_a, 1, positions=factories.positions_of(box)[:1])
    labels = f"/bank/labels.pdf?aliquot={aliquot.pk}"
    box_labels = f"/bank/labels.pdf?box={box.pk}"
    tech_c, qa_c = login("tech"), login("qa")
    assert labels in tech_c.get(f"/bank/aliquots/{aliquot.pk}/").content.decode()
    assert box_labels in tech_c.get(f"/storage/boxes/{box.pk}/").content.decode()
    assert tech_c.get(labels).status_code == 200
    assert labels not in qa_c.get(f"/bank/aliquots/{aliquot.pk}/").content.decode()
    assert box_labels not in qa_c.get(f"/storage/boxes/{box.pk}/").content.decode()
    assert qa_c.get(labels).status_code == 404


def status_options(page: str) -> list[str]:
    select = re.search(r'<select name="status-status"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_status_dropdown_offers_only_the_allowed_next_statuses(
    tech: Any, qa_user: Any, client_a: Any
) -> None:
    [quarantined] = factories.aliquots(
        tech, client_a, 1, reference="Q-1", status=AliquotStatus.QUARANTINE
    )
    [available] = factories.aliquots(tech, client_a, 1, reference="A-1")
    c = login("tech")
    page = c.get(f"/bank/aliquots/{quarantined.pk}/").content.decode()
    assert status_options(page) == ["", "available", "discarded"]
    assert '<option value="" selected>' in page  # no status is preselected
    page = c.get(f"/bank/aliquots/{available.pk}/").content.decode()
    assert status_options(page) == ["", "quarantine", "reserved", "issued", "thawed", "discarded"]

    # a status outside the allowed ones is refused by the form, and nothing changes
    response = c.post(
        f"/bank/aliquots/{quarantined.pk}/",
        {"action": "status", "status-status": "issued", "status-reason": "try"},
    )
    assert response.status_code == 200
    quarantined.refresh_from_db()
    assert quarantined.status == AliquotStatus.QUARANTINE

    # the QA release from quarantine still goes through the page
    response = login("qa").post(
        f"/bank/aliquots/{quarantined.pk}/",
        {"action": "status", "status-status": "available", "status-reason": "QC passed"},
    )
    assert response.status_code == 302
    quarantined.refresh_from_db()
    assert quarantined.status == AliquotStatus.AVAILABLE


def test_final_status_shows_no_status_form(tech: Any, client_a: Any) -> None:
    [issued] = factories.aliquots(tech, client_a, 1, status=AliquotStatus.ISSUED)
    page = login("tech").get(f"/bank/aliquots/{issued.pk}/").content.decode()
    assert 'id="status-form"' not in page


def test_box_legend_counts_free_positions(tech: Any, client_a: Any, store: dict[str, Any]) -> None:
    box = store["boxes"][0]  # 9 × 9
    factories.aliquots(tech, client_a, 3, positions=factories.positions_of(box)[:3])
    page = login("tech").get(f"/storage/boxes/{box.pk}/").content.decode()
    legend = page.split('<ul class="legend">')[1].split("</ul>")[0]
    assert re.search(r"Free \(78\)", legend), legend
    assert "−" not in legend
