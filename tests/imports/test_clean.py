from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from celltrace.audit.verification import verify_database
from celltrace.bank.models import Aliquot, BankBatch, Collection, Donor, Product
from celltrace.imports import inventory
from celltrace.imports.choices import ImportStatus
from celltrace.storage.models import Placement
from tests.bank import factories
from tests.imports.conftest import csv_bytes, row

pytestmark = pytest.mark.usefixtures("import_path")


def test_clean_csv_is_written(store: Any, write_file: Any, run_import: Any, client_a: Any) -> None:
    rows = [row(i) for i in range(12)]
    run = run_import(write_file(csv_bytes(rows, bom=True)))
    assert run.status == ImportStatus.WRITTEN, run.errors
    assert run.counts == {
        "donors": 2,
        "collections": 3,
        "products": 3,
        "aliquots": 12,
        "placements": 12,
    }
    assert Donor.objects.filter(organisation=client_a).count() == 2
    assert Collection.objects.filter(organisation=client_a).count() == 3
    assert Product.objects.count() == 3
    a = Aliquot.objects.get(din=rows[5]["din"][:13], pdc="S1234", division="B0")
    assert a.volume_ul == Decimal("1000.0")
    assert a.cell_count == 15_000_000
    assert a.viability_pct == Decimal("95.50")
    assert a.organisation_id == client_a.pk
    assert a.barcode == f"{a.din}S1234VB0"
    placement = Placement.objects.get(aliquot=a, removed_at__isnull=True)
    assert placement.position.label == "A6"
    assert placement.position.box == store["boxes"][0]
    batch = BankBatch.objects.get()
    assert a.batch_id == batch.pk and batch.ledger_seq is not None
    assert verify_database().ok


def test_ledger_digests_match_the_rows_as_written(
    store: Any, write_file: Any, run_import: Any
) -> None:
    """The batch entry's digests are ledger.rows_digest over the rows read back from the DB."""

    rows = [row(i, sprec_code="SER-SST-A-B-N-B-A" if i < 4 else "") for i in range(10)]
    rows[3]["cell_count"] = ""
    rows[4]["viability_pct"] = ""
    rows[5]["expires_on"] = ""
    rows[6].update(status="discarded", storage_path="", position="")
    rows[0]["donor_reference"] = 'D "quoted" 甲'
    rows[1]["donor_reference"] = rows[2]["donor_reference"] = rows[3]["donor_reference"] = rows[0][
        "donor_reference"
    ]
    run = run_import(write_file(csv_bytes(rows)))
    assert run.status == ImportStatus.WRITTEN, run.errors
    entry = _batch_entry_matches_the_rows()
    assert entry["aliquots"]["rows"] == 10 and entry["placements"]["rows"] == 9
    assert verify_database().ok


def test_leading_blank_rows_and_a_blank_row_inside(
    store: Any, write_file: Any, run_import: Any
) -> None:
    """Rows are numbered as a spreadsheet shows them, blank rows included."""
    content = b"\n,,\n" + csv_bytes([row(0), row(1), row(2, volume_ul="x")])
    lines = content.split(b"\n")
    lines.insert(4, b"")  # a blank row between data rows
    run = run_import(write_file(b"\n".join(lines)))
    assert run.status == ImportStatus.FAILED
    assert [(p["row"], p["column"]) for p in run.errors] == [(7, "volume_ul")]


def _batch_entry_matches_the_rows() -> dict[str, Any]:
    """The only batch's ledger entry carries the digests of its rows as read back; returns
    the entry's data."""
    from celltrace.audit.models import AuditEvent

    batch = BankBatch.objects.get()
    entry: dict[str, Any] = AuditEvent.objects.get(seq=batch.ledger_seq).data["new"]
    for kind, (n, digest) in _digests_read_back(batch).items():
        assert entry[kind] == {"rows": n, "digest": digest}, kind
    return entry


def _digests_read_back(batch: BankBatch) -> dict[str, Any]:
    """What the batch's ledger entry should carry: rows_digest over the rows read back."""
    from celltrace.audit import ledger

    aliquots = Aliquot.objects.filter(batch=batch).order_by("pk")
    return {
        "donors": ledger.rows_digest(
            {"id": d.pk, "reference": d.reference}
            for d in Donor.objects.filter(organisation_id=batch.organisation_id).order_by("pk")
        ),
        "collections": ledger.rows_digest(
            {
                "id": c.pk,
                "donor_id": c.donor_id,
                "din": c.din,
                "collection_type": c.collection_type,
                "collected_at": c.collected_at,
                "volume_ml": c.volume_ml,
                "sprec_code": c.sprec_code,
            }
            for c in Collection.objects.filter(batch=batch).order_by("pk")
        ),
        "products": ledger.rows_digest(
            {
                "id": p.pk,
                "collection_id": p.collection_id,
                "product_type": p.product_type,
                "pdc": p.pdc,
                "isbt_collection_type": p.isbt_collection_type,
                "processed_at": p.processed_at,
            }
            for p in Product.objects.filter(batch=batch).order_by("pk")
        ),
        "aliquots": ledger.rows_digest(
            {
                "id": a.pk,
                "product_id": a.product_id,
                "din": a.din,
                "product_code": a.product_code_text,
                "barcode": a.barcode,
                "parent_id": a.parent_id,
                "container_type": a.container_type,
                "volume_ul": a.volume_ul,
                "cell_count": a.cell_count,
                "viability_pct": a.viability_pct,
                "expiry": a.expiry,
                "status": a.status,
            }
            for a in aliquots
        ),
        "placements": ledger.rows_digest(
            {"aliquot_id": p.aliquot_id, "position_id": p.position_id, "placed_at": p.placed_at}
            for p in Placement.objects.filter(aliquot__batch=batch).order_by("pk")
        ),
    }


def test_a_larger_file_is_written_row_for_row(
    tech: Any, write_file: Any, run_import: Any, monkeypatch: Any
) -> None:
    """450 rows, 200 to a statement (two full statements and a rest of 50): every row
    arrives once, with its own values, and the digests match the rows."""

    # chunks of 250 rows (a full statement and a rest of 50, then one of 200): the background
    # writer gets eight jobs, more than its queue holds
    monkeypatch.setattr(inventory, "CHUNK", 250)
    monkeypatch.setattr(inventory, "ROWS_PER_STATEMENT", 200)
    factories.hierarchy(tech, boxes=5, rows=10, columns=10, code="big")
    rows = []
    for i in range(450):
        box, cell = divmod(i, 100)
        rows.append(
            row(
                i,
                cell_count=str(1_000_000 + i),
                storage_path=f"main/big/R1/B{box + 1}",
                position=f"{'ABCDEFGHIJ'[cell // 10]}{cell % 10 + 1}",
            )
        )
    run = run_import(write_file(csv_bytes(rows), "big.csv"))
    assert run.status == ImportStatus.WRITTEN, run.errors
    assert run.counts["aliquots"] == 450 and run.counts["placements"] == 450
    got = {
        (a.barcode, a.cell_count, a.placements.get(removed_at__isnull=True).position.label)
        for a in Aliquot.objects.prefetch_related("placements__position")
    }
    want = {
        (r["din"][:13] + r["product_code"], 1_000_000 + i, r["position"])
        for i, r in enumerate(rows)
    }
    assert got == want
    _batch_entry_matches_the_rows()
    assert verify_database().ok


def test_rows_of_a_din_apart_are_written_together(
    store: Any, write_file: Any, run_import: Any, import_path: str
) -> None:
    """A file need not keep a DIN's rows together. The one pass cannot (the DIN's collection
    is written when it first appears; the database refuses it the second time): it rolls
    back and the two-phase import, which sorts the rows by DIN, writes the file."""
    from django.db import connection

    rows = [row(0), row(1), row(4), row(5), row(2), row(3)]  # DIN 1, DIN 2, DIN 1 again
    run = run_import(write_file(csv_bytes(rows)))
    assert run.status == ImportStatus.WRITTEN, run.errors
    assert run.counts == {
        "donors": 1, "collections": 2, "products": 2, "aliquots": 6, "placements": 6,
    }  # fmt: skip
    din1 = rows[0]["din"][:13]
    assert Aliquot.objects.filter(din=din1).count() == 4
    assert Collection.objects.filter(din=din1).count() == 1
    if import_path == "one_pass" and connection.vendor == "sqlite":
        assert run.phases[0] == "import" and "write" in run.phases  # fell back, then wrote
    _batch_entry_matches_the_rows()
    assert verify_database().ok


def test_a_donor_the_organisation_has_is_used_again(
    store: Any, write_file: Any, run_import: Any, client_a: Any
) -> None:
    """A second file naming a donor reference the organisation already has adds collections
    to that donor; no second donor is made."""
    first = run_import(write_file(csv_bytes([row(0)]), "first.csv"))
    assert first.status == ImportStatus.WRITTEN, first.errors
    donor = Donor.objects.get(organisation=client_a)
    rows = [row(i, donor_reference=donor.reference) for i in range(4, 8)]
    second = run_import(write_file(csv_bytes(rows), "second.csv"))
    assert second.status == ImportStatus.WRITTEN, second.errors
    assert second.counts["donors"] == 0 and second.counts["collections"] == 1
    assert Donor.objects.filter(organisation=client_a).count() == 1
    assert Collection.objects.filter(donor=donor).count() == 2
    assert verify_database().ok


def test_the_thread_switch_interval_is_restored(
    store: Any, write_file: Any, run_import: Any
) -> None:
    """The write shortens Python's thread switch interval (its writer thread needs the global
    lock back after each statement) and gives the process its own back afterwards, also when
    the file is refused."""
    import sys

    before = sys.getswitchinterval()
    assert run_import(write_file(csv_bytes([row(0)]))).status == ImportStatus.WRITTEN
    assert sys.getswitchinterval() == before
    bad = run_import(write_file(csv_bytes([row(1, volume_ul="x")]), "bad.csv"))
    assert bad.status == ImportStatus.FAILED
    assert sys.getswitchinterval() == before


def test_donors_forgotten_mid_file_are_found_again(
    store: Any, write_file: Any, run_import: Any, client_a: Any, monkeypatch: Any
) -> None:
    """One row per donor (a cord-blood bank: one bag a donor) in a file longer than the donors
    the one pass remembers: the reference cache is emptied only between chunks, and a
    reference met again after that is still one donor (the one pass falls back when the
    database refuses the second insert)."""
    monkeypatch.setattr(inventory, "CHUNK", 4)
    monkeypatch.setattr(inventory, "DONORS_REMEMBERED", 5)
    rows = [row(4 * i, donor_reference=f"X-{i}") for i in range(12)]
    run = run_import(write_file(csv_bytes(rows), "one-per-donor.csv"))
    assert run.status == ImportStatus.WRITTEN, run.errors
    assert run.counts["donors"] == 12
    again = [row(4 * i, donor_reference=f"X-{i}") for i in range(12, 19)]
    again.append(row(4 * 19, donor_reference="X-12"))  # forgotten by now
    second = run_import(write_file(csv_bytes(again), "again.csv"))
    assert second.status == ImportStatus.WRITTEN, second.errors
    assert second.counts["donors"] == 7
    assert Donor.objects.filter(organisation=client_a).count() == 19
    assert Collection.objects.filter(donor__reference="X-12").count() == 2
    assert verify_database().ok


def test_edge_values_are_digested_as_the_ledger_reads_them(
    store: Any, write_file: Any, run_import: Any
) -> None:
    """A volume of -0 (stored as 0), a cell count above 2^53 (a string in canonical JSON) and
    a year before 1000: the batch entry's digests still match the rows read back."""
    rows = [row(i) for i in range(4)]
    rows[0].update(volume_ul="-0", viability_pct="-0.0")
    rows[1]["cell_count"] = "1E16"
    for r in rows:
        r.update(collected_at="0999-03-02", frozen_on="0999-03-02")
    rows[2]["expires_on"] = "0999-12-31"
    run = run_import(write_file(csv_bytes(rows)))
    assert run.status == ImportStatus.WRITTEN, run.errors
    _batch_entry_matches_the_rows()
    first = Aliquot.objects.get(barcode=rows[0]["din"][:13] + rows[0]["product_code"])
    assert first.volume_ul == 0 and not first.volume_ul.is_signed()
    assert verify_database().ok
