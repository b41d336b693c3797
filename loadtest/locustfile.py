"""Locust users of the load test: API reads, dashboard callbacks and ingestion batches (run by loadtest.run)."""

from __future__ import annotations

import copy
import itertools
import json
import os
import random
import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from locust import HttpUser, between, events, task

from bench.generate import MODELS, TOPICS, agents

# Written by loadtest.run: token, login, callback template, weights, batch sizes, ledger path.
CONFIG = json.loads(Path(os.environ["LOADTEST_CONFIG"]).read_text(encoding="utf-8"))
ORG_TZ = CONFIG["org_tz"]
TIMEOUT = CONFIG["timeout"]
PERIODS = ["today", "week", "month", "year", "custom"]
ZONES = [None, None, "UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York", "Pacific/Auckland"]
AGENTS = agents()
MODEL_NAMES = list(MODELS)
CONVERSATIONS = 2000  # a shared pool, so concurrent batches upsert the same agents and conversations
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')

# What the driver reads back: every request's outcome, and every ingestion batch's counts.
LEDGER: dict = {"requests": [], "batches": [], "test_start": None, "test_stop": None}
_event_numbers = itertools.count(1)
_batch_numbers = itertools.count(1)
_user_numbers = itertools.count(1)
# Bodies of the batches the server acknowledged (200), candidates for a re-send.
_acknowledged: list[tuple[int, int, bytes]] = []


@events.request.add_listener
def _record(request_type, name, response_time, exception=None, start_time=None, **_kwargs):
    LEDGER["requests"].append(
        [
            name,
            start_time or time.time() - response_time / 1000,
            round(response_time, 2),
            None if exception is None else str(exception)[:300],
        ]
    )


@events.test_start.add_listener
def _start(**_kwargs):
    LEDGER["test_start"] = time.time()


@events.test_stop.add_listener
def _stop(**_kwargs):
    LEDGER["test_stop"] = time.time()
    _dump()


@events.quitting.add_listener
def _quit(**_kwargs):
    _dump()


def _dump() -> None:
    tmp = CONFIG["ledger"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(LEDGER, out)
    os.replace(tmp, CONFIG["ledger"])


def _random_range(rng: random.Random, today: date) -> tuple[str, str]:
    """A custom range inside the preloaded year: 1 to 120 days, ending on or before today."""
    end = today - timedelta(days=rng.randint(0, 300))
    return (end - timedelta(days=rng.randint(0, 119))).isoformat(), end.isoformat()


def _is_2xx(resp) -> bool:
    return 200 <= resp.status_code < 300


class LoadUser(HttpUser):
    abstract = True
    wait_time = between(CONFIG["wait_min"], CONFIG["wait_max"])

    def on_start(self) -> None:
        self.rng = random.Random(CONFIG["seed"] * 1000 + next(_user_numbers))

    def today(self) -> date:
        return datetime.now(ZoneInfo(ORG_TZ)).date()


class ApiReader(LoadUser):
    """GET /api/v1/analytics/billing with a random period, zone and limit."""

    weight = CONFIG["weights"][0]

    def on_start(self) -> None:
        super().on_start()
        self.headers = {"Authorization": f"Bearer {CONFIG['token']}", "Accept": "application/json"}

    @task
    def read(self) -> None:
        rng = self.rng
        params = {"period": rng.choice(PERIODS)}
        if params["period"] == "custom":
            params["startDate"], params["endDate"] = _random_range(rng, self.today())
        tz = rng.choice(ZONES)
        if tz:
            params["tz"] = tz
        if rng.random() < 0.3:
            params["limit"] = str(rng.randint(1, 100))
        with self.client.get(
            "/api/v1/analytics/billing?" + urlencode(params),
            headers=self.headers,
            name="api_read",
            timeout=TIMEOUT,
            catch_response=True,
        ) as resp:
            if not _is_2xx(resp):
                resp.failure(f"status {resp.status_code}: {resp.text[:200]!r}")
                return
            try:
                report = resp.json()
                assert isinstance(report["summary"]["totalMessages"], int)
                assert report["period"]["name"] == params["period"]
            except Exception as exc:  # noqa: BLE001 (a 200 with any wrong body is a failed request, not a crashed user)
                resp.failure(f"bad body ({exc!r}): {resp.text[:200]!r}")


class DashboardUser(LoadUser):
    """Logs in once through the CSRF-protected form, then runs the load_report callback."""

    weight = CONFIG["weights"][1]

    def on_start(self) -> None:
        super().on_start()
        self.logged_in = False
        self.login()

    def login(self) -> None:
        with self.client.get("/login", name="login_form", timeout=TIMEOUT, catch_response=True) as resp:
            match = CSRF.search(resp.text or "") if _is_2xx(resp) else None
            if not match:
                resp.failure(f"status {resp.status_code}, no csrf_token")
                return
        form = {
            "csrf_token": match.group(1) or match.group(2),
            "email": CONFIG["email"],
            "password": CONFIG["password"],
        }
        with self.client.post(
            "/login", data=form, name="login", allow_redirects=False, timeout=TIMEOUT, catch_response=True
        ) as resp:
            # The one answer that is not 2xx and still right: the redirect to the dashboard.
            if resp.status_code == 302 and "/dashboard" in resp.headers.get("Location", ""):
                resp.success()
                self.logged_in = True
            else:
                resp.failure(f"status {resp.status_code}: {resp.text[:200]!r}")

    @task
    def load_report(self) -> None:
        if not self.logged_in:
            self.login()
            return
        rng = self.rng
        period = rng.choice(PERIODS)
        today = self.today()
        if period == "custom":
            start, end = _random_range(rng, today)
            changed = "billing-dates.end_date"
        else:  # the date picker keeps its initial last 30 days
            start, end = (today - timedelta(days=29)).isoformat(), today.isoformat()
            changed = "billing-period.value"
        values = {
            ("billing-period", "value"): period,
            ("billing-dates", "start_date"): start,
            ("billing-dates", "end_date"): end,
        }
        body = copy.deepcopy(CONFIG["callback_template"])
        for item in body["inputs"]:
            key = (item["id"], item["property"])
            if key in values:
                item["value"] = values[key]
        body["changedPropIds"] = [changed]
        with self.client.post(
            "/_dash-update-component",
            json=body,
            name="dash_callback",
            timeout=TIMEOUT,
            headers={"Accept": "application/json"},
            catch_response=True,
        ) as resp:
            if not _is_2xx(resp):
                resp.failure(f"status {resp.status_code}: {resp.text[:200]!r}")
                return
            try:
                answer = resp.json()["response"]
                models = answer["billing-drawings"]["data"][3]  # figures, then agents, models, ...
                assert all(isinstance(m["messageCount"], int) for m in models)
                assert f"billing-daily-{period}-" in answer["billing-downloads"]["data"]["daily"]["filename"]
                assert answer["billing-alert"]["is_open"] is False, "the dashboard shows its database alert"
            except Exception as exc:  # noqa: BLE001 (as above: any wrong body is a failed request)
                resp.failure(f"bad body ({exc!r}): {resp.text[:200]!r}")


class Ingester(LoadUser):
    """POST /api/v1/usage: batches of new unique events, and now and then a batch sent before."""

    weight = CONFIG["weights"][2]

    def on_start(self) -> None:
        super().on_start()
        self.headers = {"Authorization": f"Bearer {CONFIG['token']}", "Content-Type": "application/json"}

    def new_events(self, n: int) -> list[dict]:
        rng = self.rng
        now = int(time.time())
        out = []
        for _ in range(n):
            agent_id, agent_name, primary, secondary = rng.choice(AGENTS)
            conv = rng.randrange(CONVERSATIONS)
            ts = datetime.fromtimestamp(now - rng.randint(60, 30 * 86400), UTC)
            event = {
                "event_id": f"lt-{CONFIG['run_id']}-{next(_event_numbers):09d}",
                "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "agent_id": agent_id,
                "agent_name": agent_name,
                "conversation_id": f"lt-conv-{conv:05d}",
                "conversation_title": f"{TOPICS[conv % len(TOPICS)]} (load test {conv})",
                "model": MODEL_NAMES[secondary if rng.random() < 0.1 else primary],
                "prompt_tokens": rng.randint(100, 30_000),
                "completion_tokens": rng.randint(10, 2_000),
            }
            if rng.random() < 0.3:
                event["cost"] = f"{rng.randint(0, 500_000) / 1e6:.6f}"
            out.append(event)
        return out

    @task
    def ingest(self) -> None:
        rng = self.rng
        if _acknowledged and rng.random() < CONFIG["resend_share"]:
            original, n, body = rng.choice(_acknowledged)
            name = "ingest_resend"
        else:
            original, name = None, "ingest_new"
            n = rng.randint(CONFIG["batch_min"], CONFIG["batch_max"])
            events = self.new_events(n)
            body = json.dumps({"events": events}, separators=(",", ":")).encode()
        number = next(_batch_numbers)
        # Recorded before sending: a batch counts as sent whatever its answer. A new batch's events
        # are numbered consecutively (nothing yields while they are made), so the driver can check a
        # batch left without an answer when the test stopped: stored all or none.
        first = None if original is not None else int(events[0]["event_id"].rsplit("-", 1)[1])
        batch = {
            "batch": number,
            "resend_of": original,
            "events": n,
            "first_event": first,
            "status": None,
            "inserted": None,
            "skipped": None,
        }
        LEDGER["batches"].append(batch)
        with self.client.post(
            "/api/v1/usage", data=body, headers=self.headers, name=name, timeout=TIMEOUT, catch_response=True
        ) as resp:
            batch["status"] = resp.status_code
            if not _is_2xx(resp):
                resp.failure(f"status {resp.status_code}: {resp.text[:200]!r}")
                return
            try:
                counts = resp.json()
                batch["inserted"], batch["skipped"] = counts["inserted"], counts["skipped"]
                assert counts["inserted"] + counts["skipped"] == n, f"inserted + skipped != {n}"
            except Exception as exc:  # noqa: BLE001 (as above: any wrong body is a failed request)
                resp.failure(f"bad body ({exc!r}): {resp.text[:200]!r}")
                return
        if original is None:
            _acknowledged.append((number, n, body))
