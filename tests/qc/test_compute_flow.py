"""Flow results from an FCS file and a GatingML template: the result, its stored files, the dot
plots with the gates drawn (served as SVG only to whoever may see the result), broken files
refused without a trace, and one walk in Chromium."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from celltrace.assays import flow
from celltrace.qc.models import Result
from tests.qc.conftest import Lab, in_testing, lab_test, sign, snapshot
from tests.qc.test_compute_calculators import ARIA, ARIA_TEMPLATE, BROKEN_FCS
from tests.qc.test_pages import logged_in

pytest.importorskip("flowkit")


def stored() -> list[Path]:
    root = Path(settings.DATA_DIR) / "instrument-files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def fcs_post(client: Any, test: Any, fcs: Path = ARIA) -> Any:
    return client.post(
        f"/qc/tests/{test.pk}/compute/?kind=fcs",
        {
            "fcs_file": SimpleUploadedFile(fcs.name, fcs.read_bytes()),
            "template": SimpleUploadedFile(ARIA_TEMPLATE.name, ARIA_TEMPLATE.read_bytes()),
            "control_kind": "untransduced",
        },
    )


@pytest.mark.django_db
def test_fcs_result_plots_and_tenancy(lab: Lab) -> None:
    req = in_testing(lab, methods=["purity-flow"])
    test = lab_test(req, "purity-flow")
    analyst = logged_in(lab.analyst)
    assert fcs_post(analyst, test).status_code == 302
    result = Result.objects.get(test=test)
    direct = flow.analyze_fcs(ARIA, ARIA_TEMPLATE)
    cd3 = direct.values.cd3
    assert result.value_text == f"{cd3.numerator * 100 / cd3.denominator:.1f}"
    shas = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (ARIA, ARIA_TEMPLATE)}
    assert shas <= {p.name for p in stored()}
    page = analyst.get(f"/qc/tests/{test.pk}/").content.decode()
    plots = re.findall(rf'src="(/qc/results/{result.pk}/plots/\d+\.svg)"', page)
    assert len(plots) == len(direct.gate_counts) == 7
    svg = analyst.get(plots[0])
    assert svg.status_code == 200
    assert svg["Content-Type"].startswith("image/svg+xml")
    assert svg["Content-Security-Policy"].startswith("default-src 'none'")
    body = svg.content.decode()
    assert body.lstrip().startswith("<?xml") and 'id="gate-Cells"' in body
    assert "<script" not in body
    assert analyst.get(f"/qc/results/{result.pk}/plots/99.svg").status_code == 404
    # the client sees the plots of its own results once they are released, another client never
    alice, bob = logged_in(lab.alice), logged_in(lab.bob)
    assert alice.get(plots[0]).status_code == 404
    sign(lab.analyst, result, "performed")
    sign(lab.reviewer, result, "reviewed")
    req.refresh_from_db()
    sign(lab.qa, req, "released")
    assert alice.get(plots[0]).status_code == 200
    assert bob.get(plots[0]).status_code == 404


@pytest.mark.django_db
def test_broken_fcs_is_refused_and_writes_nothing(lab: Lab) -> None:
    test = lab_test(in_testing(lab, methods=["purity-flow"]), "purity-flow")
    analyst = logged_in(lab.analyst)
    before = snapshot()
    response = fcs_post(analyst, test, BROKEN_FCS)
    assert response.status_code == 200
    assert "fcs_file" in response.context["form"].errors
    assert "disagree on the DATA segment offset" in response.content.decode()
    not_fcs = analyst.post(
        f"/qc/tests/{test.pk}/compute/?kind=fcs",
        {
            "fcs_file": SimpleUploadedFile("x.fcs", b"hello, not an FCS file"),
            "template": SimpleUploadedFile(ARIA_TEMPLATE.name, ARIA_TEMPLATE.read_bytes()),
            "control_kind": "untransduced",
        },
    )
    assert "not an FCS file" in not_fcs.content.decode()
    assert snapshot() == before and stored() == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_upload_fcs_and_see_the_dot_plots_in_chromium(
    browser_page: Any, live_server: Any, lab: Lab
) -> None:
    from tests.qc.test_browser import open_as

    test = lab_test(in_testing(lab, methods=["purity-flow"]), "purity-flow")
    page = open_as(browser_page, live_server, "analyst")
    page.set_default_timeout(60_000)
    page.goto(f"{live_server.url}/qc/tests/{test.pk}/")
    page.click("a.button:has-text('FCS files and gating template')")
    page.set_input_files("input[name=fcs_file]", str(ARIA))
    page.set_input_files("input[name=template]", str(ARIA_TEMPLATE))
    page.click("#compute-form button.primary")
    page.wait_for_selector("#dot-plots img")
    images = page.locator("#dot-plots img")
    assert images.count() == 7
    page.wait_for_function(
        "() => [...document.querySelectorAll('#dot-plots img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert "Cells/Singlets/Viable/CD3pos" in page.inner_text("#dot-plots")
    assert Result.objects.get(test=test).calculation["kind"] == "fcs"


@pytest.mark.django_db
def test_without_flowkit_the_form_says_so_and_nothing_is_written(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "flowkit", None)  # the `flow` extra is not installed
    test = lab_test(in_testing(lab, methods=["purity-flow"]), "purity-flow")
    analyst = logged_in(lab.analyst)
    page = analyst.get(f"/qc/tests/{test.pk}/compute/?kind=fcs").content.decode()
    assert "FlowKit, which is not installed" in page
    assert "pip install" in page
    before = snapshot()
    response = fcs_post(analyst, test)
    assert response.status_code == 200
    assert "fcs_file" in response.context["form"].errors
    assert "Upload the statistics CSV" in response.content.decode()
    assert snapshot() == before and stored() == []
