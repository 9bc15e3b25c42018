"""Hypothesis stateful test of the sample life cycle (reliability guide §9.4, figure 10).

A ``RuleBasedStateMachine`` drives the REAL services (no mocks) of the bank, storage, QC and
audit apps next to a plain Python reference model, and checks after every step that the
database still says what the model says.

Rules: place, move, retrieve and return aliquots; split an aliquot into child aliquots; move
aliquots along their status life cycle (legal and illegal transitions, and the QA-only release
from quarantine attempted by a technician); hand a QC sample over between laboratory staff
(and, refused, to a client user); enter QC results; sign them performed and reviewed (four
eyes: the reviewer's own result, a review before the performed signature and a second
signature of one meaning are refused). Every refused step must raise the domain error the
model predicts AND change nothing: no ledger entry, and the invariants below.

Invariants, after every step: one aliquot per position and one position per aliquot; the
database equals the model (status, volume, parent and position of every aliquot; custodian of
the sample; results and their signatures; the request's status); the volumes of an aliquot's
children stay within its own; the ledger verifies (``verify_database().ok``).

Running it: the base data (people, a storage box pair, four aliquots, a QC request in testing)
is written once in the test's transaction. Every example opens a savepoint in ``@initialize``
and rolls it back in ``teardown()``, so examples never see each other's rows (the guide's
"clean up in @initialize"). Settings are derandomized, sized to stay well under a minute:
``LIFECYCLE_EXAMPLES`` × ``LIFECYCLE_STEPS`` (environment variables; 15 × 25 by default).

Finding (bank, reported, not enforced by ``bank.services.aliquot_create``): a child aliquot may
be created with a volume larger than what remains of its parent. The split rule therefore
draws child volumes within the parent's remaining volume, and the invariant checks that the
database keeps them there.
"""

from __future__ import annotations

import inspect
import os
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from django.test import RequestFactory
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from celltrace.audit.choices import SignatureMeaning
from celltrace.audit.models import AuditEvent, Signature
from celltrace.audit.services import record_sign
from celltrace.audit.verification import verify_database
from celltrace.bank import services as bank
from celltrace.bank.choices import (
    ALLOWED_TRANSITIONS,
    IN_STOCK_STATUSES,
    LEAVING_STATUSES,
    AliquotStatus,
    ContainerType,
    Use,
)
from celltrace.bank.models import Aliquot
from celltrace.core.errors import Conflict, DomainError, Invalid, PermissionDenied
from celltrace.qc import services as qc
from celltrace.qc.choices import RequestStatus, ResultStatus
from celltrace.qc.models import Result, Sample, Test
from celltrace.storage import services as storage
from celltrace.storage.models import Placement, Position
from tests.bank import factories
from tests.conftest import PASSWORD

EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "15"))
STEPS = int(os.environ.get("LIFECYCLE_STEPS", "25"))
VALUES = {"viability": ["85.2", "91.0"], "endotoxin": ["< 0.05", "0.12"]}
STATUSES = list(AliquotStatus.values)
PERFORMED, REVIEWED = SignatureMeaning.PERFORMED, SignatureMeaning.REVIEWED


@dataclass
class Base:
    """Rows written once, before the examples; each example starts from exactly these."""

    tech: Any
    qa: Any
    analyst: Any
    analyst2: Any
    reviewer: Any
    client_user: Any
    positions: list[Position]
    aliquots: list[int]
    sample: int
    tests: dict[str, int]  # method code -> test pk


@dataclass
class AliquotModel:
    status: str
    volume: Decimal
    product: int
    parent: int | None
    first_level: bool
    position: int | None = None
    retrieved: bool = False


@dataclass
class ResultModel:
    pk: int
    entered_by: int
    signed: dict[str, int] = field(default_factory=dict)  # meaning -> signer pk


def _sign(user: Any, record: Any, meaning: str) -> Signature:
    req = RequestFactory().post("/sign/")
    req.user = user
    req.META["REMOTE_ADDR"] = "127.0.0.1"
    return record_sign(request=req, actor=user, record=record, meaning=meaning, password=PASSWORD)


class Lifecycle(RuleBasedStateMachine):
    base: ClassVar[Base]
    #: (rule, "ok" | "refused") -> count over the whole run: the test checks it covered both.
    tally: ClassVar[Counter[tuple[str, str]]] = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.atomic: Any = None
        self.aliquots: dict[int, AliquotModel] = {}
        self.custodian = 0
        self.results: dict[str, ResultModel] = {}  # method code -> current result
        self.request_status = RequestStatus.IN_TESTING

    # --- set-up and tear-down -------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        """Open this example's savepoint and load the model from the base rows."""
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        for a in Aliquot.objects.filter(pk__in=self.base.aliquots):
            self.aliquots[a.pk] = AliquotModel(
                status=a.status,
                volume=a.volume_ul,
                product=a.product_id,
                parent=None,
                first_level=True,
            )
        self.custodian = self.base.analyst.pk
        assert Sample.objects.get(pk=self.base.sample).custodian_id == self.custodian

    def teardown(self) -> None:
        if self.atomic is not None:
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)
            self.atomic = None

    # --- helpers --------------------------------------------------------------------------

    def _pick(self, i: int, aim: bool = False, when: Any = None) -> tuple[int, AliquotModel]:
        """Aliquot number ``i``; with ``aim``, among those for which ``when(model)`` holds (so
        that the legal paths are exercised as often as the refusals)."""
        pks = sorted(self.aliquots)
        if aim and when is not None:
            pks = [pk for pk in pks if when(self.aliquots[pk])] or pks
        pk = pks[i % len(pks)]
        return pk, self.aliquots[pk]

    def _position(self, j: int) -> Position:
        return self.base.positions[j % len(self.base.positions)]

    def _free(self, j: int) -> Position:
        free = [p for p in self.base.positions if not self._occupied(p.pk)]
        return free[j % len(free)] if free else self._position(j)

    def _occupied(self, position_pk: int) -> bool:
        return any(m.position == position_pk for m in self.aliquots.values())

    def _refused(self, expected: type[DomainError], call: Any) -> None:
        """``call`` must raise ``expected`` and write nothing to the ledger."""
        before = AuditEvent.objects.count()
        with pytest.raises(expected):
            call()
        assert AuditEvent.objects.count() == before, "a refused step wrote to the ledger"
        self.tally[(inspect.stack()[1].function, "refused")] += 1

    def _ok(self, call: Any, entries: int = 1) -> Any:
        before = AuditEvent.objects.count()
        out = call()
        assert AuditEvent.objects.count() == before + entries
        self.tally[(inspect.stack()[1].function, "ok")] += 1
        return out

    # --- storage rules --------------------------------------------------------------------

    @rule(i=st.integers(0, 63), j=st.integers(0, 63), aim=st.booleans())
    def place(self, i: int, j: int, aim: bool) -> None:
        pk, m = self._pick(i, aim, lambda a: a.status in IN_STOCK_STATUSES and a.position is None)
        pos = self._free(j) if aim else self._position(j)

        def call() -> Any:
            return storage.aliquot_place(
                actor=self.base.tech,
                aliquot=Aliquot.objects.get(pk=pk),
                box=pos.box,
                position=pos,
                reason="lifecycle",
            )

        if m.status not in IN_STOCK_STATUSES or m.position is not None or self._occupied(pos.pk):
            self._refused(Conflict, call)
        else:
            self._ok(call)
            m.position = pos.pk

    @rule(i=st.integers(0, 63), j=st.integers(0, 63), aim=st.booleans())
    def move(self, i: int, j: int, aim: bool) -> None:
        pk, m = self._pick(i, aim, lambda a: a.position is not None)
        pos = self._free(j) if aim else self._position(j)

        def call() -> Any:
            return storage.aliquot_move(
                actor=self.base.tech,
                aliquot=Aliquot.objects.get(pk=pk),
                box=pos.box,
                position=pos,
                reason="reorganise the box",
            )

        if m.position is None:
            self._refused(Conflict, call)
        elif m.position == pos.pk:
            self._refused(Invalid, call)
        elif self._occupied(pos.pk):
            self._refused(Conflict, call)
        else:
            self._ok(call)
            m.position = pos.pk

    @rule(i=st.integers(0, 63), aim=st.booleans())
    def retrieve(self, i: int, aim: bool) -> None:
        pk, m = self._pick(i, aim, lambda a: a.position is not None)

        def call() -> Any:
            return storage.aliquot_retrieve(
                actor=self.base.tech, aliquot=Aliquot.objects.get(pk=pk), reason="withdraw"
            )

        if m.position is None:
            self._refused(Conflict, call)
        else:
            self._ok(call)
            m.position = None
            m.retrieved = True

    @rule(i=st.integers(0, 63), j=st.integers(0, 63), aim=st.booleans())
    def give_back(self, i: int, j: int, aim: bool) -> None:
        pk, m = self._pick(
            i, aim, lambda a: a.retrieved and a.position is None and a.status in IN_STOCK_STATUSES
        )
        pos = self._free(j) if aim else self._position(j)

        def call() -> Any:
            return storage.aliquot_return(
                actor=self.base.tech,
                aliquot=Aliquot.objects.get(pk=pk),
                box=pos.box,
                position=pos,
                reason="back after use",
            )

        if (
            m.status not in IN_STOCK_STATUSES
            or not m.retrieved
            or m.position is not None
            or self._occupied(pos.pk)
        ):
            self._refused(Conflict, call)
        else:
            self._ok(call)
            m.position = pos.pk

    # --- bank rules -----------------------------------------------------------------------

    @rule(i=st.integers(0, 63), tenths=st.integers(1, 10_000))
    def split(self, i: int, tenths: int) -> None:
        pk, m = self._pick(i)
        parent = Aliquot.objects.get(pk=pk)
        if not m.first_level:  # a child is not split again: the service must refuse
            self._refused(
                Invalid,
                lambda: bank.aliquot_create(
                    actor=self.base.tech,
                    product=parent.product,
                    container_type=ContainerType.CRYOVIAL_1_8,
                    volume_ul=Decimal("1.0"),
                    parent=parent,
                ),
            )
            return
        children = [c for c in self.aliquots.values() if c.parent == pk]
        left = int((m.volume - sum((c.volume for c in children), Decimal(0))) * 10)
        if left < 1 or len(children) >= 26:  # no volume, or no division code (Aa … Az), left
            return
        volume = Decimal(1 + (tenths - 1) % left) / 10
        child = self._ok(
            lambda: bank.aliquot_create(
                actor=self.base.tech,
                product=parent.product,
                container_type=ContainerType.CRYOVIAL_1_8,
                volume_ul=volume,
                parent=parent,
            )
        )
        assert child.status == AliquotStatus.QUARANTINE
        self.aliquots[child.pk] = AliquotModel(
            status=AliquotStatus.QUARANTINE,
            volume=volume,
            product=m.product,
            parent=pk,
            first_level=False,
        )

    @rule(i=st.integers(0, 63), k=st.integers(0, 63), aim=st.booleans(), by_tech=st.booleans())
    def set_status(self, i: int, k: int, aim: bool, by_tech: bool) -> None:
        pk, m = self._pick(i, aim, lambda a: bool(ALLOWED_TRANSITIONS[a.status]))
        legal = sorted(ALLOWED_TRANSITIONS[m.status])
        staying = [s for s in legal if s not in LEAVING_STATUSES]
        # aimed: a legal transition, three times as often one that keeps the aliquot in stock
        choices = staying * 3 + legal if aim and legal else STATUSES
        new = choices[k % len(choices)]
        release = m.status == AliquotStatus.QUARANTINE and new == AliquotStatus.AVAILABLE
        actor = self.base.tech if (by_tech or not release) else self.base.qa

        def call() -> Any:
            return bank.aliquot_set_status(
                actor=actor,
                aliquot=Aliquot.objects.get(pk=pk),
                status=new,
                reason="lifecycle step",
                use=Use.RESEARCH,
            )

        if release and by_tech:
            self._refused(PermissionDenied, call)
        elif new not in ALLOWED_TRANSITIONS[m.status]:
            self._refused(Invalid, call)
        else:
            self._ok(call)
            m.status = new
            if new in LEAVING_STATUSES:
                m.position = None

    # --- QC rules -------------------------------------------------------------------------

    @rule(who=st.sampled_from(["analyst", "analyst2", "reviewer", "client_user"]))
    def hand_over(self, who: str) -> None:
        to = getattr(self.base, who)

        def call() -> Any:
            return qc.sample_hand_over(
                actor=self.base.analyst,
                sample=Sample.objects.get(pk=self.base.sample),
                to=to,
                reason="next bench",
            )

        if who == "client_user":
            self._refused(Invalid, call)
        elif to.pk == self.custodian:
            self._refused(Conflict, call)
        else:
            self._ok(call)
            self.custodian = to.pk

    @rule(code=st.sampled_from(sorted(VALUES)), k=st.integers(0, 1), aim=st.booleans())
    def enter_result(self, code: str, k: int, aim: bool) -> None:
        if aim:  # a test that has no result yet, if there is one
            code = next((c for c in sorted(VALUES) if c not in self.results), code)
        test = Test.objects.get(pk=self.base.tests[code])

        def call() -> Any:
            return qc.result_enter(actor=self.base.analyst, test=test, value=VALUES[code][k])

        if self.request_status != RequestStatus.IN_TESTING or code in self.results:
            self._refused(Conflict, call)
        else:
            result = self._ok(call)
            self.results[code] = ResultModel(pk=result.pk, entered_by=self.base.analyst.pk)

    @rule(
        i=st.integers(0, 7),
        meaning=st.sampled_from([PERFORMED, REVIEWED]),
        who=st.sampled_from(["analyst", "reviewer"]),
        aim=st.booleans(),
    )
    def sign_result(self, i: int, meaning: str, who: str, aim: bool) -> None:
        if not self.results:
            return
        code = sorted(self.results)[i % len(self.results)]
        model = self.results[code]
        if aim:  # the signature the result needs next, by the person who may give it
            meaning = REVIEWED if PERFORMED in model.signed else PERFORMED
            who = "analyst" if meaning == PERFORMED else "reviewer"
        signer = getattr(self.base, who)
        result = Result.objects.get(pk=model.pk)

        def call() -> Any:
            return _sign(signer, result, meaning)

        if meaning == PERFORMED:
            allowed = who == "analyst"  # only the analyst who entered it
        else:  # four eyes: another person, a reviewer, after the performed signature
            allowed = who == "reviewer" and PERFORMED in model.signed
        if not allowed:
            self._refused(PermissionDenied, call)
        elif meaning in model.signed:
            self._refused(Conflict, call)
        else:
            done = {c for c, r in self.results.items() if REVIEWED in r.signed}
            completes = meaning == REVIEWED and done | {code} == set(self.base.tests)
            self._ok(call, entries=2 if completes else 1)  # + the request's status change
            model.signed[meaning] = signer.pk
            if completes:
                self.request_status = RequestStatus.REVIEWED

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def one_aliquot_per_position_and_one_position_per_aliquot(self) -> None:
        active = Placement.objects.filter(removed_at__isnull=True)
        assert not active.values("position").annotate(n=Count("pk")).filter(n__gt=1).exists()
        assert not active.values("aliquot").annotate(n=Count("pk")).filter(n__gt=1).exists()

    @invariant()
    def database_equals_model(self) -> None:
        if self.atomic is None:
            return
        rows = {
            a.pk: a
            for a in Aliquot.objects.filter(pk__in=list(self.aliquots)).only(
                "status", "volume_ul", "parent_id"
            )
        }
        assert set(rows) == set(self.aliquots)
        where = dict(
            Placement.objects.filter(removed_at__isnull=True, aliquot_id__in=list(rows))
            .values_list("aliquot_id", "position_id")
            .order_by()
        )
        for pk, m in self.aliquots.items():
            assert rows[pk].status == m.status, pk
            assert rows[pk].volume_ul == m.volume, pk
            assert rows[pk].parent_id == m.parent, pk
            assert where.get(pk) == m.position, pk
        assert Sample.objects.get(pk=self.base.sample).custodian_id == self.custodian
        tests = Test.objects.filter(pk__in=self.base.tests.values())
        assert tests.first().request.status == self.request_status  # type: ignore[union-attr]
        results = Result.objects.filter(test__in=tests)
        assert results.count() == len(self.results)
        for model in self.results.values():
            result = results.get(pk=model.pk)
            assert result.status == ResultStatus.VALID
            signed = dict(
                Signature.objects.filter(
                    record_type="qc.result", record_id=str(model.pk), withdrawal__isnull=True
                ).values_list("meaning", "signer_id")
            )
            assert signed == model.signed

    @invariant()
    def children_within_parent(self) -> None:
        sums = (
            Aliquot.objects.filter(parent__isnull=False)
            .values("parent_id")
            .annotate(total=Sum("volume_ul"))
            .order_by()
        )
        for row in sums:
            parent = Aliquot.objects.get(pk=row["parent_id"])
            assert row["total"] <= parent.volume_ul, (parent.pk, row["total"])

    @invariant()
    def ledger_verifies(self) -> None:
        report = verify_database()
        assert report.ok, report.problems


@pytest.mark.slow
@pytest.mark.django_db
def test_lifecycle_model(operator: Any, client_a: Any, make_user: Any) -> None:
    qc.methods_seed()
    tech = make_user(operator, "bank_technician", username="lc-tech", full_name="Tao Tech")
    analyst = make_user(operator, "qc_analyst", username="lc-analyst", full_name="Li Na")
    people = {
        "qa": make_user(operator, "qa", username="lc-qa", full_name="Quinn Assurance"),
        "analyst2": make_user(operator, "qc_analyst", username="lc-an2", full_name="Wang Fang"),
        "reviewer": make_user(operator, "qc_reviewer", username="lc-rev", full_name="Rita Rev"),
        "client_user": make_user(client_a, "client_user", username="lc-alice", full_name="Al"),
    }
    h = factories.hierarchy(tech, boxes=2, rows=2, columns=2, code="lc")
    positions = [p for box in h["boxes"] for p in factories.positions_of(box)]
    stock = factories.aliquots(tech, client_a, 4)
    req = qc.request_create(
        actor=people["client_user"],
        product="Aurocel",
        product_type="CAR-T cells",
        batch="B-LC-01",
        samples=[qc.SampleSpec("LC-001", container="cryobag")],
        method_codes=sorted(VALUES),
        submit=True,
    )
    sample = req.samples.get()
    qc.sample_receive(actor=analyst, request=req, scanned_id="LC-001", accept=True)
    tests = qc.tests_create(actor=analyst, request=req)
    Lifecycle.base = Base(
        tech=tech,
        analyst=analyst,
        positions=[Position.objects.select_related("box").get(pk=p.pk) for p in positions],
        aliquots=[a.pk for a in stock],
        sample=sample.pk,
        tests={t.method_version.method.code: t.pk for t in tests},
        **people,
    )
    assert set(Lifecycle.base.tests) == set(VALUES)
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    tally = Lifecycle.tally
    print(  # figure 10 of the reliability guide, shown with pytest -s
        f"lifecycle examples={EXAMPLES} steps={STEPS} "
        f"ok={sum(n for (_, k), n in tally.items() if k == 'ok')} "
        f"refused={sum(n for (_, k), n in tally.items() if k == 'refused')} "
        + " ".join(f"{r}:{k}={n}" for (r, k), n in sorted(tally.items()))
    )
    # The run must have exercised each area's legal paths and its refusals (which rule fires
    # how often is Hypothesis's choice, so the check is per area, not per rule)
    areas = {
        "storage": ("place", "move", "retrieve", "give_back"),
        "bank": ("split", "set_status"),
        "qc": ("hand_over", "enter_result", "sign_result"),
    }
    for area, rules in areas.items():
        assert sum(tally[(r, "ok")] for r in rules) > 0, f"no {area} step succeeded"
        assert sum(tally[(r, "refused")] for r in rules) > 0, f"no {area} step was refused"
