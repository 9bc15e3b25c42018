"""Signing takes its locks in the order the other services take them (PostgreSQL).

Result entry, correction and invalidation lock the test request, then the result, then the
ledger's head; proposing and approving method versions lock the method, then the version.
A signature (and its hooks) that took them in another order could deadlock with those
services, so the ``FOR UPDATE`` statements of a signing are checked in order here.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from celltrace.qc import services
from celltrace.qc.models import Method
from tests.locks import lock_statements, locked_tables, locks_only_its_own_table
from tests.qc.conftest import Lab, in_testing, lab_test, sign
from tests.qc.test_catalogue import VIABILITY

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_a_result_is_signed_under_its_request_then_its_own_lock(lab: Lab) -> None:
    test = lab_test(in_testing(lab), "viability")
    result = services.result_enter(actor=lab.analyst, test=test, value="85.2")
    with CaptureQueriesContext(connection) as ctx:
        sign(lab.analyst, result, "performed")
    order = locked_tables(ctx.captured_queries)
    assert order[:3] == ["qc_testrequest", "qc_result", "audit_head"], order


def test_a_method_version_is_approved_under_its_method_then_its_own_lock(
    lab: Lab, make_user: Any, operator: Any
) -> None:
    qa2 = make_user(operator, "qa", username="qa2", full_name="Qiu Approver")
    method = Method.objects.get(code="viability")
    pending = services.method_version_propose(
        actor=lab.reviewer, method=method, values=VIABILITY, reason="Two decimals"
    )
    with CaptureQueriesContext(connection) as ctx:
        sign(qa2, pending, "approved")
    order = locked_tables(ctx.captured_queries)
    assert order[:3] == ["qc_method", "qc_methodversion", "audit_head"], order


def test_result_entry_locks_the_test_without_its_method_version(lab: Lab) -> None:
    """Approving a method version supersedes the effective one under the method's lock; result
    entry must not lock that version row through its join, or the two deadlock."""
    test = lab_test(in_testing(lab), "viability")
    with CaptureQueriesContext(connection) as ctx:
        services.result_enter(actor=lab.analyst, test=test, value="85.2")
    test_locks = [sql for _i, sql in lock_statements(ctx.captured_queries, "qc_test")]
    assert test_locks and all(locks_only_its_own_table(sql, "qc_test") for sql in test_locks), (
        test_locks
    )
