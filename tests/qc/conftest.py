"""Fixtures of the QC laboratory tests: people, the catalogue, a specification, requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import RequestFactory

from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.services import record_sign
from celltrace.qc import services
from celltrace.qc.choices import LimitKind
from celltrace.qc.models import (
    Certificate,
    OosInvestigation,
    Result,
    Sample,
    Test,
    TestRequest,
)
from celltrace.qc.services import LimitSpec, SampleSpec
from tests.conftest import PASSWORD

CAR_T = "CAR-T cells"
METHODS = ["endotoxin", "sterility-cell", "viability"]


@dataclass
class Lab:
    analyst: Any
    analyst2: Any
    reviewer: Any
    qa: Any
    alice: Any  # client A
    bob: Any  # client B
    client_a: Any
    client_b: Any


@pytest.fixture
def lab(operator: Any, make_user: Any, client_a: Any, client_b: Any) -> Lab:
    services.methods_seed()
    people = Lab(
        analyst=make_user(operator, "qc_analyst", username="analyst", full_name="Li Na"),
        analyst2=make_user(operator, "qc_analyst", username="analyst2", full_name="Wang Fang"),
        reviewer=make_user(operator, "qc_reviewer", username="reviewer", full_name="Rita Reviewer"),
        qa=make_user(operator, "qa", username="qa", full_name="Quinn Assurance"),
        alice=make_user(client_a, "client_user", username="alice", full_name="Alice A"),
        bob=make_user(client_b, "client_user", username="bob", full_name="Bob B"),
        client_a=client_a,
        client_b=client_b,
    )
    services.specification_create(
        actor=people.qa,
        code="car-t-release",
        title="CAR-T release",
        product_type=CAR_T,
        limits=[
            LimitSpec("viability", LimitKind.AT_LEAST, lower="70", unit="%", alert_lower="75"),
            LimitSpec("endotoxin", LimitKind.AT_MOST, upper="0.5", unit="EU/mL"),
            LimitSpec("sterility-cell", LimitKind.QUALITATIVE, expected_text="No growth"),
        ],
        reason="Initial",
    )
    return people


def http_request(user: Any) -> Any:
    req = RequestFactory().post("/sign/")
    req.user = user
    req.META["REMOTE_ADDR"] = "127.0.0.1"
    return req


def sign(user: Any, record: Any, meaning: str) -> Signature:
    return record_sign(
        request=http_request(user), actor=user, record=record, meaning=meaning, password=PASSWORD
    )


def submitted(lab: Lab, *, client: Any = None, sample: str = "A-001", **kw: Any) -> Any:
    client = client or lab.alice
    return services.request_create(
        actor=client,
        product=kw.pop("product", "Aurocel"),
        product_type=CAR_T,
        batch=kw.pop("batch", "B-2026-01"),
        samples=[SampleSpec(sample, container="cryobag")],
        method_codes=kw.pop("methods", METHODS),
        submit=True,
        **kw,
    )


def in_testing(lab: Lab, **kw: Any) -> Any:
    req = submitted(lab, **kw)
    sample = req.samples.get()
    services.sample_receive(
        actor=lab.analyst, request=req, scanned_id=sample.client_sample_id, accept=True
    )
    services.tests_create(actor=lab.analyst, request=req)
    req.refresh_from_db()
    return req


def lab_test(req: Any, code: str) -> Any:
    return req.tests.get(method_version__method__code=code)


VALUES = {"viability": "85.2", "endotoxin": "< 0.05", "sterility-cell": "No growth"}


def reviewed(lab: Lab, **kw: Any) -> Any:
    """A request whose every test has a performed and reviewed result."""
    req = in_testing(lab, **kw)
    for test in req.tests.order_by("pk"):
        code = test.method_version.method.code
        result = services.result_enter(actor=lab.analyst, test=test, value=VALUES[code])
        sign(lab.analyst, result, "performed")
        sign(lab.reviewer, result, "reviewed")
    req.refresh_from_db()
    return req


def snapshot() -> tuple[int, ...]:
    return (
        AuditEvent.objects.count(),
        Signature.objects.count(),
        TestRequest.objects.count(),
        Sample.objects.count(),
        Test.objects.count(),
        Result.objects.count(),
        OosInvestigation.objects.count(),
        Certificate.objects.count(),
    )


@pytest.fixture
def foreign(lab: Lab) -> dict[str, Any]:
    """Client B's objects in every state a client page or endpoint can name."""
    req = reviewed(lab, client=lab.bob, sample="B-1", product="Borecel")
    sign(lab.qa, req, "released")
    cert = services.certificate_issue(actor=lab.qa, request=req)
    test = req.tests.order_by("pk").first()
    assert test is not None
    oos_req = reviewed(lab, client=lab.bob, sample="B-2")
    result = oos_req.tests.get(method_version__method__code="viability").current_result
    assert result is not None
    services.result_invalidate(actor=lab.reviewer, result=result, reason="x")
    bad = services.result_enter(actor=lab.analyst, test=result.test, value="10")
    return {
        "request": req,
        "test": test,
        "result": test.current_result,
        "certificate": cert,
        "oos": OosInvestigation.objects.get(result=bad),
        "sample": req.samples.get(),
    }
