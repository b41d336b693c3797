"""Imports killed midway (SIGKILL) leave nothing behind; concurrent imports of the same events count each once."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import sqlalchemy as sa

from billing_dash.aggregates import rebuild
from billing_dash.ingest import BATCH_SIZE
from billing_dash.models import (
    AGGREGATES,
    ALL_AGENTS,
    agents,
    conversation_daily,
    conversation_totals,
    conversations,
    organizations,
    usage_daily,
    usage_events,
    usage_quarter,
)
from billing_dash.periods import resolve_period
from billing_dash.services.billing import billing_report

from ..factories import cli_command, side_schemas

ROOT = Path(__file__).resolve().parents[2]
END = "2025-06-01T00:00:00Z"  # fixed, so the generated files are the same on every run
KILL_EVENTS = max(150_000, 6 * BATCH_SIZE)  # an import that runs for several seconds
CONCURRENT_EVENTS = 3 * BATCH_SIZE  # several batches per import
ORG_TABLES = (usage_events, *AGGREGATES, agents, conversations)
APP_NAME = "import-faults-test"
IMPORTED = re.compile(r"inserted (\d+), skipped (\d+) already imported")
# Runs the real CLI entry point, but only once the file named by $IMPORT_GO exists: both imports
# have finished importing their modules (each then creates $IMPORT_READY) and start at the same moment.
LAUNCHER = (
    "import os, sys, time\n"
    "from billing_dash.cli import main\n"
    "open(os.environ['IMPORT_READY'], 'w').close()\n"
    "while not os.path.exists(os.environ['IMPORT_GO']):\n"
    "    time.sleep(0.002)\n"
    "main(sys.argv[1:], prog_name='billing-dash')\n"
)


# ---------------------------------------------------------------- helpers


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "postgresql":  # so the imports' sessions can be told apart in pg_stat_activity
        database_url = url.update_query_dict({"application_name": APP_NAME}).render_as_string(hide_password=False)
    return {**os.environ, "DATABASE_URL": database_url, **extra}


def generate(path: Path, events: int, seed: int) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.generate",
            "--events",
            str(events),
            "--out",
            str(path),
            "--seed",
            str(seed),
            "--end",
            END,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


def file_contents(path: Path) -> tuple[set[str], set[str], set[str]]:
    """The distinct event, agent and conversation ids of a JSONL file."""
    events, agent_ids, conversation_ids = set(), set(), set()
    with path.open("rb") as f:
        for line in f:
            e = json.loads(line)
            events.add(e["event_id"])
            agent_ids.add(e["agent_id"])
            conversation_ids.add(e["conversation_id"])
    return events, agent_ids, conversation_ids


def counts(engine, org_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(
                sa.select(sa.func.count()).select_from(t).where(t.c.organization_id == org_id)
            ).scalar_one()
            for t in ORG_TABLES
        }


def snapshot(conn, org_id: int) -> dict[str, list[tuple]]:
    snap = {
        t.name: sorted(tuple(r) for r in conn.execute(sa.select(t).where(t.c.organization_id == org_id)))
        for t in AGGREGATES
    }
    snap["max_conversation_seconds"] = conn.execute(
        sa.select(organizations.c.max_conversation_seconds).where(organizations.c.id == org_id)
    ).scalar_one()
    return snap


def assert_aggregates_equal_rebuild(engine, org_id: int, events: int) -> None:
    with engine.begin() as conn:
        before = snapshot(conn, org_id)
        assert all(before[t.name] for t in AGGREGATES)
        assert rebuild(conn, [org_id]) == events
        assert snapshot(conn, org_id) == before


def message_totals(engine, org_id: int) -> dict[str, int]:
    with engine.connect() as conn:

        def total(table, *where):
            return int(
                conn.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(table.c.message_count), 0)).where(
                        table.c.organization_id == org_id, *where
                    )
                ).scalar_one()
            )

        return {
            "usage_quarter": total(usage_quarter),
            "usage_daily": total(usage_daily),
            "conversation_daily": total(conversation_daily),
            "conversation_totals": total(conversation_totals, conversation_totals.c.agent_id == ALL_AGENTS),
        }


def sqlite_path(database_url: str) -> str | None:
    url = sa.engine.make_url(database_url)
    return url.database if url.get_backend_name() == "sqlite" else None


def sqlite_write_lock_free(path: str) -> bool:
    """Whether a write transaction can start at once (no other process holds SQLite's write lock)."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc) or "busy" in str(exc), exc
        return False
    finally:
        conn.close()


def pg_writing_transactions(engine) -> int:
    """The imports' sessions inside a transaction that has written something."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = :app AND backend_xid IS NOT NULL"
            ),
            {"app": APP_NAME},
        ).scalar_one()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc/<pid>/stat)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def read_position(pid: int, path: Path) -> int | None:
    """How far process `pid` has read into `path` (from /proc/<pid>/fdinfo), None if it has no such fd."""
    target = str(path.resolve())
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return None
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != target:
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                for line in info:
                    if line.startswith("pos:"):
                        return int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            return None
    return None


@contextmanager
def processes():
    """Collects started subprocesses; any still running at the end is killed and reaped."""
    started: list[subprocess.Popen] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)


def finished(proc: subprocess.Popen, out: Path, err: Path, timeout: float) -> tuple[int, str, str]:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
        pytest.fail(f"import did not finish within {timeout} s: {err.read_text()[-2000:]}")
    return code, out.read_text(), err.read_text()


def inserted_skipped(stdout: str) -> tuple[int, int]:
    match = IMPORTED.search(stdout)
    assert match, stdout
    return int(match.group(1)), int(match.group(2))


# ---------------------------------------------------------------- data


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("kill") / "big.jsonl", KILL_EVENTS, seed=21)


@pytest.fixture(scope="module")
def concurrent_files(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Per layout, the two files the two imports read: one file twice, or events 0..N and N/2..1.5N."""
    folder = tmp_path_factory.mktemp("concurrent")
    n = CONCURRENT_EVENTS
    whole = generate(folder / "whole.jsonl", n + n // 2, seed=22).read_bytes().splitlines(keepends=True)
    same = folder / "same.jsonl"
    same.write_bytes(b"".join(whole[:n]))
    first, second = folder / "first.jsonl", folder / "second.jsonl"
    first.write_bytes(b"".join(whole[:n]))
    second.write_bytes(b"".join(whole[n // 2 :]))
    return {"same-file": (same, same), "overlapping-files": (first, second)}


# ---------------------------------------------------------------- SIGKILL midway


def import_midway(database_url: str, engine, org, path: Path, out, err, started: list) -> subprocess.Popen:
    """The CLI importing `path` (in a process group of its own), once it is midway: a third of the
    file read (so several batches were written in the open transaction), the end not reached, and
    the uncommitted writes visible from outside."""
    size = path.stat().st_size
    db_file = sqlite_path(database_url)
    proc = subprocess.Popen(
        [*cli_command(), "import", "--org", org.name, str(path)],
        env=cli_env(database_url),
        cwd=ROOT,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    started.append(proc)
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, "import ended before it was midway"
        assert time.monotonic() < deadline, "import never got a third of the way through"
        pos = read_position(proc.pid, path)
        if pos is not None and size // 3 <= pos < size:
            writing = (not sqlite_write_lock_free(db_file)) if db_file else pg_writing_transactions(engine) >= 1
            if writing:
                return proc
        time.sleep(0.05)


def wait_gone(pids: list[int], what: str) -> None:
    deadline = time.monotonic() + 30
    while alive := [pid for pid in pids if Path(f"/proc/{pid}").exists()]:
        assert time.monotonic() < deadline, f"{what} {alive} still run"
        time.sleep(0.1)


def test_import_killed_midway_leaves_nothing_and_a_reimport_is_exact(database_url, engine, org, big_file, tmp_path):
    db_file = sqlite_path(database_url)
    out, err = tmp_path / "killed.out", tmp_path / "killed.err"
    with processes() as started, out.open("wb") as o, err.open("wb") as e:
        proc = import_midway(database_url, engine, org, big_file, o, e, started)
        helpers = children(proc.pid)  # PostgreSQL: the worker processes parsing the file
        assert bool(helpers) == (db_file is None)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        # They end with the import, rather than idle on holding their memory.
        wait_gone(helpers, "the killed import's workers")

    if db_file:
        # Not locked: a new write goes through at once, and through the app's engine too.
        assert sqlite_write_lock_free(db_file)
    else:
        # The server rolls the dead client's transaction back.
        deadline = time.monotonic() + 60
        while pg_writing_transactions(engine):
            assert time.monotonic() < deadline, "the killed import's transaction is still open"
            time.sleep(0.1)
    assert counts(engine, org.id) == {t.name: 0 for t in ORG_TABLES}
    if not db_file:
        assert len(side_schemas(engine)) == 1  # left by the killed import's side stage
    with engine.begin() as conn:
        assert (
            conn.execute(
                sa.select(organizations.c.max_conversation_seconds).where(organizations.c.id == org.id)
            ).scalar_one()
            == 0
        )
        conn.execute(sa.update(organizations).where(organizations.c.id == org.id).values(timezone=org.timezone))

    result = subprocess.run(
        [*cli_command(), "import", "--org", org.name, str(big_file)],
        env=cli_env(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert inserted_skipped(result.stdout) == (KILL_EVENTS, 0)
    event_ids, agent_ids, conversation_ids = file_contents(big_file)
    assert len(event_ids) == KILL_EVENTS
    got = counts(engine, org.id)
    assert got["usage_events"] == KILL_EVENTS
    assert got["agents"] == len(agent_ids)
    assert got["conversations"] == len(conversation_ids)
    assert set(message_totals(engine, org.id).values()) == {KILL_EVENTS}
    assert_aggregates_equal_rebuild(engine, org.id, KILL_EVENTS)
    if not db_file:  # the schema of the killed import's side stage went with the next import's
        assert side_schemas(engine) == set()


def test_ctrl_c_midway_ends_the_import_at_once_and_leaves_nothing(database_url, engine, org, big_file, tmp_path):
    """A terminal's Ctrl-C (SIGINT to the import's process group, its parsing workers included):
    click's "Aborted!" and no traceback, the workers gone, nothing stored, no side stage schema."""
    out, err = tmp_path / "interrupted.out", tmp_path / "interrupted.err"
    with processes() as started, out.open("wb") as o, err.open("wb") as e:
        proc = import_midway(database_url, engine, org, big_file, o, e, started)
        helpers = children(proc.pid)
        # The worst order of a terminal's one signal to all: the workers take it first. They leave
        # it to the importing process, which still runs.
        for pid in helpers:
            os.kill(pid, signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None and all(Path(f"/proc/{pid}").exists() for pid in helpers), err.read_text()[-3000:]
        os.killpg(proc.pid, signal.SIGINT)
        code, _, stderr = finished(proc, out, err, timeout=30)
        wait_gone(helpers, "the interrupted import's workers")
    assert code == 1 and stderr.strip() == "Aborted!", stderr[-2000:]
    assert counts(engine, org.id) == {t.name: 0 for t in ORG_TABLES}
    if not sqlite_path(database_url):
        assert side_schemas(engine) == set()


# ---------------------------------------------------------------- two imports at once


def start_together(database_url: str, org, sources: list[str], tmp_path: Path, started: list, stdin=None):
    """Start one `billing-dash import --org ORG SOURCE` per source; both begin importing at the same moment."""
    go = tmp_path / "go"
    runs = []
    for i, source in enumerate(sources):
        out, err = tmp_path / f"import{i}.out", tmp_path / f"import{i}.err"
        with out.open("wb") as o, err.open("wb") as e:
            started.append(
                subprocess.Popen(
                    [sys.executable, "-c", LAUNCHER, "import", "--org", org.name, source],
                    env=cli_env(database_url, IMPORT_GO=str(go), IMPORT_READY=str(tmp_path / f"ready{i}")),
                    cwd=ROOT,
                    stdin=stdin,
                    stdout=o,
                    stderr=e,
                )
            )
        runs.append((out, err))
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{i}").exists() for i in range(len(sources))):
        assert all(p.poll() is None for p in started), [err.read_text()[-2000:] for _, err in runs]
        assert time.monotonic() < deadline, "the imports did not start"
        time.sleep(0.01)
    go.touch()
    return runs


def assert_counted_once(engine, org, results, per_source: list[tuple[set, set, set]], expected: int) -> None:
    for code, stdout, stderr in results:
        assert code == 0, (stdout, stderr[-2000:])
        assert "database is locked" not in stderr
    distinct = set().union(*(ids for ids, _, _ in per_source))
    conversation_ids = set().union(*(c for _, _, c in per_source))
    assert len(distinct) == expected
    reported = [inserted_skipped(stdout) for _, stdout, _ in results]
    for (inserted, skipped), (ids, _, _) in zip(reported, per_source, strict=True):
        assert inserted + skipped == len(ids)

    got = counts(engine, org.id)
    assert got["usage_events"] == len(distinct)
    assert got["conversations"] == len(conversation_ids)
    assert sum(inserted for inserted, _ in reported) == len(distinct)
    assert message_totals(engine, org.id) == {
        "usage_quarter": len(distinct),
        "usage_daily": len(distinct),
        "conversation_daily": len(distinct),
        "conversation_totals": len(distinct),
    }
    with engine.connect() as conn:
        period = resolve_period("custom", org.timezone, "2024-05-01", "2025-06-30")
        report = billing_report(conn, org, period)
    assert report.summary.total_messages == len(distinct)
    assert report.summary.total_conversations == len(conversation_ids)
    assert_aggregates_equal_rebuild(engine, org.id, len(distinct))


@pytest.mark.parametrize("layout", ["same-file", "overlapping-files"])
def test_two_imports_at_once_count_each_event_once(database_url, engine, org, concurrent_files, layout, tmp_path):
    files = concurrent_files[layout]
    with processes() as started:
        runs = start_together(database_url, org, [str(f) for f in files], tmp_path, started)
        results = [finished(proc, out, err, timeout=120) for proc, (out, err) in zip(started, runs, strict=True)]
    expected = CONCURRENT_EVENTS if layout == "same-file" else CONCURRENT_EVENTS * 3 // 2
    assert_counted_once(engine, org, results, [file_contents(f) for f in files], expected)


def settled(database_url: str, engine) -> bool:
    """Whether both imports went as far as they can: each waits for a lock, or for more input with
    its first writes done (SQLite: one of them holds the write lock). PostgreSQL writes an import's
    events to its staging table first (created in the import's transaction, so unnamed in
    pg_class for others), and to usage_events once the input has ended."""
    db_file = sqlite_path(database_url)
    if db_file:
        return not sqlite_write_lock_free(db_file)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.state, a.wait_event_type, EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted "
                "AND l.locktype = 'relation' AND l.mode = 'RowExclusiveLock') "
                "FROM pg_stat_activity a WHERE a.datname = current_database() AND a.application_name = :app"
            ),
            {"app": APP_NAME},
        ).all()
    return len(rows) == 2 and all(
        wait == "Lock" or (state == "idle in transaction" and wrote) for state, wait, wrote in rows
    )


def test_two_imports_of_the_same_events_in_other_orders_count_each_once(
    database_url, engine, org, concurrent_files, tmp_path
):
    """One import reads the odd-numbered agents' events first, the other the even ones'; each gets
    the second half of its input only once both have stored what they could of the first."""
    lines = concurrent_files["same-file"][0].read_bytes().splitlines(keepends=True)
    odd = b"".join(line for line in lines if int(json.loads(line)["agent_id"].rsplit("-", 1)[1]) % 2)
    even = b"".join(line for line in lines if not int(json.loads(line)["agent_id"].rsplit("-", 1)[1]) % 2)
    assert min(odd.count(b"\n"), even.count(b"\n")) > BATCH_SIZE  # more than a batch each
    released = threading.Event()

    def feed(proc: subprocess.Popen, first: bytes, second: bytes) -> None:
        try:
            proc.stdin.write(first)
            proc.stdin.flush()
            released.wait(timeout=180)
            proc.stdin.write(second)
            proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass  # the import died; its exit code tells

    with processes() as started:
        try:
            runs = start_together(database_url, org, ["-", "-"], tmp_path, started, stdin=subprocess.PIPE)
            feeders = [
                threading.Thread(target=feed, args=(proc, *halves), daemon=True)
                for proc, halves in zip(started, [(odd, even), (even, odd)], strict=True)
            ]
            for t in feeders:
                t.start()
            deadline, calm = time.monotonic() + 120, 0
            while calm < 8:  # settled for 1.6 s in a row
                assert all(p.poll() is None for p in started), [err.read_text()[-2000:] for _, err in runs]
                assert time.monotonic() < deadline, "the imports never settled on their first halves"
                calm = calm + 1 if settled(database_url, engine) else 0
                time.sleep(0.2)
        finally:
            released.set()
        results = [finished(proc, out, err, timeout=120) for proc, (out, err) in zip(started, runs, strict=True)]
    ids = file_contents(concurrent_files["same-file"][0])
    assert_counted_once(engine, org, results, [ids, ids], CONCURRENT_EVENTS)
