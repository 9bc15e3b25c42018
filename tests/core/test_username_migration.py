"""The migration making usernames unique whatever their case stops, naming the accounts,
when a database already holds usernames differing only in case (it failed with a bare
IntegrityError), and applies cleanly otherwise."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("core", "0001_initial")]
AFTER = [("core", "0002_username_unique_any_case")]


def migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_case_duplicates_stop_the_migration_naming_them() -> None:
    migrate(BEFORE)
    try:
        executor = MigrationExecutor(connection)
        apps = executor.loader.project_state(BEFORE).apps
        Organisation = apps.get_model("core", "Organisation")
        User = apps.get_model("core", "User")
        org = Organisation.objects.create(name="Aurora", code="aurora", kind="client")
        User.objects.create(username="aurora", organisation=org)
        User.objects.create(username="AURORA", organisation=org)
        with pytest.raises(RuntimeError, match=r"aurora \(id \d+\) and AURORA \(id \d+\)"):
            migrate(AFTER)
        User.objects.filter(username="AURORA").update(username="aurora-2")
        migrate(AFTER)
    finally:
        migrate([("core", "0002_username_unique_any_case")])
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
