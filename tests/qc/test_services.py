"""QC services: workflow, four-eyes, OOS, release conditions, rounding through the real path."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from celltrace.audit import signing
from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from celltrace.qc import services
from celltrace.qc.choices import (
    Conformance,
    OosOutcome,
    OosPhase,
    RequestStatus,
    ResultStatus,
    SampleStatus,
)
from celltrace.qc.models import Method, MethodVersion, OosInvestigation, Result, Sample, TestRequest
from celltrace.qc.services import SampleSpec
from tests.qc.conftest import (
    CAR_T,
    Lab,
    in_testing,
    lab_test,
    reviewed,
    sign,
    submitted,
)

pytestmark = pytest.mark.django_db


def ledger_size() -> int:
    return AuditEvent.objects.count()


def test_methods_seed_is_idempotent_and_versions_are_kept(lab: Lab) -> None:
    assert services.methods_seed() == 0
    codes = set(Method.objects.values_list("code", flat=True))
    assert {"sterility", "mycoplasma-nat", "endotoxin", "viability", "vcn", "rcv"} <= codes
    sterility = MethodVersion.objects.get(method__code="sterility", is_current=True)
    assert "USP <71>" in sterility.reference and "2.6.1" in sterility.reference
    new = services.method_version_create(
        actor=lab.qa,
        method=sterility.method,
        changes={"turnaround_days": 15},
        reason="Incubation read-out moved",
    )
    assert (new.version, new.turnaround_days, new.reference) == (2, 15, sterility.reference)
    assert MethodVersion.objects.filter(method=sterility.method, is_current=True).get() == new


def test_client_submits_for_own_organisation_only(lab: Lab) -> None:
    req = submitted(lab)
    assert req.organisation == lab.client_a
    assert req.status == RequestStatus.SUBMITTED
    assert req.specification is not None and req.specification.code == "car-t-release"
    before = (TestRequest.objects.count(), ledger_size())
    with pytest.raises(NotFound):
        services.request_create(
            actor=lab.alice,
            organisation=lab.client_b,
            product="x",
            product_type=CAR_T,
            batch="b",
            samples=[SampleSpec("X-1")],
            method_codes=["viability"],
        )
    assert (TestRequest.objects.count(), ledger_size()) == before


def test_sample_ids_are_unique_per_organisation(lab: Lab) -> None:
    submitted(lab, sample="S-1")
    submitted(lab, client=lab.bob, sample="S-1")  # another client may use the same id
    before = (TestRequest.objects.count(), ledger_size())
    with pytest.raises(Conflict) as exc:
        submitted(lab, sample="S-1")
    assert exc.value.field == "samples"
    assert (TestRequest.objects.count(), ledger_size()) == before


def test_workflow_transitions_are_enforced(lab: Lab) -> None:
    req = submitted(lab)
    with pytest.raises(Conflict):
        services.tests_create(actor=lab.analyst, request=req)  # not received yet
    with pytest.raises(Conflict):
        services.request_submit(actor=lab.alice, request=req)  # submitted already
    draft = services.request_create(
        actor=lab.alice,
        product="P",
        product_type=CAR_T,
        batch="B",
        samples=[SampleSpec("D-1")],
        method_codes=["viability"],
    )
    assert draft.status == RequestStatus.DRAFT
    assert services.request_submit(actor=lab.alice, request=draft).status == RequestStatus.SUBMITTED
    with pytest.raises(NotFound):
        services.request_cancel(actor=lab.bob, request=draft, reason="not mine")


def test_a_request_is_cancelled_by_its_client_or_laboratory_staff_only(
    lab: Lab, operator: Any, make_user: Any
) -> None:
    """Like submitting: a bank technician or an administrator without a laboratory role is
    refused and nothing changes; the client's user and QC staff may cancel."""

    tech = make_user(operator, "bank_technician", username="tech")
    admin = make_user(operator, "admin", username="admin")
    first, second = submitted(lab, sample="C-1"), submitted(lab, sample="C-2")
    entries = AuditEvent.objects.count()
    for who in (tech, admin):
        with pytest.raises(PermissionDenied):
            services.request_cancel(actor=who, request=first, reason="tidying up")
    first.refresh_from_db()
    assert first.status == RequestStatus.SUBMITTED
    assert AuditEvent.objects.count() == entries
    done = services.request_cancel(actor=lab.alice, request=first, reason="batch withdrawn")
    assert done.status == RequestStatus.CANCELLED
    done = services.request_cancel(actor=lab.analyst, request=second, reason="client's e-mail")
    assert done.status == RequestStatus.CANCELLED


def test_receipt_by_scanning_the_laboratorys_own_label(lab: Lab) -> None:
    """The receipt page prints QS-… labels: scanning one receives its sample (any case); a
    laboratory label of another request's sample is not this request's."""
    req = submitted(lab, sample="R-1")
    other = submitted(lab, sample="R-2")  # another request of the client
    mine = req.samples.get()
    with pytest.raises(NotFound):
        services.sample_receive(
            actor=lab.analyst, request=req, scanned_id=other.samples.get().number, accept=True
        )
    received = services.sample_receive(
        actor=lab.analyst, request=req, scanned_id=mine.number.lower(), accept=True
    )
    assert received.pk == mine.pk and received.status == SampleStatus.ACCEPTED


def test_receipt_by_scanning_with_condition_and_custody_entries(lab: Lab) -> None:
    req = services.request_create(
        actor=lab.alice,
        product="P",
        product_type=CAR_T,
        batch="B",
        samples=[SampleSpec("R-1"), SampleSpec("R-2")],
        method_codes=["viability"],
        submit=True,
    )
    with pytest.raises(NotFound):
        services.sample_receive(actor=lab.analyst, request=req, scanned_id="R-9", accept=True)
    with pytest.raises(Invalid):
        services.sample_receive(actor=lab.analyst, request=req, scanned_id="R-2", accept=False)
    with pytest.raises(PermissionDenied):
        services.sample_receive(actor=lab.alice, request=req, scanned_id="R-1", accept=True)
    s1 = services.sample_receive(
        actor=lab.analyst, request=req, scanned_id="R-1", accept=True, container_intact=True
    )
    req.refresh_from_db()
    assert req.status == RequestStatus.SUBMITTED  # R-2 still expected
    services.sample_receive(
        actor=lab.analyst,
        request=req,
        scanned_id="R-2",
        accept=False,
        container_intact=False,
        rejection_reason="Bag leaking",
    )
    req.refresh_from_db()
    assert req.status == RequestStatus.RECEIVED and req.received_at is not None
    assert Sample.objects.get(client_sample_id="R-2").status == SampleStatus.REJECTED
    with pytest.raises(Conflict):
        services.sample_receive(actor=lab.analyst, request=req, scanned_id="R-1", accept=True)
    services.sample_hand_over(actor=lab.analyst, sample=s1, to=lab.analyst2, reason="to testing")
    custody = AuditEvent.objects.where(entity_type="qc.sample", entity_id=str(s1.pk))
    assert [e.data["event_type"] for e in custody.order_by("seq")] == [
        "QC_SAMPLE_RECEIVED",
        "QC_SAMPLE_HANDED_OVER",
    ]
    assert verify_database().ok


@pytest.mark.parametrize(
    ("value", "conformance"),
    [("69.5", Conformance.CONFORMS), ("69.4", Conformance.DOES_NOT_CONFORM), ("70", "conforms")],
)
def test_rounding_at_the_limit_through_the_result_path(
    lab: Lab, value: str, conformance: str
) -> None:
    req = in_testing(lab)
    result = services.result_enter(actor=lab.analyst, test=lab_test(req, "viability"), value=value)
    assert result.conformance == conformance
    assert result.limit_text == "≥ 70 %"
    assert result.value_text == value
    assert OosInvestigation.objects.filter(result=result).exists() == (
        conformance == Conformance.DOES_NOT_CONFORM
    )


def test_astm_mode_and_comparator_and_alert(lab: Lab) -> None:
    req = in_testing(lab)
    endo = services.result_enter(actor=lab.analyst, test=lab_test(req, "endotoxin"), value="< 0.05")
    assert (endo.comparator, endo.conformance, endo.reported_value) == ("<", "conforms", "< 0.05")
    via = services.result_enter(actor=lab.analyst, test=lab_test(req, "viability"), value="72.0")
    assert via.conformance == Conformance.CONFORMS and via.alert is True
    with pytest.raises(Invalid):
        services.result_enter(
            actor=lab.analyst, test=lab_test(req, "sterility-cell"), value="cloudy"
        )


def test_four_eyes(lab: Lab) -> None:
    req = in_testing(lab)
    result = services.result_enter(actor=lab.analyst, test=lab_test(req, "viability"), value="85")
    count = Signature.objects.count()
    with pytest.raises(PermissionDenied):  # review before performed
        sign(lab.reviewer, result, "reviewed")
    with pytest.raises(PermissionDenied):  # another analyst cannot sign performed
        sign(lab.analyst2, result, "performed")
    assert Signature.objects.count() == count
    sign(lab.analyst, result, "performed")
    with pytest.raises(PermissionDenied):  # the performer has no reviewer role
        sign(lab.analyst, result, "reviewed")
    lab.analyst.role_grants.create(role="qc_reviewer")
    lab.analyst.__dict__.pop("roles", None)
    with pytest.raises(PermissionDenied) as exc:  # nobody reviews their own result
        sign(lab.analyst, result, "reviewed")
    assert "own result" in exc.value.message
    sign(lab.reviewer, result, "reviewed")
    meanings = {m.meaning for m in signing.manifestations(result) if m.valid}
    assert meanings == {"performed", "reviewed"}


def test_signed_result_cannot_be_edited_and_a_change_breaks_the_review(lab: Lab) -> None:
    req = in_testing(lab)
    result = services.result_enter(actor=lab.analyst, test=lab_test(req, "viability"), value="85")
    result = services.result_correct(actor=lab.analyst, result=result, value="86", reason="typo")
    sign(lab.analyst, result, "performed")
    sign(lab.reviewer, Result.objects.get(pk=result.pk), "reviewed")
    before = ledger_size()
    with pytest.raises(Conflict):
        services.result_correct(actor=lab.analyst, result=result, value="87", reason="again")
    assert ledger_size() == before and Result.objects.get(pk=result.pk).value_text == "86"
    # a change behind the services' back shows the signatures broken
    Result.objects.filter(pk=result.pk).update(value_text="96")
    statuses = {
        m.meaning: m.status for m in signing.manifestations(Result.objects.get(pk=result.pk))
    }
    assert statuses == {"performed": "broken", "reviewed": "broken"}


def test_invalidate_and_retest(lab: Lab) -> None:
    req = in_testing(lab)
    test = lab_test(req, "viability")
    first = services.result_enter(actor=lab.analyst, test=test, value="85")
    with pytest.raises(Conflict):
        services.result_enter(actor=lab.analyst, test=test, value="84")
    with pytest.raises(PermissionDenied):
        services.result_invalidate(actor=lab.analyst, result=first, reason="x")
    with pytest.raises(Invalid):
        services.result_invalidate(actor=lab.reviewer, result=first, reason=" ")
    services.result_invalidate(actor=lab.reviewer, result=first, reason="Counter not calibrated")
    second = services.result_enter(actor=lab.analyst, test=test, value="84")
    assert test.current_result == second
    assert Result.objects.get(pk=first.pk).status == ResultStatus.INVALIDATED


def test_release_only_when_every_test_is_reviewed(lab: Lab) -> None:
    req = in_testing(lab)
    first = None
    for test in req.tests.order_by("pk"):
        code = test.method_version.method.code
        values = {"viability": "85", "endotoxin": "0.1", "sterility-cell": "No growth"}
        result = services.result_enter(actor=lab.analyst, test=test, value=values[code])
        sign(lab.analyst, result, "performed")
        first = first or result
    with pytest.raises(PermissionDenied) as exc:
        sign(lab.qa, req, "released")
    assert "no reviewed result" in exc.value.message
    for result in Result.objects.filter(test__request=req):
        sign(lab.reviewer, result, "reviewed")
    req.refresh_from_db()
    assert req.status == RequestStatus.REVIEWED
    with pytest.raises(PermissionDenied):
        sign(lab.reviewer, req, "released")  # only QA
    sign(lab.qa, req, "released")
    req.refresh_from_db()
    assert req.status == RequestStatus.RELEASED and req.released_at is not None
    assert verify_database().ok


def test_no_release_with_an_open_oos_then_phase_one_with_cause_retests(lab: Lab) -> None:
    req = in_testing(lab)
    for test in req.tests.order_by("pk"):
        code = test.method_version.method.code
        value = {"viability": "60.0", "endotoxin": "0.1", "sterility-cell": "No growth"}[code]
        result = services.result_enter(actor=lab.analyst, test=test, value=value)
        sign(lab.analyst, result, "performed")
        sign(lab.reviewer, result, "reviewed")
    oos = OosInvestigation.objects.get(request=req)
    assert oos.phase == OosPhase.PHASE_1
    req.refresh_from_db()
    assert req.status == RequestStatus.REVIEWED
    count = Signature.objects.count()
    with pytest.raises(PermissionDenied) as exc:
        sign(lab.qa, req, "released")
    assert oos.number in exc.value.message
    assert Signature.objects.count() == count
    with pytest.raises(Conflict):  # an OOS result is invalidated only by its investigation
        services.result_invalidate(actor=lab.reviewer, result=oos.result, reason="x")
    services.oos_complete_phase1(
        actor=lab.reviewer, oos=oos, assignable_cause=True, summary="Pipetting error found"
    )
    oos.refresh_from_db()
    req.refresh_from_db()
    assert (oos.phase, oos.outcome) == (OosPhase.CLOSED, OosOutcome.INVALIDATED)
    assert oos.result.status == ResultStatus.INVALIDATED
    assert req.status == RequestStatus.IN_TESTING
    retest = services.result_enter(actor=lab.analyst, test=lab_test(req, "viability"), value="81")
    sign(lab.analyst, retest, "performed")
    sign(lab.reviewer, retest, "reviewed")
    sign(lab.qa, req, "released")
    req.refresh_from_db()
    assert req.status == RequestStatus.RELEASED


def test_oos_phase_two_confirms_and_then_release_is_possible(lab: Lab) -> None:
    req = in_testing(lab)
    result = services.result_enter(actor=lab.analyst, test=lab_test(req, "endotoxin"), value="0.9")
    oos = OosInvestigation.objects.get(result=result)
    services.oos_complete_phase1(
        actor=lab.reviewer, oos=oos, assignable_cause=False, summary="No laboratory error"
    )
    with pytest.raises(PermissionDenied):
        services.oos_close(
            actor=lab.reviewer, oos=oos, summary="s", capa_reference="C", conclusion="c"
        )
    with pytest.raises(Invalid):
        services.oos_close(actor=lab.qa, oos=oos, summary="s", capa_reference="", conclusion="c")
    services.oos_close(
        actor=lab.qa,
        oos=oos,
        summary="Manufacturing deviation",
        capa_reference="CAPA-2026-007",
        conclusion="Confirmed OOS; batch fails endotoxin.",
    )
    oos.refresh_from_db()
    assert (oos.phase, oos.outcome, oos.capa_reference) == (
        OosPhase.CLOSED,
        OosOutcome.CONFIRMED,
        "CAPA-2026-007",
    )


def test_certificate_issue_amend_and_verify(lab: Lab) -> None:
    req = reviewed(lab)
    with pytest.raises(Conflict):
        services.certificate_issue(actor=lab.qa, request=req)  # not released yet
    sign(lab.qa, req, "released")
    with pytest.raises(PermissionDenied):
        services.certificate_issue(actor=lab.reviewer, request=req)
    cert = services.certificate_issue(actor=lab.qa, request=req, verify_base="https://lab.test")
    req.refresh_from_db()
    assert req.status == RequestStatus.CERTIFIED
    pdf = bytes(cert.pdf)
    assert pdf.startswith(b"%PDF")
    check = services.certificate_verify(certificate=cert, pdf=pdf)
    assert check.matches and check.superseded_by is None
    assert not services.certificate_verify(certificate=cert, pdf=pdf + b" ").matches
    with pytest.raises(Conflict):
        services.certificate_issue(actor=lab.qa, request=req)
    amended = services.certificate_amend(
        actor=lab.qa, certificate=cert, reason="Chinese copy requested", language="zh-hans"
    )
    assert (amended.version, amended.supersedes_id) == (2, cert.pk)
    with pytest.raises(Conflict):
        services.certificate_amend(actor=lab.qa, certificate=cert, reason="again")
    old = services.certificate_verify(certificate=cert, pdf=pdf)
    assert old.matches and old.superseded_by == amended
    assert verify_database().ok


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("1e21", "too large"),
        ("1e999", "too large"),
        ("1E+1000000", "too large"),
        ("-1.5E+21", "too large"),
        ("< 1E+30", "too large"),
        ("0.12345678901", "decimal places"),
        ("1234567890.1234567", "significant digits"),
    ],
)
def test_a_result_the_database_cannot_hold_is_refused(lab: Lab, value: str, rule: str) -> None:
    """A value beyond Result.value (30 digits, 10 decimals; 15 significant digits on SQLite)
    used to be stored, and then every page reading the test back failed; it is refused naming
    the field, and nothing is written."""
    req = in_testing(lab)
    test = req.tests.get(method_version__method__code="viability")
    before = (Result.objects.count(), AuditEvent.objects.count())
    with pytest.raises(Invalid) as exc:
        services.result_enter(actor=lab.analyst, test=test, value=value)
    assert exc.value.field == "value" and rule in exc.value.message
    assert (Result.objects.count(), AuditEvent.objects.count()) == before


def test_the_largest_storable_result_reads_back_exactly(lab: Lab) -> None:
    # a cell count (cells/mL) has no upper bound; a percentage would stop at 100
    req = in_testing(lab, methods=["cell-count"])
    test = req.tests.get(method_version__method__code="cell-count")
    for text in (
        "99999999999999900000",
        "12345.0123456789",
        "70.0000000001",
        "70.10000000000",  # trailing zeros: 70.1, storable exactly
        "7.1000E+1",
    ):
        result = services.result_enter(actor=lab.analyst, test=test, value=text)
        assert Result.objects.get(pk=result.pk).value == Decimal(text)
        assert test.current_result is not None and test.current_result.pk == result.pk
        services.result_invalidate(actor=lab.reviewer, result=result, reason="next value")
