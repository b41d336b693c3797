"""Back-test of the month-end forecast on the demo data: `python -m bench.forecast` prints the error table."""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from billing_dash import auth, db
from billing_dash.alerts.budgets import period_bounds
from billing_dash.alerts.forecast import LOOKBACK_DAYS, METHODS, project
from billing_dash.demo import generate_events
from billing_dash.ingest import ingest
from billing_dash.models import usage_day

# When the generated data ends: a fixed instant, so every run back-tests the same data.
END = datetime(2026, 11, 30, tzinfo=UTC)
ZONE = "Europe/Berlin"
# As-of days grouped by how far into the month they are.
STAGES = ((1, 7), (8, 14), (15, 21), (22, 31))


def demo_days(days: int, per_day: float, seed: int) -> dict[str, dict[date, Decimal]]:
    """Daily cost and tokens of the demo organization, through the real ingest and aggregates."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = db.make_engine(f"sqlite:///{Path(tmp) / 'forecast.db'}")
        db.upgrade(engine)
        with engine.begin() as conn:
            org = auth.create_org(conn, "Back-test", ZONE)
            ingest(conn, org.id, enumerate(generate_events(days, per_day, seed, end=END)))
            rows = conn.execute(
                select(
                    usage_day.c.day, usage_day.c.cost, usage_day.c.prompt_tokens, usage_day.c.completion_tokens
                ).where(usage_day.c.organization_id == org.id)
            ).all()
        engine.dispose()
    return {
        "cost": {r.day: r.cost for r in rows},
        "tokens": {r.day: Decimal(r.prompt_tokens + r.completion_tokens) for r in rows},
    }


def month_to_date(history: dict[date, Decimal], today: date, start: date, end: date) -> Decimal:
    """The run rate most tools show: the month so far averaged over its elapsed days, times the month's days."""
    elapsed = (today - start).days
    if not elapsed:
        return Decimal(0)
    so_far = sum((history.get(start + timedelta(days=i), Decimal(0)) for i in range(elapsed)), Decimal(0))
    return so_far / elapsed * ((end - start).days + 1)


def forecasters() -> dict[str, Callable[[dict[date, Decimal], date, date, date], Decimal]]:
    def method(name: str):
        return lambda history, today, start, end: sum(
            (v for _, v in project(history, today, start, end, name)), Decimal(0)
        )

    return {"month-to-date average (baseline)": month_to_date, **{name: method(name) for name in METHODS}}


def backtest(series: dict[date, Decimal]) -> dict[str, dict[str, list[float]]]:
    """Absolute percentage errors of each forecaster per stage of the month, as of the start of
    every day of every whole month that has four weeks of history before it."""
    first, last = min(series), max(series)
    errors: dict[str, dict[str, list[float]]] = {}
    month = period_bounds("month", first + timedelta(days=LOOKBACK_DAYS))[1] + timedelta(days=1)
    while (end := period_bounds("month", month)[1]) < last:
        actual = sum((series.get(month + timedelta(days=i), Decimal(0)) for i in range(end.day)), Decimal(0))
        for today in (month + timedelta(days=i) for i in range(end.day)):
            # As of the start of `today`: only the whole days before it are known.
            known = {d: v for d, v in series.items() if d < today}
            stage = next(f"days {a}-{b}" for a, b in STAGES if a <= today.day <= b)
            for name, forecast in forecasters().items():
                error = abs(float(forecast(known, today, month, end) - actual) / float(actual)) * 100
                for key in (stage, "all days"):
                    errors.setdefault(name, {}).setdefault(key, []).append(error)
        month = end + timedelta(days=1)
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--per-day", type=float, default=40.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    args = parser.parse_args()
    merged: dict[str, dict[str, dict[str, list[float]]]] = {}
    for seed in args.seeds:
        for unit, series in demo_days(args.days, args.per_day, seed).items():
            for name, stages in backtest(series).items():
                for stage, values in stages.items():
                    merged.setdefault(unit, {}).setdefault(name, {}).setdefault(stage, []).extend(values)
    stages = [f"days {a}-{b}" for a, b in STAGES] + ["all days"]
    print(f"Mean absolute error of the month-end forecast, % of the month's actual total (seeds {args.seeds}):\n")
    print("| Unit | Method | " + " | ".join(stages) + " |")
    print("| --- | --- |" + " ---: |" * len(stages))
    for unit, methods in merged.items():
        for name, by_stage in methods.items():
            cells = " | ".join(f"{statistics.fmean(by_stage[s]):.2f}" for s in stages)
            print(f"| {unit} | {name} | {cells} |")
    months = len(merged["cost"][next(iter(merged["cost"]))]["all days"])
    print(f"\n{months} forecasts (one per day of each whole month) per method and unit.")


if __name__ == "__main__":
    main()
