"""Test panels: managed by the laboratory (audited), requested by clients alongside single
methods (tests = the union, no duplicates); a client sees global panels and its own only."""

from __future__ import annotations

import pytest

from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.qc import services
from celltrace.qc.models import TestPanel, TestRequest
from tests.qc.conftest import CAR_T, Lab, snapshot
from tests.qc.test_api import Api, ok
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def panels(lab: Lab) -> dict[str, TestPanel]:
    release = services.panel_create(
        actor=lab.reviewer,
        code="car-t-release",
        name="CAR-T release panel",
        method_codes=["sterility-cell", "endotoxin", "viability", "mycoplasma-nat"],
        product_type=CAR_T,
    )
    aurora = services.panel_create(
        actor=lab.qa,
        code="aurora-identity",
        name="Aurora identity and purity",
        method_codes=["identity-flow", "purity-flow", "viability"],
        client=lab.client_a,
    )
    retired = services.panel_create(
        actor=lab.reviewer,
        code="old-panel",
        name="Retired",
        method_codes=["appearance"],
        is_active=False,
    )
    return {"release": release, "aurora": aurora, "retired": retired}


def counts() -> tuple[int, ...]:
    return (*snapshot(), TestPanel.objects.count())


def test_panel_create_and_update_are_audited(lab: Lab, panels: dict[str, TestPanel]) -> None:
    entries = AuditEvent.objects.where(event_type="QC_PANEL_CREATED")
    assert entries.count() == 3
    panel = panels["release"]
    services.panel_update(
        actor=lab.qa,
        panel=panel,
        name=panel.name,
        method_codes=["sterility-cell", "endotoxin", "viability", "vcn"],
        product_type=CAR_T,
        reason="VCN added per CC-2026-20",
    )
    panel.refresh_from_db()
    assert sorted(m.code for m in panel.methods.all()) == [
        "endotoxin",
        "sterility-cell",
        "vcn",
        "viability",
    ]
    [updated] = AuditEvent.objects.where(event_type="QC_PANEL_UPDATED")
    assert updated.data["old"] == {
        "methods": ["endotoxin", "mycoplasma-nat", "sterility-cell", "viability"]
    }
    assert updated.data["new"]["methods"][-2:] == ["vcn", "viability"]
    assert updated.data["reason"] == "VCN added per CC-2026-20"
    assert verify_database().ok


def test_panel_refusals_change_nothing(lab: Lab, panels: dict[str, TestPanel]) -> None:
    n = counts()
    with pytest.raises(PermissionDenied):
        services.panel_create(actor=lab.analyst, code="x", name="X", method_codes=["viability"])
    with pytest.raises(PermissionDenied):
        services.panel_create(actor=lab.alice, code="x", name="X", method_codes=["viability"])
    with pytest.raises(Invalid) as exc:
        services.panel_create(actor=lab.qa, code="x", name="X", method_codes=["viability", "nope"])
    assert exc.value.field == "method_codes" and "nope" in exc.value.message
    with pytest.raises(Invalid) as exc:
        services.panel_create(actor=lab.qa, code="x", name="X", method_codes=[])
    assert exc.value.field == "method_codes"
    with pytest.raises(Conflict):
        services.panel_create(
            actor=lab.qa, code="car-t-release", name="Again", method_codes=["viability"]
        )
    with pytest.raises(Invalid) as exc:
        services.panel_update(
            actor=lab.qa,
            panel=panels["release"],
            name=panels["release"].name,
            method_codes=["sterility-cell", "endotoxin", "viability", "mycoplasma-nat"],
            product_type=CAR_T,
            reason="no change",
        )
    assert exc.value.message == "Nothing changed."
    with pytest.raises(Invalid) as exc:
        services.panel_update(
            actor=lab.qa,
            panel=panels["release"],
            name="Renamed",
            method_codes=["viability"],
            reason=" ",
        )
    assert exc.value.field == "reason"
    assert counts() == n


def test_request_tests_are_the_union_of_panels_and_methods(
    lab: Lab, panels: dict[str, TestPanel]
) -> None:
    req = services.request_create(
        actor=lab.alice,
        product="Aurocel",
        product_type=CAR_T,
        batch="B-1",
        samples=[services.SampleSpec("P-1")],
        method_codes=["viability", "vcn"],
        panel_codes=["car-t-release", "aurora-identity"],
        submit=True,
    )
    expected = [
        "endotoxin",
        "identity-flow",
        "mycoplasma-nat",
        "purity-flow",
        "sterility-cell",
        "vcn",
        "viability",
    ]
    assert sorted(m.code for m in req.methods.all()) == expected
    assert sorted(p.code for p in req.panels.all()) == ["aurora-identity", "car-t-release"]
    [entry] = AuditEvent.objects.where(event_type="QC_REQUEST_CREATED")
    assert entry.data["new"]["methods"] == expected
    assert entry.data["new"]["panels"] == ["aurora-identity", "car-t-release"]
    services.sample_receive(actor=lab.analyst, request=req, scanned_id="P-1", accept=True)
    tests = services.tests_create(actor=lab.analyst, request=req)
    assert sorted(t.method_version.method.code for t in tests) == expected  # once each


def test_foreign_and_inactive_panels_are_refused(lab: Lab, panels: dict[str, TestPanel]) -> None:
    n = counts()
    for codes in (["aurora-identity"], ["old-panel"], ["no-such-panel"]):
        with pytest.raises(Invalid) as exc:
            services.request_create(
                actor=lab.bob,
                product="Borecel",
                product_type=CAR_T,
                batch="B-1",
                samples=[services.SampleSpec("BP-1")],
                method_codes=[],
                panel_codes=codes,
            )
        assert exc.value.field == "panel_codes"
        assert exc.value.message == f"Unknown test panels: {codes[0]}."
    with pytest.raises(Invalid):
        services.request_create(
            actor=lab.bob,
            product="Borecel",
            product_type=CAR_T,
            batch="B-1",
            samples=[services.SampleSpec("BP-1")],
            method_codes=[],
        )
    assert counts() == n


def test_panel_pages(lab: Lab, panels: dict[str, TestPanel]) -> None:
    aurora, release, retired = panels["aurora"], panels["release"], panels["retired"]
    bob = logged_in(lab.bob)
    listing = bob.get("/qc/catalogue/panels/").content.decode()
    assert "car-t-release" in listing
    assert "aurora-identity" not in listing and "old-panel" not in listing
    n = counts()
    for url in (
        f"/qc/catalogue/panels/{aurora.pk}/",
        f"/qc/catalogue/panels/{retired.pk}/",
        f"/qc/catalogue/panels/{release.pk}/edit/",
        "/qc/catalogue/panels/new/",
        f"/audit/history/qc.testpanel/{aurora.pk}/",
    ):
        assert bob.get(url).status_code == 404, url
    assert bob.post("/qc/catalogue/panels/new/", {"code": "mine"}).status_code == 404
    assert counts() == n
    assert bob.get(f"/qc/catalogue/panels/{release.pk}/").status_code == 200
    alice = logged_in(lab.alice)
    assert "Aurora identity" in alice.get(f"/qc/catalogue/panels/{aurora.pk}/").content.decode()
    form = alice.get("/qc/requests/new/").content.decode()
    assert 'value="aurora-identity"' in form and 'value="car-t-release"' in form
    assert 'value="old-panel"' not in form
    assert 'value="aurora-identity"' not in bob.get("/qc/requests/new/").content.decode()

    # a client requests a panel only, through the form
    response = alice.post(
        "/qc/requests/new/",
        {
            "product": "Aurocel",
            "product_type": CAR_T,
            "batch": "B-9",
            "priority": "routine",
            "samples": "AF-1; cryobag",
            "panels": ["aurora-identity"],
        },
    )
    assert response.status_code == 302
    req = TestRequest.objects.get(batch="B-9")
    assert sorted(m.code for m in req.methods.all()) == [
        "identity-flow",
        "purity-flow",
        "viability",
    ]
    empty = alice.post(
        "/qc/requests/new/",
        {
            "product": "A",
            "product_type": CAR_T,
            "batch": "B-10",
            "priority": "routine",
            "samples": "AF-2",
        },
    )
    assert "Choose at least one test or test panel." in empty.content.decode()

    # the laboratory manages panels; an analyst is refused and nothing changes
    analyst = logged_in(lab.analyst)
    n = counts()
    refused = analyst.post(
        "/qc/catalogue/panels/new/",
        {
            "code": "sterility-only",
            "name": "Sterility",
            "methods": ["sterility"],
            "is_active": "on",
        },
    )
    assert "Only QC reviewers, QA and administrators" in refused.content.decode()
    assert counts() == n
    reviewer = logged_in(lab.reviewer)
    created = reviewer.post(
        "/qc/catalogue/panels/new/",
        {
            "code": "sterility-only",
            "name": "Sterility",
            "methods": ["sterility"],
            "client": lab.client_b.pk,
            "is_active": "on",
        },
    )
    assert created.status_code == 302
    panel = TestPanel.objects.get(code="sterility-only")
    assert panel.client_id == lab.client_b.pk
    edited = reviewer.post(
        f"/qc/catalogue/panels/{panel.pk}/edit/",
        {
            "name": "Sterility (membrane)",
            "methods": ["sterility"],
            "client": lab.client_b.pk,
            "reason": "renamed",
        },
    )
    assert edited.status_code == 302
    panel.refresh_from_db()
    assert (panel.name, panel.is_active) == ("Sterility (membrane)", False)
    assert alice.get(f"/qc/catalogue/panels/{panel.pk}/").status_code == 404


def test_panel_api(lab: Lab, panels: dict[str, TestPanel]) -> None:
    alice, bob, reviewer = Api(lab.alice), Api(lab.bob), Api(lab.reviewer)
    assert [p["code"] for p in ok(bob.get("/qc/panels"))["items"]] == ["car-t-release"]
    assert sorted(p["code"] for p in ok(alice.get("/qc/panels"))["items"]) == [
        "aurora-identity",
        "car-t-release",
    ]
    assert ok(reviewer.get("/qc/panels"))["count"] == 3
    aurora = panels["aurora"]
    n = counts()
    assert bob.get(f"/qc/panels/{aurora.pk}").status_code == 404
    assert (
        bob.post(
            "/qc/panels", {"code": "b", "name": "B", "method_codes": ["viability"]}
        ).status_code
        == 404
    )
    refused = bob.post(
        "/qc/requests",
        {
            "product": "Borecel",
            "product_type": CAR_T,
            "batch": "B-1",
            "samples": [{"client_sample_id": "BA-1"}],
            "panel_codes": ["aurora-identity"],
        },
    )
    assert refused.status_code == 422 and refused.json()["field"] == "panel_codes"
    assert counts() == n
    created = ok(
        alice.post(
            "/qc/requests",
            {
                "product": "Aurocel",
                "product_type": CAR_T,
                "batch": "B-2",
                "samples": [{"client_sample_id": "AA-1"}],
                "method_codes": ["viability"],
                "panel_codes": ["aurora-identity"],
            },
        ),
        201,
    )
    assert created["methods"] == ["identity-flow", "purity-flow", "viability"]
    assert created["panels"] == ["aurora-identity"]
    made = ok(
        reviewer.post(
            "/qc/panels",
            {"code": "vcn-only", "name": "VCN", "method_codes": ["vcn"], "client_id": None},
        ),
        201,
    )
    changed = ok(
        Api(lab.qa).client.put(
            f"/api/v1/qc/panels/{made['id']}",
            data={"name": "VCN", "method_codes": ["vcn", "rcv"], "reason": "RCV joins"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {Api(lab.qa).secret}",
        )
    )
    assert changed["methods"] == ["rcv", "vcn"]
