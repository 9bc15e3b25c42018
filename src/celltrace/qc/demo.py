"""Demo data of the QC laboratory: three clients with requests in every state, an open and a
closed OOS investigation, an issued and an amended certificate. Idempotent; writes only through
services (signatures through :func:`celltrace.audit.services.record_sign`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import RequestFactory

from celltrace.audit.services import record_sign
from celltrace.core import services as core_services
from celltrace.core.choices import OrganisationKind, Role
from celltrace.core.demo import DEMO_PASSWORD
from celltrace.core.models import Organisation, User
from celltrace.qc import services
from celltrace.qc.choices import LimitKind, RoundingMode
from celltrace.qc.models import ClientContact, OosInvestigation, Specification, TestRequest
from celltrace.qc.services import LimitSpec, SampleSpec

CAR_T = "CAR-T cells"
METHODS = ["endotoxin", "mycoplasma-nat", "sterility-cell", "viability"]
GOOD = {
    "endotoxin": "< 0.05",
    "mycoplasma-nat": "Not detected",
    "sterility-cell": "No growth",
    "viability": "86.4",
}


def _sign(user: User, record: Any, meaning: str) -> None:
    request = RequestFactory().post("/sign/")
    request.user = user
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    record_sign(request=request, actor=user, record=record, meaning=meaning, password=DEMO_PASSWORD)


class Demo:
    def __init__(self) -> None:
        self.analyst = User.objects.get(username="analyst")
        self.reviewer = User.objects.get(username="reviewer")
        self.qa = User.objects.get(username="qa")

    def request(
        self, client: User, batch: str, n_samples: int = 1, **kw: Any
    ) -> TestRequest | None:
        """A new submitted request, or None when the demo already created it."""
        if TestRequest.objects.filter(organisation=client.organisation, batch=batch).exists():
            return None
        return services.request_create(
            actor=client,
            product=kw.pop("product", "Aurocel"),
            product_type=CAR_T,
            batch=batch,
            samples=[
                SampleSpec(f"{batch}-S{i}", container="cryobag 50 mL")
                for i in range(1, n_samples + 1)
            ],
            method_codes=kw.pop("methods", METHODS),
            submit=kw.pop("submit", True),
            **kw,
        )

    def receive(self, req: TestRequest) -> None:
        for sample in req.samples.order_by("pk"):
            services.sample_receive(
                actor=self.analyst,
                request=req,
                scanned_id=sample.client_sample_id,
                accept=True,
                temperature_c=None,
            )

    def test(self, req: TestRequest) -> None:
        self.receive(req)
        services.tests_create(actor=self.analyst, request=req)

    def results(self, req: TestRequest, values: dict[str, str], review: bool = True) -> None:
        for test in req.tests.select_related("method_version__method").order_by("pk"):
            code = test.method_version.method.code
            if code not in values:
                continue
            result = services.result_enter(actor=self.analyst, test=test, value=values[code])
            _sign(self.analyst, result, "performed")
            if review:
                _sign(self.reviewer, result, "reviewed")

    def release(self, req: TestRequest) -> None:
        req.refresh_from_db()
        _sign(self.qa, req, "released")

    def certify(self, req: TestRequest, language: str = "en") -> Any:
        self.release(req)
        return services.certificate_issue(actor=self.qa, request=req, language=language)


def _specifications(qa: User, borealis: Organisation) -> None:
    if not Specification.objects.filter(code="car-t-release").exists():
        services.specification_create(
            actor=qa,
            code="car-t-release",
            title="Autologous CAR-T cells: release",
            product_type=CAR_T,
            limits=[
                LimitSpec("viability", LimitKind.AT_LEAST, lower="70", unit="%", alert_lower="75"),
                LimitSpec("endotoxin", LimitKind.AT_MOST, upper="0.5", unit="EU/mL"),
                LimitSpec("sterility-cell", LimitKind.QUALITATIVE, expected_text="No growth"),
                LimitSpec("mycoplasma-nat", LimitKind.QUALITATIVE, expected_text="Not detected"),
                LimitSpec("identity-flow", LimitKind.AT_LEAST, lower="20", unit="%"),
                LimitSpec("purity-flow", LimitKind.AT_LEAST, lower="70", unit="%"),
                LimitSpec("vcn", LimitKind.AT_MOST, upper="10", unit="copies/cell"),
                LimitSpec("rcv", LimitKind.QUALITATIVE, expected_text="Not detected"),
                LimitSpec("appearance", LimitKind.REPORT),
            ],
            reason="Initial release specification (ARI-0001 style limits)",
        )
    if not Specification.objects.filter(code="borealis-car-t").exists():
        services.specification_create(
            actor=qa,
            code="borealis-car-t",
            title="Borealis CAR-T: client release specification",
            product_type=CAR_T,
            client=borealis,
            rounding_mode=RoundingMode.ASTM_E29,
            limits=[
                LimitSpec("viability", LimitKind.AT_LEAST, lower="80.0", unit="%"),
                LimitSpec("endotoxin", LimitKind.AT_MOST, upper="5.0", unit="EU/mL"),
                LimitSpec("sterility-cell", LimitKind.QUALITATIVE, expected_text="No growth"),
                LimitSpec("mycoplasma-nat", LimitKind.QUALITATIVE, expected_text="Not detected"),
            ],
            reason="Client quality agreement QA-BOR-2026",
        )


def _client(code: str, name: str, username: str, person: str) -> User:
    org = Organisation.objects.filter(code=code).first()
    if org is None:
        org = core_services.organisation_create(
            actor=None, name=name, code=code, kind=OrganisationKind.CLIENT, country="SG"
        )
    user = User.objects.filter(username=username).first()
    if user is None:
        user = core_services.user_create(
            actor=None,
            organisation=org,
            username=username,
            full_name=person,
            email=f"{username}@example.org",
            roles=[Role.CLIENT_USER],
            password=DEMO_PASSWORD,
            must_change_password=False,
        )
    return user


def load(progress: bool) -> None:
    services.methods_seed()
    aurora = User.objects.get(username="aurora")
    borealis = User.objects.get(username="borealis")
    cirrus = _client("cirrus", "Cirrus Cell Therapy", "cirrus", "Siti Rahman")
    for user, person in ((aurora, "Chen Wei"), (borealis, "Ben Becker"), (cirrus, "Siti Rahman")):
        org = user.organisation
        assert org is not None
        if not ClientContact.objects.filter(organisation=org).exists():
            services.client_contact_create(
                actor=None,
                organisation=org,
                name=person,
                email=f"{user.username}@example.org",
                function="Head of quality",
                is_primary=True,
            )
    d = Demo()
    assert borealis.organisation is not None
    _specifications(d.qa, borealis.organisation)
    steps: list[tuple[User, str, Callable[[TestRequest], Any], dict[str, Any]]] = [
        (aurora, "AUR-26-001", lambda r: None, {"submit": False}),  # draft
        (aurora, "AUR-26-002", lambda r: None, {"priority": "urgent"}),  # submitted
        (aurora, "AUR-26-003", d.receive, {"n_samples": 2}),  # received
        (
            aurora,
            "AUR-26-004",
            lambda r: _steps(d, r, "performed"),
            {},
        ),
        (aurora, "AUR-26-005", lambda r: _steps(d, r, "reviewed"), {}),  # reviewed
        (aurora, "AUR-26-006", lambda r: _steps(d, r, "released"), {}),
        (aurora, "AUR-26-007", lambda r: _amended(d, r), {}),  # certified, translated, amended
        (aurora, "AUR-26-008", lambda r: _open_oos(d, r), {}),  # open OOS
        (borealis, "BOR-26-101", lambda r: _closed_oos(d, r), {"product": "Borecel"}),
        (borealis, "BOR-26-102", lambda r: None, {"product": "Borecel"}),
        (borealis, "BOR-26-103", lambda r: _cancel(borealis, r), {"product": "Borecel"}),
        (cirrus, "CIR-26-201", lambda r: _steps(d, r, "reviewed"), {"product": "Cirracel"}),
        (
            cirrus,
            "CIR-26-202",
            lambda r: None,
            {"product": "Cirracel", "methods": ["sterility", "rcv"]},
        ),
    ]
    for client, batch, then, kw in steps:
        req = d.request(client, batch, **kw)
        if req is not None:
            if progress:
                print(f"  {req.number} {batch}", flush=True)
            then(req)
    _catalogue(d, aurora, progress)


def _steps(d: Demo, req: TestRequest, upto: str) -> None:
    """Into testing, then results performed only (one borderline value), reviewed, or released."""
    d.test(req)
    if upto == "performed":
        d.results(req, {"viability": "69.5"}, review=False)
        return
    d.results(req, GOOD)
    if upto == "released":
        d.release(req)


def _amended(d: Demo, req: TestRequest) -> None:
    """Issued in English with a Chinese translation, then amended (version 2 supersedes both)
    and translated again."""
    d.test(req)
    d.results(req, GOOD)
    cert = d.certify(req)
    services.certificate_translate(actor=d.qa, certificate=cert, language="zh-hans")
    amended = services.certificate_amend(
        actor=d.qa,
        certificate=cert,
        reason="Sample description corrected at the client's request (batch reference)",
    )
    services.certificate_translate(actor=d.qa, certificate=amended, language="zh-hans")


def _open_oos(d: Demo, req: TestRequest) -> None:
    d.test(req)
    d.results(req, {**GOOD, "endotoxin": "0.92"})


def _closed_oos(d: Demo, req: TestRequest) -> None:
    d.test(req)
    d.results(req, {**GOOD, "viability": "78.4"})  # below Borealis' 80.0
    oos = OosInvestigation.objects.get(request=req)
    services.oos_complete_phase1(
        actor=d.reviewer,
        oos=oos,
        assignable_cause=True,
        summary="Counting chamber not cleaned between samples; assignable laboratory error.",
    )
    d.results(req, {"viability": "84.1"})
    d.certify(req)


def _cancel(client: User, req: TestRequest) -> None:
    services.request_cancel(actor=client, request=req, reason="Batch withdrawn by the client")


def _catalogue(d: Demo, aurora: User, progress: bool) -> None:
    """Test panels (a global release panel and Aurora's own), a method version and a
    specification version awaiting QA's approval, a request made with a panel, and the
    accepted samples of AUR-26-003 stored in the first free positions of the demo storage."""
    from celltrace.qc.choices import VersionStatus
    from celltrace.qc.models import Method, MethodVersion, TestPanel

    org = aurora.organisation
    assert org is not None
    if not TestPanel.objects.filter(code="car-t-release").exists():
        services.panel_create(
            actor=d.reviewer,
            code="car-t-release",
            name="Autologous CAR-T release panel",
            description="Sterility, endotoxin, mycoplasma, viability, identity and VCN.",
            method_codes=[
                "sterility-cell",
                "endotoxin",
                "mycoplasma-nat",
                "viability",
                "identity-flow",
                "vcn",
            ],
            product_type=CAR_T,
        )
    if not TestPanel.objects.filter(code="aurora-in-process").exists():
        services.panel_create(
            actor=d.reviewer,
            code="aurora-in-process",
            name="Aurora in-process controls",
            method_codes=["cell-count", "viability", "purity-flow"],
            product_type=CAR_T,
            client=org,
        )
    viability = Method.objects.get(code="viability")
    if not MethodVersion.objects.filter(method=viability, version__gt=1).exists():
        current = MethodVersion.objects.get(method=viability, is_current=True)
        services.method_version_propose(
            actor=d.reviewer,
            method=viability,
            values={f: getattr(current, f) for f in services.METHOD_FIELDS}
            | {"reported_decimals": 2, "reference": "Ph. Eur. 2.7.29; USP <1046>; SOP-QC-012 r4"},
            reason="Automated counter reports two decimals (CC-2026-031)",
        )
    if not Specification.objects.filter(code="car-t-release", version__gt=1).exists():
        base = Specification.objects.get(code="car-t-release", status=VersionStatus.EFFECTIVE)
        limits = [
            LimitSpec(
                li.method.code,
                li.kind,
                lower="80" if li.method.code == "viability" else li.lower,
                upper=li.upper,
                expected_text=li.expected_text,
                alert_lower="85" if li.method.code == "viability" else li.alert_lower,
                unit=li.unit,
            )
            for li in base.limits.select_related("method").order_by("method__code")
        ]
        services.specification_propose(
            actor=d.reviewer,
            code="car-t-release",
            title=base.title,
            product_type=base.product_type,
            limits=limits,
            reason="Viability limit raised to 80 % after process validation (CC-2026-044)",
        )
    if not TestRequest.objects.filter(organisation=org, batch="AUR-26-009").exists():
        req = services.request_create(
            actor=aurora,
            product="Aurocel",
            product_type=CAR_T,
            batch="AUR-26-009",
            samples=[SampleSpec("AUR-26-009-S1", container="cryobag 50 mL")],
            method_codes=["appearance"],
            panel_codes=["car-t-release", "aurora-in-process"],
            submit=True,
        )
        if progress:
            print(f"  {req.number} AUR-26-009 (panels)", flush=True)
    _store_samples(d)


def _store_samples(d: Demo) -> None:
    from celltrace.qc.choices import SampleStatus
    from celltrace.qc.models import Sample, SamplePlacement
    from celltrace.storage.models import Placement, Position

    samples = Sample.objects.filter(
        request__batch="AUR-26-003", status=SampleStatus.ACCEPTED, placements__isnull=True
    ).order_by("pk")
    aliquots = Placement.objects.filter(removed_at__isnull=True).values("position_id")
    held = SamplePlacement.objects.filter(removed_at__isnull=True).values("position_id")
    for sample in samples:
        free = (
            Position.objects.exclude(pk__in=aliquots)
            .exclude(pk__in=held)
            .order_by("box_id", "row", "col")
            .first()
        )
        if free is None:
            return  # no storage in this demo
        services.sample_store(
            actor=d.analyst, sample=sample, position=free, reason="Retained sample"
        )
