"""Method catalogue and specifications: versions are proposed, become effective only when QA
signs them approved (never the proposer), tests keep the version they were created with, and
every refusal names its field and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from celltrace.audit import signing
from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.qc import services
from celltrace.qc.choices import LimitKind, RoundingMode, VersionStatus
from celltrace.qc.models import Method, MethodVersion, Specification, SpecificationLimit
from celltrace.qc.services import LimitSpec
from tests.conftest import PASSWORD, digest_of, post_sign_form
from tests.qc.conftest import CAR_T, Lab, in_testing, lab_test, sign, submitted
from tests.qc.test_api import Api, ok
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db

VIABILITY = {
    "name": "Viability (trypan blue or 7-AAD)",
    "reference": "Ph. Eur. 2.7.29; USP <1046>",
    "result_type": "numeric",
    "unit": "%",
    "reported_decimals": 2,
    "lod": "",
    "loq": "",
    "turnaround_days": 1,
    "qualitative_options": [],
}


def counts() -> tuple[int, ...]:
    return (
        AuditEvent.objects.count(),
        Signature.objects.count(),
        Method.objects.count(),
        MethodVersion.objects.count(),
        Specification.objects.count(),
        SpecificationLimit.objects.count(),
    )


def events(event_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.where(event_type=event_type).order_by("seq"))


@pytest.fixture
def qa2(lab: Lab, operator: Any, make_user: Any) -> Any:
    return make_user(operator, "qa", username="qa2", full_name="Qiu Approver")


# --- methods: services ----------------------------------------------------------------------


def test_method_version_takes_effect_only_when_another_qa_approves(lab: Lab, qa2: Any) -> None:
    method = Method.objects.get(code="viability")
    before = in_testing(lab, sample="S-OLD")
    old_test = lab_test(before, "viability")
    assert old_test.method_version.version == 1

    pending = services.method_version_propose(
        actor=lab.reviewer, method=method, values=VIABILITY, reason="Two decimals per SOP-12 r3"
    )
    assert (pending.version, pending.status, pending.is_current) == (2, "pending", False)
    [proposed] = events("QC_METHOD_VERSION_PROPOSED")
    assert proposed.data["new"]["reported_decimals"] == 2
    assert proposed.data["old"]["reported_decimals"] == 1
    # not in use yet: a request planned now still gets version 1
    during = in_testing(lab, sample="S-DURING")
    assert lab_test(during, "viability").method_version.version == 1

    # the proposer may not approve, nor may an analyst; nothing is written
    n = counts()
    with pytest.raises(PermissionDenied):
        sign(lab.analyst, pending, "approved")
    assert counts() == n

    sign(lab.qa, pending, "approved")
    pending.refresh_from_db()
    assert (pending.status, pending.is_current) == (VersionStatus.EFFECTIVE, True)
    assert pending.approved_at is not None
    v1 = MethodVersion.objects.get(method=method, version=1)
    assert (v1.status, v1.is_current) == (VersionStatus.SUPERSEDED, False)
    [approved] = events("QC_METHOD_VERSION_APPROVED")
    assert approved.data["new"]["effective_version"] == 2
    assert approved.data["old"]["effective_version"] == 1

    after = in_testing(lab, sample="S-NEW")
    assert lab_test(after, "viability").method_version.version == 2
    old_test.refresh_from_db()
    assert old_test.method_version_id == v1.pk  # tests keep the version they used
    # the approval signature stays valid although the status changed after signing
    [manifest] = signing.manifestations(pending)
    assert manifest.valid and manifest.meaning == "approved"
    assert verify_database().ok


def test_proposer_cannot_approve_their_own_version(lab: Lab, qa2: Any) -> None:
    method = Method.objects.get(code="viability")
    pending = services.method_version_propose(
        actor=lab.qa, method=method, values=VIABILITY, reason="r"
    )
    n = counts()
    with pytest.raises(PermissionDenied, match="own proposal"):
        sign(lab.qa, pending, "approved")
    assert counts() == n
    pending.refresh_from_db()
    assert pending.status == VersionStatus.PENDING
    sign(qa2, pending, "approved")
    pending.refresh_from_db()
    assert pending.is_current


def test_method_proposal_refusals_change_nothing(lab: Lab) -> None:
    method = Method.objects.get(code="viability")
    n = counts()
    with pytest.raises(PermissionDenied):
        services.method_version_propose(
            actor=lab.analyst, method=method, values=VIABILITY, reason="r"
        )
    with pytest.raises(PermissionDenied):
        services.method_version_propose(
            actor=lab.alice, method=method, values=VIABILITY, reason="r"
        )
    bad = [
        ({**VIABILITY, "reported_decimals": 9}, "reported_decimals"),
        (
            {
                **VIABILITY,
                "result_type": "qualitative",
                "unit": "",
                "reported_decimals": None,
                "qualitative_options": ["Pass"],
            },
            "qualitative_options",
        ),
        (
            {
                **VIABILITY,
                "result_type": "qualitative",
                "reported_decimals": None,
                "qualitative_options": ["Pass", "Fail"],
            },
            "unit",
        ),
        ({**VIABILITY, "turnaround_days": 0}, "turnaround_days"),
        ({**VIABILITY, "reference": "  "}, "reference"),
        ({**VIABILITY, "result_type": "colour"}, "result_type"),
        ({**VIABILITY, "reported_decimals": 1}, "name"),  # identical to version 1
    ]
    for values, field in bad:
        with pytest.raises(Invalid) as exc:
            services.method_version_propose(
                actor=lab.reviewer, method=method, values=values, reason="r"
            )
        assert exc.value.field == field, (values, exc.value.message)
    with pytest.raises(Invalid) as exc:
        services.method_version_propose(
            actor=lab.reviewer, method=method, values=VIABILITY, reason=" "
        )
    assert exc.value.field == "reason"
    assert counts() == n
    services.method_version_propose(actor=lab.reviewer, method=method, values=VIABILITY, reason="r")
    n = counts()
    with pytest.raises(Conflict, match="awaits approval"):
        services.method_version_propose(
            actor=lab.reviewer,
            method=method,
            values={**VIABILITY, "turnaround_days": 2},
            reason="r",
        )
    assert counts() == n


def test_withdrawn_proposal_is_never_approved(lab: Lab) -> None:
    method = Method.objects.get(code="viability")
    pending = services.method_version_propose(
        actor=lab.reviewer, method=method, values=VIABILITY, reason="r"
    )
    services.method_version_withdraw(actor=lab.reviewer, version=pending, reason="SOP not issued")
    pending.refresh_from_db()
    assert pending.status == VersionStatus.WITHDRAWN
    n = counts()
    with pytest.raises(PermissionDenied, match="awaiting approval"):
        sign(lab.qa, pending, "approved")
    assert counts() == n
    # a new proposal may follow; it takes the next number
    again = services.method_version_propose(
        actor=lab.reviewer, method=method, values=VIABILITY, reason="r2"
    )
    assert again.version == 3


def test_new_method_is_requestable_once_approved(lab: Lab) -> None:
    values = {
        "name": "Endotoxin (gel clot)",
        "reference": "USP <85>; Ph. Eur. 2.6.14 method A",
        "result_type": "qualitative",
        "unit": "",
        "reported_decimals": None,
        "lod": "0.03 EU/mL",
        "loq": "",
        "turnaround_days": 1,
        "qualitative_options": ["Negative", "Positive"],
    }
    n = counts()
    with pytest.raises(Invalid) as exc:
        services.method_create(actor=lab.reviewer, code="Gel Clot", values=values, reason="r")
    assert exc.value.field == "code"
    assert counts() == n
    version = services.method_create(
        actor=lab.reviewer, code="endotoxin-gel-clot", values=values, reason="New SOP-31"
    )
    assert (version.version, version.status) == (1, VersionStatus.PENDING)
    with pytest.raises(Conflict):
        services.method_create(
            actor=lab.reviewer, code="endotoxin-gel-clot", values=values, reason="r"
        )
    with pytest.raises(Invalid, match="catalogue"):
        submitted(lab, methods=["endotoxin-gel-clot"], sample="GC-1")
    sign(lab.qa, version, "approved")
    req = submitted(lab, methods=["endotoxin-gel-clot"], sample="GC-2")
    assert [m.code for m in req.methods.all()] == ["endotoxin-gel-clot"]


# --- specifications: services ---------------------------------------------------------------


def spec_limits(**over: Any) -> list[LimitSpec]:
    limits = {
        "viability": LimitSpec("viability", LimitKind.AT_LEAST, lower="80.0", alert_lower="85.0"),
        "endotoxin": LimitSpec("endotoxin", LimitKind.AT_MOST, upper="0.50"),
        "sterility-cell": LimitSpec(
            "sterility-cell", LimitKind.QUALITATIVE, expected_text="no growth"
        ),
    }
    limits.update(over)
    return list(limits.values())


def propose_spec(lab: Lab, limits: list[LimitSpec] | None = None, **kw: Any) -> Specification:
    return services.specification_propose(
        actor=kw.pop("actor", lab.reviewer),
        code=kw.pop("code", "car-t-release"),
        title=kw.pop("title", "CAR-T release"),
        product_type=kw.pop("product_type", CAR_T),
        limits=limits if limits is not None else spec_limits(),
        reason=kw.pop("reason", "Viability limit raised to 80.0 % (CC-2026-14)"),
        **kw,
    )


def test_specification_version_applies_to_new_requests_after_approval(lab: Lab) -> None:
    v1 = Specification.objects.get(code="car-t-release", version=1)
    early = submitted(lab, sample="E-1")
    assert early.specification_id == v1.pk
    v2 = propose_spec(lab, rounding_mode=RoundingMode.ASTM_E29)
    assert (v2.version, v2.status, v2.is_current) == (2, VersionStatus.PENDING, False)
    limit = v2.limits.get(method__code="sterility-cell")
    assert limit.expected_text == "No growth"  # the method's own spelling
    assert v2.limits.get(method__code="viability").unit == "%"  # the method's unit
    assert submitted(lab, sample="E-2").specification_id == v1.pk
    with pytest.raises(PermissionDenied):
        sign(lab.reviewer, v2, "approved")
    sign(lab.qa, v2, "approved")
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v1.is_current) == (VersionStatus.SUPERSEDED, False)
    assert (v2.status, v2.is_current) == (VersionStatus.EFFECTIVE, True)
    late = submitted(lab, sample="E-3")
    assert late.specification_id == v2.pk
    early.refresh_from_db()
    assert early.specification_id == v1.pk
    # a result judged against v2: 79.95 rounds (ASTM E29, one decimal) to 80.0 → conforms
    req = in_testing(lab, sample="E-4")
    result = services.result_enter(
        actor=lab.analyst, test=lab_test(req, "viability"), value="79.95"
    )
    assert result.conformance == "conforms"
    assert result.rounding_mode == RoundingMode.ASTM_E29
    assert verify_database().ok


@pytest.mark.parametrize(
    ("limit", "field", "message"),
    [
        (LimitSpec("viability", LimitKind.RANGE, lower="90.0", upper="80.0"), "lower", "below"),
        (LimitSpec("viability", LimitKind.AT_LEAST, lower="80.00"), "lower", "2 decimals"),
        (LimitSpec("viability", LimitKind.AT_LEAST, lower="eighty"), "lower", "not a limit"),
        (LimitSpec("viability", LimitKind.AT_LEAST, lower=""), "lower", "needs"),
        (LimitSpec("viability", LimitKind.AT_LEAST, lower="70", upper="90"), "upper", "no such"),
        (LimitSpec("viability", LimitKind.QUALITATIVE, expected_text="ok"), "kind", "does not fit"),
        (LimitSpec("viability", "between"), "kind", "unknown kind"),
        (
            LimitSpec("viability", LimitKind.AT_LEAST, lower="80.0", alert_lower="75.0"),
            "alert_lower",
            "outside",
        ),
        (
            LimitSpec("viability", LimitKind.AT_LEAST, lower="80.0", unit="cells/mL"),
            "unit",
            "reports in %",
        ),
    ],
)
def test_specification_limit_errors_name_row_and_field(
    lab: Lab, limit: LimitSpec, field: str, message: str
) -> None:
    n = counts()
    with pytest.raises(Invalid) as exc:
        propose_spec(lab, spec_limits(viability=limit))
    assert exc.value.field == f"limits.viability.{field}"
    assert message in exc.value.message
    assert "viability" in exc.value.message
    assert counts() == n


def test_specification_refusals(lab: Lab) -> None:
    n = counts()
    sterility = LimitSpec("sterility-cell", LimitKind.QUALITATIVE, expected_text="Clear")
    with pytest.raises(Invalid) as exc:
        propose_spec(lab, spec_limits(**{"sterility-cell": sterility}))
    assert exc.value.field == "limits.sterility-cell.expected_text"
    with pytest.raises(Invalid) as exc:
        propose_spec(lab, product_type="Stem cells")
    assert exc.value.field == "product_type"
    with pytest.raises(Invalid) as exc:
        propose_spec(lab, client=lab.client_a)
    assert exc.value.field == "client"
    with pytest.raises(Invalid) as exc:
        propose_spec(lab, [])
    assert exc.value.field == "limits"
    with pytest.raises(PermissionDenied):
        propose_spec(lab, actor=lab.analyst)
    with pytest.raises(Invalid) as exc:
        propose_spec(lab, [LimitSpec("nope", LimitKind.REPORT)])
    assert exc.value.field == "limits.nope"
    assert counts() == n
    propose_spec(lab)
    n = counts()
    with pytest.raises(Conflict):
        propose_spec(lab)
    assert counts() == n


def test_client_specification_is_preferred_for_that_client(lab: Lab) -> None:
    spec = propose_spec(lab, code="aurora-car-t", client=lab.client_a, title="Aurora CAR-T")
    sign(lab.qa, spec, "approved")
    assert submitted(lab, sample="A-9").specification_id == spec.pk
    other = submitted(lab, client=lab.bob, sample="B-9")
    assert other.specification is not None and other.specification.code == "car-t-release"


# --- pages ----------------------------------------------------------------------------------


def test_method_pages_for_lab_and_clients(lab: Lab) -> None:
    method = Method.objects.get(code="viability")
    pending = services.method_version_propose(
        actor=lab.reviewer, method=method, values=VIABILITY, reason="Two decimals"
    )
    qa = logged_in(lab.qa)
    page = qa.get("/qc/catalogue/methods/").content.decode()
    assert "Ph. Eur. 2.6.14" in page and "awaiting approval" in page
    detail = qa.get("/qc/catalogue/methods/viability/").content.decode()
    assert f"/sign/qc.methodversion/{pending.pk}/?meaning=approved" in detail
    reviewer_page = logged_in(lab.reviewer).get("/qc/catalogue/methods/viability/")
    assert "meaning=approved" not in reviewer_page.content.decode()

    alice = logged_in(lab.alice)
    client_page = alice.get("/qc/catalogue/methods/viability/").content.decode()
    assert "Two decimals" not in client_page and "awaiting approval" not in client_page
    n = counts()
    for url in (
        "/qc/catalogue/methods/new/",
        "/qc/catalogue/methods/viability/versions/new/",
        "/qc/catalogue/specifications/",
        "/qc/catalogue/specifications/new/",
        f"/sign/qc.methodversion/{pending.pk}/?meaning=approved",
    ):
        assert alice.get(url).status_code == 404, url
    assert alice.post("/qc/catalogue/methods/new/", {"code": "x"}).status_code == 404
    assert (
        alice.post(
            f"/qc/catalogue/methods/viability/versions/{pending.version}/withdraw/", {"reason": "x"}
        ).status_code
        == 404
    )
    assert counts() == n

    # QA approves on the shared signature page
    response = post_sign_form(
        qa,
        f"/sign/qc.methodversion/{pending.pk}/",
        {"meaning": "approved", "password": PASSWORD},
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.is_current


def form_data(version: MethodVersion, **over: Any) -> dict[str, Any]:
    data = {
        "name": version.name,
        "reference": version.reference,
        "result_type": version.result_type,
        "unit": version.unit,
        "reported_decimals": "" if version.reported_decimals is None else version.reported_decimals,
        "lod": version.lod,
        "loq": version.loq,
        "turnaround_days": version.turnaround_days,
        "qualitative_options": "\n".join(version.qualitative_options),
        "reason": "Updated per SOP",
    }
    data.update(over)
    return data


def test_new_version_form(lab: Lab) -> None:
    current = MethodVersion.objects.get(method__code="endotoxin", is_current=True)
    analyst = logged_in(lab.analyst)
    n = counts()
    page = analyst.post(
        "/qc/catalogue/methods/endotoxin/versions/new/", form_data(current, turnaround_days=3)
    )
    assert page.status_code == 200
    assert "Only QC reviewers, QA and administrators" in page.content.decode()
    assert counts() == n

    reviewer = logged_in(lab.reviewer)
    n = counts()  # the login is on the ledger
    form = reviewer.get("/qc/catalogue/methods/endotoxin/versions/new/").content.decode()
    assert "USP &lt;85&gt;" in form  # starts from the effective version
    bad = reviewer.post(
        "/qc/catalogue/methods/endotoxin/versions/new/",
        form_data(current, unit="", result_type="qualitative", qualitative_options="Pass"),
    )
    assert bad.status_code == 200
    assert "reports decimals" in bad.content.decode() or "Only numeric" in bad.content.decode()
    assert counts() == n
    ok_page = reviewer.post(
        "/qc/catalogue/methods/endotoxin/versions/new/", form_data(current, turnaround_days=3)
    )
    assert ok_page.status_code == 302
    assert MethodVersion.objects.get(method__code="endotoxin", version=2).status == "pending"


def limit_post(spec: Specification, **rows: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"title": spec.title, "rounding_mode": "usp", "reason": "CC-1"}
    for li in spec.limits.select_related("method"):
        prefix = f"limit-{li.method.code}"
        data.update(
            {
                f"{prefix}-kind": li.kind,
                f"{prefix}-lower": li.lower,
                f"{prefix}-lower_inclusive": "on",
                f"{prefix}-upper": li.upper,
                f"{prefix}-upper_inclusive": "on",
                f"{prefix}-expected_text": li.expected_text,
                f"{prefix}-alert_lower": li.alert_lower,
                f"{prefix}-alert_upper": li.alert_upper,
                f"{prefix}-unit": li.unit,
            }
        )
    for code, values in rows.items():
        data.update({f"limit-{code}-{k}": v for k, v in values.items()})
    return data


def test_specification_pages(lab: Lab) -> None:
    v1 = Specification.objects.get(code="car-t-release")
    reviewer = logged_in(lab.reviewer)
    listing = reviewer.get("/qc/catalogue/specifications/?product_type=CAR-T+cells").content
    assert b"car-t-release v1" in listing
    detail = reviewer.get(f"/qc/catalogue/specifications/{v1.pk}/").content.decode()
    assert "≥ 70 %" in detail and "0.5 EU/mL" in detail
    form = reviewer.get(f"/qc/catalogue/specifications/{v1.pk}/new-version/").content.decode()
    assert 'name="limit-viability-lower"' in form and 'value="70"' in form

    n = counts()
    bad = reviewer.post(
        f"/qc/catalogue/specifications/{v1.pk}/new-version/",
        limit_post(v1, viability={"kind": "range", "lower": "90.0", "upper": "80.0"}),
    )
    assert bad.status_code == 200
    text = bad.content.decode()
    assert "viability: the low end 90.0 must be below the high end 80.0." in text
    assert counts() == n

    good = reviewer.post(
        f"/qc/catalogue/specifications/{v1.pk}/new-version/",
        limit_post(v1, viability={"lower": "80.0", "alert_lower": ""}),
    )
    assert good.status_code == 302
    v2 = Specification.objects.get(code="car-t-release", version=2)
    assert v2.status == "pending"
    assert v2.limits.get(method__code="viability").lower == "80.0"
    qa_page = logged_in(lab.qa).get(f"/qc/catalogue/specifications/{v2.pk}/").content.decode()
    assert f"/sign/qc.specification/{v2.pk}/?meaning=approved" in qa_page


# --- API ------------------------------------------------------------------------------------


def test_catalogue_api(lab: Lab) -> None:
    reviewer, qa, alice = Api(lab.reviewer), Api(lab.qa), Api(lab.alice)
    created = ok(
        reviewer.post("/qc/methods/viability/versions", {**VIABILITY, "reason": "SOP r3"}), 201
    )
    assert (created["version"], created["status"]) == (2, "pending")
    ok(
        qa.post(
            "/signatures",
            {
                "record_type": "qc.methodversion",
                "record_id": str(created["id"]),
                "meaning": "approved",
                "password": PASSWORD,
                "expected_digest": digest_of("qc.methodversion", created["id"]),
            },
        ),
        201,
    )
    method = ok(alice.get("/qc/methods/viability"))
    assert [v["version"] for v in method["versions"]] == [2]  # clients: effective only

    n = counts()
    bad = reviewer.post(
        "/qc/specifications",
        {
            "code": "car-t-release",
            "title": "CAR-T release",
            "product_type": CAR_T,
            "reason": "r",
            "limits": [{"method_code": "viability", "kind": "range", "lower": "9", "upper": "8"}],
        },
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "limits.0.lower"
    assert counts() == n
    spec = ok(
        reviewer.post(
            "/qc/specifications",
            {
                "code": "car-t-release",
                "title": "CAR-T release",
                "product_type": CAR_T,
                "reason": "r",
                "rounding_mode": "astm_e29",
                "limits": [{"method_code": "viability", "kind": "at_least", "lower": "80.00"}],
            },
        ),
        201,
    )
    assert spec["status"] == "pending" and spec["limits"][0]["display"] == "≥ 80.00 %"
    assert alice.get("/qc/specifications").status_code == 404
    assert alice.get(f"/qc/specifications/{spec['id']}").status_code == 404
    assert alice.post("/qc/methods", {**VIABILITY, "code": "x", "reason": "r"}).status_code == 404
    current = ok(reviewer.get("/qc/specifications?code=car-t-release&current=true"))
    assert current["count"] == 1 and current["items"][0]["version"] == 1
    # a paged collection: the total, and at most `limit` items from `offset`
    every = ok(reviewer.get("/qc/specifications"))
    assert every["count"] >= 2 and len(every["items"]) == every["count"]
    page = ok(reviewer.get("/qc/specifications?limit=1&offset=1"))
    assert page["count"] == every["count"] and page["items"] == every["items"][1:2]
    assert reviewer.get("/qc/specifications?limit=501").status_code == 422
    client = Client()
    assert client.get("/api/v1/qc/specifications").status_code in (401, 403)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_specification_version_in_chromium(browser_page: Any, live_server: Any, lab: Lab) -> None:
    """A reviewer proposes a new version in the limits table (a wrong range is shown on its
    row and nothing is saved), QA approves it on the signature page, and it takes effect."""
    from tests.qc.test_browser import open_as, sign_here

    url = live_server.url
    v1 = Specification.objects.get(code="car-t-release")
    reviewer = open_as(browser_page, live_server, "reviewer")
    reviewer.goto(f"{url}/qc/catalogue/specifications/{v1.pk}/new-version/")
    reviewer.select_option("select[name=limit-viability-kind]", "range")
    reviewer.fill("input[name=limit-viability-lower]", "90.0")
    reviewer.fill("input[name=limit-viability-upper]", "80.0")
    reviewer.fill("textarea[name=reason]", "Viability limit raised (CC-2026-14)")
    reviewer.click("#specification-form button.primary")
    reviewer.wait_for_selector(
        "#limit-viability .field-error:has-text('the low end 90.0 must be below')"
    )
    assert Specification.objects.filter(code="car-t-release").count() == 1
    reviewer.select_option("select[name=limit-viability-kind]", "at_least")
    reviewer.fill("input[name=limit-viability-lower]", "80.0")
    reviewer.fill("input[name=limit-viability-upper]", "")
    reviewer.fill("input[name=limit-viability-alert_lower]", "85.0")
    reviewer.click("#specification-form button.primary")
    reviewer.wait_for_selector("#spec-status:has-text('Awaiting approval')")
    v2 = Specification.objects.get(code="car-t-release", version=2)

    qa = open_as(browser_page, live_server, "qa")
    qa.goto(f"{url}/qc/catalogue/specifications/{v2.pk}/")
    sign_here(qa, "Approved")
    qa.goto(f"{url}/qc/catalogue/specifications/{v2.pk}/")
    qa.wait_for_selector("#spec-status:has-text('Effective')")
    v2.refresh_from_db()
    assert v2.is_current
    assert v2.limits.get(method__code="viability").display == "≥ 80.0 %"


def test_api_schema_choices_match_the_models() -> None:
    """The API's enumerations of method and specification fields are the models' choices."""
    from celltrace.qc import choices, schemas

    assert set(schemas.RESULT_TYPES) == set(choices.ResultType.values)
    assert set(schemas.LIMIT_KINDS) == set(choices.LimitKind.values)
    assert set(schemas.ROUNDING_MODES) == set(choices.RoundingMode.values)
    assert f"^{services._CODE_RE.pattern}$" == schemas.CODE_PATTERN


def test_api_refuses_codes_and_kinds_outside_the_schema(lab: Lab) -> None:
    """What the schema documents (code pattern, result types) is refused by the service with
    its own message and field, and nothing is written."""
    api = Api(lab.qa)
    before = AuditEvent.objects.count()
    for body, field in (
        ({**VIABILITY, "code": "Bad Code", "reason": "r"}, "code"),
        ({**VIABILITY, "code": "new", "result_type": "colour", "reason": "r"}, "result_type"),
    ):
        r = api.post("/qc/methods", body)
        assert r.status_code == 422, r.content
        assert r.json()["field"] == field
    assert AuditEvent.objects.count() == before
