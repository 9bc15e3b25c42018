"""Entry points for the multi-process tests. Imported fresh in spawned processes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any


def django_for(db_name: str) -> None:
    """Set up Django in a spawned process, pointed at the parent's test database."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "celltrace.config.test"
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = db_name
    settings.DATABASES["default"].pop("TEST", None)
    import django

    django.setup()


def at_once(worker: Callable[..., Any], plans: Sequence[tuple[Any, ...]]) -> list[Any]:
    """``worker(db_name, *plan, barrier)`` in one spawned process per plan, pointed at the
    test database and released together by a barrier; the results in plan order."""
    import multiprocessing

    from django.db import connection

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(len(plans))
    db_name = connection.settings_dict["NAME"]
    with ctx.Pool(len(plans)) as pool:
        return pool.starmap(worker, [(db_name, *plan, barrier) for plan in plans])


def cleanup() -> None:
    from django.conf import settings
    from django.db import connection

    connection.close()
    shutil.rmtree(settings.TEST_TMP, ignore_errors=True)


def append_worker(
    db_name: str, worker: int, count: int, barrier: Any
) -> tuple[list[int], float, float]:
    django_for(db_name)
    import time

    from django.db import transaction

    from celltrace.audit import ledger
    from celltrace.audit.choices import Action

    seqs = []
    barrier.wait()
    started = time.time()
    for i in range(count):
        with transaction.atomic():
            appended = ledger.append(
                actor=None,
                action=Action.UPDATE,
                event_type="RACE",
                entity_type="test.worker",
                entity_id=f"{worker}-{i}",
                new={"worker": worker, "i": i},
            )
        seqs.append(appended.seq)
    finished = time.time()
    cleanup()
    return seqs, started, finished


def sign_worker(db_name: str, user_pk: int, review_pk: int, password: str, barrier: Any) -> str:
    """Sign an audit-trail review as REVIEWED; returns ``"signed"`` or the error's class name."""
    django_for(db_name)
    from django.test import RequestFactory

    from celltrace.audit.choices import SignatureMeaning
    from celltrace.audit.models import AuditReview
    from celltrace.audit.services import record_sign
    from celltrace.core.models import User

    actor = User.objects.get(pk=user_pk)
    review = AuditReview.objects.get(pk=review_pk)
    request = RequestFactory().post("/sign/")
    request.user = actor
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    barrier.wait()
    try:
        record_sign(
            request=request,
            actor=actor,
            record=review,
            meaning=SignatureMeaning.REVIEWED,
            password=password,
        )
        outcome = "signed"
    except Exception as exc:  # the parent asserts on the kind
        outcome = type(exc).__name__
    cleanup()
    return outcome
