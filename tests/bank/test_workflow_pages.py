"""The technician's daily pages: donor registration, consent and withdrawal, collection
registration, processing into aliquots placed at once, the storage desk, distributions with
QA's signed release and the dispatch note; the hierarchy pages. Happy paths, errors that
change nothing, client users read-only and 404 on foreign objects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.verification import verify_database
from celltrace.bank import isbt128
from celltrace.bank import services as bank
from celltrace.bank.choices import AliquotStatus, DistributionStatus
from celltrace.bank.models import Aliquot, Collection, Consent, Distribution, Donor, Product
from celltrace.storage.models import Box, BoxType, Placement, Rack, Site, StorageUnit
from tests.bank import factories
from tests.conftest import PASSWORD, post_sign_form

pytestmark = pytest.mark.django_db


def login(username: str) -> Client:
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def count() -> int:
    return AuditEvent.objects.count()


@pytest.fixture
def alice(client_a: Any, make_user: Any) -> Any:
    return make_user(client_a, "client_user", username="alice")


# --- donors and consents --------------------------------------------------------------------


def test_register_a_donor_then_a_consent_then_withdraw_it(
    tech: Any, client_a: Any, alice: Any
) -> None:
    c = login("tech")
    assert c.get("/bank/donors/new/").status_code == 200
    response = c.post(
        "/bank/donors/new/",
        {
            "organisation": client_a.pk,
            "reference": "AUR-0001",
            "name": "Wang Fang",
            "national_id": "110101198001011234",
            "phone": "+86 139 0000 1111",
            "date_of_birth": "1980-01-01",
        },
    )
    donor = Donor.objects.get(reference="AUR-0001")
    assert response.status_code == 302 and response["Location"] == f"/bank/donors/{donor.pk}/"
    page = c.get(response["Location"]).content.decode()
    assert "W*** F***" in page and "Wang" not in page and "110101198001011234" not in page
    ok = c.post(
        f"/bank/donors/{donor.pk}/",
        {
            "action": "consent",
            "consent-version": "3.0",
            "consent-signed_on": "2026-01-05",
            "consent-storage": "on",
            "consent-research": "on",
        },
    )
    assert ok.status_code == 302
    consent = Consent.objects.get(donor=donor)
    assert consent.scope_research and not consent.scope_clinical
    # a withdrawal needs a reason; without one nothing changes
    before = count()
    bad = c.post(
        f"/bank/donors/{donor.pk}/",
        {"action": "withdraw", "withdraw-consent": consent.pk, "withdraw-reason": ""},
    )
    assert bad.status_code == 200 and count() == before
    consent.refresh_from_db()
    assert consent.withdrawn_at is None
    done = c.post(
        f"/bank/donors/{donor.pk}/",
        {"action": "withdraw", "withdraw-consent": consent.pk, "withdraw-reason": "donor asked"},
    )
    assert done.status_code == 302
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert AuditEvent.objects.where(event_type="CONSENT_WITHDRAWN").count() == 1
    # the client sees its donor read-only: no forms
    mine = login("alice").get(f"/bank/donors/{donor.pk}/").content.decode()
    assert "consent-form" not in mine and "withdraw-form" not in mine
    assert (
        login("alice")
        .post(
            f"/bank/donors/{donor.pk}/",
            {"action": "consent", "consent-version": "9", "consent-signed_on": "2026-01-05"},
        )
        .status_code
        == 404
    )
    assert Consent.objects.filter(donor=donor).count() == 1


def test_donor_form_errors_change_nothing(tech: Any, client_a: Any, alice: Any) -> None:
    factories.donor(tech, client_a, "DUP-1")
    c = login("tech")
    before = (count(), Donor.objects.count())
    dup = c.post("/bank/donors/new/", {"organisation": client_a.pk, "reference": "DUP-1"})
    assert dup.status_code == 200
    assert "already used" in dup.content.decode()
    future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)).isoformat()
    donor = Donor.objects.get(reference="DUP-1")
    bad = c.post(
        f"/bank/donors/{donor.pk}/",
        {"action": "consent", "consent-version": "1", "consent-signed_on": future},
    )
    assert "cannot be signed in the future" in bad.content.decode()
    assert (count(), Donor.objects.count()) == before
    assert Consent.objects.filter(donor=donor).count() == 1
    # client users never get the registration form
    assert login("alice").get("/bank/donors/new/").status_code == 404


def test_only_who_may_register_a_donor_is_offered_the_form(
    tech: Any, operator: Any, make_user: Any
) -> None:
    """The form asks for personal data: laboratory staff who may not register a donor are
    not offered it (they filled it in for nothing), the technician is."""
    make_user(operator, "qc_analyst", username="ana")
    analyst = login("ana")
    assert 'id="donor-new"' not in analyst.get("/bank/donors/").content.decode()
    assert analyst.get("/bank/donors/new/").status_code == 403
    technician = login(tech.username)
    assert 'id="donor-new"' in technician.get("/bank/donors/").content.decode()
    assert technician.get("/bank/donors/new/").status_code == 200


def test_a_donor_list_cut_at_two_hundred_says_so(tech: Any, client_a: Any) -> None:
    for n in range(201):
        bank.donor_create(actor=tech, organisation=client_a, reference=f"CUT-{n:03d}")
    page = login(tech.username).get("/bank/donors/").content.decode()
    assert page.count("/bank/donors/") >= 200
    assert "Showing the first 200 of 201 donors" in page
    narrowed = login(tech.username).get("/bank/donors/?reference=CUT-2").content.decode()
    assert "CUT-200" in narrowed and 'id="donors-cut"' not in narrowed


# --- collections and processing -------------------------------------------------------------


def test_register_a_collection_with_sprec_and_process_it_into_placed_aliquots(
    tech: Any, client_a: Any, store: dict[str, Any], alice: Any
) -> None:
    donor = factories.donor(tech, client_a, "COL-1")
    c = login("tech")
    form = {
        "collection_type": "apheresis",
        "collected_at": "2026-02-03T08:15",
        "volume_ml": "210.5",
        "collection_site": "Ruijin apheresis unit",
        "din": "",
        "sprec_type_of_sample": "CEL",
        "sprec_primary_container": "ACD",
        "sprec_pre_centrifugation": "A",
        "sprec_centrifugation": "M",
        "sprec_second_centrifugation": "N",
        "sprec_post_centrifugation": "N",
        "sprec_long_term_storage": "C",
    }
    response = c.post(f"/bank/donors/{donor.pk}/collections/new/", form)
    assert response.status_code == 302
    coll = Collection.objects.get(donor=donor)
    assert coll.sprec_code == "CEL-ACD-A-M-N-N-C"
    assert coll.collected_at == dt.datetime(2026, 2, 3, 8, 15, tzinfo=dt.UTC)
    assert coll.din.startswith("A999926")
    page = c.get(response["Location"]).content.decode()
    assert "CEL-ACD-A-M-N-N-C" in page and "process-link" in page
    processed = c.post(
        f"/bank/collections/{coll.pk}/process/",
        {
            "product_type": "pbmc",
            "pdc": "S9001",
            "isbt_collection_type": "1",
            "processed_at": "2026-02-03T12:00",
            "count": "4",
            "container_type": "cryovial_1_8ml",
            "volume_ul": "1000",
            "cell_count": "10000000",
            "viability_pct": "95.5",
            "expiry": "2036-02-03T00:00",
            "place": "on",
            "unit": str(store["unit"].pk),
            "reason": "run 7",
        },
    )
    assert processed.status_code == 302 and "?batch=" in processed["Location"]
    aliquots = list(Aliquot.objects.filter(product__collection=coll).order_by("division"))
    assert [a.division for a in aliquots] == ["A0", "B0", "C0", "D0"]
    assert Placement.objects.filter(aliquot__in=aliquots, removed_at__isnull=True).count() == 4
    detail = c.get(processed["Location"]).content.decode()
    assert detail.count('class="new"') == 4
    assert "/bank/labels.pdf?" in detail  # the label sheet is offered
    # the client sees its collection read-only, the process page not at all
    mine = login("alice").get(f"/bank/collections/{coll.pk}/").content.decode()
    assert "process-link" not in mine and "/bank/labels.pdf" not in mine
    assert login("alice").get(f"/bank/collections/{coll.pk}/process/").status_code == 404
    assert verify_database().ok


def test_collection_and_processing_errors_name_the_field_and_change_nothing(
    tech: Any, client_a: Any
) -> None:
    donor = factories.donor(tech, client_a, "COL-2")
    c = login("tech")
    din = bank.din_allocate(count=1, year=2026)[0]
    wrong = "A" if isbt128.check_character(din) != "A" else "B"
    before = (count(), Collection.objects.count())
    base = {"collection_type": "apheresis", "collected_at": "2026-02-03T08:15", "volume_ml": "5"}
    bad_din = c.post(f"/bank/donors/{donor.pk}/collections/new/", {**base, "din": din + wrong})
    assert "check character" in bad_din.content.decode()
    partial = c.post(
        f"/bank/donors/{donor.pk}/collections/new/", {**base, "sprec_type_of_sample": "CEL"}
    )
    assert "choose every element or none" in partial.content.decode()
    assert (count(), Collection.objects.count()) == before
    coll = bank.collection_create(
        actor=tech,
        donor=donor,
        collection_type="apheresis",
        collected_at=dt.datetime(2026, 2, 3, 8, 0, tzinfo=dt.UTC),
        volume_ml=Decimal("5"),
    )
    before = (count(), Product.objects.count())
    early = c.post(
        f"/bank/collections/{coll.pk}/process/",
        {
            "product_type": "pbmc",
            "pdc": "S9001",
            "isbt_collection_type": "1",
            "processed_at": "2026-02-01T12:00",
            "count": "2",
            "container_type": "cryovial_1_8ml",
            "volume_ul": "1000",
        },
    )
    assert early.status_code == 200
    assert "cannot come before the collection" in early.content.decode()
    assert (count(), Product.objects.count()) == before


def test_foreign_donors_and_collections_are_404_for_clients(
    tech: Any, client_b: Any, alice: Any
) -> None:
    donor = factories.donor(tech, client_b, "B-9")
    coll = bank.collection_create(
        actor=tech,
        donor=donor,
        collection_type="apheresis",
        collected_at=dt.datetime(2026, 2, 3, 8, 0, tzinfo=dt.UTC),
        volume_ml=Decimal("5"),
    )
    c = login("alice")
    for url in (
        f"/bank/donors/{donor.pk}/",
        f"/bank/collections/{coll.pk}/",
        f"/bank/donors/{donor.pk}/collections/new/",
        "/bank/desk/",
        "/bank/distributions/new/",
    ):
        assert c.get(url).status_code == 404, url


# --- the storage desk -----------------------------------------------------------------------


def test_desk_place_move_retrieve_return_with_scans(
    tech: Any, client_a: Any, store: dict[str, Any]
) -> None:
    b1, b2 = store["boxes"]
    a = factories.aliquots(tech, client_a, 1, reference="DESK-1")[0]
    c = login("tech")
    assert c.get("/bank/desk/").status_code == 200
    placed = c.post("/bank/desk/", {"action": "place", "code": a.barcode, "box": b1.barcode})
    assert placed.status_code == 200 and "t1 / R1 / B1 / A1" in placed.content.decode()
    moved = c.post(
        "/bank/desk/",
        {"action": "move", "code": a.din, "box": b2.barcode, "position": "c3", "reason": "sort"},
    )
    assert "t1 / R1 / B2 / C3" in moved.content.decode()
    c.post("/bank/desk/", {"action": "retrieve", "code": a.barcode, "reason": "QC sampling"})
    assert not Placement.objects.filter(aliquot=a, removed_at__isnull=True).exists()
    back = c.post("/bank/desk/", {"action": "return", "code": a.barcode, "box": b2.barcode})
    assert "B2 / A1" in back.content.decode()
    events = list(
        AuditEvent.objects.with_fields()
        .filter(f_entity_type="bank.aliquot", f_entity_id=str(a.pk))
        .order_by("seq")
        .values_list("f_event_type", flat=True)
    )
    assert events == ["ALIQUOT_PLACED", "ALIQUOT_MOVED", "ALIQUOT_RETRIEVED", "ALIQUOT_RETURNED"]


def test_desk_errors_change_nothing(tech: Any, client_a: Any, store: dict[str, Any]) -> None:
    b1 = store["boxes"][0]
    first, second = factories.aliquots(tech, client_a, 2, reference="DESK-2")
    c = login("tech")
    c.post("/bank/desk/", {"action": "place", "code": first.barcode, "box": b1.barcode})
    before = (count(), Placement.objects.count())
    taken = c.post(
        "/bank/desk/",
        {"action": "place", "code": second.barcode, "box": b1.barcode, "position": "A1"},
    )
    assert "A1 is already occupied." in taken.content.decode()
    unknown = c.post("/bank/desk/", {"action": "place", "code": "NOPE-1", "box": b1.barcode})
    assert "No aliquot matches NOPE-1" in unknown.content.decode()
    # the aliquot scanned first: the desk says where it is and waits for the box
    nobox = c.post("/bank/desk/", {"action": "place", "code": second.barcode, "box": ""})
    text = nobox.content.decode()
    assert "now scan the box" in text and "not in storage" in text
    assert f'value="{second.barcode}"' in text
    no_reason = c.post("/bank/desk/", {"action": "retrieve", "code": first.barcode})
    assert no_reason.status_code == 200
    assert (count(), Placement.objects.count()) == before


# --- distributions --------------------------------------------------------------------------


def _available(tech: Any, qa: Any, org: Any, store: dict[str, Any], n: int, ref: str) -> list[Any]:
    items = factories.aliquots(
        tech,
        org,
        n,
        reference=ref,
        status=AliquotStatus.AVAILABLE,
        positions=factories.positions_of(store["boxes"][0])[:n],
    )
    return items


def test_draft_sign_and_print_a_distribution(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any], alice: Any
) -> None:
    items = _available(tech, qa_user, client_a, store, 2, "DIST-1")
    c = login("tech")
    response = c.post(
        "/bank/distributions/new/",
        {
            "recipient_organisation": client_a.pk,
            "recipient_name": "Ruijin Hospital",
            "recipient_address": "Shanghai",
            "intended_use": "clinical",
            "shipping_conditions": "ln2_dry_shipper",
            "aliquots": f"{items[0].barcode}\n\n {items[1].barcode}\n",
        },
    )
    assert response.status_code == 302
    dist = Distribution.objects.get()
    page = c.get(response["Location"]).content.decode()
    assert dist.number in page and "Ruijin Hospital" in page
    assert "/sign/" not in page  # the technician who drafted it does not get the sign link
    client_view = login("alice").get(f"/bank/distributions/{dist.pk}/")
    assert client_view.status_code == 200
    assert "/sign/" not in client_view.content.decode()  # the client only reads
    assert c.get(f"/bank/distributions/{dist.pk}/dispatch-note.pdf").status_code == 404
    qa = login("qa")
    detail = qa.get(f"/bank/distributions/{dist.pk}/").content.decode()
    assert f"/sign/bank.distribution/{dist.pk}/?meaning=released" in detail
    signed = post_sign_form(
        qa,
        f"/sign/bank.distribution/{dist.pk}/?meaning=released",
        {"meaning": "released", "password": PASSWORD, "otp_token": "", "comment": ""},
    )
    assert signed.status_code == 302
    dist.refresh_from_db()
    assert dist.status == DistributionStatus.RELEASED
    assert set(
        Aliquot.objects.filter(pk__in=[i.pk for i in items]).values_list("status", flat=True)
    ) == {AliquotStatus.ISSUED}
    released = qa.get(f"/bank/distributions/{dist.pk}/").content.decode()
    assert "dispatch-note" in released and "Quinn Assurance" in released
    # the release issued the aliquots: QA (who may withdraw signatures) is offered no
    # "Withdraw", and the withdrawal page says why instead of showing a form
    signature = Signature.objects.get(record_type="bank.distribution", record_id=str(dist.pk))
    assert f"/signatures/{signature.pk}/withdraw/" not in released
    withdraw = qa.get(f"/signatures/{signature.pk}/withdraw/").content.decode()
    assert "have left the bank" in withdraw and 'name="reason"' not in withdraw
    on_aliquot = c.get(f"/bank/aliquots/{items[0].pk}/").content.decode()
    assert f'href="/bank/distributions/{dist.pk}/">{dist.number}</a>' in on_aliquot
    pdf = c.get(f"/bank/distributions/{dist.pk}/dispatch-note.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert login("alice").get(f"/bank/distributions/{dist.pk}/dispatch-note.pdf").status_code == 200
    assert verify_database().ok


def test_distribution_outside_consent_is_refused_on_the_page(
    tech: Any, qa_user: Any, client_a: Any, client_b: Any, store: dict[str, Any], make_user: Any
) -> None:
    donor = factories.donor(tech, client_a, "NOCLIN", clinical=False, research=True)
    items = factories.aliquots(
        tech, client_a, 1, reference="NOCLIN", existing_donor=True, status=AliquotStatus.AVAILABLE
    )
    assert items[0].product.collection.donor_id == donor.pk
    c = login("tech")
    before = (count(), Distribution.objects.count())
    response = c.post(
        "/bank/distributions/new/",
        {
            "recipient_name": "City clinic",
            "recipient_address": "1 Hospital Road",
            "intended_use": "clinical",
            "shipping_conditions": "ln2_dry_shipper",
            "aliquots": items[0].barcode,
        },
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "no active consent covering Clinical use" in text and "NOCLIN" in text
    bad_line = c.post(
        "/bank/distributions/new/",
        {
            "recipient_name": "City clinic",
            "intended_use": "research",
            "shipping_conditions": "dry_ice",
            "aliquots": f"{items[0].barcode}\nUNKNOWN-9",
        },
    )
    assert "Line 2: No aliquot matches UNKNOWN-9" in bad_line.content.decode()
    assert (count(), Distribution.objects.count()) == before
    # a foreign client's distribution is 404 for alice
    theirs = factories.aliquots(tech, client_b, 1, reference="B-D", status=AliquotStatus.AVAILABLE)
    dist = bank.distribution_create(
        actor=tech,
        aliquots=theirs,
        recipient_name="Lab B",
        intended_use="research",
        shipping_conditions="dry_ice",
    )
    make_user(client_a, "client_user", username="alice")
    alice = login("alice")
    assert alice.get(f"/bank/distributions/{dist.pk}/").status_code == 404
    assert dist.number not in alice.get("/bank/distributions/").content.decode()
    assert not Signature.objects.exists()


def test_cancel_a_draft_from_its_page(
    tech: Any, qa_user: Any, client_a: Any, store: dict[str, Any]
) -> None:
    items = factories.aliquots(tech, client_a, 1, reference="CAN", status=AliquotStatus.AVAILABLE)
    dist = bank.distribution_create(
        actor=tech,
        aliquots=items,
        recipient_name="Lab",
        intended_use="research",
        shipping_conditions="dry_ice",
    )
    c = login("tech")
    before = count()
    assert c.post(f"/bank/distributions/{dist.pk}/", {"reason": ""}).status_code == 200
    assert count() == before
    assert c.post(f"/bank/distributions/{dist.pk}/", {"reason": "courier"}).status_code == 302
    dist.refresh_from_db()
    assert dist.status == DistributionStatus.CANCELLED


# --- storage hierarchy pages ----------------------------------------------------------------


def test_build_the_hierarchy_from_the_pages(tech: Any) -> None:
    c = login("tech")
    assert (
        c.post(
            "/storage/sites/new/", {"name": "Pudong", "code": "pudong", "timezone": "Asia/Shanghai"}
        ).status_code
        == 302
    )
    site = Site.objects.get(code="pudong")
    before = (count(), StorageUnit.objects.count())
    bad = c.post(
        "/storage/units/new/",
        {
            "site": site.pk,
            "name": "Tank P1",
            "code": "p1",
            "kind": "ln2_vapour",
            "set_point_c": "-120",
            "alarm_low_c": "-196",
            "alarm_high_c": "-150",
            "fill_order": "row_major",
        },
    )
    assert "between the low and high alarm limits" in bad.content.decode()
    assert (count(), StorageUnit.objects.count()) == before
    ok = c.post(
        "/storage/units/new/",
        {
            "site": site.pk,
            "name": "Tank P1",
            "code": "p1",
            "kind": "ln2_vapour",
            "set_point_c": "-190",
            "alarm_low_c": "-196",
            "alarm_high_c": "-150",
            "fill_order": "column_major",
        },
    )
    unit = StorageUnit.objects.get(code="p1")
    assert ok["Location"] == f"/storage/units/{unit.pk}/"
    assert c.post(f"/storage/units/{unit.pk}/", {"name": "C1"}).status_code == 302
    dup = c.post(f"/storage/units/{unit.pk}/", {"name": "C1"})
    assert dup.status_code == 200 and Rack.objects.filter(unit=unit).count() == 1
    assert (
        c.post(
            "/storage/box-types/new/", {"name": "9x9", "kind": "vial_box", "rows": 9, "columns": 9}
        ).status_code
        == 302
    )
    too_big = c.post(
        "/storage/box-types/new/", {"name": "huge", "kind": "vial_box", "rows": 27, "columns": 9}
    )
    assert too_big.status_code == 200 and not BoxType.objects.filter(name="huge").exists()
    rack = Rack.objects.get(unit=unit)
    added = c.post(
        f"/storage/racks/{rack.pk}/",
        {
            "action": "box",
            "box-name": "B1",
            "box-box_type": BoxType.objects.get(name="9x9").pk,
            "box-barcode": "P1-C1-B1",
        },
    )
    assert added.status_code == 302
    box = Box.objects.get(barcode="P1-C1-B1")
    assert box.positions.count() == 81
    assert AuditEvent.objects.where(event_type="BOX_CREATED").count() == 1


def test_rack_and_box_moves_from_the_pages(
    tech: Any, client_a: Any, store: dict[str, Any], alice: Any, qa_user: Any
) -> None:
    other = factories.hierarchy(tech, boxes=0, code="t2")
    target_rack = factories.second_rack(tech, other["unit"], "R7")
    c = login("tech")
    b1 = store["boxes"][0]
    moved = c.post(
        f"/storage/boxes/{b1.pk}/",
        {"move-rack": target_rack.pk, "move-reason": "consolidate"},
    )
    assert moved.status_code == 302
    b1.refresh_from_db()
    assert b1.rack_id == target_rack.pk
    rack = store["rack"]
    before = count()
    clash = c.post(
        f"/storage/racks/{rack.pk}/",
        {"action": "move", "move-unit": other["unit"].pk, "move-reason": "defrost"},
    )
    assert "already holds a rack named R1" in clash.content.decode()
    assert count() == before
    Rack.objects.filter(pk=rack.pk).update(name="R1-old")
    ok = c.post(
        f"/storage/racks/{rack.pk}/",
        {"action": "move", "move-unit": other["unit"].pk, "move-reason": "defrost"},
    )
    assert ok.status_code == 302
    rack.refresh_from_db()
    assert rack.unit_id == other["unit"].pk
    # QA (operator, no storage role) is refused by the service; clients get 404
    qa = login("qa")
    refused = qa.post(
        f"/storage/racks/{rack.pk}/",
        {"action": "move", "move-unit": store["unit"].pk, "move-reason": "x"},
    )
    assert "Only bank technicians" in refused.content.decode()
    rack.refresh_from_db()
    assert rack.unit_id == other["unit"].pk
    al = login("alice")
    for url in (f"/storage/racks/{rack.pk}/", f"/storage/boxes/{b1.pk}/", "/storage/units/new/"):
        assert al.get(url).status_code == 404
    assert (
        al.post(f"/storage/boxes/{b1.pk}/", {"move-rack": rack.pk, "move-reason": "x"}).status_code
        == 404
    )


def test_new_pages_stay_within_the_query_budget(
    tech: Any,
    qa_user: Any,
    client_a: Any,
    store: dict[str, Any],
    django_assert_max_num_queries: Any,
) -> None:
    items = factories.aliquots(
        tech,
        client_a,
        20,
        reference="Q-1",
        status=AliquotStatus.AVAILABLE,
        positions=factories.positions_of(store["boxes"][0]),
    )
    dist = bank.distribution_create(
        actor=tech,
        aliquots=items[:10],
        recipient_name="Lab",
        intended_use="research",
        shipping_conditions="dry_ice",
    )
    coll = items[0].product.collection
    c = login("tech")
    for url in (
        f"/bank/collections/{coll.pk}/",
        f"/bank/distributions/{dist.pk}/",
        "/bank/distributions/",
        f"/bank/donors/{coll.donor_id}/",
        f"/bank/aliquots/{items[0].pk}/",
        f"/storage/boxes/{store['boxes'][0].pk}/",
    ):
        c.get(url)  # warm caches outside the count
        with django_assert_max_num_queries(15):
            assert c.get(url).status_code == 200, url


def test_putting_a_retrieved_aliquot_back_from_its_page_is_a_return(
    tech: Any, client_a: Any, store: dict[str, Any]
) -> None:
    b1 = store["boxes"][0]
    a = factories.aliquots(tech, client_a, 1, reference="RET-1")[0]
    c = login("tech")
    form = {"action": "move", "move-box": b1.barcode, "move-position": "A1", "move-reason": "in"}
    assert c.post(f"/bank/aliquots/{a.pk}/", form).status_code == 302
    c.post(f"/bank/aliquots/{a.pk}/", {"action": "retrieve", "reason": "sampling"})
    assert c.post(f"/bank/aliquots/{a.pk}/", {**form, "move-position": "B2"}).status_code == 302
    events = list(
        AuditEvent.objects.with_fields()
        .filter(f_entity_type="bank.aliquot", f_entity_id=str(a.pk))
        .order_by("seq")
        .values_list("f_event_type", flat=True)
    )
    assert events == ["ALIQUOT_PLACED", "ALIQUOT_RETRIEVED", "ALIQUOT_RETURNED"]


def test_desk_box_once_then_aliquot_after_aliquot(
    tech: Any, client_a: Any, store: dict[str, Any]
) -> None:
    b2 = store["boxes"][1]
    items = factories.aliquots(tech, client_a, 3, reference="DESK-3")
    c = login("tech")
    ready = c.post("/bank/desk/", {"action": "place", "box": b2.barcode}).content.decode()
    assert "is ready: scan the aliquots" in ready and f'value="{b2.barcode}"' in ready
    for a in items:
        page = c.post("/bank/desk/", {"action": "place", "box": b2.barcode, "code": a.barcode})
        assert page.status_code == 200
    assert list(
        Placement.objects.filter(aliquot__in=items, removed_at__isnull=True)
        .order_by("aliquot_id")
        .values_list("position__label", flat=True)
    ) == ["A1", "A2", "A3"]


def test_a_scanned_legacy_din_label_is_accepted(tech: Any, client_a: Any) -> None:
    donor = factories.donor(tech, client_a, "LEG-1")
    legacy = isbt128.make_din("A9999", 24, 4711).value
    c = login("tech")
    base = {"collection_type": "cord_blood", "collected_at": "2024-05-03T08:15", "volume_ml": "80"}
    response = c.post(f"/bank/donors/{donor.pk}/collections/new/", {**base, "din": f"={legacy}00"})
    assert response.status_code == 302
    assert Collection.objects.get(donor=donor).din == legacy
    before = Collection.objects.count()
    again = c.post(f"/bank/donors/{donor.pk}/collections/new/", {**base, "din": legacy})
    assert "already assigned" in again.content.decode()
    assert Collection.objects.count() == before


def test_the_aliquot_page_says_who_may_set_a_status_the_user_cannot(
    tech: Any, qa_user: Any, client_a: Any
) -> None:
    [aliquot] = factories.aliquots(tech, client_a, 1, status=AliquotStatus.QUARANTINE)
    page = login(tech.username).get(f"/bank/aliquots/{aliquot.pk}/").content.decode()
    assert "Only QA or an administrator can release an aliquot from quarantine." in page
    # the technician is offered the statuses they may set, and told why not the other
    assert '<option value="discarded"' in page and '<option value="available"' not in page
    page = login(qa_user.username).get(f"/bank/aliquots/{aliquot.pk}/").content.decode()
    assert "Only QA or an administrator" not in page
