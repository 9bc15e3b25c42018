"""Regenerate the screenshots of docs/user-guide.md.

Run from anywhere::

    .venv/bin/python docs/screenshots.py

It sets up a throwaway installation with the demo data (``celltrace setup --demo``) in a
temporary directory, signs a ledger checkpoint, starts ``celltrace serve`` on a free loopback
port, drives Debian's Chromium with Playwright as the demo users and writes PNG files into
``docs/images/``. The server and the temporary directory are removed at the end, whatever
happens. Nothing outside ``docs/images/`` is changed.

Set ``CELLTRACE_CHROMIUM`` to use another Chromium binary (default ``/usr/bin/chromium``), as
for the browser tests; the older name ``CHROMIUM`` is still read when it is not set.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
VENV_BIN = ROOT / ".venv" / "bin"
BIN = VENV_BIN if (VENV_BIN / "celltrace").exists() else Path(sys.executable).parent
CELLTRACE = str(BIN / "celltrace")
CHROMIUM = os.environ.get("CELLTRACE_CHROMIUM") or os.environ.get("CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1366, "height": 900}
PASSWORD = "Bank&Lab-demo-2026"  # noqa: S105 - the published demo password of `setup --demo`
AURORA = "Aurora Cell Therapeutics"
IMPORT_COLUMNS = [
    "donor_reference",
    "din",
    "collection_type",
    "collected_at",
    "collection_volume_ml",
    "collection_site",
    "product_type",
    "product_code",
    "frozen_on",
    "container",
    "volume_ul",
    "cell_count",
    "viability_pct",
    "expires_on",
    "status",
]
# a valid kinetic LAL run (standard curve 0.05-5 EU/mL, PPC recovery 100 %): 0.40 EU/mL
ENDOTOXIN_RUN = {
    "concentrations": "0.05 0.05 0.05 0.5 0.5 0.5 5 5 5",
    "onset_times": "2114.74, 2114.74, 2114.74, 1189.21, 1189.21, 1189.21, 668.74, 668.74, 668.74",
    "sample_onset_times": "1495.35 1495.35",
    "ppc_onset_times": "1093.27, 1093.27",
    "spike_eu_per_ml": "0.5",
    "negative_control_onset_times": "- -",
    "dilution": "2",
    "k_eu_per_kg": "5",
    "dose_per_hour": "10",
    "pharmacopoeia": "USP",
    "product_concentration": "1",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(args: list[str], env: dict[str, str]) -> None:
    print("$", " ".join(args), flush=True)
    subprocess.run(args, env=env, check=True, cwd=ROOT)  # noqa: S603 - our own CLI


def wait_until_up(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"celltrace serve exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"celltrace serve did not answer at {url} within {timeout:.0f} s")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # the process group started below, nothing else
        server.wait(timeout=5)


@contextmanager
def celltrace_server() -> Iterator[str]:
    """A fresh demo installation served on a free port; yields its base URL."""
    data_dir = tempfile.mkdtemp(prefix="celltrace-docs-")
    env = dict(os.environ, CELLTRACE_DATA_DIR=data_dir)
    env.pop("DATABASE_URL", None)  # always the throwaway SQLite database
    server: subprocess.Popen[bytes] | None = None
    log = open(Path(data_dir) / "serve.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        run([CELLTRACE, "setup", "--demo"], env)
        run([CELLTRACE, "audit", "checkpoint"], env)
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 - our own CLI
            [CELLTRACE, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/login/", server)
        yield base
    except BaseException:
        log.flush()
        tail = (Path(data_dir) / "serve.log").read_text(errors="replace")[-4000:]
        if tail:
            print("--- end of the server log ---\n" + tail, file=sys.stderr)
        raise
    finally:
        if server is not None:
            stop(server)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


class Shooter:
    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base
        self.taken: list[str] = []

    def page(self) -> Page:
        context = self.browser.new_context(viewport=VIEWPORT, locale="en-GB")
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    def login(self, username: str) -> Page:
        page = self.page()
        page.goto(f"{self.base}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(f"{self.base}/")
        return page

    def go(self, page: Page, path: str) -> None:
        response = page.goto(f"{self.base}{path}")
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"

    def shot(self, page: Page, name: str, *, full_page: bool = False) -> None:
        if full_page:  # images below the fold with loading="lazy" would stay blank
            page.evaluate(
                "document.querySelectorAll('img[loading=lazy]')"
                ".forEach(img => { img.loading = 'eager'; })"
            )
            deadline = time.monotonic() + 30
            # polled from Python: the pages' CSP forbids wait_for_function's eval
            while not page.evaluate("[...document.images].every(img => img.complete)"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: images still loading after 30 s")
                time.sleep(0.2)
        page.wait_for_load_state("networkidle")
        path = IMAGES / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        self.taken.append(path.name)
        print(f"  {path.relative_to(ROOT)}  ({page.url.removeprefix(self.base)})", flush=True)


def take_all(s: Shooter) -> None:
    # --- logging in -------------------------------------------------------------------------
    page = s.page()
    s.go(page, "/login/")
    s.shot(page, "login")
    page.fill("#id_username", "tech")
    page.fill("#id_password", "not-the-password")
    page.click("button.primary")
    expect(page.locator(".error")).to_be_visible()
    s.shot(page, "login-failed")
    page.context.close()

    # --- administration: users, a role change with a reason --------------------------------
    admin = s.login("admin")
    s.go(admin, "/users/")
    s.shot(admin, "users")
    admin.click("a:text-is('analyst')")
    analyst_url = admin.url
    analyst_id = int(re.search(r"/users/(\d+)/", analyst_url).group(1))  # type: ignore[union-attr]
    roles_form = admin.locator("form:has(input[name=action][value=roles])")
    roles_form.locator("input[value=qc_reviewer]").check()
    roles_form.locator("input[name=reason]").fill(
        "Qualified as QC reviewer (training record TR-2026-014)"
    )
    roles_form.locator("button[type=submit]").click()
    expect(admin.locator(".messages")).to_be_visible()
    s.shot(admin, "user-detail-admin", full_page=True)
    s.go(admin, "/users/new/")
    s.shot(admin, "user-new", full_page=True)

    # --- QA: dashboard in English and Chinese ----------------------------------------------
    qa = s.login("qa")
    s.shot(qa, "dashboard")
    qa.click("form.langswitch button[value=zh-hans]")
    qa.wait_for_load_state()
    expect(qa.locator("html")).to_have_attribute("lang", "zh-hans")
    s.shot(qa, "dashboard-zh")
    qa.click("form.langswitch button[value=en]")
    expect(qa.locator("html")).to_have_attribute("lang", "en")

    # --- the audit ledger --------------------------------------------------------------------
    s.go(qa, "/audit/")
    s.shot(qa, "ledger")
    s.go(qa, "/audit/?event_type=USER_ROLES_CHANGED")
    s.shot(qa, "ledger-filtered")
    qa.locator("#ledger-rows td:first-child a").first.click()
    expect(qa.locator("h1")).to_contain_text("Ledger entry #")
    s.shot(qa, "ledger-entry", full_page=True)
    s.go(qa, f"/audit/history/core.user/{analyst_id}/")
    s.shot(qa, "history", full_page=True)

    # --- audit-trail review: create, sign as reviewed (qa), approve (admin) ------------------
    s.go(qa, "/audit/reviews/")
    qa.fill(
        "#id_conclusion", "No unexpected entries: only demo set-up, logins and one role change."
    )
    s.shot(qa, "reviews")
    qa.click("button:has-text('Record review')")
    qa.wait_for_url(re.compile(r".*/audit/reviews/\d+/$"))
    review_url = qa.url
    s.shot(qa, "review-new", full_page=True)
    qa.click("a.button:has-text('Sign: Reviewed')")
    qa.wait_for_url(re.compile(r".*/sign/"))
    qa.fill("#id_password", PASSWORD)
    s.shot(qa, "sign")
    qa.click("form.form button.primary")
    qa.wait_for_url(review_url)
    expect(qa.locator(".signatures")).to_contain_text("Quinn QA")
    s.shot(qa, "review-signed", full_page=True)
    # the four-eyes rule: the reviewer is not offered "Approved", and its signing page refuses
    expect(qa.locator("a.button:has-text('Sign: Approved')")).to_have_count(0)
    review_id = review_url.rstrip("/").rsplit("/", 1)[-1]
    s.go(qa, f"/sign/audit.auditreview/{review_id}/?meaning=approved")
    expect(qa.locator(".card .error")).to_be_visible()
    s.shot(qa, "sign-refused")

    admin.goto(review_url)
    admin.click("a.button:has-text('Sign: Approved')")
    admin.fill("#id_password", PASSWORD)
    admin.fill("#id_comment", "Approved.")
    admin.click("form.form button.primary")
    admin.wait_for_url(review_url)
    expect(admin.locator(".signatures")).to_contain_text("Ada Admin")
    s.shot(admin, "review-approved", full_page=True)

    # --- account: an API token, two-factor set-up --------------------------------------------
    tech = s.login("tech")
    s.go(tech, "/account/")
    tech.fill("#id_name", "LIMS export script")
    tech.click("button[name=create_token]")
    expect(tech.locator("#new-token")).to_be_visible()
    s.shot(tech, "account-token", full_page=True)
    s.go(tech, "/account/two-factor/")
    s.shot(tech, "two-factor")

    # --- a client user sees only its own organisation ----------------------------------------
    aurora = s.login("aurora")
    s.shot(aurora, "dashboard-client")
    s.go(aurora, "/organisations/")
    expect(aurora.locator("table.grid tbody tr")).to_have_count(1)
    s.shot(aurora, "organisations-client")

    # --- API documentation -------------------------------------------------------------------
    s.go(aurora, "/api/v1/docs")
    aurora.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    s.shot(aurora, "api-docs")

    for p in (admin, tech, aurora):
        p.context.close()

    # --- cell bank and storage (bank technician) ---------------------------------------------
    tech = s.login("tech")
    s.go(tech, "/storage/")
    s.shot(tech, "storage-browser")
    tech.locator("main a[href*='/storage/units/']:not([href$='/new/'])").first.click()
    tech.locator("main a[href*='/storage/racks/']").first.click()
    tech.locator("main a[href*='/storage/boxes/']").first.click()
    expect(tech.locator("main a[href*='/bank/aliquots/']").first).to_be_visible()
    s.shot(tech, "storage-box", full_page=True)
    tech.locator("main a[href*='/bank/aliquots/']").first.click()
    tech.wait_for_url(re.compile(r".*/bank/aliquots/\d+/$"))
    donor = tech.locator("dt:text-is('Donor') + dd").inner_text().strip()
    s.shot(tech, "bank-aliquot", full_page=True)
    s.go(tech, "/bank/")
    tech.fill("input[name=donor]", donor)
    tech.locator("form:has(input[name=q]) button[type=submit]").click()
    tech.wait_for_url(re.compile(r".*/bank/\?.*"))
    expect(tech.locator("main a[href*='/bank/aliquots/']").first).to_be_visible()
    s.shot(tech, "bank-search")

    # --- temperature monitoring --------------------------------------------------------------
    s.go(tech, "/monitoring/")
    s.shot(tech, "monitoring", full_page=True)
    tech.locator("main a[href*='/monitoring/units/']").first.click()
    tech.wait_for_url(re.compile(r".*/monitoring/units/\d+/$"))
    s.shot(tech, "monitoring-unit", full_page=True)
    # the first excursion whose impact report lists aliquots
    s.go(tech, "/monitoring/excursions/")
    hrefs = tech.eval_on_selector_all(
        "main a[href*='/monitoring/excursions/']", "els => els.map(e => e.getAttribute('href'))"
    )
    excursions = sorted({h for h in hrefs if re.search(r"/excursions/\d+/$", h)})
    for href in excursions:
        s.go(tech, href)
        if not re.search(r"\b0 aliquots were in this unit", tech.inner_text("main")):
            break
    tech.set_viewport_size({"width": VIEWPORT["width"], "height": 1500})
    s.shot(tech, "monitoring-excursion")
    tech.set_viewport_size(VIEWPORT)

    # --- cell metabolism ---------------------------------------------------------------------
    s.go(tech, "/metabolism/")
    s.shot(tech, "metabolism-runs")
    tech.locator("main a[href*='/metabolism/runs/']:not([href$='/new/'])").last.click()
    tech.wait_for_url(re.compile(r".*/metabolism/runs/\d+/$"))
    run_url = tech.url
    # exclude one analysed well with a reason (a fresh installation each time: idempotent)
    well = tech.locator("td.well-analysed").first
    well_name = well.get_attribute("data-well")
    well.locator("summary").click()
    well.locator("input[name=reason]").fill("Bubble under the probe (seen in the Wave report)")
    tech.locator("table.metabolism-plate").scroll_into_view_if_needed()
    s.shot(tech, "metabolism-exclude")
    well.locator("button[type=submit]").click()
    tech.wait_for_url(run_url)
    expect(tech.locator(f"td.well-excluded[data-well='{well_name}']")).to_be_visible()
    expect(tech.locator("main")).to_contain_text("Bubble under the probe")
    s.shot(tech, "metabolism-run", full_page=True)
    tech.locator("main a[href*='/metabolism/donors/']").first.click()
    tech.wait_for_url(re.compile(r".*/metabolism/donors/\d+/$"))
    s.shot(tech, "metabolism-profile", full_page=True)

    # --- QC laboratory: incoming, a certified request, the client portal, verification -------
    analyst = s.login("analyst")
    s.go(analyst, "/qc/lab/")
    s.shot(analyst, "qc-lab", full_page=True)

    aurora_qc = s.login("aurora")
    s.go(aurora_qc, "/qc/")
    s.shot(aurora_qc, "qc-portal", full_page=True)
    # a certified request (one with a certificate of analysis)
    certified = aurora_qc.locator("#requests tbody tr:has(.qc-status-certified)").first
    request_path = certified.locator("a[href*='/qc/requests/']").first.get_attribute("href")
    assert request_path, "no certified request in the client portal"
    s.go(qa, request_path)
    expect(qa.locator("main")).to_contain_text("Certificates of analysis")
    s.shot(qa, "qc-request", full_page=True)

    verify_path = qa.locator("main a[href*='/qc/verify/']").last.get_attribute("href")
    pdf_path = qa.locator("main a[href*='/qc/certificates/'][href$='/pdf/']").last.get_attribute(
        "href"
    )
    assert verify_path and pdf_path
    pdf = qa.request.get(f"{s.base}{pdf_path}")
    assert pdf.ok, f"{pdf_path}: HTTP {pdf.status}"
    public = s.page()  # verification needs no account
    s.go(public, verify_path)
    public.locator("input[type=file]").set_input_files(
        {"name": "certificate.pdf", "mimeType": "application/pdf", "buffer": pdf.body()}
    )
    public.click("form.form button.primary")
    expect(public.locator("#verdict")).to_be_visible()
    s.shot(public, "qc-verify", full_page=True)

    for p in (qa, tech, analyst, aurora_qc, public):
        p.context.close()

    bank_daily_work(s)
    inventory_import(s)
    qc_catalogue_and_dashboards(s)


def _days_ago(days: float, fmt: str = "%Y-%m-%dT%H:%M") -> str:
    """A UTC time ``days`` before now, for the date and time fields (none may be in the future)."""
    return (datetime.now(UTC) - timedelta(days=days)).strftime(fmt)


def bank_daily_work(s: Shooter) -> None:
    """Donor and consent, collection, processing, storage desk and hierarchy, distributions."""
    tech = s.login("tech")
    s.go(tech, "/bank/desk/")
    tech.select_option("#id_action", "move")
    s.shot(tech, "bank-desk")

    # a donor with a consent
    s.go(tech, "/bank/donors/new/")
    tech.select_option("#id_organisation", label=AURORA)
    tech.fill("#id_reference", "AUR-D-0107")
    tech.fill("#id_name", "Wang Fang")
    tech.fill("#id_national_id", "110101198807150027")
    tech.fill("#id_phone", "+86 138 0013 8000")
    tech.fill("#id_date_of_birth", "1988-07-15")
    s.shot(tech, "bank-donor-new", full_page=True)
    tech.click("form.form button.primary")
    tech.wait_for_url(re.compile(r".*/bank/donors/\d+/$"))
    donor_url = tech.url
    tech.click("details.addform summary:has-text('Record a consent')")
    tech.fill("#id_consent-version", "ICF-CB v3.1")
    tech.fill("#id_consent-signed_on", _days_ago(3, "%Y-%m-%d"))
    tech.check("#id_consent-clinical")
    tech.check("#id_consent-research")
    tech.click("#consent-form button.primary")
    tech.wait_for_url(donor_url)
    expect(tech.locator("#consents")).to_contain_text("ICF-CB v3.1")
    s.shot(tech, "bank-donor", full_page=True)

    # a collection, then processing into aliquots placed into storage
    tech.click("#collection-new")
    tech.wait_for_url(re.compile(r".*/collections/new/$"))
    tech.select_option("#id_collection_type", "apheresis")
    tech.fill("#id_collected_at", _days_ago(1))
    tech.fill("#id_volume_ml", "180")
    tech.fill("#id_collection_site", "Apheresis unit, Shanghai General Hospital")
    for select in tech.locator("select[name^=sprec_]").all():
        select.select_option(index=1)
    s.shot(tech, "bank-collection-new", full_page=True)
    tech.click("form.form button.primary")
    tech.wait_for_url(re.compile(r".*/bank/collections/\d+/$"))
    tech.click("#process-link")
    tech.wait_for_url(re.compile(r".*/process/$"))
    tech.select_option("#id_product_type", "pbmc")
    tech.fill("#id_pdc", "S9001")
    tech.fill("#id_processed_at", _days_ago(0.8))
    tech.fill("#id_count", "4")
    tech.select_option("#id_container_type", index=0)
    tech.fill("#id_volume_ul", "1000")
    tech.fill("#id_cell_count", "25000000")
    tech.fill("#id_viability_pct", "96.5")
    tech.check("#id_place")
    s.shot(tech, "bank-process", full_page=True)
    tech.click("form.form button.primary")
    tech.wait_for_url(re.compile(r".*/bank/collections/\d+/(\?.*)?$"))
    expect(tech.locator("section.product")).to_be_visible()
    s.shot(tech, "bank-collection", full_page=True)

    # building the storage hierarchy; a unit and a rack
    s.go(tech, "/storage/units/new/")
    s.shot(tech, "storage-unit-new", full_page=True)
    s.go(tech, "/storage/")
    tech.locator("main a[href*='/storage/units/']:not([href$='/new/'])").first.click()
    tech.wait_for_url(re.compile(r".*/storage/units/\d+/$"))
    s.shot(tech, "storage-unit", full_page=True)
    tech.locator("#racks a[href*='/storage/racks/']").first.click()
    tech.wait_for_url(re.compile(r".*/storage/racks/\d+/$"))
    s.shot(tech, "storage-rack", full_page=True)

    # distributions: the list, one released with QA's signature, one awaiting QA
    s.go(tech, "/bank/distributions/")
    s.shot(tech, "bank-distributions")
    released = tech.locator("#distributions tr:has(.ds-released) a").first.get_attribute("href")
    pending = tech.locator("#distributions tr:has(.ds-draft) a").first.get_attribute("href")
    assert released and pending, "the demo has a released and a pending distribution"
    tech.context.close()
    qa = s.login("qa")
    s.go(qa, released)
    expect(qa.locator("#dispatch-note")).to_be_visible()
    s.shot(qa, "bank-distribution-released", full_page=True)
    s.go(qa, pending)
    s.shot(qa, "bank-distribution-pending", full_page=True)
    qa.context.close()


def _inventory_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=IMPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _import_row(**values: str) -> dict[str, str]:
    row = {
        "donor_reference": "LEG-0001",
        "din": "G0042 24 100001 Q",
        "collection_type": "apheresis",
        "collected_at": "2024-05-14",
        "collection_volume_ml": "120",
        "collection_site": "Legacy bank, Suzhou",
        "product_type": "pbmc",
        "product_code": "S9001VA0",
        "frozen_on": "2024-05-14",
        "container": "cryovial_1_8ml",
        "volume_ul": "1000",
        "cell_count": "1.5E7",
        "viability_pct": "95.5",
        "expires_on": "2034-05-14",
        "status": "available",
    }
    row.update(values)
    return row


def _upload_inventory(page: Page, name: str, data: bytes, reason: str) -> None:
    page.select_option("#id_organisation", label=AURORA)
    page.locator("#id_file").set_input_files({"name": name, "mimeType": "text/csv", "buffer": data})
    page.fill("#id_reason", reason)
    page.click("form.import-upload button.primary")
    page.wait_for_url(re.compile(r".*/imports/\d+/$"))
    # the page polls the run's progress until it is finished
    page.wait_for_selector("#import-progress:not([hx-get])", timeout=120_000)


def inventory_import(s: Shooter) -> None:
    """Importing a legacy inventory: the upload page, a refused file, a written one."""
    tech = s.login("tech")
    s.go(tech, "/imports/")
    s.shot(tech, "import-upload")
    bad = _inventory_csv(
        [
            _import_row(),
            _import_row(din="G0042 24 100002 X", product_code="S9001VB0"),  # wrong check char
            _import_row(
                donor_reference="LEG-0002",
                din="G0042 24 100003 M",
                collection_type="blood",
                collected_at="2024-06-02T09:30:00",
            ),
            _import_row(
                donor_reference="LEG-0003",
                din="G0042 24 100004 " + "K",
                viability_pct="104",
                container="tube",
            ),
        ]
    )
    _upload_inventory(tech, "legacy-inventory-2024.csv", bad, "Migration of the 2024 freezer log")
    expect(tech.locator("table.import-errors tbody tr").first).to_be_visible()
    s.shot(tech, "import-problems", full_page=True)
    good = _inventory_csv(
        [
            _import_row(),
            _import_row(product_code="S9001VB0"),
            _import_row(
                donor_reference="LEG-0002",
                din="G0042 24 100002 O",
                collection_type="peripheral_blood",
                collected_at="2024-06-02T09:30:00+08:00",
                collection_volume_ml="50",
                product_type="t_cells",
                product_code="S9002VA0",
                frozen_on="2024-06-03",
                status="quarantine",
            ),
        ]
    )
    s.go(tech, "/imports/")
    _upload_inventory(tech, "legacy-inventory-2024.csv", good, "Migration of the 2024 freezer log")
    expect(tech.locator("table.import-counts")).to_be_visible()
    s.shot(tech, "import-written", full_page=True)
    tech.context.close()


def qc_catalogue_and_dashboards(s: Shooter) -> None:
    """QC: dashboards, catalogue, specifications, panels, a stored sample, computed results,
    sterility readings and an OOS investigation."""
    qa = s.login("qa")
    s.go(qa, "/qc/dashboard/")
    s.shot(qa, "qc-dashboard", full_page=True)
    qa.locator("#overdue").scroll_into_view_if_needed()
    qa.locator("#overdue").screenshot(path=str(IMAGES / "qc-dashboard-overdue.png"))
    s.taken.append("qc-dashboard-overdue.png")

    s.go(qa, "/qc/catalogue/methods/")
    s.shot(qa, "qc-methods", full_page=True)
    s.go(qa, "/qc/catalogue/methods/viability/")  # the demo proposes a version 2
    s.shot(qa, "qc-method", full_page=True)
    s.go(qa, "/qc/catalogue/specifications/")
    s.shot(qa, "qc-specifications")
    qa.context.close()

    reviewer = s.login("reviewer")
    s.go(reviewer, "/qc/catalogue/specifications/")
    reviewer.locator("main tr:has(.qc-version-effective) a[href*='/specifications/']").first.click()
    reviewer.click("a.button:has-text('New version')")
    reviewer.wait_for_url(re.compile(r".*/new-version/$"))
    s.shot(reviewer, "qc-specification-new-version", full_page=True)
    s.go(reviewer, "/qc/catalogue/panels/")
    s.shot(reviewer, "qc-panels")
    reviewer.context.close()

    analyst = s.login("analyst")
    # a stored sample of AUR-26-003 (received; the demo stores its samples)
    s.go(analyst, _request_path(s, analyst, "AUR-26-003"))
    analyst.locator("main a[href*='/qc/samples/']").first.click()
    analyst.wait_for_url(re.compile(r".*/qc/samples/\d+/$"))
    expect(analyst.locator("#sample-location")).not_to_have_text("—")
    s.shot(analyst, "qc-sample", full_page=True)

    # AUR-26-004 is in testing; only its viability has a result
    request_path = _request_path(s, analyst, "AUR-26-004")
    s.go(analyst, request_path)
    endotoxin = _test_path(analyst, "endotoxin")
    sterility = _test_path(analyst, "sterility")
    s.go(analyst, f"{endotoxin}compute/?kind=kinetic")
    form = analyst.locator("#compute-form")
    for name, value in ENDOTOXIN_RUN.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    s.shot(analyst, "qc-compute", full_page=True)
    # submit the form itself (the same POST as its button; tests click the button)
    form.evaluate("f => f.requestSubmit()")
    analyst.wait_for_url(re.compile(r".*/qc/tests/\d+/$"), timeout=90_000)
    expect(analyst.locator("main")).to_contain_text("Calculation")
    s.shot(analyst, "qc-test-calculation", full_page=True)

    # sterility: inoculated three days ago, read on day 1; today's reading is due
    s.go(analyst, f"{sterility}sterility/")
    analyst.fill("#id_start-started_at", _days_ago(3, "%Y-%m-%d %H:%M"))
    analyst.click("#start-form button[type=submit]")
    analyst.wait_for_selector("#reading-form")
    analyst.fill("#id_read-observed_at", _days_ago(2, "%Y-%m-%d %H:%M"))
    analyst.select_option("#id_read-ftm", "no")
    analyst.select_option("#id_read-scdm", "no")
    analyst.click("#reading-form button.primary")
    analyst.wait_for_load_state()
    s.shot(analyst, "qc-sterility", full_page=True)
    s.go(analyst, "/qc/sterility/due/")
    s.shot(analyst, "qc-readings-due")

    # the closed OOS investigation of BOR-26-101 (assignable laboratory cause, retest)
    s.go(analyst, "/qc/oos/")
    analyst.locator("main tbody tr:has-text('Closed') a[href*='/qc/oos/']").first.click()
    analyst.wait_for_url(re.compile(r".*/qc/oos/\d+/$"))
    s.shot(analyst, "qc-oos", full_page=True)
    analyst.context.close()


def _request_path(s: Shooter, page: Page, batch: str) -> str:
    """The laboratory's page of the demo request of ``batch``."""
    s.go(page, "/qc/lab/")
    href = page.locator(f"main tr:has-text('{batch}') a[href*='/qc/requests/']").first
    path = href.get_attribute("href")
    assert path, f"no request {batch} on the laboratory page"
    return path


def _test_path(page: Page, method: str) -> str:
    """The test of ``method`` on the request page open in ``page``."""
    path = page.locator(f"main tr:has-text('{method}') a[href*='/qc/tests/']").first.get_attribute(
        "href"
    )
    assert path, f"no {method} test on {page.url}"
    return path


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with celltrace_server() as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            shooter = Shooter(browser, base)
            take_all(shooter)
        finally:
            browser.close()
    print(f"{len(shooter.taken)} screenshots in {IMAGES.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
