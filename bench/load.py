"""Loopback load test (docs/design/reliability.md §9.7, figure 15): gunicorn on loopback,
demo data.

    .venv/bin/python -m bench.load [--users 8] [--duration 30] [--workers 2] [--threads 4]
                                   [--data-dir DIR]

Sets up a fresh data directory (SQLite, production-like local settings) with ``celltrace setup
--demo``, issues API tokens and signs in through the login form, starts ``celltrace serve``
(gunicorn) on a free loopback port, and drives it for ``--duration`` seconds with ``--users``
threads, each a persistent ``http.client`` connection. Half the users are the client user
``aurora``, half the lab technician ``tech``; each repeats a seeded mix of pages (session
cookie) and API calls (bearer token). One request in eight of every client user is a **tenant
probe**: aurora asks for another organisation's aliquots and QC requests (of borealis, cirrus
and the lab itself), through the API and the pages; every probe must answer 404. Any 5xx, any
unexpected status and any probe that is not 404 is counted as an error (exit status 1).

Load generator and server share the machine: the report names the core count. Compare runs
only on the same machine. Last line:

    load users=<U> rps=<n> p50_ms=<x> p95_ms=<x> p99_ms=<x> tenant_404=<pct>
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CELLTRACE = [sys.executable, "-m", "celltrace.cli"]
HOST = "127.0.0.1"

#: Run in the data directory before the server starts: tokens, and the objects the mix asks
#: for (aurora's own, and other organisations' rows for the tenant probe).
PREPARE = r"""
import json, django
django.setup()
from celltrace.bank.models import Aliquot
from celltrace.core import services
from celltrace.core.demo import DEMO_PASSWORD
from celltrace.core.models import User
from celltrace.qc.models import TestRequest
users = {u: User.objects.get(username=u) for u in ("aurora", "tech")}
def pks(qs):
    return list(qs.order_by("pk").values_list("pk", flat=True)[:20])
def own(model):
    return pks(model.objects.filter(organisation__code="aurora"))
def foreign(model):  # what aurora must never see: any other organisation's rows
    return pks(model.objects.exclude(organisation__code="aurora"))
tokens = {
    u: services.api_token_create(actor=users[u], name="load test").secret
    for u in ("aurora", "tech")
}
print(json.dumps({
    "password": DEMO_PASSWORD,
    "tokens": tokens,
    "aliquots": {"aurora": own(Aliquot), "foreign": foreign(Aliquot)},
    "requests": {"aurora": own(TestRequest), "foreign": foreign(TestRequest)},
}))
"""


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    probes: int = 0
    probes_404: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.by_kind.setdefault(kind, []).append(seconds)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"failed: {' '.join(args)}")
    return done.stdout


class Session:
    """One simulated user: a persistent connection, a session cookie and a token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def request(
        self, method: str, path: str, *, api: bool = False, body: str | None = None
    ) -> tuple[int, str]:
        headers = {"Host": f"{HOST}:{self.port}"}
        if api:
            headers["Authorization"] = f"Bearer {self.token}"
            headers["Accept"] = "application/json"
        elif self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{HOST}:{self.port}{path}"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()  # the server closed a kept-alive connection: reconnect once
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
                if attempt:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, text

    def login(self, username: str, password: str) -> None:
        status, page = self.request("GET", "/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not match:
            raise SystemExit(f"login page answered {status}")
        from urllib.parse import urlencode

        body = urlencode(
            {"csrfmiddlewaretoken": match.group(1), "username": username, "password": password}
        )
        status, _ = self.request("POST", "/login/", body=body)
        if status != 302:
            raise SystemExit(f"login of {username} answered {status}, not a redirect")


def _mix(role: str, data: dict[str, Any]) -> list[tuple[str, str, bool, int]]:
    """(kind, path, api?, expected status) for one kind of user."""
    own = "aurora" if role == "client" else None
    if own:
        aliquot = data["aliquots"]["aurora"][0]
        request = data["requests"]["aurora"][0] if data["requests"]["aurora"] else None
        mix = [
            ("page", "/", False, 200),
            ("page", "/bank/", False, 200),
            ("page", "/qc/", False, 200),
            ("page", f"/bank/aliquots/{aliquot}/", False, 200),
            ("api", "/api/v1/me", True, 200),
            ("api", "/api/v1/aliquots", True, 200),
            ("api", f"/api/v1/aliquots/{aliquot}", True, 200),
            ("api", "/api/v1/qc/requests", True, 200),
        ]
        if request:
            mix.append(("api", f"/api/v1/qc/requests/{request}", True, 200))
        return mix
    aliquot = data["aliquots"]["aurora"][-1]
    return [
        ("page", "/", False, 200),
        ("page", "/bank/", False, 200),
        ("page", "/qc/lab/", False, 200),
        ("page", f"/bank/aliquots/{aliquot}/", False, 200),
        ("api", "/api/v1/me", True, 200),
        ("api", "/api/v1/aliquots", True, 200),
        ("api", f"/api/v1/aliquots/{aliquot}", True, 200),
        ("api", "/api/v1/qc/requests", True, 200),
    ]


def _probes(data: dict[str, Any]) -> list[tuple[str, str, bool, int]]:
    aliquots, requests = data["aliquots"]["foreign"][:5], data["requests"]["foreign"][:5]
    if not (aliquots and requests):
        raise SystemExit("the demo data has no other organisation's aliquots or requests")
    probes = [("probe", f"/api/v1/aliquots/{pk}", True, 404) for pk in aliquots]
    probes += [("probe", f"/bank/aliquots/{pk}/", False, 404) for pk in aliquots]
    probes += [("probe", f"/api/v1/qc/requests/{pk}", True, 404) for pk in requests]
    probes += [("probe", f"/qc/requests/{pk}/", False, 404) for pk in requests]
    return probes


def _user(
    session: Session, role: str, data: dict[str, Any], stop: float, seed: int, stats: Stats
) -> None:
    rng = random.Random(seed)
    mix, probes = _mix(role, data), _probes(data)
    while time.perf_counter() < stop:
        probe = role == "client" and rng.random() < 0.125
        kind, path, api, expected = rng.choice(probes if probe else mix)
        started = time.perf_counter()
        try:
            status, _ = session.request("GET", path, api=api)
        except (OSError, http.client.HTTPException) as exc:
            with stats.lock:
                stats.errors.append(f"{path}: {exc!r}")
            continue
        stats.add(kind, time.perf_counter() - started)
        with stats.lock:
            if probe:
                stats.probes += 1
                stats.probes_404 += status == 404
            if status != expected:
                stats.errors.append(f"{role} {path}: {status}, expected {expected}")


def _pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--users", type=int, default=8, help="concurrent simulated users")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--data-dir",
        help="use (and keep) this data directory; set up with demo data only when it has no "
        "database yet, so repeated runs skip the set-up",
    )
    args = parser.parse_args(argv)

    tmp = Path(args.data_dir or tempfile.mkdtemp(prefix="celltrace-bench-load-")).resolve()
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CELLTRACE_DATA_DIR": str(tmp),
        "DJANGO_SETTINGS_MODULE": "celltrace.config.local",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    server = None
    try:
        t0 = time.perf_counter()
        if not (tmp / "celltrace.sqlite3").exists():
            _run([*CELLTRACE, "setup", "--demo"], env)
        data = json.loads(_run([sys.executable, "-c", PREPARE], env).strip().splitlines()[-1])
        print(f"setup with demo data: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        port = _free_port()
        server = subprocess.Popen(
            [
                *CELLTRACE,
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("celltrace serve exited") from None
                time.sleep(0.1)
        sessions: list[tuple[Session, str]] = []
        for i in range(args.users):
            role = "client" if i % 2 == 0 else "lab"
            username = "aurora" if role == "client" else "tech"
            token = data["tokens"][username]
            session = Session(port, token)
            session.login(username, data["password"])
            sessions.append((session, role))
        stats = Stats()
        stop = time.perf_counter() + args.duration
        started = time.perf_counter()
        threads = [
            threading.Thread(
                target=_user, args=(s, role, data, stop, args.seed + i, stats), daemon=True
            )
            for i, (s, role) in enumerate(sessions)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.data_dir:
            shutil.rmtree(tmp, ignore_errors=True)

    n = len(stats.latencies)
    print(
        f"loopback, {os.cpu_count()} cores shared by {args.users} client threads and gunicorn "
        f"({args.workers} workers x {args.threads} threads), SQLite, {elapsed:.1f} s, "
        f"seed {args.seed}",
        file=sys.stderr,
    )
    for kind, values in sorted(stats.by_kind.items()):
        print(
            f"  {kind:<6} n={len(values):>6} p50={_pct(values, 50):7.1f} ms "
            f"p95={_pct(values, 95):7.1f} ms p99={_pct(values, 99):7.1f} ms",
            file=sys.stderr,
        )
    for error in stats.errors[:10]:
        print(f"  error: {error}", file=sys.stderr)
    tenant = 100.0 * stats.probes_404 / stats.probes if stats.probes else 0.0
    print(
        f"load users={args.users} rps={n / elapsed:.1f} p50_ms={_pct(stats.latencies, 50):.1f} "
        f"p95_ms={_pct(stats.latencies, 95):.1f} p99_ms={_pct(stats.latencies, 99):.1f} "
        f"tenant_404={tenant:.1f}"
    )
    return 1 if stats.errors or not stats.probes or stats.probes_404 != stats.probes else 0


if __name__ == "__main__":
    raise SystemExit(main())
