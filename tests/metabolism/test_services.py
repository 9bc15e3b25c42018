"""Runs, stored results and well exclusions, through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from celltrace.assays.metabolism import analysis, seahorse
from celltrace.audit.models import AuditEvent
from celltrace.audit.verification import verify_database
from celltrace.core.errors import Conflict, Invalid, PermissionDenied
from celltrace.metabolism import services
from celltrace.metabolism.choices import EventType, RunStatus
from celltrace.metabolism.models import MetabolismRun, WellExclusion
from tests.metabolism.conftest import EXPORTS, export_bytes, fixture_path

pytestmark = pytest.mark.django_db


def _expected(name: str, assay: str, **kwargs: Any) -> services.StoredResults:
    export = seahorse.read_wave_export(fixture_path(name))
    return services.stored_results(analysis.analyse(export, assay, **kwargs))


def _events(run: MetabolismRun) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.where(
            entity_type="metabolism.metabolismrun", entity_id=str(run.pk)
        ).order_by("seq")
    )


@pytest.mark.parametrize("name", EXPORTS)
def test_every_shared_export_uploads_and_stores_what_the_analysis_computes(
    upload: Any, name: str
) -> None:
    export = seahorse.read_wave_export(fixture_path(name))
    assert analysis.supported_assays(export)
    for assay in analysis.supported_assays(export):
        run = upload(name, assay=str(assay))
        run.refresh_from_db()
        direct = analysis.analyse(export, assay)
        assert run.group_results == services.stored_results(direct).group_results
        assert run.group_results == analysis.group_rows(direct)
        assert [w["well"] for w in run.well_results] == [w.well for w in direct.wells]
        for stored, well in zip(run.well_results, direct.wells, strict=True):
            assert stored["values"] == dict(well.values)
        assert run.file_sha256 == export.sha256
        assert bytes(run.file_data) == export_bytes(name)
        assert run.instrument_family == export.instrument_family
        assert run.plate_layout == dict(export.well_groups)
        assert {c["label"] for c in run.constants} == {c.label for c in export.constants}
        assert run.calculation["parameters"] == [
            {"key": p.key, "label": p.label, "unit": p.unit, "formula": p.formula}
            for p in direct.parameters
        ]
        assert run.calculation_version == analysis.CALCULATION_VERSION
        expected_status = RunStatus.ANALYSED_WITH_WARNINGS if direct.warnings else "analysed"
        assert run.status == expected_status
        (event,) = _events(run)
        assert event.event_type == EventType.RUN_UPLOADED
        assert event.data["new"]["file_sha256"] == export.sha256
        assert event.data["new"]["results_sha256"] == run.results_sha256
    assert verify_database().ok


def test_normalisation_and_ccf_are_applied_and_recorded(upload: Any) -> None:
    counts = fixture_path("xfe24-mst-counts_1.csv").read_bytes()
    run = upload(
        "xfe24-mst-raw_1.xlsx",
        assay="atp-rate",
        normalisation=counts,
        normalisation_filename="xfe24-mst-counts_1.csv",
        normalisation_scale=Decimal(10000),
        ccf=Decimal("0.6"),
    )
    norm = seahorse.read_normalisation_csv(
        counts, scale_factor=10000, filename="xfe24-mst-counts_1.csv"
    )
    expected = _expected(
        "xfe24-mst-raw_1.xlsx",
        "atp-rate",
        normalisation=norm,
        settings=analysis.AnalysisSettings(ccf=0.6),
    )
    run.refresh_from_db()
    assert run.group_results == expected.group_results
    assert run.results_sha256 == expected.sha256
    assert "10000 cells" in run.group_results[0]["units"]["mito_atp_production_rate"]
    assert run.normalisation_sha256 == norm.sha256
    assert run.status == RunStatus.ANALYSED  # CCF given: no default warning


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"file_bytes": b"not a workbook", "filename": "x.xlsx"}, "file"),
        ({"file_bytes": b"", "filename": "x.xlsx"}, "file"),
        ({"file_bytes": b"well,count\nA01,1\n", "filename": "counts.csv"}, "file"),
        ({"assay": "glycolytic-rate", "filename": "xfe96-mito-glyco-rep1.xlsx"}, "file"),
        ({"assay": "glycolysis-stress"}, "assay"),
        ({"timepoint": "someday"}, "timepoint"),
        ({"normalisation": b"row,x01\nA,-5\n"}, "normalisation"),
        ({"ccf": Decimal("7")}, "ccf"),
        ({"sampled_on": dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)}, "sampled_on"),
    ],
)
def test_bad_uploads_are_refused_and_change_nothing(
    upload: Any, changes: dict[str, Any], field: str
) -> None:
    if changes.get("filename") == "xfe96-mito-glyco-rep1.xlsx":
        changes = {**changes, "file_bytes": export_bytes("xfe96-mito-glyco-rep1.xlsx")}
    before = AuditEvent.objects.count()
    with pytest.raises(Invalid) as info:
        upload(**changes)
    assert info.value.field == field
    assert info.value.message
    assert MetabolismRun.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_not_a_wave_export_names_the_problem(upload: Any) -> None:
    with pytest.raises(Invalid) as info:
        upload(file_bytes=b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", filename="old.xls")
    assert "legacy .xls" in info.value.message


def test_donor_of_another_organisation_is_refused(upload: Any, donor_b: Any, client_a: Any) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(Invalid) as info:
        upload(donor=donor_b, organisation=client_a)
    assert info.value.field == "donor"
    assert MetabolismRun.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_client_users_and_qa_cannot_upload(upload: Any, client_user_a: Any, qa_user: Any) -> None:
    before = AuditEvent.objects.count()
    for actor in (client_user_a, qa_user):
        with pytest.raises(PermissionDenied):
            upload(actor=actor)
    assert MetabolismRun.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_excluding_a_well_writes_one_ledger_entry_with_its_reason_and_changes_n(
    upload: Any, analyst: Any
) -> None:
    run = upload("xfe96-mito-glyco-rep1.xlsx")
    group = run.plate_layout["B02"]
    n_before = next(r["n"] for r in run.group_results if r["group"] == group)
    before = AuditEvent.objects.count()

    services.well_exclude(actor=analyst, run=run, well="b2", reason="bubble under the probe")

    assert AuditEvent.objects.count() == before + 1
    event = _events(run)[-1]
    assert event.event_type == EventType.WELL_EXCLUDED
    assert event.data["reason"] == "bubble under the probe"
    assert event.data["new"]["well"] == "B02"
    assert event.data["old"]["n"] == n_before
    assert event.data["new"]["n"] == n_before - 1
    run.refresh_from_db()
    assert next(r["n"] for r in run.group_results if r["group"] == group) == n_before - 1
    expected = _expected(
        "xfe96-mito-glyco-rep1.xlsx", "mito-stress", exclusions={"B02": "bubble under the probe"}
    )
    assert run.group_results == expected.group_results
    assert run.results_sha256 == expected.sha256
    b02 = next(w for w in run.well_results if w["well"] == "B02")
    assert b02["excluded"] is True
    assert b02["exclusion_reason"] == "bubble under the probe"
    assert WellExclusion.objects.get(run=run).excluded_by == analyst
    assert verify_database().ok


def test_including_the_well_again_restores_the_results_and_keeps_the_history(
    upload: Any, analyst: Any, tech: Any
) -> None:
    run = upload()
    original = run.results_sha256
    services.well_exclude(actor=analyst, run=run, well="A02", reason="cells detached")
    before = AuditEvent.objects.count()
    services.well_include(actor=tech, run=run, well="A02", reason="detachment not confirmed")
    assert AuditEvent.objects.count() == before + 1
    event = _events(run)[-1]
    assert event.event_type == EventType.WELL_INCLUDED
    assert event.data["reason"] == "detachment not confirmed"
    run.refresh_from_db()
    assert run.results_sha256 == original
    (row,) = WellExclusion.objects.filter(run=run)
    assert row.included_by == tech
    assert row.include_reason == "detachment not confirmed"
    # and it can be excluded again
    services.well_exclude(actor=analyst, run=run, well="A02", reason="second look: detached")
    assert WellExclusion.objects.filter(run=run, included_at__isnull=True).count() == 1


@pytest.mark.parametrize(
    ("well", "reason", "error"),
    [
        ("A02", "   ", Invalid),  # no reason
        ("A01", "edge", Invalid),  # background well
        ("Z99", "typo", Invalid),  # not a well
        ("A07", "off plate", Invalid),  # not on a 24-well plate
    ],
)
def test_refused_exclusions_change_nothing(
    upload: Any, analyst: Any, well: str, reason: str, error: type[Exception]
) -> None:
    run = upload()
    sha, before = run.results_sha256, AuditEvent.objects.count()
    with pytest.raises(error):
        services.well_exclude(actor=analyst, run=run, well=well, reason=reason)
    run.refresh_from_db()
    assert run.results_sha256 == sha
    assert AuditEvent.objects.count() == before
    assert not WellExclusion.objects.exists()


def test_double_exclusion_conflicts_and_client_cannot_exclude(
    upload: Any, analyst: Any, client_user_a: Any
) -> None:
    run = upload()
    services.well_exclude(actor=analyst, run=run, well="A02", reason="bubble")
    before = AuditEvent.objects.count()
    with pytest.raises(Conflict):
        services.well_exclude(actor=analyst, run=run, well="A02", reason="again")
    with pytest.raises(PermissionDenied):
        services.well_exclude(actor=client_user_a, run=run, well="A03", reason="mine")
    with pytest.raises(Conflict):
        services.well_include(actor=analyst, run=run, well="A03", reason="not excluded")
    assert AuditEvent.objects.count() == before
    assert WellExclusion.objects.count() == 1


def test_run_result_recomputes_the_stored_results(upload: Any, analyst: Any) -> None:
    run = upload()
    services.well_exclude(actor=analyst, run=run, well="B02", reason="bubble")
    run.refresh_from_db()
    result = services.run_result(run)
    assert services.stored_results(result).sha256 == run.results_sha256
    assert result.well("B02").excluded


def test_aliquot_links_its_donor(upload: Any, tech: Any, donor_a: Any, client_a: Any) -> None:
    from celltrace.bank import services as bank
    from celltrace.bank.choices import CollectionType, ContainerType, ProductType

    bank.consent_record(actor=tech, donor=donor_a, version="1", signed_on=dt.date(2025, 1, 1))
    collection = bank.collection_create(
        actor=tech,
        donor=donor_a,
        collection_type=CollectionType.PERIPHERAL_BLOOD,
        collected_at=dt.datetime(2025, 1, 2, 9, tzinfo=dt.UTC),
        volume_ml=Decimal("50"),
    )
    product = bank.product_create(
        actor=tech,
        collection=collection,
        product_type=ProductType.PBMC,
        pdc="S9001",
        isbt_collection_type="V",
    )
    aliquot = bank.aliquot_create(
        actor=tech,
        product=product,
        container_type=ContainerType.CRYOVIAL_1_8,
        volume_ul=Decimal("1000"),
    )
    run = upload(donor=None, aliquot=aliquot)
    assert run.donor == donor_a
    assert run.aliquot == aliquot
