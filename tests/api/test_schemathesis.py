"""schemathesis 4 against the live OpenAPI schema, in process (reliability guide §9.3, figure 9).

Every operation of ``/api/v1/openapi.json`` (loaded from the running code through WSGI, not the
committed file) gets generated requests. Each generated case is sent twice, as a lab user (an
administrator who is also a bank technician and QC analyst) and as a client user of client A,
and both responses must pass schemathesis's checks: no server error, status code and body
declared in the schema, content type, response headers.

The cross-tenant idea: client B owns a donor, an aliquot, a QC request with a test and a
result. For every operation with exactly one object identifier in its path, client A's case is
replayed with that identifier replaced by client B's object and by an identifier that does not
exist: both answers must be the same refusal (same status and problem code; never 2xx, never a
hint that B's object exists) and the probe must write nothing to the ledger. And no response
to client A, whatever the operation, may contain client B's marker strings.

Size: ``SCHEMATHESIS_EXAMPLES`` generated cases per operation and phase (default 3; seed 1,
derandomized, so the run is reproducible), which keeps the whole run within CI's two minutes;
the coverage phase is off. Excluded operations and checks, and why, are listed in
:data:`EXCLUDED` and :data:`EXCLUDED_CHECKS` (findings in modules owned elsewhere, reported).
The run prints ``schemathesis operations=<n> cases=<n> excluded=<n> seed=1 examples=<n>`` at
the end (shown with ``pytest -s``).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from celltrace.audit.models import AuditEvent

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
MARKER_B = "BOREALIS-PRIVATE"

#: operation id -> the finding that excludes it until the owning module is fixed.
EXCLUDED: dict[str, str] = {}
#: "Schema-valid request rejected" (ST202) is left out: most operations have rules the schema
#: cannot state (consent on file, an existing method code, a free position, a product type the
#: catalogue knows), so a 422 for a schema-valid body is the documented answer, not a bug. The
#: schema-looseness it found is reported and fixed in the owning modules instead.
EXCLUDED_CHECKS = [positive_data_acceptance]

#: Fixed seed; the coverage phase (hundreds of boundary cases per operation) is left to the
#: command-line run of the guide, the examples and fuzzing phases run here.
CONFIG = SchemathesisConfig.from_dict({"seed": 1, "phases": {"coverage": {"enabled": False}}})
schema: Any = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", get_wsgi_application(), config=CONFIG
)
if EXCLUDED:
    schema = schema.exclude(operation_id=list(EXCLUDED))

#: path parameter -> how to find client B's object of that kind
FOREIGN_PARAMS = ("aliquot_id", "donor_id", "request_id", "test_id", "result_id")
NONEXISTENT = 2_000_000_000


@dataclass
class World:
    lab_token: str
    client_token: str
    foreign: dict[str, int]


def _make_world() -> World:
    """The people and client B's objects, written once for the module."""
    from celltrace.core import services as core
    from celltrace.core.choices import OrganisationKind
    from celltrace.qc import services as qc
    from tests.bank import factories
    from tests.conftest import PASSWORD

    def user(o: Any, username: str, *roles: str) -> Any:
        return core.user_create(
            actor=None,
            organisation=o,
            username=username,
            full_name=f"{username} person",
            email=f"{username}@example.org",
            roles=roles,
            password=PASSWORD,
            must_change_password=False,
        )

    def org(kind: str, name: str, code: str) -> Any:
        return core.organisation_create(actor=None, name=name, code=code, kind=kind)

    operator = org(OrganisationKind.OPERATOR, "Operator Lab", "operator")
    client_a = org(OrganisationKind.CLIENT, "Client A", "client-a")
    client_b = org(OrganisationKind.CLIENT, f"Client B {MARKER_B}", "client-b")
    lab = user(operator, "st-lab", "admin", "bank_technician", "qc_analyst")
    alice = user(client_a, "st-alice", "client_user")
    bob = user(client_b, "st-bob", "client_user")
    qc.methods_seed()
    aliquot = factories.aliquots(lab, client_b, 1, reference=f"D-{MARKER_B}")[0]
    req = qc.request_create(
        actor=bob,
        product=f"Product {MARKER_B}",
        product_type="CAR-T cells",
        batch=f"B-{MARKER_B}",
        samples=[qc.SampleSpec("B-001", container="cryobag")],
        method_codes=["viability"],
        submit=True,
    )
    qc.sample_receive(actor=lab, request=req, scanned_id="B-001", accept=True)
    test = qc.tests_create(actor=lab, request=req)[0]
    result = qc.result_enter(actor=lab, test=test, value="88.0")
    return World(
        lab_token=core.api_token_create(actor=lab, name="schemathesis").secret,
        client_token=core.api_token_create(actor=alice, name="schemathesis").secret,
        foreign={
            "aliquot_id": aliquot.pk,
            "donor_id": aliquot.product.collection.donor_id,
            "request_id": req.pk,
            "test_id": test.pk,
            "result_id": result.pk,
        },
    )


_worlds: list[World] = []
#: operation label -> generated cases run (each sent as both users), for the figure line
_cases: Counter[str] = Counter()


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Commit the world once for all operations (each test then runs in a transaction that is
    rolled back), and flush it afterwards the way a transactional test does: append-only
    guards lifted, every table emptied; the next test re-installs the guards."""
    from celltrace.audit import guards

    with django_db_blocker.unblock():
        if not guards.installed(connection):
            guards.install(connection)
        _worlds.append(_make_world())
    yield
    print(  # figure 9 of the reliability guide
        f"schemathesis operations={len(_cases)} cases={sum(_cases.values())} "
        f"excluded={len(EXCLUDED)} seed=1 examples={EXAMPLES}"
    )
    with django_db_blocker.unblock():
        _worlds.clear()
        guards.uninstall(connection)
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """The WSGI handler closes "old" connections at each request's start and end, which would
    close the test transaction's connection; Django's own test client disconnects it too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refusal(response: Any) -> tuple[int, str]:
    try:
        code = str(response.json().get("code", ""))
    except ValueError:
        code = ""
    return response.status_code, code


def _probe_foreign(case: Any, world: World) -> None:
    """Client A asks for client B's object: the same answer as for an object that is not there,
    and nothing written."""
    params = re.findall(r"{(\w+)}", case.operation.path)
    if len(params) != 1 or params[0] not in FOREIGN_PARAMS:
        return
    name = params[0]
    answers = []
    for value in (world.foreign[name], NONEXISTENT):
        case.path_parameters = {name: value}
        before = AuditEvent.objects.count()
        response = case.call(headers=_auth(world.client_token))
        assert AuditEvent.objects.count() == before, f"{case.operation.label} wrote a ledger entry"
        assert response.status_code >= 400, (case.operation.label, response.status_code)
        assert MARKER_B not in response.text
        answers.append(_refusal(response))
    assert answers[0] == answers[1], (
        f"{case.operation.label}: client B's object answers {answers[0]}, "
        f"a missing one {answers[1]}"
    )


@pytest.mark.slow
@pytest.mark.xdist_group("schemathesis")
@pytest.mark.django_db
@pytest.mark.usefixtures("world")
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_for_lab_and_client_users(case: Any) -> None:
    world = _worlds[0]
    _cases[case.operation.label] += 1
    case.call_and_validate(headers=_auth(world.lab_token), excluded_checks=EXCLUDED_CHECKS)
    response = case.call_and_validate(
        headers=_auth(world.client_token), excluded_checks=EXCLUDED_CHECKS
    )
    assert MARKER_B not in response.text, f"{case.operation.label} showed client B's data"
    _probe_foreign(case, world)
