"""The compute page for each calculator path: one result with its calculation (instrument files
stored under their SHA-256), refusals that write nothing, the reviewer's readable view, the
certificate annex, signatures broken by a changed calculation, and tenancy."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from celltrace.audit import signing
from celltrace.audit.verification import verify_database
from celltrace.qc import calculators, services
from celltrace.qc.choices import Conformance
from celltrace.qc.instrument_files import Upload
from celltrace.qc.models import OosInvestigation, Result
from tests.qc.conftest import Lab, in_testing, lab_test, sign, snapshot
from tests.qc.test_compute_calculators import (
    BLOOD,
    COUNTESS,
    FLOWJO,
    VICELL,
)
from tests.qc.test_pages import logged_in

pytestmark = pytest.mark.django_db


def stored_files() -> list[Path]:
    root = Path(settings.DATA_DIR) / "instrument-files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def file_field(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def compute(client: Any, test: Any, kind: str, data: dict[str, Any]) -> Any:
    return client.post(f"/qc/tests/{test.pk}/compute/?kind={kind}", data)


def test_counter_csv_upload_enters_the_result_and_stores_the_file(lab: Lab) -> None:
    test = lab_test(in_testing(lab), "viability")
    client = logged_in(lab.analyst)
    page = client.get(f"/qc/tests/{test.pk}/compute/?kind=counter-csv")
    assert b'enctype="multipart/form-data"' in page.content
    response = compute(client, test, "counter-csv", {"file": file_field(COUNTESS)})
    assert response.status_code == 302, response.content.decode()[-3000:]
    result = Result.objects.get(test=test)
    assert (result.value_text, result.unit, result.conformance) == ("91.2", "%", "conforms")
    sha = hashlib.sha256(COUNTESS.read_bytes()).hexdigest()
    assert result.calculation is not None
    assert result.calculation["inputs"]["files"][0] == {
        "kind": "counter-csv",
        "name": "countess_export.csv",
        "sha256": sha,
        "size": str(COUNTESS.stat().st_size),
    }
    assert [p.name for p in stored_files()] == [sha]
    assert stored_files()[0].read_bytes() == COUNTESS.read_bytes()
    # the stored calculation equals a direct call on the same inputs
    direct = calculators.viability_from_counter(
        {"file": Upload.of(COUNTESS.name, COUNTESS.read_bytes())}, 1, "%"
    )[2]
    assert {k: v for k, v in result.calculation.items() if k != "kind"} == direct
    detail = client.get(f"/qc/tests/{test.pk}/").content.decode()
    assert sha in detail and "countess_export.csv" in detail
    assert "Viability (%)" in detail
    assert verify_database().ok


@pytest.mark.parametrize(
    ("payload", "field", "rule"),
    [
        (
            {"file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n")},
            "file",
            "no accepted counter layout",
        ),
        ({"file": SimpleUploadedFile("x.csv", b"")}, "file", "empty"),
        ({}, "file", "required"),
        ({"sample": "nope"}, "sample", "is not in countess_export.csv"),
        ({"layout": "vicell"}, "file", "missing column(s) for layout vicell"),
    ],
)
def test_bad_counter_files_write_nothing(
    lab: Lab, payload: dict[str, Any], field: str, rule: str
) -> None:
    test = lab_test(in_testing(lab), "viability")
    client = logged_in(lab.analyst)
    data: dict[str, Any] = {"file": file_field(COUNTESS)} | payload
    if not payload:
        data = {}
    before = snapshot()
    response = compute(client, test, "counter-csv", data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert rule in response.content.decode()
    assert snapshot() == before
    assert stored_files() == []


def test_cell_count_from_vicell_with_dose(lab: Lab) -> None:
    test = lab_test(in_testing(lab, methods=["cell-count"]), "cell-count")
    client = logged_in(lab.analyst)
    response = compute(
        client,
        test,
        "counter-csv",
        {"file": file_field(VICELL), "volume_ml": "50", "body_mass_kg": "70"},
    )
    assert response.status_code == 302
    result = Result.objects.get(test=test)
    assert result.value_text == "2365000"
    assert result.calculation["outputs"]["dose_cells_per_kg"] == "1689286"
    assert "Dose (viable cells/kg)" in client.get(f"/qc/tests/{test.pk}/").content.decode()


GEL_CLOT = {
    "labelled_sensitivity": "0.125",
    "std_concentrations": "0.25 0.125 0.0625 0.03125",
    "std_series": "+ + - -\n+ + - -\n+ - - -\n+ - - -",
    "negative_controls": "- -",
    "dilutions": "1 2 4 8",
    "sample_series": "+ + - -\n+ - - -",
    "positive_product_controls": "+ +",
}


def test_gel_clot_page(lab: Lab) -> None:
    test = lab_test(in_testing(lab), "endotoxin")
    client = logged_in(lab.analyst)
    assert compute(client, test, "gel-clot", GEL_CLOT).status_code == 302
    result = Result.objects.get(test=test)
    assert (result.value_text, result.conformance) == ("0.18", Conformance.CONFORMS)
    assert result.calculation["kind"] == "gel-clot"
    other = lab_test(in_testing(lab, sample="A-002", batch="B2"), "endotoxin")
    before = snapshot()
    bad = GEL_CLOT | {"positive_product_controls": "+ -", "sample_series": "+ x - -"}
    response = compute(client, other, "gel-clot", bad)
    assert "entry 2 (x) must be + or -" in response.content.decode()
    bad = GEL_CLOT | {"positive_product_controls": "+ -"}
    response = compute(client, other, "gel-clot", bad)
    assert "positive product control 2: did not clot" in response.content.decode()
    assert snapshot() == before


def test_blood_culture_csv_page_and_refusal(lab: Lab) -> None:
    req = in_testing(lab)
    test = lab_test(req, "sterility-cell")
    client = logged_in(lab.analyst)
    before = snapshot()
    response = compute(
        client,
        test,
        "blood-culture-csv",
        {"file": file_field(BLOOD), "sample_id": "LOT-24-003", "required_days": "14"},
    )
    assert "Bottles are still incubating" in response.content.decode()
    assert snapshot() == before and stored_files() == []
    response = compute(
        client,
        test,
        "blood-culture-csv",
        {"file": file_field(BLOOD), "sample_id": "LOT-24-002", "required_days": "14"},
    )
    assert response.status_code == 302
    result = Result.objects.get(test=test)
    # growth in a bottle: fails the "No growth" specification and opens an OOS investigation
    assert result.value_text == "Growth"
    assert result.conformance == Conformance.DOES_NOT_CONFORM
    assert OosInvestigation.objects.filter(result=result).exists()


def test_mycoplasma_nat_and_culture_pages(lab: Lab) -> None:
    req = in_testing(lab, methods=["mycoplasma-nat", "mycoplasma-culture"])
    client = logged_in(lab.analyst)
    nat = lab_test(req, "mycoplasma-nat")
    data = {
        "samples": "S1, -, 28.1\nS2, -, 28.4",
        "positive_controls": "PC, 33.0, 28.0",
        "negative_controls": "NTC, -, 28.2",
        "spiked_samples": "SPK, 34.1, 28.5",
    }
    before = snapshot()
    bad = data | {"samples": "S1, -, -"}  # no internal control: cannot exclude inhibition
    response = compute(client, nat, "nat", bad)
    assert "internal control not amplified" in response.content.decode()
    assert snapshot() == before
    assert compute(client, nat, "nat", data).status_code == 302
    assert Result.objects.get(test=nat).value_text == "Not detected"
    culture = lab_test(req, "mycoplasma-culture")
    data = {
        "test_observations": "agar, 14, -\nbroth, 21, -",
        "positive_controls": "agar, 7, +\nbroth, 7, +",
        "negative_controls": "agar, 14, -\nbroth, 21, -",
    }
    assert compute(client, culture, "culture", data).status_code == 302
    assert Result.objects.get(test=culture).value_text == "Not detected"


def test_vcn_ddpcr_and_qpcr_pages(lab: Lab) -> None:
    from tests.qc.test_compute_calculators import COPIES, cq_line

    client = logged_in(lab.analyst)
    test = lab_test(in_testing(lab, methods=["vcn"]), "vcn")
    data = {
        "target_positive": "3000",
        "reference_positive": "5000",
        "total_droplets": "15000",
        "droplet_nl": "0.91",
        "min_droplets": "10000",
        "car_positive_percent": "40",
    }
    assert compute(client, test, "ddpcr", data).status_code == 302
    result = Result.objects.get(test=test)
    well = calculators.vcn.analyse_ddpcr_well(3000, 5000, 15000, droplet_nl=0.91)
    assert result.calculation["outputs"]["vcn_per_diploid_genome"] == repr(well.vcn)
    assert result.value_text == str(
        (calculators.Decimal(repr(well.vcn)) * 100 / 40).quantize(calculators.Decimal("0.01"))
    )
    other = lab_test(in_testing(lab, methods=["vcn"], sample="A-7", batch="B7"), "vcn")
    qpcr = {
        "target_std_copies": " ".join(COPIES),
        "target_std_cq": " ".join(str(c) for c in cq_line(38.0, COPIES)),
        "reference_std_copies": " ".join(COPIES),
        "reference_std_cq": " ".join(str(c) for c in cq_line(37.0, COPIES)),
        "sample_target_cq": " ".join(str(c) for c in cq_line(38.0, ["10000", "10000"])),
        "sample_reference_cq": " ".join(str(c) for c in cq_line(37.0, ["20000", "20000"])),
        "efficiency_min_percent": "90",
        "efficiency_max_percent": "110",
        "r_squared_min": "0.98",
    }
    assert compute(client, other, "qpcr", qpcr).status_code == 302
    assert Result.objects.get(test=other).value_text == "1.00"


def test_flow_statistics_page_identity(lab: Lab) -> None:
    from tests.qc.test_compute_calculators import FLOWJO_MAP

    test = lab_test(in_testing(lab, methods=["identity-flow"]), "identity-flow")
    client = logged_in(lab.analyst)
    data = {
        "file": file_field(FLOWJO),
        "sample": "CAR-T lot 7.fcs",
        "control_sample": "UTD control.fcs",
        "control_kind": "untransduced",
    } | FLOWJO_MAP
    assert compute(client, test, "statistics-csv", data).status_code == 302
    result = Result.objects.get(test=test)
    assert result.value_text == "29.0"
    detail = client.get(f"/qc/tests/{test.pk}/").content.decode()
    assert "CAR+ net of the control (%)" in detail
    assert "flowjo_statistics.csv" in detail


def test_signature_breaks_when_the_calculation_changes(lab: Lab) -> None:
    test = lab_test(in_testing(lab), "viability")
    client = logged_in(lab.analyst)
    assert compute(client, test, "counter-csv", {"file": file_field(COUNTESS)}).status_code == 302
    result = Result.objects.get(test=test)
    sign(lab.analyst, result, "performed")
    assert all(m.valid for m in signing.manifestations(result))
    calculation = dict(result.calculation or {})
    calculation["inputs"] = dict(calculation["inputs"])
    calculation["inputs"]["files"] = [dict(calculation["inputs"]["files"][0], sha256="0" * 64)]
    Result.objects.filter(pk=result.pk).update(calculation=calculation)  # tampering, not a service
    result.refresh_from_db()
    assert not any(m.valid for m in signing.manifestations(result))


def test_certificate_annex_names_the_instrument_file(lab: Lab) -> None:
    from celltrace.qc.certificates import render_html
    from tests.qc.conftest import VALUES

    req = in_testing(lab)
    client = logged_in(lab.analyst)
    for test in req.tests.order_by("pk"):
        code = test.method_version.method.code
        if code == "viability":
            assert (
                compute(client, test, "counter-csv", {"file": file_field(COUNTESS)}).status_code
                == 302
            )
            result = Result.objects.get(test=test)
        else:
            result = services.result_enter(actor=lab.analyst, test=test, value=VALUES[code])
        sign(lab.analyst, result, "performed")
        sign(lab.reviewer, result, "reviewed")
    req.refresh_from_db()
    sign(lab.qa, req, "released")
    html = render_html(services.certificate_issue(actor=lab.qa, request=req))
    assert "Annex: calculations" in html
    assert "countess_export.csv" in html
    assert hashlib.sha256(COUNTESS.read_bytes()).hexdigest() in html
    assert "Viability (%)" in html  # labels, not raw keys


def test_client_and_foreign_users_cannot_compute(lab: Lab) -> None:
    test = lab_test(in_testing(lab, client=lab.bob, sample="B-9"), "viability")
    clients = [logged_in(user) for user in (lab.alice, lab.bob)]
    analyst = logged_in(lab.analyst)
    before = snapshot()  # after the logins, which are on the ledger
    for client in clients:
        assert client.get(f"/qc/tests/{test.pk}/compute/?kind=counter-csv").status_code == 404
        response = compute(client, test, "counter-csv", {"file": file_field(COUNTESS)})
        assert response.status_code == 404
    assert analyst.get(f"/qc/tests/{test.pk}/compute/?kind=nope").status_code == 404
    assert snapshot() == before and stored_files() == []
