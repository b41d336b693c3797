"""Run the load test: fresh PostgreSQL database, preloaded usage, gunicorn, headless locust, consistency checks."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from bench.generate import generate
from bench.run import (
    DEFAULT_ADMIN_URL,
    HOST,
    ORG_TZ,
    USER_EMAIL,
    USER_PASSWORD,
    Client,
    Database,
    Gunicorn,
    _bin,
    callback_body,
    cli,
    create_database,
    db_scalar,
    free_port,
    git_commit,
    login,
    percentile,
    settle,
    sigterm_as_interrupt,
    teardown,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "loadtest" / "results"
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"
ORG = "Loadtest"
# Request names of the locustfile, in table order, with their labels.
KINDS = {
    "api_read": "API reads `GET /api/v1/analytics/billing`",
    "dash_callback": "Dashboard callbacks `load_report`",
    "ingest_new": "Ingestion, new batches `POST /api/v1/usage`",
    "ingest_resend": "Ingestion, re-sent batches",
    "login_form": "Login form `GET /login`",
    "login": "Login `POST /login`",
}


def log(message: str) -> None:
    print(f"[loadtest {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m loadtest.run", description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--seconds", type=int, default=60, help="duration of the load (locust -t)")
    p.add_argument("--users", type=int, default=20, help="concurrent locust users")
    p.add_argument("--spawn-rate", type=float, help="users started per second (default: all in the first second)")
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    p.add_argument("--weights", default="6,3,1", help="API reads, dashboard callbacks, ingestion (user weights)")
    p.add_argument("--preload", type=int, default=200_000, help="events imported before the load (bench.generate)")
    p.add_argument("--batch-min", type=int, default=100, help="smallest ingestion batch")
    p.add_argument("--batch-max", type=int, default=500, help="largest ingestion batch")
    p.add_argument("--resend-share", type=float, default=0.1, help="share of ingestion requests re-sending a batch")
    p.add_argument("--wait-min", type=float, default=0.2, help="seconds a user waits between its requests (min)")
    p.add_argument("--wait-max", type=float, default=1.0, help="seconds a user waits between its requests (max)")
    p.add_argument("--timeout", type=float, default=120, help="seconds per HTTP request")
    p.add_argument(
        "--stop-timeout",
        type=int,
        default=120,
        help="seconds users may take to finish their request in flight when the time is up",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--postgres-admin-url",
        default=os.environ.get("BENCH_POSTGRES_ADMIN_URL", DEFAULT_ADMIN_URL),
        help="server where the throw-away database is created and dropped",
    )
    p.add_argument("--out", help="JSON result file (default: loadtest/results/loadtest-<time>.json)")
    p.add_argument("--keep", action="store_true", help="keep the database and the work directory")
    args = p.parse_args(argv)
    try:
        args.weights = [int(w) for w in args.weights.split(",")]
    except ValueError:
        p.error("--weights: three integers, e.g. 6,3,1")
    if len(args.weights) != 3 or min(args.weights) < 1:
        p.error("--weights: three integers >= 1, e.g. 6,3,1")
    if not 1 <= args.seconds <= 3600:
        p.error("--seconds must be 1..3600")
    if args.users < 1 or args.workers < 1 or args.preload < 50:
        p.error("--users and --workers must be >= 1, --preload >= 50")
    if not 1 <= args.batch_min <= args.batch_max <= 10_000:
        p.error("need 1 <= --batch-min <= --batch-max <= 10000")
    if not 0 <= args.resend_share < 1 or not 0 <= args.wait_min <= args.wait_max:
        p.error("need 0 <= --resend-share < 1 and 0 <= --wait-min <= --wait-max")
    args.spawn_rate = args.spawn_rate or float(args.users)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    args.out = Path(args.out or RESULTS / f"loadtest-{stamp}.json")
    return args


# --------------------------------------------------------------------------- locust


def run_locust(args: argparse.Namespace, port: int, config: dict[str, Any], workdir: Path) -> tuple[int, dict]:
    """`locust --headless` in its own session, bounded by the duration plus the stop timeout; the ledger."""
    config_path = workdir / "locust-config.json"
    config_path.write_text(json.dumps(config))
    csv_prefix = args.out.with_suffix("")
    csv_prefix.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        _bin("locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        str(args.spawn_rate),
        "-t",
        f"{args.seconds}s",
        "--stop-timeout",
        str(args.stop_timeout),
        "--host",
        f"http://{HOST}:{port}",
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
    ]
    env = {
        **os.environ,
        "LOADTEST_CONFIG": str(config_path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    logfile = workdir / "locust.log"
    log(f"locust: {args.users} users, weights {args.weights}, {args.seconds} s against 127.0.0.1:{port}")
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        proc.wait(timeout=args.seconds + args.stop_timeout + 120)
    except subprocess.TimeoutExpired:
        log("locust did not finish in time; stopping it")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    ledger_path = Path(config["ledger"])
    if not ledger_path.exists():
        raise SystemExit(
            f"loadtest: locust wrote no ledger (exit {proc.returncode}):\n{logfile.read_text(errors='replace')[-4000:]}"
        )
    if proc.returncode != 0:
        log(f"locust exited with {proc.returncode}:\n{logfile.read_text(errors='replace')[-2000:]}")
    return proc.returncode, json.loads(ledger_path.read_text())


def request_stats(ledger: dict) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Per request name and in total: requests, req/s, p50, p99, max (ms), errors with examples."""
    rows = ledger["requests"]
    if not rows:
        return {}, {"requests": 0, "req_per_s": 0.0, "p50_ms": None, "p99_ms": None, "errors": 0}, 0.0
    # From the start of the test until the users stopped (after their requests in flight) or the last answer.
    begin = min(ledger.get("test_start") or rows[0][1], min(r[1] for r in rows))
    end = max(ledger.get("test_stop") or 0, max(r[1] + r[2] / 1000 for r in rows))
    seconds = max(end - begin, 1e-9)

    def summarize(selected: list[list]) -> dict[str, Any]:
        times = [r[2] for r in selected]
        errors = [r[3] for r in selected if r[3] is not None]
        examples: dict[str, int] = {}
        for e in errors:
            examples[e] = examples.get(e, 0) + 1
        return {
            "requests": len(selected),
            "req_per_s": round(len(selected) / seconds, 2),
            "p50_ms": round(percentile(times, 50), 1) if times else None,
            "p99_ms": round(percentile(times, 99), 1) if times else None,
            "max_ms": round(max(times), 1) if times else None,
            "errors": len(errors),
            "error_examples": dict(sorted(examples.items(), key=lambda kv: -kv[1])[:5]),
        }

    names = list(KINDS) + sorted({r[0] for r in rows} - set(KINDS))
    per = {n: summarize([r for r in rows if r[0] == n]) for n in names if any(r[0] == n for r in rows)}
    return per, summarize(rows), round(seconds, 2)


# --------------------------------------------------------------------------- checks


def check(name: str, expected: Any, actual: Any, ok: bool | None = None) -> dict[str, Any]:
    return {"name": name, "expected": expected, "actual": actual, "pass": expected == actual if ok is None else ok}


def consistency(
    db: Database, org: int, preloaded: int, run_id: str, ledger: dict, final: dict[str, Any], http_errors: int
) -> list[dict[str, Any]]:
    """Stored events against what was sent and what the server answered; the report against the table."""
    batches = ledger["batches"]
    new = [b for b in batches if b["resend_of"] is None]
    resent = [b for b in batches if b["resend_of"] is not None]
    sent_new = sum(b["events"] for b in new)
    stored = db_scalar(db.url, "SELECT COUNT(*) FROM usage_events WHERE organization_id = :org", org=org)
    stored_ids = db_scalar(
        db.url, "SELECT COUNT(DISTINCT event_id) FROM usage_events WHERE organization_id = :org", org=org
    )
    stored_run = db_scalar(
        db.url,
        "SELECT COUNT(*) FROM usage_events WHERE organization_id = :org AND event_id LIKE :prefix",
        org=org,
        prefix=f"lt-{run_id}-%",
    )
    tokens = db_scalar(
        db.url,
        "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage_events WHERE organization_id = :org",
        org=org,
    )
    cost = db_scalar(db.url, "SELECT COALESCE(SUM(cost), 0) FROM usage_events WHERE organization_id = :org", org=org)
    # Batches the stopping test left without any answer: their transaction either committed or not.
    in_flight = [b for b in new if b["status"] is None]
    in_flight_stored = [
        int(
            db_scalar(
                db.url,
                "SELECT COUNT(*) FROM usage_events WHERE organization_id = :org AND event_id BETWEEN :lo AND :hi",
                org=org,
                lo=f"lt-{run_id}-{b['first_event']:09d}",
                hi=f"lt-{run_id}-{b['first_event'] + b['events'] - 1:09d}",
            )
        )
        for b in in_flight
    ]
    in_flight_lost = sum(
        b["events"] - n for b, n in zip(in_flight, in_flight_stored, strict=True)
    )  # not stored, all or nothing
    answered_new = [b for b in new if b["status"] is not None]
    errors = [b["batch"] for b in batches if b["status"] is not None and b["inserted"] is None]
    summary = final.get("summary", {})
    day_messages = sum(d["messageCount"] for d in final.get("usageByDay", []))
    return [
        check(
            "new batches left unanswered when the test stopped: all or none of their events stored",
            0,
            sum(1 for b, n in zip(in_flight, in_flight_stored, strict=True) if n not in (0, b["events"])),
        ),
        check(
            "events stored = preloaded + distinct new events sent (less unanswered batches not stored)",
            preloaded + sent_new - in_flight_lost,
            int(stored),
        ),
        check(
            "events of this run stored = distinct new events sent (less unanswered batches not stored)",
            sent_new - in_flight_lost,
            int(stored_run),
        ),
        check(
            "events stored = preloaded + `inserted` acknowledged (nothing lost after a 200) + unanswered stored",
            preloaded + sum(b["inserted"] or 0 for b in batches) + sum(in_flight_stored),
            int(stored),
        ),
        check("duplicated event ids stored", 0, int(stored) - int(stored_ids)),
        check(
            "sum of `inserted` over answered new batches = their events",
            sum(b["events"] for b in answered_new),
            sum(b["inserted"] or 0 for b in new),
        ),
        check("sum of `skipped` over new batches", 0, sum(b["skipped"] or 0 for b in new)),
        check("sum of `inserted` over re-sent batches", 0, sum(b["inserted"] or 0 for b in resent)),
        check(
            "sum of `skipped` over answered re-sent batches = their events",
            sum(b["events"] for b in resent if b["status"] is not None),
            sum(b["skipped"] or 0 for b in resent),
        ),
        check("answered ingestion batches without counts (errors)", 0, len(errors)),
        check(
            "report totalMessages (custom range over all data) = events stored",
            int(stored),
            summary.get("totalMessages"),
        ),
        check("report usageByDay messages = events stored", int(stored), day_messages),
        check("report totalTokens = tokens stored", int(tokens), summary.get("totalTokens")),
        check(
            "report totalCost = cost stored (to 1e-6 USD)",
            round(float(cost), 6),
            summary.get("totalCost"),
            summary.get("totalCost") is not None and abs(float(cost) - summary["totalCost"]) <= 1e-6,
        ),
        check("HTTP errors (non-2xx or exception)", 0, http_errors),
    ]


def final_report(port: int, token: str, db: Database, org: int, timeout: float) -> dict[str, Any]:
    """GET the report for a custom range covering every stored event, in the organization's zone."""
    first, last = (
        db_scalar(db.url, f"SELECT {fn}(ts) FROM usage_events WHERE organization_id = :org", org=org)
        for fn in ("MIN", "MAX")
    )
    zone = ZoneInfo(ORG_TZ)
    params = {
        "period": "custom",
        "startDate": first.astimezone(zone).date().isoformat(),
        "endDate": max(last.astimezone(zone).date(), datetime.now(zone).date()).isoformat(),
        "tz": ORG_TZ,
    }
    client = Client(port, timeout)
    try:
        status, body, _, _ = client.request(
            "GET", "/api/v1/analytics/billing?" + urlencode(params), headers={"Authorization": f"Bearer {token}"}
        )
    finally:
        client.close()
    if status != 200:
        raise SystemExit(f"loadtest: the final report answered {status}: {body[:500]!r}")
    return json.loads(body)


def gunicorn_log_problems(server: Gunicorn) -> dict[str, int]:
    text = server.logfile.read_text(errors="replace") if server.logfile.exists() else ""
    return {
        "tracebacks": text.count("Traceback (most recent call last)"),
        "worker_timeouts": text.count("WORKER TIMEOUT"),
        "errors": text.count("[ERROR]"),
    }


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    run_id = secrets.token_hex(3)
    res: dict[str, Any] = {
        "seconds": args.seconds,
        "users": args.users,
        "spawn_rate": args.spawn_rate,
        "workers": args.workers,
        "weights": dict(zip(("api_read", "dash_callback", "ingest"), args.weights, strict=True)),
        "preload": args.preload,
        "batch_events": [args.batch_min, args.batch_max],
        "resend_share": args.resend_share,
        "wait_seconds": [args.wait_min, args.wait_max],
        "seed": args.seed,
        "run_id": run_id,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }
    workdir = Path(tempfile.mkdtemp(prefix="billing-loadtest-"))
    db: Database | None = None
    server: Gunicorn | None = None
    try:
        jsonl = workdir / "preload.jsonl"
        log(f"generating {args.preload:,} events")
        res["generation"] = asdict(generate(jsonl, args.preload, args.seed))

        db = create_database("postgresql", args.postgres_admin_url, workdir)
        log(f"database {db.name}")
        # Every dashboard user logs in to one account from one address: not what the login limits are for.
        env = {
            **os.environ,
            "DATABASE_URL": db.url,
            "SECRET_KEY": secrets.token_hex(32),
            "LOG_LEVEL": "WARNING",
            "LOGIN_RATE_LIMIT": "10000 per minute",
            "LOGIN_IP_RATE_LIMIT": "10000 per minute",
        }
        cli(env, "db", "upgrade")
        cli(env, "create-org", ORG, "--timezone", ORG_TZ)
        token = cli(env, "create-token", "--org", ORG, "--name", "loadtest").stdout.strip().splitlines()[-1]
        cli(env, "create-user", "--org", ORG, "--email", USER_EMAIL, "--password", USER_PASSWORD)
        log(f"importing with `billing-dash import --org {ORG}`")
        t0 = time.perf_counter()
        cli(env, "import", "--org", ORG, str(jsonl), timeout=3600)
        org = int(db_scalar(db.url, "SELECT id FROM organizations WHERE name = :name", name=ORG))
        preloaded = int(db_scalar(db.url, "SELECT COUNT(*) FROM usage_events WHERE organization_id = :org", org=org))
        res["preloaded_events"], res["import_seconds"] = preloaded, round(time.perf_counter() - t0, 1)
        log(f"  {preloaded:,} events in {res['import_seconds']} s; VACUUM (ANALYZE)")
        settle(db)
        res["postgres"] = db_scalar(db.url, "SELECT current_setting('server_version')")

        port = free_port()
        server = Gunicorn(env, args.workers, port, workdir / "gunicorn.log")
        log(f"starting {' '.join(server.argv[1:])}")
        server.start()
        res["gunicorn"] = " ".join(["gunicorn", *server.argv[1:]])

        # The callback's body as Dash's renderer sends it (from /_dash-dependencies), checked once.
        client = Client(port, args.timeout)
        try:
            login(client)
            template = callback_body(client, datetime.now(ZoneInfo(ORG_TZ)).date(), "month")
            status, body, _, _ = client.request(
                "POST", "/_dash-update-component", template, {"Content-Type": "application/json"}
            )
            if status != 200:
                raise SystemExit(f"loadtest: the load_report callback answered {status}: {body[:500]!r}")
        finally:
            client.close()

        config = {
            "token": token,
            "email": USER_EMAIL,
            "password": USER_PASSWORD,
            "org_tz": ORG_TZ,
            "callback_template": json.loads(template),
            "weights": args.weights,
            "run_id": run_id,
            "seed": args.seed,
            "batch_min": args.batch_min,
            "batch_max": args.batch_max,
            "resend_share": args.resend_share,
            "wait_min": args.wait_min,
            "wait_max": args.wait_max,
            "timeout": args.timeout,
            "ledger": str(workdir / "ledger.json"),
        }
        res["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
        res["locust_exit_code"], ledger = run_locust(args, port, config, workdir)
        res["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        res["per_request"], res["total"], res["measured_seconds"] = request_stats(ledger)
        batches = ledger["batches"]
        res["ingestion"] = {
            "batches_new": sum(1 for b in batches if b["resend_of"] is None),
            "batches_resent": sum(1 for b in batches if b["resend_of"] is not None),
            "events_new": sum(b["events"] for b in batches if b["resend_of"] is None),
            "events_resent": sum(b["events"] for b in batches if b["resend_of"] is not None),
        }
        res["ingestion"]["new_events_per_s"] = (
            round(res["ingestion"]["events_new"] / res["measured_seconds"], 1) if res["measured_seconds"] else None
        )

        final = final_report(port, token, db, org, args.timeout)
        res["final_report"] = {"summary": final["summary"], "period": final["period"]}
        res["server_peak_rss_mb"] = server.peak_rss_mb()
        server.stop()
        res["gunicorn_log"] = gunicorn_log_problems(server)
        if any(res["gunicorn_log"].values()):
            log(f"gunicorn log ({res['gunicorn_log']}):\n{server.log_tail(6000)}")
        res["checks"] = consistency(db, org, preloaded, run_id, ledger, final, res["total"]["errors"])
        if res["locust_exit_code"] != 0:
            res["checks"].append(check("locust exit code", 0, res["locust_exit_code"]))
        res["ok"] = all(c["pass"] for c in res["checks"])
        res["total_seconds"] = round(time.perf_counter() - started, 1)
        return res
    finally:
        teardown(server, db, workdir, args.keep)


def _n(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render_table(res: dict[str, Any]) -> str:
    """The Markdown printed at the end of a run."""
    lines = [
        f"### billing-dash load test: {res['seconds']} s, {res['users']} users "
        f"(weights reads:dashboard:ingest {':'.join(str(w) for w in res['weights'].values())}), "
        f"gunicorn {res['workers']} workers, PostgreSQL {res.get('postgres', '')}, "
        f"{res['preloaded_events']:,} preloaded events",
        "",
        "| Request type | Requests | Req/s | p50 ms | p99 ms | Errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in res["per_request"].items():
        lines.append(
            f"| {KINDS.get(name, name)} | {s['requests']:,} | {_n(s['req_per_s'])} | {_n(s['p50_ms'])} | "
            f"{_n(s['p99_ms'])} | {s['errors']:,} |"
        )
    t = res["total"]
    lines.append(
        f"| **Total** | **{t['requests']:,}** | **{_n(t['req_per_s'])}** | {_n(t['p50_ms'])} | "
        f"{_n(t['p99_ms'])} | **{t['errors']:,}** |"
    )
    ing = res["ingestion"]
    lines += [
        "",
        f"Ingestion: {ing['batches_new']:,} new batches ({ing['events_new']:,} events, "
        f"{_n(ing['new_events_per_s'])} events/s) and {ing['batches_resent']:,} re-sent batches "
        f"({ing['events_resent']:,} events). Measured over {res['measured_seconds']} s.",
        "",
        "| Consistency check | Expected | Actual | |",
        "| --- | ---: | ---: | --- |",
    ]

    def fmt(v):
        return f"{v:,}" if isinstance(v, int) else str(v)

    for c in res["checks"]:
        lines.append(f"| {c['name']} | {fmt(c['expected'])} | {fmt(c['actual'])} | {'PASS' if c['pass'] else 'FAIL'} |")
    errors = {name: s["error_examples"] for name, s in res["per_request"].items() if s["errors"]}
    if errors:
        lines += ["", "Errors (most frequent first):"]
        for name, examples in errors.items():
            for message, count in examples.items():
                lines.append(f"- {name} x{count}: {message}")
    g = res.get("gunicorn_log", {})
    lines += [
        "",
        f"gunicorn log: {g.get('tracebacks', 0)} tracebacks, {g.get('worker_timeouts', 0)} worker timeouts. "
        f"Machine: {res['nproc']} CPUs, load average {res['loadavg_before'][0]} before, "
        f"{res['loadavg_after'][0]} after; commit {(res.get('git_commit') or 'unknown')[:12]}.",
        f"Result: **{'PASS' if res['ok'] else 'FAIL'}**",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write the JSON; non-zero when anything failed."""
    args = parse_args(argv)
    with sigterm_as_interrupt():
        try:
            res = run(args)
        except KeyboardInterrupt:
            log("interrupted; cleaned up")
            return 130
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(render_table(res))
    log(f"wrote {args.out} (total {res['total_seconds']:.0f} s)")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
