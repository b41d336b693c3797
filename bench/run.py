"""Run the benchmark: fresh database, bulk import, API and dashboard timings under gunicorn, baselines."""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from . import baselines, otlp
from .generate import MODELS, TAG_KEYS, generate

ROOT = Path(__file__).resolve().parent.parent
ORG = "Bench"
# The OTLP case writes into an organization of its own: the baselines' year stays the import's.
OTLP_ORG = "Bench OTLP"
ORG_TZ = "Europe/Berlin"
USER_EMAIL = "bench@example.com"
USER_PASSWORD = "bench-password-1"
HOST = "127.0.0.1"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
USER_AGENT = "billing-dash-bench/1"

# The spec's targets (defined for 10M events). Printed next to the measurements, never asserted.
TARGET_EVENTS = 10_000_000
ORG_ZONE_P95_MS = 100.0
OTHER_ZONE_P95_MS = 300.0
RAW_RATIO = 20.0
NAIVE_RATIO = 50.0
INGEST_EVENTS_PER_S = {"postgresql": 50_000.0, "sqlite": 20_000.0}
RSS_MB = 300.0
CALLBACK_P95_MS = 300.0
UNSETTLED_RATIO = 1.2  # year p95 straight after the import / after VACUUM (ANALYZE)


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- database


@dataclass
class Database:
    """The throw-away benchmark database and how to remove it."""

    backend: str
    url: str
    name: str
    admin_url: str | None = None
    path: Path | None = None

    def drop(self) -> None:
        if self.backend == "postgresql":
            engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            try:
                with engine.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            finally:
                engine.dispose()
        elif self.path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def create_database(backend: str, admin_url: str, workdir: Path) -> Database:
    """A fresh, empty database: CREATE DATABASE billing_bench_<random> on PostgreSQL, a temp file on SQLite."""
    if backend == "sqlite":
        path = workdir / "bench.db"
        return Database("sqlite", f"sqlite:///{path}", path.name, path=path)
    name = f"billing_bench_{secrets.token_hex(4)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return Database("postgresql", url, name, admin_url=admin_url)


def _bin(name: str) -> str:
    """An executable of this interpreter's environment (the venv), else from PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"bench: cannot find {name!r} next to {sys.executable} or on PATH")
    return found


def cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `billing-dash ARGS`; exits with its output when it fails."""
    proc = subprocess.run(
        [_bin("billing-dash"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"bench: billing-dash {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
        )
    return proc


def db_scalar(url: str, sql: str, **params: Any) -> Any:
    engine = baselines.make_baseline_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def settle(db: Database) -> float:
    """PostgreSQL: VACUUM (ANALYZE) the database, as autovacuum soon would after a bulk load
    (statistics, visibility map). SQLite has no background maintenance, so nothing is done there."""
    if db.backend != "postgresql":
        return 0.0
    started = time.perf_counter()
    engine = create_engine(db.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def shuffled_copy(source: Path, target: Path, seed: int) -> float:
    """Write the lines of `source` to `target` in a random order (the same for a seed), as a
    backfill file often comes; returns the seconds taken. Only the lines' offsets are held in
    memory (8 bytes a line), the lines themselves are read back one at a time."""
    started = time.perf_counter()
    offsets = array("Q")
    with open(source, "rb") as src:
        position = 0
        for line in src:
            offsets.append(position)
            position += len(line)
    random.Random(seed).shuffle(offsets)
    with open(source, "rb") as src, open(target, "wb") as out:
        for offset in offsets:
            src.seek(offset)
            line = src.readline()
            out.write(line if line.endswith(b"\n") else line + b"\n")
    return time.perf_counter() - started


def database_size_mb(db: Database) -> float | None:
    try:
        if db.backend == "postgresql":
            return round(db_scalar(db.url, "SELECT pg_database_size(current_database())") / 2**20, 1)
        return round(
            sum(Path(f"{db.path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db.path}{s}").exists()) / 2**20, 1
        )
    except Exception:  # noqa: BLE001 (informational only: a failed measurement must not stop the benchmark)
        return None


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Gunicorn:
    """`gunicorn --workers W --bind 127.0.0.1:PORT app:server` in its own session; always stopped."""

    def __init__(self, env: dict[str, str], workers: int, port: int, logfile: Path) -> None:
        self.env, self.workers, self.port, self.logfile = env, workers, port, logfile
        self.proc: subprocess.Popen | None = None
        self.argv = [
            _bin("gunicorn"),
            "--workers",
            str(workers),
            "--bind",
            f"{HOST}:{port}",
            "--timeout",
            "300",
            "--chdir",
            str(ROOT),
            "app:server",
        ]

    def start(self, ready_timeout: float = 90) -> None:
        with open(self.logfile, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(self.worker_pids()) >= self.workers:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"bench: gunicorn not healthy after {ready_timeout:.0f} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The master's child processes (its workers), found through /proc."""
        if self.proc is None:
            return []
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...; comm may contain spaces and parentheses.
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == self.proc.pid:
                children.append(int(entry.name))
        return sorted(children)

    def peak_rss_mb(self) -> dict[str, Any]:
        """VmHWM (peak resident set) of the master and the largest among the workers, in MB."""
        workers = {pid: _vm_hwm_mb(pid) for pid in self.worker_pids()}
        workers = {pid: mb for pid, mb in workers.items() if mb is not None}
        return {
            "worker": max(workers.values()) if workers else None,
            "master": _vm_hwm_mb(self.proc.pid) if self.proc else None,
            "workers_each": sorted(workers.values(), reverse=True),
        }

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------- HTTP


class Client:
    """A keep-alive HTTP/1.1 client for 127.0.0.1 with a cookie jar; reconnects when the server
    closes (gunicorn's sync workers close after every response)."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, float, http.client.HTTPResponse]:
        """Send one request; returns (status, body, milliseconds until the body was read, response)."""
        hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
            data = resp.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # A kept-alive connection the server had closed: reconnect once, time the retry.
            self.conn.close()
            started = time.perf_counter()
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
            data = resp.read()
        elapsed = (time.perf_counter() - started) * 1000
        for header in resp.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for key, morsel in jar.items():
                self.cookies[key] = morsel.value
        return resp.status, data, elapsed, resp

    def close(self) -> None:
        self.conn.close()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p95 of 30 samples is the 29th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class CaseResult:
    name: str
    params: dict[str, str]
    p50_ms: float
    p95_ms: float
    max_ms: float
    min_ms: float
    n: int
    target_p95_ms: float | None = None
    total_messages: int | None = None
    period: dict[str, Any] | None = None
    response_bytes: int | None = None
    summary: dict[str, Any] | None = None
    samples_ms: list[float] | None = None

    @classmethod
    def timed(
        cls,
        name: str,
        params: dict[str, str],
        times: list[float],
        target: float | None,
        info: dict[str, Any],
        size: int,
        summary: dict[str, Any] | None = None,
    ) -> CaseResult:
        """A case from its request times (ms) and what time_requests checked in the answers."""
        return cls(
            name,
            params,
            round(statistics.median(times), 2),
            round(percentile(times, 95), 2),
            round(max(times), 2),
            round(min(times), 2),
            len(times),
            target,
            info["total_messages"],
            info["period"],
            size,
            summary,
            [round(t, 2) for t in times],
        )


def time_requests(
    name: str,
    send: Callable[[], tuple[int, bytes, float]],
    count: int,
    check: Callable[[bytes], dict[str, Any]],
    warmups: int = 1,
) -> tuple[list[float], dict[str, Any], int]:
    """`warmups` requests (the first one checked; none counted), then `count` timed ones; every
    answer must be 200."""
    status, body, _ = send()
    if status != 200:
        raise SystemExit(f"bench: {name}: warm-up answered {status}: {body[:500]!r}")
    info = check(body)
    for _ in range(warmups - 1):
        status, body, _ = send()
        if status != 200:
            raise SystemExit(f"bench: {name}: warm-up answered {status}: {body[:500]!r}")
    times = []
    for _ in range(count):
        status, body, ms = send()
        if status != 200:
            raise SystemExit(f"bench: {name}: answered {status}: {body[:500]!r}")
        times.append(ms)
    return times, info, len(body)


def api_cases(today_org: date, tags: bool = False) -> list[tuple[str, dict[str, str], float]]:
    """(name, query parameters, p95 target in ms) of every timed API case (`tags`: the tag cases too)."""
    kolkata_today = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    return [
        ("today", {"period": "today"}, ORG_ZONE_P95_MS),
        ("week", {"period": "week"}, ORG_ZONE_P95_MS),
        ("month", {"period": "month"}, ORG_ZONE_P95_MS),
        ("year", {"period": "year"}, ORG_ZONE_P95_MS),
        (
            "custom_365d",
            {
                "period": "custom",
                "startDate": (today_org - timedelta(days=364)).isoformat(),
                "endDate": today_org.isoformat(),
            },
            ORG_ZONE_P95_MS,
        ),
        (
            "custom_365d_asia_kolkata",
            {
                "period": "custom",
                "startDate": (kolkata_today - timedelta(days=364)).isoformat(),
                "endDate": kolkata_today.isoformat(),
                "tz": "Asia/Kolkata",
            },
            OTHER_ZONE_P95_MS,
        ),
        ("year_america_new_york", {"period": "year", "tz": "America/New_York"}, OTHER_ZONE_P95_MS),
        # Issue 14: filtered years (the busiest agent; it and its primary model) and weekly buckets.
        ("year_agent", {"period": "year", "agentId": "agent-01"}, ORG_ZONE_P95_MS),
        ("year_agent_model", {"period": "year", "agentId": "agent-01", "model": next(iter(MODELS))}, ORG_ZONE_P95_MS),
        ("year_week", {"period": "year", "granularity": "week"}, ORG_ZONE_P95_MS),
        ("week_hour", {"period": "week", "granularity": "hour"}, ORG_ZONE_P95_MS),
        # With --tags: a year of the largest customer, and a year grouped by customer.
        *(
            [
                ("year_tag", {"period": "year", "tag.customer": "customer-000"}, ORG_ZONE_P95_MS),
                ("year_group_tag", {"period": "year", "groupBy": "tag:customer"}, ORG_ZONE_P95_MS),
            ]
            if tags
            else []
        ),
    ]


# A page (of 50) of GET /api/v1/conversations: a year's costliest (the default order), latest, and
# the busiest agent's. Each case's `total` is checked against its report's totalConversations.
CONVERSATION_CASES = {
    "conversations_year": ({"period": "year"}, "year"),
    "conversations_year_last": ({"period": "year", "sort": "last"}, "year"),
    "conversations_year_agent": ({"period": "year", "agentId": "agent-01"}, "year_agent"),
}


def _report_info(body: bytes) -> dict[str, Any]:
    report = json.loads(body)
    summary = report["summary"]
    return {"total_messages": summary["totalMessages"], "period": report.get("period"), "summary": summary}


def _page_info(body: bytes) -> dict[str, Any]:
    page = json.loads(body)
    return {
        "total_messages": None,
        "period": page.get("period"),
        "summary": {"totalConversations": page["total"]},
    }


def run_api_cases(client: Client, token: str, requests: int, warmups: int = 1, tags: bool = False) -> list[CaseResult]:
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    reports = [
        ("/api/v1/analytics/billing", name, params, target, _report_info)
        for name, params, target in api_cases(datetime.now(ZoneInfo(ORG_TZ)).date(), tags)
    ]
    pages = [
        ("/api/v1/conversations", name, params, ORG_ZONE_P95_MS, _page_info)
        for name, (params, _) in CONVERSATION_CASES.items()
    ]
    results = []
    for endpoint, name, params, target, check in [*reports, *pages]:
        path = f"{endpoint}?{urlencode(params)}"

        def send(path: str = path) -> tuple[int, bytes, float]:
            status, body, ms, _ = client.request("GET", path, headers=auth)
            return status, body, ms

        times, info, size = time_requests(name, send, requests, check, warmups)
        results.append(CaseResult.timed(name, params, times, target, info, size, info["summary"]))
        counted = (
            f"{info['summary']['totalConversations']:,} conversations"
            if info["total_messages"] is None
            else f"{info['total_messages']:,} messages"
        )
        log(
            f"  {name:<28} p50 {results[-1].p50_ms:8.1f} ms  p95 {results[-1].p95_ms:8.1f} ms  "
            f"max {results[-1].max_ms:8.1f} ms  ({counted})"
        )
    return results


def login(client: Client) -> None:
    """Log in through the CSRF-protected form, as a browser would."""
    status, body, _, _ = client.request("GET", "/login")
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body) or re.search(
        rb'value="([^"]+)"[^>]*name="csrf_token"', body
    )
    if status != 200 or not match:
        raise SystemExit(f"bench: GET /login answered {status} without a CSRF token")
    form = urlencode({"csrf_token": match.group(1).decode(), "email": USER_EMAIL, "password": USER_PASSWORD})
    status, body, _, _resp = client.request(
        "POST", "/login", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    if status != 302:
        raise SystemExit(f"bench: POST /login answered {status}: {body[:300]!r}")


def callback_body(client: Client, today_org: date, period: str = "year") -> bytes:
    """The body Dash's renderer posts for the `load_report` callback, built from /_dash-dependencies."""
    status, body, _, _ = client.request("GET", "/_dash-dependencies")
    if status != 200:
        raise SystemExit(f"bench: /_dash-dependencies answered {status}")
    deps = json.loads(body)
    dep = next((d for d in deps if "billing-downloads.data" in d["output"]), None)
    if dep is None:
        raise SystemExit("bench: no callback outputs billing-downloads.data in /_dash-dependencies")
    values = {
        ("billing-period", "value"): period,
        # The date picker's initial values: the last 30 days in the organization's zone.
        ("billing-dates", "start_date"): (today_org - timedelta(days=29)).isoformat(),
        ("billing-dates", "end_date"): today_org.isoformat(),
        ("billing-retry", "n_clicks"): None,
    }
    outputs = [
        {"id": part.split(".")[0], "property": part.split(".")[1]} for part in dep["output"].strip(".").split("...")
    ]
    return json.dumps(
        {
            "output": dep["output"],
            "outputs": outputs,
            "inputs": [{**i, "value": values.get((i["id"], i["property"]))} for i in dep["inputs"]],
            "changedPropIds": ["billing-period.value"],
            "state": [{**s, "value": None} for s in dep.get("state", [])],
        }
    ).encode()


def run_callback(client: Client, requests: int, warmups: int = 1) -> CaseResult:
    today_org = datetime.now(ZoneInfo(ORG_TZ)).date()
    login(client)
    body = callback_body(client, today_org)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def send() -> tuple[int, bytes, float]:
        status, data, ms, _ = client.request("POST", "/_dash-update-component", body, headers)
        return status, data, ms

    def check(data: bytes) -> dict[str, Any]:
        answer = json.loads(data)
        # The models' messages add up to the period's (the callback sends rows, not the report).
        models = answer["response"]["billing-drawings"]["data"][3]  # figures, then agents, models, ...
        return {"total_messages": sum(m["messageCount"] for m in models), "period": None}

    times, info, size = time_requests("dashboard callback", send, requests, check, warmups)
    result = CaseResult.timed("dash_load_report_year", {"period": "year"}, times, CALLBACK_P95_MS, info, size)
    log(f"  {'dashboard load_report (year)':<28} p50 {result.p50_ms:8.1f} ms  p95 {result.p95_ms:8.1f} ms")
    return result


# --------------------------------------------------------------------------- report


def machine_info(db: Database) -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    if db.backend == "postgresql":
        try:
            info["postgres"] = db_scalar(db.url, "SELECT current_setting('server_version')")
        except Exception as exc:  # noqa: BLE001 (informational only, as above)
            info["postgres"] = f"unknown ({exc.__class__.__name__})"
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in ("billing-dash", "dash", "flask", "sqlalchemy", "psycopg", "pandas", "gunicorn"):
        with suppress(PackageNotFoundError):
            packages[name] = version(name)
    info["packages"] = packages
    return info


def git_commit() -> str | None:
    """HEAD's commit, read from .git without running git."""
    try:
        git = ROOT / ".git"
        if git.is_file():
            git = (ROOT / git.read_text().split(":", 1)[1].strip()).resolve()
        common = git
        if (git / "commondir").exists():
            common = (git / (git / "commondir").read_text().strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        for base in (git, common):
            if (base / ref).exists():
                return (base / ref).read_text().strip()
        packed = common / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
    except OSError:
        return None
    return None


def target(
    name: str, measured: float | None, limit: float, unit: str, higher_is_better: bool = False, note: str = ""
) -> dict[str, Any]:
    if measured is None:
        ok = None
    else:
        ok = measured >= limit if higher_is_better else measured <= limit
    return {
        "name": name,
        "measured": measured,
        "target": f"{'>=' if higher_is_better else '<='} {limit:,g}{'' if unit == 'x' else ' '}{unit}",
        "limit": limit,
        "unit": unit,
        "pass": ok,
        "note": note,
    }


def build_targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    out = [
        target(
            "import",
            res["ingest_events_per_s"],
            INGEST_EVENTS_PER_S[res["backend"]],
            "events/s",
            True,
            f"on {res['backend']}",
        )
    ]
    for name, case in res["cases"].items():
        out.append(target(f"GET {name} p95", case["p95_ms"], case["target_p95_ms"], "ms"))
    out.append(target("dashboard load_report (year) p95", res["callback"]["p95_ms"], CALLBACK_P95_MS, "ms"))
    if res.get("settled"):
        ratio = round(res["cases"]["year"]["p95_ms"] / res["settled"]["cases"]["year"]["p95_ms"], 2)
        out.append(target("year p95 unsettled vs settled", ratio, UNSETTLED_RATIO, "x"))
    out.append(target("year vs raw GROUP BY", res["ratios"]["year_vs_raw"], RAW_RATIO, "x", True))
    out.append(
        target(
            "year vs naive pandas",
            res["ratios"]["year_vs_naive"],
            NAIVE_RATIO,
            "x",
            True,
            "skipped" if res["ratios"]["year_vs_naive"] is None else "",
        )
    )
    if res.get("otlp"):
        out.append(
            target(
                "OTLP spans/s per worker",
                res["otlp"]["spans_per_s"],
                otlp.OTLP_SPANS_PER_S,
                "spans/s",
                True,
                f"protobuf, {otlp.SPANS_PER_REQUEST} spans per export",
            )
        )
    rss = res["server_peak_rss_mb"]
    peak = max(v for v in (rss["worker"], rss["master"]) if v is not None) if (rss["worker"] or rss["master"]) else None
    out.append(target("server peak RSS (largest process)", peak, RSS_MB, "MB"))
    return out


def _mark(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def _n(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render_table(res: dict[str, Any]) -> str:
    """The Markdown table printed at the end of a run."""
    t = {x["name"]: x for x in res["targets"]}
    lines = [
        f"### billing-dash benchmark: {res['events']:,} events, {res['backend']}, "
        f"{res['workers']} gunicorn workers, {res['requests']} requests per case",
        "",
        "| Measure | Measured | Target (10M events) | |",
        "| --- | --- | --- | --- |",
    ]

    def row(label: str, measured: str, key: str | None = None) -> None:
        tt = t.get(key) if key else None
        lines.append(f"| {label} | {measured} | {tt['target'] if tt else ''} | {_mark(tt['pass']) if tt else ''} |")

    order = "time-ordered" if res.get("order", "time") == "time" else "shuffled"
    row(
        f"Import ({order})",
        f"{_n(res['ingest_events_per_s'], 0)} events/s ({_n(res['ingest_seconds'], 1)} s)",
        "import",
    )
    if res.get("import_peak_rss_mb") is not None:
        row("Import peak RSS", f"{_n(res['import_peak_rss_mb'])} MB")
    for name, case in res["cases"].items():
        row(
            f"GET {name} p50 / p95 / max",
            f"{_n(case['p50_ms'])} / **{_n(case['p95_ms'])}** / {_n(case['max_ms'])} ms",
            f"GET {name} p95",
        )
    cb = res["callback"]
    row(
        "Dashboard load_report (year) p50 / p95 / max",
        f"{_n(cb['p50_ms'])} / **{_n(cb['p95_ms'])}** / {_n(cb['max_ms'])} ms",
        "dashboard load_report (year) p95",
    )
    settled = res.get("settled")
    if settled:
        for name, case in settled["cases"].items():
            row(
                f"GET {name} p50 / p95 / max, settled",
                f"{_n(case['p50_ms'])} / {_n(case['p95_ms'])} / {_n(case['max_ms'])} ms",
            )
        scb = settled["callback"]
        row(
            "Dashboard load_report (year), settled",
            f"{_n(scb['p50_ms'])} / {_n(scb['p95_ms'])} / {_n(scb['max_ms'])} ms",
        )
        ratio = t["year p95 unsettled vs settled"]["measured"]
        row("year p95 unsettled / settled", f"{_n(ratio, 2)}x", "year p95 unsettled vs settled")
    b = res["baselines"]
    runs = res["baseline_runs"]
    row("Baseline raw GROUP BY (year)", f"{_n(b['raw_group_by_ms'])} ms (median of {runs})")
    row(
        "Baseline naive pandas (year)",
        "skipped" if b["naive_pandas_ms"] is None else f"{_n(b['naive_pandas_ms'])} ms (median of {runs})",
    )
    r = res["ratios"]
    row("year p50 vs raw GROUP BY", f"{_n(r['year_vs_raw'])}x", "year vs raw GROUP BY")
    row(
        "year p50 vs naive pandas",
        "–" if r["year_vs_naive"] is None else f"{_n(r['year_vs_naive'])}x",
        "year vs naive pandas",
    )
    if res.get("otlp"):
        o = res["otlp"]
        row(
            f"OTLP export ({o['spans_per_request']} spans, protobuf) p50 / p95",
            f"**{_n(o['spans_per_s'], 0)} spans/s** ({_n(o['p50_ms'])} / {_n(o['p95_ms'])} ms)",
            "OTLP spans/s per worker",
        )
        row(
            "OTLP export CPU: worker / PostgreSQL per export",
            f"{_n(o['worker_cpu_ms_per_export'])} / {_n(o['database_cpu_ms_per_export'])} ms = "
            f"{_n(o['spans_per_cpu_s'], 0)} spans per CPU second",
        )
    rss = res["server_peak_rss_mb"]
    row(
        "Server peak RSS worker / master",
        f"{_n(rss['worker'])} / {_n(rss['master'])} MB",
        "server peak RSS (largest process)",
    )
    lines.append("")
    lines.append(
        "GET and dashboard rows without a mark are timed straight after the import; "
        + (
            f"settled: after VACUUM (ANALYZE) ({_n(res.get('settle_seconds'), 1)} s)."
            if settled
            else "no settled set (--no-settle or SQLite)."
        )
    )
    if res["events"] < TARGET_EVENTS:
        lines.append(
            f"Targets are defined for {TARGET_EVENTS:,} events; at {res['events']:,} the marks are indicative only."
        )
    checks = res.get("consistency", {})
    if checks:
        lines.append("Consistency: " + ", ".join(f"{k} {'ok' if v else 'MISMATCH'}" for k, v in checks.items()))
    lines.append(
        f"Machine: {res['machine'].get('nproc')} CPUs, {res['machine'].get('memory_gb')} GB, "
        f"Python {res['machine'].get('python')}"
        + (f", PostgreSQL {res['machine']['postgres']}" if res["machine"].get("postgres") else "")
        + f", SQLite {res['machine'].get('sqlite')}; commit {(res.get('git_commit') or 'unknown')[:12]}"
    )
    return "\n".join(lines)


def consistency(api_year: dict[str, Any], raw: dict[str, Any] | None, naive: dict[str, Any] | None) -> dict[str, bool]:
    """The API's year summary against the baselines' (the same numbers by three designs)."""
    out = {}
    if raw:
        s = raw["summary"]
        out["api_vs_raw_group_by"] = (
            api_year["totalMessages"] == s["total_messages"]
            and api_year["totalTokens"] == s["total_tokens"]
            and api_year["totalConversations"] == s["total_conversations"]
            and abs(float(api_year["totalCost"]) - float(s["total_cost"])) <= 1e-6 + 1e-12 * float(s["total_cost"])
        )
    if naive:
        s = naive["summary"]
        out["api_vs_naive_pandas"] = (
            api_year["totalMessages"] == s["total_messages"]
            and api_year["totalTokens"] == s["total_tokens"]
            and api_year["totalConversations"] == s["total_conversations"]
            and abs(float(api_year["totalCost"]) - s["total_cost"]) <= 1e-3 + 1e-9 * s["total_cost"]
        )
    return out


# --------------------------------------------------------------------------- main


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the finally blocks stop gunicorn and drop the database."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--events", type=int, default=1_000_000, help="events to generate and import")
    p.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--requests", type=int, default=30, help="timed requests per case (after one warm-up per worker)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--out", help="JSON result file (default: bench/results/<backend>-<events>.json)")
    p.add_argument(
        "--postgres-admin-url",
        default=os.environ.get("BENCH_POSTGRES_ADMIN_URL", DEFAULT_ADMIN_URL),
        help="server where the throw-away database billing_bench_<random> is created",
    )
    p.add_argument("--keep", action="store_true", help="keep the database and the generated JSONL")
    p.add_argument("--seed", type=int, default=1, help="generator seed")
    p.add_argument(
        "--jsonl",
        help="reuse this generated file if it exists (else write it there and keep it); "
        "data ends when it was generated, so reuse it the same day",
    )
    p.add_argument("--baseline-runs", type=int, default=3, help="timed runs of each baseline (median reported)")
    p.add_argument("--skip-naive", action="store_true", help="skip the naive pandas baseline")
    p.add_argument(
        "--order",
        choices=("time", "shuffled"),
        default="time",
        help="order of the imported lines: as generated (by time) or shuffled with --seed (as a backfill file)",
    )
    p.add_argument(
        "--no-settle",
        action="store_true",
        help="PostgreSQL: skip the second set of read timings, after VACUUM (ANALYZE)",
    )
    p.add_argument(
        "--otlp-requests",
        type=int,
        default=40,
        help=f"timed OTLP exports of {otlp.SPANS_PER_REQUEST} spans (protobuf) to /api/v1/otel/v1/traces; 0 skips",
    )
    p.add_argument(
        "--tags",
        action="store_true",
        help="conversations carry tags (customer, env), pre-aggregated before the import; adds the "
        "year_tag and year_group_tag cases (a reused --jsonl must have been generated with --tags)",
    )
    p.add_argument("--timeout", type=float, default=120, help="seconds per HTTP request")
    p.add_argument("--import-timeout", type=float, default=6 * 3600, help="seconds the import may take")
    args = p.parse_args(argv)
    if args.events < 50:
        p.error("--events must be >= 50")
    if args.requests < 1 or args.workers < 1 or args.baseline_runs < 1:
        p.error("--requests, --workers and --baseline-runs must be >= 1")
    args.out = args.out or str(ROOT / "bench" / "results" / f"{args.backend}-{args.events}.json")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    res: dict[str, Any] = {
        "events": args.events,
        "backend": args.backend,
        "workers": args.workers,
        "requests": args.requests,
        "baseline_runs": args.baseline_runs,
        "seed": args.seed,
        "order": args.order,
        # The reads in "cases" and "callback" are timed straight after the import, as a user
        # opening the dashboard after an import sees them; "settled" repeats them after
        # VACUUM (ANALYZE) (PostgreSQL, unless --no-settle).
        "reads": "unsettled",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "org_timezone": ORG_TZ,
    }
    if args.requests < 30:
        log(f"note: --requests {args.requests} is below the spec's 30 per case")
    workdir = Path(tempfile.mkdtemp(prefix="billing-bench-"))
    db: Database | None = None
    server: Gunicorn | None = None
    try:
        # 1. Data.
        jsonl = Path(args.jsonl) if args.jsonl else workdir / "events.jsonl"
        if jsonl.exists():
            log(f"reusing {jsonl}")
            res["generation"] = {"path": str(jsonl), "reused": True}
        else:
            log(f"generating {args.events:,} events into {jsonl}")
            stats = generate(jsonl, args.events, args.seed, tags=args.tags)
            res["generation"] = asdict(stats)
            log(
                f"  {stats.events:,} events, {stats.conversations:,} conversations, {stats.bytes / 1e6:,.0f} MB "
                f"in {stats.seconds:.1f} s"
            )

        if args.order == "shuffled":
            shuffled = workdir / "events-shuffled.jsonl"
            log(f"shuffling the lines into {shuffled} (seed {args.seed})")
            res["shuffle_seconds"] = round(shuffled_copy(jsonl, shuffled, args.seed), 2)
            jsonl = shuffled

        # 2. Fresh database, schema, organization, token, user.
        db = create_database(args.backend, args.postgres_admin_url, workdir)
        log(f"database {db.name} ({args.backend})")
        env = {**os.environ, "DATABASE_URL": db.url, "SECRET_KEY": secrets.token_hex(32), "LOG_LEVEL": "WARNING"}
        cli(env, "db", "upgrade")
        cli(env, "create-org", ORG, "--timezone", ORG_TZ)
        token = (
            cli(env, "create-token", "--org", ORG, "--name", "bench", "--scope", "read").stdout.strip().splitlines()[-1]
        )
        cli(env, "create-user", "--org", ORG, "--email", USER_EMAIL, "--password", USER_PASSWORD)
        priced = db_scalar(
            db.url,
            "SELECT COUNT(DISTINCT model) FROM model_prices WHERE model IN ("
            + ", ".join(f"'{m}'" for m in MODELS)
            + ")",
        )
        if priced != len(MODELS):
            log(f"warning: only {priced} of the generator's {len(MODELS)} models have a price")

        if args.tags:  # before the import, which then keeps their aggregates
            cli(env, "tags", "set", "--org", ORG, *TAG_KEYS)

        # 3. Import, timed as a subprocess (wall time).
        log(f"importing with `billing-dash import --org {ORG}`")
        t0 = time.perf_counter()
        out = cli(env, "import", "--org", ORG, str(jsonl), timeout=args.import_timeout)
        res["ingest_seconds"] = round(time.perf_counter() - t0, 2)
        res["ingest_output"] = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        # The largest child waited for so far: the import (the setup commands only start up).
        res["import_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        res["events_in_db"] = db_scalar(db.url, "SELECT COUNT(*) FROM usage_events")
        res["ingest_events_per_s"] = round(res["events_in_db"] / res["ingest_seconds"], 0)
        log(
            f"  {res['events_in_db']:,} events in {res['ingest_seconds']:.1f} s = "
            f"{res['ingest_events_per_s']:,.0f} events/s ({res['ingest_output']}), peak RSS {res['import_peak_rss_mb']} MB"
        )
        if res["events_in_db"] != args.events and not args.jsonl:
            log(f"warning: {res['events_in_db']:,} events stored, {args.events:,} generated")
        res["database_size_mb"] = database_size_mb(db)
        res["machine"] = machine_info(db)

        # 4. The app under gunicorn, over real HTTP.
        server = Gunicorn(env, args.workers, free_port(), workdir / "gunicorn.log")
        log(f"starting {' '.join(server.argv[1:])}")
        server.start()
        res["gunicorn"] = " ".join(["gunicorn", *server.argv[1:]])
        client = Client(server.port, args.timeout)
        try:
            # One warm-up per worker (requests go to whichever worker accepts), so that no worker's
            # first run of a case is counted.
            warmups = args.workers
            res["warmups_per_case"] = warmups
            res["loadavg_before_http"] = [round(x, 2) for x in os.getloadavg()]
            if res["loadavg_before_http"][0] > 0.5 * res["machine"]["nproc"]:
                log(
                    f"warning: load average {res['loadavg_before_http']} on {res['machine']['nproc']} CPUs: "
                    "other work on this machine will show in the timings"
                )
            cases, callback = time_reads(client, server.port, token, args, warmups, "straight after the import")
            res["settle_seconds"] = 0.0
            res["settled"] = None
            if db.backend == "postgresql" and not args.no_settle:
                res["settle_seconds"] = round(settle(db), 2)
                log(f"  VACUUM (ANALYZE) {res['settle_seconds']:.1f} s (not part of the import time)")
                settled_cases, settled_callback = time_reads(client, server.port, token, args, warmups, "settled")
                res["settled"] = {
                    "cases": {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in settled_cases},
                    "callback": {k: v for k, v in asdict(settled_callback).items() if k != "name"},
                }
            res["otlp"] = time_otlp_exports(client, env, args, warmups, server, db) if args.otlp_requests else None
            res["loadavg_after_http"] = [round(x, 2) for x in os.getloadavg()]
        finally:
            client.close()
        res["server_peak_rss_mb"] = server.peak_rss_mb()
        log(
            f"  peak RSS: worker {res['server_peak_rss_mb']['worker']} MB, "
            f"master {res['server_peak_rss_mb']['master']} MB"
        )
        server.stop()
        res["cases"] = {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in cases}
        res["callback"] = {k: v for k, v in asdict(callback).items() if k != "name"}

        # 5. Baselines in-process, on the same database, for `year` in the organization's zone.
        year = next(c for c in cases if c.name == "year")
        window = baselines.year_window(ORG_TZ)
        if year.period and (year.period.get("startDate"), year.period.get("endDate")) != (
            window.start.isoformat(),
            window.end.isoformat(),
        ):
            log(f"warning: the API's year is {year.period}, the baselines' {window}")
        engine = baselines.make_baseline_engine(db.url)
        try:
            log(f"baseline raw GROUP BY (year), {args.baseline_runs} runs")
            raw = baselines.time_baseline(baselines.raw_group_by_report, engine, org_id(db), window, args.baseline_runs)
            log(f"  runs {raw.runs_ms} ms, median {raw.median_ms:,.1f} ms")
            naive = None
            if not args.skip_naive:
                log(f"baseline naive pandas (year), {args.baseline_runs} runs")
                naive = baselines.time_baseline(
                    baselines.naive_pandas_report, engine, org_id(db), window, args.baseline_runs
                )
                log(f"  runs {naive.runs_ms} ms, median {naive.median_ms:,.1f} ms")
        finally:
            engine.dispose()
        res["baselines"] = {
            "raw_group_by_ms": round(raw.median_ms, 1),
            "naive_pandas_ms": round(naive.median_ms, 1) if naive else None,
            "raw_group_by_runs_ms": raw.runs_ms,
            "naive_pandas_runs_ms": naive.runs_ms if naive else None,
            "period": {
                "name": "year",
                "startDate": window.start.isoformat(),
                "endDate": window.end.isoformat(),
                "timezone": ORG_TZ,
            },
        }
        res["ratios"] = {
            "year_vs_raw": round(raw.median_ms / year.p50_ms, 1),
            "year_vs_naive": round(naive.median_ms / year.p50_ms, 1) if naive else None,
            "basis": "baseline median (in-process) / API year p50 (over HTTP)",
        }
        res["consistency"] = consistency(year.summary or {}, raw.report, naive.report if naive else None)
        res["consistency"]["dashboard_vs_api"] = callback.total_messages == year.total_messages
        by_name = {c.name: c.summary or {} for c in cases}
        res["consistency"]["conversations_vs_api"] = all(
            by_name[name].get("totalConversations") == by_name[report]["totalConversations"]
            for name, (_, report) in CONVERSATION_CASES.items()
        )
        res["targets"] = build_targets(res)
        res["targets_apply"] = args.events >= TARGET_EVENTS
        res["total_seconds"] = round(time.perf_counter() - started, 1)
        return res
    finally:
        teardown(server, db, workdir, args.keep)  # a --jsonl file lives outside workdir and stays


def time_reads(
    client: Client, port: int, token: str, args: argparse.Namespace, warmups: int, when: str
) -> tuple[list[CaseResult], CaseResult]:
    """The API cases and the dashboard callback, timed once each."""
    log(f"timing GET /api/v1/analytics/billing ({when}): {warmups} warm-up + {args.requests} requests per case")
    cases = run_api_cases(client, token, args.requests, warmups, args.tags)
    log(f"timing the dashboard callback load_report ({when}): {warmups} warm-up + {args.requests} requests")
    return cases, run_callback(Client(port, args.timeout), args.requests, warmups)


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process so far (from /proc; a process gone is left out)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def _backend_pids(db: Database) -> list[int]:
    """The PostgreSQL server processes serving the benchmark database (none on SQLite: in-process)."""
    if db.backend != "postgresql":
        return []
    engine = baselines.make_baseline_engine(db.url)
    try:
        with engine.connect() as conn:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            return [int(pid) for pid in conn.execute(text(query)).scalars()]
    finally:
        engine.dispose()


def time_otlp_exports(
    client: Client, env: dict[str, str], args: argparse.Namespace, warmups: int, server: Gunicorn, db: Database
) -> dict[str, Any]:
    """OTLP/HTTP protobuf exports as the SDK's BatchSpanProcessor sends them, one at a time: spans
    per second of one worker (the other waits for requests). Also the CPU the gunicorn workers and
    PostgreSQL's server processes spent on them, which other work on the machine does not inflate
    as it does the wall time."""
    cli(env, "create-org", OTLP_ORG, "--timezone", ORG_TZ)
    token = cli(env, "create-token", "--org", OTLP_ORG, "--name", "otlp", "--scope", "ingest").stdout.split()[-1]
    bodies, chats = otlp.build_batches(warmups + args.otlp_requests, args.seed)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    log(
        f"timing POST {otlp.PATH}: {warmups} warm-up + {args.otlp_requests} exports of "
        f"{otlp.SPANS_PER_REQUEST} spans ({chats:,} chat spans with usage in all)"
    )

    def send(body: bytes) -> tuple[int, bytes, float]:
        status, data, ms, _ = client.request("POST", otlp.PATH, body, headers)
        return status, data, ms

    for body in bodies[:warmups]:  # warm-ups outside the CPU count too
        send(body)
    workers_before, backends_before = _cpu_seconds(server.worker_pids()), _cpu_seconds(_backend_pids(db))
    result = otlp.time_otlp(send, bodies[warmups:], 0)
    workers_after, backends_after = _cpu_seconds(server.worker_pids()), _cpu_seconds(_backend_pids(db))
    worker_cpu = sum(t - workers_before.get(pid, 0.0) for pid, t in workers_after.items())
    database_cpu = sum(t - backends_before.get(pid, 0.0) for pid, t in backends_after.items())
    result["worker_cpu_ms_per_export"] = round(worker_cpu / args.otlp_requests * 1000, 1)
    result["database_cpu_ms_per_export"] = round(database_cpu / args.otlp_requests * 1000, 1)
    result["spans_per_cpu_s"] = round(otlp.SPANS_PER_REQUEST * args.otlp_requests / (worker_cpu + database_cpu), 0)
    stored = db_scalar(
        env["DATABASE_URL"],
        "SELECT COUNT(*) FROM usage_events e JOIN organizations o ON o.id = e.organization_id WHERE o.name = :name",
        name=OTLP_ORG,
    )
    if stored != chats:
        log(f"warning: {stored:,} events stored from {chats:,} chat spans")
    result["events_stored"] = stored
    log(
        f"  {result['spans_per_s']:,.0f} spans/s (p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms per export); "
        f"CPU per export: worker {result['worker_cpu_ms_per_export']} ms, PostgreSQL "
        f"{result['database_cpu_ms_per_export']} ms = {result['spans_per_cpu_s']:,.0f} spans per CPU second"
    )
    return result


def teardown(server, db, workdir, keep: bool) -> None:
    """Stop the server, drop the database and remove the work folder (unless keep)."""
    if server is not None:
        server.stop()
    if db is not None and not keep:
        try:
            db.drop()
        except Exception as exc:  # noqa: BLE001 (clean-up goes on: the work folder is still to remove)
            log(f"warning: could not drop {db.name}: {exc}")
    elif db is not None:
        log(f"kept database: {db.url}")
    if keep:
        log(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


_ORG_IDS: dict[str, int] = {}


def org_id(db: Database) -> int:
    """The benchmark organization's id."""
    if db.url not in _ORG_IDS:
        _ORG_IDS[db.url] = int(db_scalar(db.url, "SELECT id FROM organizations WHERE name = :name", name=ORG))
    return _ORG_IDS[db.url]


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write the JSON."""
    args = parse_args(argv)
    with sigterm_as_interrupt():
        try:
            res = run(args)
        except KeyboardInterrupt:
            log("interrupted; cleaned up")
            return 130
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(render_table(res))
    log(f"wrote {out} (total {res['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
