"""The upload page, the API and the command line, end to end; who may use them."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from django.test import Client

from celltrace.bank.models import Aliquot, Donor
from celltrace.cli import main as cli_main
from celltrace.imports.choices import ImportStatus
from celltrace.imports.inventory import COLUMN_NAMES, Reader
from celltrace.imports.models import ImportRun
from tests.imports.conftest import csv_bytes, join_import_threads, row, table_counts


def _wait(client: Client, pk: int, timeout: float = 60) -> ImportRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/imports/{pk}/progress/")
        assert response.status_code == 200
        run = ImportRun.objects.get(pk=pk)
        if run.is_finished:
            join_import_threads()
            return run
        assert b"hx-trigger" in response.content  # still polling
        time.sleep(0.2)
    raise AssertionError("the import did not finish")


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_upload_page_writes_a_clean_file(store: Any, tech: Any, client_a: Any) -> None:
    web = _login(tech)
    page = web.get("/imports/")
    assert page.status_code == 200
    assert b"template.csv" in page.content and b"donor_reference" in page.content
    # a real storage path of this installation, which the box page shows for each box
    box = store["boxes"][0]
    path = f"main/{box.rack.unit.code}/{box.rack.name}/{box.name}"
    assert f"<code>{path}</code>" in page.content.decode()
    assert f'id="import-path">{path}<' in web.get(f"/storage/boxes/{box.pk}/").content.decode()
    upload = io.BytesIO(csv_bytes([row(i) for i in range(8)]))
    upload.name = "legacy.csv"
    response = web.post(
        "/imports/",
        {"organisation": client_a.pk, "file": upload, "reason": "Migration from the old LIMS"},
    )
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert response["Location"] == f"/imports/{run.pk}/"
    run = _wait(web, run.pk)
    assert run.status == ImportStatus.WRITTEN, run.errors
    detail = web.get(f"/imports/{run.pk}/").content.decode()
    assert "8 aliquots written" in detail and "hx-trigger" not in detail
    assert run.file_sha256 in detail
    assert Aliquot.objects.filter(organisation=client_a).count() == 8
    listing = web.get("/imports/").content.decode()
    assert "legacy.csv" in listing


@pytest.mark.django_db(transaction=True)
def test_a_clean_check_only_run_is_imported_from_its_page(
    store: Any, tech: Any, client_a: Any
) -> None:
    web = _login(tech)
    upload = io.BytesIO(csv_bytes([row(i) for i in range(3)]))
    upload.name = "legacy.csv"
    web.post(
        "/imports/",
        {"organisation": client_a.pk, "file": upload, "reason": "Migration", "dry_run": "on"},
    )
    checked = _wait(web, ImportRun.objects.get().pk)
    assert checked.status == ImportStatus.VALID
    assert not Aliquot.objects.filter(organisation=client_a).exists()
    assert 'id="import-write"' in web.get(f"/imports/{checked.pk}/").content.decode()
    response = web.post(f"/imports/{checked.pk}/write/")
    written = ImportRun.objects.exclude(pk=checked.pk).get()
    assert response["Location"] == f"/imports/{written.pk}/"
    written = _wait(web, written.pk)
    assert written.status == ImportStatus.WRITTEN, written.errors
    assert (written.file_sha256, written.reason, written.dry_run) == (
        checked.file_sha256,
        checked.reason,
        False,
    )
    assert Aliquot.objects.filter(organisation=client_a).count() == 3
    # a written run (or a run with problems) offers no such step, and refuses it
    assert 'id="import-write"' not in web.get(f"/imports/{written.pk}/").content.decode()
    again = web.post(f"/imports/{written.pk}/write/", follow=True).content.decode()
    assert "Only a check-only run that found no problem" in again
    assert ImportRun.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_upload_page_lists_the_problems(store: Any, tech: Any, client_a: Any) -> None:
    web = _login(tech)
    rows = [row(i) for i in range(3)]
    rows[1]["expires_on"] = "tomorrow"
    upload = io.BytesIO(csv_bytes(rows))
    upload.name = "legacy.csv"
    before = table_counts()
    web.post("/imports/", {"organisation": client_a.pk, "file": upload, "reason": "Migration"})
    run = _wait(web, ImportRun.objects.get().pk)
    assert run.status == ImportStatus.FAILED
    html = web.get(f"/imports/{run.pk}/").content.decode()
    assert "1 problem: nothing was written" in html
    assert "<code>expires_on</code>" in html and "tomorrow" in html
    assert table_counts() == before


@pytest.mark.django_db(transaction=True)
def test_problems_are_in_the_language_of_whoever_submitted_the_file(
    store: Any, tech: Any, client_a: Any
) -> None:
    """The check runs on a background thread, which does not inherit the request's language:
    it is handed over, so a Chinese page shows the rules in Chinese."""
    from django.utils import translation

    web = _login(tech)
    web.cookies["django_language"] = "zh-hans"
    rows = [row(i) for i in range(2)]
    rows[1]["expires_on"] = "tomorrow"
    upload = io.BytesIO(csv_bytes(rows))
    upload.name = "legacy.csv"
    web.post("/imports/", {"organisation": client_a.pk, "file": upload, "reason": "Migration"})
    run = _wait(web, ImportRun.objects.get().pk)
    with translation.override("zh-hans"):
        chinese = translation.gettext("not a date (YYYY-MM-DD)")
    assert chinese != "not a date (YYYY-MM-DD)"
    assert [e["rule"] for e in run.errors] == [chinese]


@pytest.mark.django_db
def test_upload_page_refuses_a_wrong_file_type(store: Any, tech: Any, client_a: Any) -> None:
    web = _login(tech)
    upload = io.BytesIO(b"donor_reference\n")
    upload.name = "legacy.txt"
    response = web.post("/imports/", {"organisation": client_a.pk, "file": upload, "reason": "x"})
    assert response.status_code == 422
    assert "Choose a .csv or .xlsx file." in response.content.decode()
    assert not ImportRun.objects.exists()


@pytest.mark.django_db
def test_client_users_never_reach_the_importer(
    store: Any, client_a: Any, make_user: Any, tmp_path: Any
) -> None:
    from celltrace.core import services as core

    customer = make_user(client_a, "client_user", username="cust")
    web = _login(customer)
    for url in ("/imports/", "/imports/template.csv", "/imports/template.xlsx"):
        assert web.get(url).status_code == 404
    upload = io.BytesIO(csv_bytes([row(0)]))
    upload.name = "x.csv"
    before = table_counts()
    assert (
        web.post("/imports/", {"organisation": client_a.pk, "file": upload, "reason": "x"})
    ).status_code == 404
    token = core.api_token_create(actor=customer, name="t").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/imports").status_code == 404
    upload.seek(0)
    response = api.post(
        "/api/v1/imports",
        {"organisation_id": client_a.pk, "reason": "x", "file": upload},
    )
    assert response.status_code == 404
    assert not ImportRun.objects.exists()
    after = table_counts()
    # the token creation itself is on the ledger; nothing else changed
    assert after.pop("audit.AuditEvent") == before.pop("audit.AuditEvent") + 1
    after.pop("audit.AuditHead"), before.pop("audit.AuditHead")
    assert after == before


@pytest.mark.django_db
def test_staff_without_a_bank_role_are_refused(store: Any, qa_user: Any) -> None:
    web = _login(qa_user)
    assert web.get("/imports/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_api_upload_and_poll(store: Any, tech: Any, client_a: Any) -> None:
    from celltrace.core import services as core

    token = core.api_token_create(actor=tech, name="lims").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    upload = io.BytesIO(csv_bytes([row(i) for i in range(5)]))
    upload.name = "legacy.csv"
    response = api.post(
        "/api/v1/imports",
        {"organisation_id": client_a.pk, "reason": "LIMS migration", "file": upload},
    )
    assert response.status_code == 202, response.content
    pk = response.json()["id"]
    deadline = time.monotonic() + 60
    while True:
        body = api.get(f"/api/v1/imports/{pk}").json()
        if body["status"] in ("written", "failed", "valid"):
            join_import_threads()
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert body["status"] == "written", body["errors"]
    assert body["counts"]["aliquots"] == 5 and body["rows_read"] == 5
    listing = api.get("/api/v1/imports").json()
    assert listing["count"] == 1 and listing["items"][0]["id"] == pk


@pytest.mark.django_db
def test_template_downloads(store: Any, tech: Any, tmp_path: Any) -> None:
    web = _login(tech)
    response = web.get("/imports/template.csv")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert response.content.decode("utf-8-sig").splitlines()[0] == ",".join(COLUMN_NAMES)
    response = web.get("/imports/template.xlsx")
    assert response.status_code == 200
    path = tmp_path / "template.xlsx"
    path.write_bytes(response.content)
    records = list(Reader(path).records())
    assert records[0] == list(COLUMN_NAMES)
    assert len(records) == 3


@pytest.mark.django_db
def test_template_rows_import_cleanly(
    store: Any, write_file: Any, run_import: Any, tmp_path: Any
) -> None:
    """The template's example rows pass every check once the storage path exists."""
    from celltrace.imports import template

    text = template.csv_bytes().replace(b"main/tank-1/R1/B1", b"main/t1/R1/B1")
    run = run_import(write_file(text, "template.csv"))
    assert run.status == ImportStatus.WRITTEN, run.errors
    assert run.counts["aliquots"] == 2


@pytest.mark.django_db
def test_clean_xlsx_import(store: Any, write_file: Any, run_import: Any, client_a: Any) -> None:
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(COLUMN_NAMES))
    for i in range(6):
        r = row(i)
        values: list[Any] = [r[c] for c in COLUMN_NAMES]
        # spreadsheet cells hold real dates and numbers
        values[COLUMN_NAMES.index("frozen_on")] = dt.datetime(2025, 3, 2)  # noqa: DTZ001 (Excel cells are naive)
        values[COLUMN_NAMES.index("volume_ul")] = 1000
        values[COLUMN_NAMES.index("viability_pct")] = 95.5
        values[COLUMN_NAMES.index("cell_count")] = 15000000.0
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    run = run_import(write_file(out.getvalue(), "legacy.xlsx"))
    assert run.status == ImportStatus.WRITTEN, run.errors
    assert run.file_format == "xlsx"
    a = Aliquot.objects.filter(organisation=client_a).order_by("pk").first()
    assert a is not None and a.cell_count == 15_000_000 and str(a.viability_pct) == "95.50"
    assert a.product.processed_at == dt.datetime(2025, 3, 2, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_dry_run_writes_nothing(store: Any, write_file: Any, run_import: Any) -> None:
    before = table_counts()
    run = run_import(write_file(csv_bytes([row(i) for i in range(4)])), dry_run=True)
    assert run.status == ImportStatus.VALID and run.rows_read == 4
    assert table_counts() == before


@pytest.mark.django_db
def test_another_clients_donor_is_never_linked(
    store: Any, write_file: Any, run_import: Any, client_a: Any, client_b: Any
) -> None:
    first = run_import(write_file(csv_bytes([row(0)]), "a.csv"), org=client_a)
    assert first.status == ImportStatus.WRITTEN
    donor_a = Donor.objects.get(organisation=client_a)
    second = run_import(
        write_file(csv_bytes([row(4, donor_reference=donor_a.reference)]), "b.csv"), org=client_b
    )
    assert second.status == ImportStatus.WRITTEN, second.errors
    donor_b = Donor.objects.get(organisation=client_b)
    assert donor_b.pk != donor_a.pk and donor_b.reference == donor_a.reference
    assert not donor_a.collections.filter(organisation=client_b).exists()
    assert (
        Aliquot.objects.filter(organisation=client_b, product__collection__donor=donor_a).count()
        == 0
    )


@pytest.mark.django_db
def test_command_line(store: Any, tech: Any, client_a: Any, write_file: Any, capsys: Any) -> None:
    good = write_file(csv_bytes([row(i) for i in range(4)]), "good.csv")
    args = ["import", "inventory", str(good), "--user", "tech", "--organisation", "client-a"]
    assert cli_main([*args, "--dry-run"]) == 0
    assert "4 rows checked: no problems" in capsys.readouterr().out
    assert not Aliquot.objects.exists()
    assert cli_main(args) == 0
    out = capsys.readouterr()
    assert "4 rows written" in out.out and "aliquots 4" in out.out
    assert "writing" in out.err  # the progress bar
    assert Aliquot.objects.filter(organisation=client_a).count() == 4

    before = table_counts()
    bad = write_file(csv_bytes([row(5, din="A9999")]), "bad.csv")
    assert (
        cli_main(["import", "inventory", str(bad), "--user", "tech", "--organisation", "client-a"])
        == 1
    )
    out = capsys.readouterr().out
    assert "1 problem(s); nothing was written" in out
    assert "row 2, din: 'A9999'" in out
    assert table_counts() == before

    assert cli_main(["import", "inventory", str(good), "--user", "nobody"]) == 2
    assert (
        cli_main(["import", "inventory", str(good.with_name("missing.csv")), "--user", "tech"]) == 2
    )


@pytest.mark.django_db
def test_api_paging_is_bounded(tech: Any) -> None:
    from celltrace.core import services as core

    token = core.api_token_create(actor=tech, name="lims").secret
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/imports", {"offset": 7469211457938864996352}).status_code == 422
    assert api.get("/api/v1/imports", {"limit": 0}).status_code == 422
    assert api.get("/api/v1/imports", {"limit": 500, "offset": 0}).json()["count"] == 0
