"""Shared test set-up.

- Backend selection: ``CELLTRACE_TEST_DATABASE=postgres`` runs the suite on PostgreSQL; tests
  marked ``postgres`` or ``sqlite`` are deselected (not skipped) on the other backend.
- ``CELLTRACE_FORBID_SKIPS=1`` (set by CI) turns every skip into a failure, so a missing
  Chromium or PostgreSQL cannot pass silently.
- The ledger and signature tables are append-only; Django's flush between transactional tests
  would be refused, so the guards are lifted just before that flush and restored after.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# Property tests check correctness, not speed: no per-example deadline (CI machines are shared
# and noisy), and a fixed derivation of examples so a failure reproduces on the next run.
hypothesis_settings.register_profile(
    "celltrace",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "celltrace"))

BACKEND = "postgres" if os.environ.get("CELLTRACE_TEST_DATABASE") == "postgres" else "sqlite"
CHROMIUM = os.environ.get("CELLTRACE_CHROMIUM", "/usr/bin/chromium")
FIXTURES = Path(__file__).parent / "fixtures"


DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_setup"}


def _uses_database(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    return bool(item.get_closest_marker("django_db")) or bool(names & DB_FIXTURES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # CELLTRACE_ONLY_DB_TESTS=1 (the PostgreSQL pass of CI) leaves out tests that never touch a
    # database: they already ran in the SQLite pass and would only run again unchanged.
    only_db = os.environ.get("CELLTRACE_ONLY_DB_TESTS") == "1"
    keep, drop = [], []
    for item in items:
        if (
            (only_db and not _uses_database(item))
            or (BACKEND != "postgres" and item.get_closest_marker("postgres"))
            or (BACKEND != "sqlite" and item.get_closest_marker("sqlite"))
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("CELLTRACE_FORBID_SKIPS") == "1"
        and report.skipped
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped, and CELLTRACE_FORBID_SKIPS=1 forbids skips: {report.longrepr}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    tmp = os.environ.get("DJANGO_SETTINGS_MODULE") and _settings_tmp()
    if tmp and tmp.exists() and "celltrace-test-" in tmp.name:
        shutil.rmtree(tmp, ignore_errors=True)


def _settings_tmp() -> Path | None:
    try:
        from django.conf import settings

        return Path(settings.TEST_TMP)
    except Exception:
        return None


def _wants_db(request: pytest.FixtureRequest) -> tuple[bool, bool]:
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        names & {"transactional_db", "live_server", "live_url"}
    )
    return bool(marker) or bool(names & {"db", "transactional_db"}) or transactional, transactional


@pytest.fixture(autouse=True)
def _append_only_guards(request: pytest.FixtureRequest) -> Iterator[None]:
    wants, transactional = _wants_db(request)
    if not wants:
        yield
        return
    # Set up after the database fixture, so this is torn down before its flush.
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.db import connection

    from celltrace.audit import guards

    if not guards.installed(connection):
        guards.install(connection)
    yield
    if transactional:
        connection.close_if_unusable_or_obsolete()
        guards.uninstall(connection)


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the default language: a request through LocaleMiddleware (say, after
    switching to Chinese) leaves its language active in the thread, which would leak into the
    next test's service messages."""
    yield
    if "django" in sys.modules:
        from django.utils import translation

        translation.deactivate()


@pytest.fixture(autouse=True)
def _isolated_data_dir(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Keys and checkpoints of each test live in its own directory."""
    if not request.config.pluginmanager.hasplugin("django"):
        return  # pure tests run with -p no:django
    settings = request.getfixturevalue("settings")
    settings.DATA_DIR = tmp_path / "data"
    settings.CELLTRACE_SIGNING_KEY = tmp_path / "keys" / "checkpoint.key"
    settings.CELLTRACE_VERIFY_KEY = tmp_path / "keys" / "checkpoint.pub"
    settings.CELLTRACE_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def signing_keys(settings: Any) -> Any:
    from celltrace.audit.notes import generate_key_files

    return generate_key_files(
        settings.CELLTRACE_SIGNING_KEY, settings.CELLTRACE_VERIFY_KEY, settings.CELLTRACE_ORIGIN
    )


# --- people and organisations -------------------------------------------------------------

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def make_org(db: None) -> Callable[..., Any]:
    from celltrace.core import services
    from celltrace.core.choices import OrganisationKind

    counter = iter(range(1, 10_000))

    def make(kind: str = OrganisationKind.CLIENT, name: str = "", code: str = "") -> Any:
        n = next(counter)
        return services.organisation_create(
            actor=None, name=name or f"Org {kind} {n}", code=code or f"{kind}-{n}", kind=kind
        )

    return make


@pytest.fixture
def operator(make_org: Callable[..., Any]) -> Any:
    from celltrace.core.choices import OrganisationKind

    return make_org(OrganisationKind.OPERATOR, name="Operator Lab", code="operator")


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    from celltrace.core import services

    counter = iter(range(1, 10_000))

    def make(
        org: Any, *roles: str, username: str = "", full_name: str = "", password: str = PASSWORD
    ) -> Any:
        n = next(counter)
        return services.user_create(
            actor=None,
            organisation=org,
            username=username or f"user{n}",
            full_name=full_name or f"Person Number{n}",
            email=f"user{n}@example.org",
            roles=roles,
            password=password,
            must_change_password=False,
        )

    return make


@pytest.fixture
def tech(operator: Any, make_user: Callable[..., Any]) -> Any:
    """The operator's bank technician (Tom Technician, username ``tech``)."""
    return make_user(operator, "bank_technician", username="tech", full_name="Tom Technician")


@pytest.fixture
def qa_user(operator: Any, make_user: Callable[..., Any]) -> Any:
    return make_user(operator, "qa", username="qa", full_name="Quinn Assurance")


@pytest.fixture
def admin_user(operator: Any, make_user: Callable[..., Any]) -> Any:
    return make_user(operator, "admin", username="admin", full_name="Ada Admin")


@pytest.fixture
def client_a(make_org: Callable[..., Any]) -> Any:
    return make_org("client", name="Client A", code="client-a")


@pytest.fixture
def client_b(make_org: Callable[..., Any]) -> Any:
    return make_org("client", name="Client B", code="client-b")


# --- browser --------------------------------------------------------------------------------


@pytest.fixture
def browser_page(live_server: Any, transactional_db: None) -> Iterator[Any]:
    """A Playwright page in Debian's Chromium (no browser download)."""
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        page = context.new_page()
        # generous: rendering a certificate PDF on a loaded 2-core CI machine can take >15 s
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def post_sign_form(client: Any, url: str, data: dict[str, str]) -> Any:
    """Sign through the sign page as a person does: open it, then post the form with the
    record's digest the page showed (``expected_digest``) and ``data``."""
    import re

    page = client.get(url).content.decode()
    found = re.search(r'name="expected_digest" value="([0-9a-f]{64})"', page)
    assert found, "the sign page carries the record's digest"
    return client.post(url, {"expected_digest": found.group(1), **data})


def digest_of(record_type: str, record_id: object) -> str:
    """The record's current digest, as ``GET /signatures/{type}/{id}/content`` gives it to an
    API client before it signs (``expected_digest``)."""
    from celltrace.audit import signing

    model = signing.spec_for(record_type).model
    return signing.record_digest(model._default_manager.get(pk=record_id))
