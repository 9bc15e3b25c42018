"""Bank and storage pages offer what the user may use: the import link and label sheets only to
bank staff, the status dropdown only the allowed next statuses the user's roles may set, the
aliquot's Move and Retrieve forms and the Storage desk tab only to those who may change storage
(a forged request is still refused, with nothing written), and the box legend counts the free
positions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from celltrace.audit.models import AuditEvent
from celltrace.bank.choices import AliquotStatus
from celltrace.bank.models import Donor
from celltrace.storage.models import Placement
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
    tech: Any, qa_user: Any, admin_user: Any, client_a: Any
) -> None:
    [quarantined] = factories.aliquots(
        tech, client_a, 1, reference="Q-1", status=AliquotStatus.QUARANTINE
    )
    [available] = factories.aliquots(tech, client_a, 1, reference="A-1")
    page = login("admin").get(f"/bank/aliquots/{quarantined.pk}/").content.decode()
    assert status_options(page) == ["", "available", "discarded"]
    c = login("tech")
    page = c.get(f"/bank/aliquots/{quarantined.pk}/").content.decode()
    # release from quarantine is for QA or an administrator (services.require_status_role)
    assert status_options(page) == ["", "discarded"]
    assert '<option value="" selected>' in page  # no status is preselected
    page = c.get(f"/bank/aliquots/{available.pk}/").content.decode()
    assert status_options(page) == ["", "quarantine", "reserved", "issued", "thawed", "discarded"]

    # a status outside the allowed ones is refused by the form, and nothing changes: neither
    # one the life cycle forbids nor the release the technician's roles do not allow
    before = AuditEvent.objects.count()
    for status in ("issued", "available"):
        response = c.post(
            f"/bank/aliquots/{quarantined.pk}/",
            {"action": "status", "status-status": status, "status-reason": "try"},
        )
        assert response.status_code == 200
        quarantined.refresh_from_db()
        assert quarantined.status == AliquotStatus.QUARANTINE
    assert AuditEvent.objects.count() == before

    # the QA release from quarantine still goes through the page
    response = login("qa").post(
        f"/bank/aliquots/{quarantined.pk}/",
        {"action": "status", "status-status": "available", "status-reason": "QC passed"},
    )
    assert response.status_code == 302
    quarantined.refresh_from_db()
    assert quarantined.status == AliquotStatus.AVAILABLE


def test_qa_is_offered_only_the_release_from_quarantine(
    tech: Any, qa_user: Any, client_a: Any
) -> None:
    [quarantined] = factories.aliquots(
        tech, client_a, 1, reference="Q-1", status=AliquotStatus.QUARANTINE
    )
    [available] = factories.aliquots(tech, client_a, 1, reference="A-1")
    qa = login("qa")
    assert status_options(qa.get(f"/bank/aliquots/{quarantined.pk}/").content.decode()) == [
        "",
        "available",
    ]
    page = qa.get(f"/bank/aliquots/{available.pk}/").content.decode()
    assert 'id="status-form"' not in page
    assert "Allowed next" in page  # the life cycle is still shown

    # QA's forged status changes are refused, and nothing is written
    before = AuditEvent.objects.count()
    for aliquot, status in [(available, "discarded"), (quarantined, "discarded")]:
        response = qa.post(
            f"/bank/aliquots/{aliquot.pk}/",
            {"action": "status", "status-status": status, "status-reason": "forged"},
        )
        assert response.status_code == 200
        # shown on the form, or as a message where the page shows no status form
        assert "is not one of the available choices" in response.content.decode()
        aliquot.refresh_from_db()
    assert (available.status, quarantined.status) == (
        AliquotStatus.AVAILABLE,
        AliquotStatus.QUARANTINE,
    )
    assert AuditEvent.objects.count() == before


def test_move_and_retrieve_only_for_storage_roles(
    tech: Any, qa_user: Any, admin_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    first, second = store["boxes"]
    [aliquot] = factories.aliquots(tech, client_a, 1, positions=factories.positions_of(first)[:1])
    url = f"/bank/aliquots/{aliquot.pk}/"
    for username, shown in [("tech", True), ("admin", True), ("qa", False)]:
        page = login(username).get(url).content.decode()
        assert ('id="move-form"' in page) is shown, username
        assert ('id="retrieve-form"' in page) is shown, username
        assert 'id="location"' in page, username  # everyone on the operator's side sees where

    # QA's forged move and retrieval are refused by the storage service; nothing is written
    qa = login("qa")
    placement = Placement.objects.get(aliquot=aliquot, removed_at__isnull=True)
    before = AuditEvent.objects.count()
    moved = qa.post(
        url,
        {
            "action": "move",
            "move-box": second.barcode,
            "move-position": "A1",
            "move-reason": "forged",
        },
    )
    retrieved = qa.post(url, {"action": "retrieve", "reason": "forged"})
    for response in (moved, retrieved):
        assert response.status_code == 200
        assert "Only bank technicians and administrators" in response.content.decode()
    assert AuditEvent.objects.count() == before
    assert Placement.objects.get(aliquot=aliquot, removed_at__isnull=True) == placement


def test_storage_desk_tab_only_for_storage_roles(
    tech: Any, qa_user: Any, admin_user: Any, operator: Any, client_a: Any, make_user: Any
) -> None:
    make_user(operator, "qc_analyst", username="analyst")
    make_user(client_a, "client_user", username="alice")
    for username, shown in [
        ("tech", True),
        ("admin", True),
        ("qa", False),
        ("analyst", False),
        ("alice", False),
    ]:
        client = login(username)
        page = client.get("/bank/donors/").content.decode()
        assert "bank-subnav" in page, username
        assert ('href="/bank/desk/"' in page) is shown, username
        # and the desk itself: its every action changes storage
        desk = client.get("/bank/desk/")
        expected = 200 if shown else (404 if username == "alice" else 403)
        assert desk.status_code == expected, username
        if expected == 403:
            assert "Only bank technicians" in desk.content.decode()


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


def test_collection_form_offers_sprec_options_in_the_page_language(
    tech: Any, client_a: Any
) -> None:
    factories.aliquots(tech, client_a, 1, reference="D-9")
    url = f"/bank/donors/{Donor.objects.get(reference='D-9').pk}/collections/new/"
    c = login("tech")
    assert "Cryotube 1–2 mL, liquid nitrogen" in c.get(url).content.decode()
    c.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    page = c.get(url).content.decode()
    assert "C · 冻存管 1–2 mL，液氮" in page
    assert "BMA · 骨髓穿刺液" in page
    assert "Cryotube" not in page and "Bone marrow" not in page
