"""Regenerate the screenshots of docs/user-guide.md.

Run from anywhere::

    .venv/bin/python docs/screenshots.py

It sets up a throwaway installation with the demo data (``celltrace setup --demo``) in a
temporary directory, signs a ledger checkpoint, starts ``celltrace serve`` on a free loopback
port, drives Debian's Chromium with Playwright as the demo users and writes PNG files into
``docs/images/``. The server and the temporary directory are removed at the end, whatever
happens. Nothing outside ``docs/images/`` is changed.

Set ``CHROMIUM`` to use another Chromium binary (default ``/usr/bin/chromium``).
"""

from __future__ import annotations

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
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
VENV_BIN = ROOT / ".venv" / "bin"
BIN = VENV_BIN if (VENV_BIN / "celltrace").exists() else Path(sys.executable).parent
CELLTRACE = str(BIN / "celltrace")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
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
    # the four-eyes rule: the reviewer cannot also approve
    qa.click("a.button:has-text('Sign: Approved')")
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

    for p in (admin, qa, tech, aurora):
        p.context.close()


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
