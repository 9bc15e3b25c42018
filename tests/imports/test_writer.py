"""The background writer of the import: order, errors, and what happens when its caller fails."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from celltrace.imports import inventory
from celltrace.imports.choices import ImportStatus


def test_calls_run_in_order_and_an_error_reaches_the_caller() -> None:
    writer = inventory._Writer()
    done: list[int] = []

    def boom() -> None:
        raise ValueError("refused")

    writer.submit(lambda: done.append(1))
    writer.submit(boom)
    writer.submit(lambda: done.append(3))  # dropped: an earlier call failed
    with pytest.raises(ValueError, match="refused"):
        writer.wait()
    writer.close()
    assert done == [1]
    assert not writer.thread.is_alive()


def test_closing_on_an_error_waits_for_the_call_under_way_and_drops_the_rest() -> None:
    """The caller is failing and will roll back: the statement running finishes first, none
    of those still queued runs after it (on SQLite they would commit on their own)."""
    writer = inventory._Writer()
    release = threading.Event()
    started = threading.Event()
    done: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(5)
        done.append("slow")

    writer.submit(slow)
    writer.submit(lambda: done.append("queued"))
    started.wait(5)
    threading.Timer(0.1, release.set).start()
    writer.close(drop=True)
    assert done == ["slow"]
    assert not writer.thread.is_alive()
    writer.close()  # a second close changes nothing


@pytest.mark.django_db(transaction=True)
def test_a_missing_file_fails_the_run_and_leaves_no_thread(
    tech: Any, client_a: Any, tmp_path: Path
) -> None:
    """The stored copy vanished before the run: an internal error, the run failed, and no
    writer thread or connection is left behind (the file is opened before either)."""
    from celltrace.imports import services

    path = tmp_path / "inventory.csv"
    path.write_text("donor_reference\n")
    run = services.import_run_create(
        actor=tech, organisation=client_a, file_name=path.name, content=path, reason="Legacy"
    )
    Path(run.stored_path).unlink()
    with pytest.raises(FileNotFoundError):
        services.import_run_execute(run=run, one_pass=True)
    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED
    assert not [t for t in threading.enumerate() if t.name == "inventory-writer"]
