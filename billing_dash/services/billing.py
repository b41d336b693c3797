"""The billing report: one service that the API, the CSV downloads and the dashboard all call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from ..alerts.budgets import period_bounds
from ..alerts.forecast import DEFAULT_METHOD, LOOKBACK_DAYS, project
from ..filters import NO_FILTERS, STACKS, Filters
from ..limits import DEFAULT_TAG_GROUPS
from ..models import ALL_AGENTS, USAGE_SUMS, Money
from ..periods import Period, Tenant, local_midnight_utc, resolve_period, whole_months
from ..queries import load, run_in_chunks

DEFAULT_TOP = 10
MAX_TOP = 100

_SUM_COUNTS = [s.name for s in USAGE_SUMS if s.type is not Money]
DAILY_COLUMNS = ["date", *(s.name for s in USAGE_SUMS), "total_tokens"]
_COUNTS = {*_SUM_COUNTS, "total_tokens", "conversation_count", "month_tokens", "monthly_token_budget"}


@dataclass(frozen=True)
class Summary:
    total_tokens: int
    prompt_tokens: int
    completion_tokens: int
    total_cost: Decimal
    total_messages: int
    total_conversations: int
    unpriced_messages: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cache_savings: Decimal = Decimal(0)

    @property
    def avg_tokens_per_message(self) -> Decimal:
        return Decimal(self.total_tokens) / self.total_messages if self.total_messages else Decimal(0)

    @property
    def avg_cost_per_message(self) -> Decimal:
        return self.total_cost / self.total_messages if self.total_messages else Decimal(0)


@dataclass(frozen=True)
class MonthForecast:
    """A month-to-date report's calendar month projected to its last day (alerts/forecast.py):
    cost and tokens of the whole month, and of each day from today on (for the daily chart)."""

    end: date
    cost: Decimal
    tokens: int
    method: str
    days: tuple[tuple[date, Decimal, Decimal], ...]


@dataclass(frozen=True)
class BillingReport:
    """Everything one period shows. Frames hold exact values: ints and Decimal money."""

    period: Period
    summary: Summary
    daily: pd.DataFrame
    agents: pd.DataFrame
    models: pd.DataFrame
    conversations: pd.DataFrame
    budgets: pd.DataFrame
    # Only for period `month` (this month up to today): the projection to the month's end.
    forecast: MonthForecast | None = None
    # Models of the period's events that had no price: (model, messages, tokens), most messages first.
    unpriced_models: tuple[tuple[str, int, int], ...] = ()
    # The agents and models every figure above is limited to (none: all).
    filters: Filters = NO_FILTERS
    # With a granularity: the period's usage per local hour, day, week or month (usage_series).
    granularity: str | None = None
    series: pd.DataFrame | None = None
    # With a stack: the series' usage per bucket and agent or model (usage_stack).
    stack_by: str | None = None
    stack: pd.DataFrame | None = None
    # With groupBy=tag:<key>: the key, and the period's usage per value of it (usage_by_tag).
    group_key: str | None = None
    tags: pd.DataFrame | None = None


def _frame(conn: Connection, query: str, **params: Any) -> pd.DataFrame:
    """Run sql/<query>.sql into a frame: counts as integers (PostgreSQL sums them as
    NUMERIC), money as Decimal objects, budgets as nullable integers."""
    try:
        result = conn.execute(load(query), params)
    except OperationalError as exc:
        # SQLite's SUM() stops at 64-bit integers ($922M of money): sum such periods exactly.
        if "integer overflow" not in str(exc.orig):
            raise
        result = conn.execute(load(query, exact_sums=True), params)
    df = pd.DataFrame(result.fetchall(), columns=list(result.keys()), dtype=object)
    for col in _COUNTS.intersection(df.columns):
        df[col] = pd.array([None if v is None else int(v) for v in df[col]], dtype="Int64")
    return df


def _quarters(conn: Connection, org: Tenant, period: Period, filters: Filters) -> pd.DataFrame:
    """The period's usage per quarter hour (UTC `bucket`): the aggregate's, or the filtered events'."""
    bounds = {"org_id": org.id, "start": period.start_utc, "end": period.end_utc}
    if filters:
        return _frame(conn, "filtered_quarters", **bounds, **filters.params())
    return _frame(conn, "quarters", **bounds)


def _by_key(rows: pd.DataFrame, keys: list[str], key: str) -> pd.DataFrame:
    """`rows` (each with its `key`) summed per key, one row per `keys` in their order, zeros included."""
    sums = rows.groupby(key, sort=False)[[s.name for s in USAGE_SUMS]].sum().reset_index()
    frame = pd.DataFrame({key: keys}).merge(sums, on=key, how="left")
    for col in _SUM_COUNTS:
        frame[col] = frame[col].fillna(0).astype("int64")
    for col in (s.name for s in USAGE_SUMS if s.type is Money):
        # pandas-stubs leaves Decimal out of the cell types a column may be set from; pandas takes any object.
        frame[col] = [Decimal(0) if pd.isna(c) else c for c in frame[col]]  # type: ignore[assignment]
    frame["total_tokens"] = frame["prompt_tokens"] + frame["completion_tokens"]
    return frame


def _daily(conn: Connection, org: Tenant, period: Period, filters: Filters = NO_FILTERS) -> pd.DataFrame:
    """One row per local day of the period, days without usage included as zeros."""
    if period.tz == org.timezone and filters:
        raw = _frame(
            conn, "filtered_daily_org_zone", org_id=org.id, day_from=period.start, day_to=period.end, **filters.params()
        )
    elif period.tz == org.timezone:
        raw = _frame(conn, "daily_org_zone", org_id=org.id, day_from=period.start, day_to=period.end)
    elif filters:
        # usage_daily's days are the organization's: another zone's days are summed from quarter hours.
        raw = _frame(
            conn, "filtered_quarters", org_id=org.id, start=period.start_utc, end=period.end_utc, **filters.params()
        )
        zone = ZoneInfo(period.tz)
        raw["day"] = [b.astimezone(zone).date().isoformat() for b in raw["bucket"]]
        raw = raw.drop(columns="bucket")
    else:
        raw = _frame(conn, "daily", org_id=org.id, tz=period.tz, start=period.start_utc, end=period.end_utc)
    raw["date"] = [str(day) for day in raw["day"]]  # PostgreSQL gives dates, SQLite ISO text
    days = pd.DataFrame({"date": [d.isoformat() for d in period.dates()]})
    if filters and period.tz != org.timezone:
        return _by_key(raw.drop(columns="day"), list(days["date"]), "date")[DAILY_COLUMNS]
    df = days.merge(raw.drop(columns="day"), on="date", how="left")
    for col in _SUM_COUNTS:
        df[col] = df[col].fillna(0).astype("int64")
    for col in (s.name for s in USAGE_SUMS if s.type is Money):
        # pandas-stubs leaves Decimal out of the cell types a column may be set from; pandas takes any object.
        df[col] = [Decimal(0) if pd.isna(c) else c for c in df[col]]  # type: ignore[assignment]
    df["total_tokens"] = df["prompt_tokens"] + df["completion_tokens"]
    return df[DAILY_COLUMNS]


@dataclass(frozen=True)
class ConversationStats:
    """Distinct conversations of a period per agent (ALL_AGENTS: the whole organization) and
    its costliest conversations (conversation_id, title, agent_id, total_tokens, cost,
    message_count)."""

    counts: dict[str, int]
    top: pd.DataFrame


_EPOCH_FLOOR = datetime(1, 1, 2, tzinfo=UTC)
TOP_COLUMNS = ["conversation_id", "title", "agent_id", "total_tokens", "cost", "message_count"]


def organization_window(conn: Connection, org: Tenant, period: Period) -> dict[str, Any]:
    """The SQL parameters of the period's window in the organization's zone (Period.window), and
    since when the conversations crossing its start (span_start) and end (end_span_start) began."""
    window: dict[str, Any] = {"org_id": org.id, **period.window(org.timezone)}
    span = timedelta(seconds=int(conn.execute(load("organization_span"), {"org_id": org.id}).scalar_one()))

    def back(instant: datetime) -> datetime:
        # A conversation spanning all of history would reach before year 1: stop at the floor.
        return instant - span if instant - _EPOCH_FLOOR > span else _EPOCH_FLOOR

    return window | {"span_start": back(window["start"]), "end_span_start": back(window["end"])}


def _top_frame(conn: Connection, org: Tenant, best: list[tuple]) -> pd.DataFrame:
    """The top conversations (conversation_id, tokens, cost, messages) with their titles and agents."""
    titles = {
        r.conversation_id: r for r in run_in_chunks(conn, "conversation_titles", [r[0] for r in best], org_id=org.id)
    }
    top_rows = [
        (
            cid,
            titles[cid].title if cid in titles else cid,
            titles[cid].agent_id if cid in titles else "",
            int(tokens),
            cost,
            int(messages),
        )
        for cid, tokens, cost, messages in best
    ]
    return pd.DataFrame(top_rows, columns=TOP_COLUMNS)


def filtered_conversations_query(org: Tenant, period: Period, filters: Filters, kind: str) -> tuple[str, dict]:
    """The statement of a filter's conversations (`kind`: their counts and costliest, or the list)
    and its parameters: whole days from conversation_daily, the edge days from the events."""
    return f"filtered_conversation_{kind}", {"org_id": org.id, **period.window(org.timezone), **filters.params()}


def _filtered_conversation_stats(
    conn: Connection, org: Tenant, period: Period, filters: Filters, top: int
) -> ConversationStats:
    """Conversation counts and top conversations of the filtered usage, counted and ranked by the
    database (filtered_conversation_stats.sql)."""
    name, params = filtered_conversations_query(org, period, filters, "stats")
    counts: dict[str, int] = {}
    best: list[tuple] = []
    for kind, key, conversations, tokens, cost, messages in conn.execute(load(name), {**params, "limit": top}):
        if kind == "top":
            best.append((key, int(tokens), cost, int(messages)))
        else:  # an agent's count, or all of them (key ALL_AGENTS)
            counts[key] = int(conversations)
    # The database ranked them; the same order in Python keeps it whatever a dialect returns.
    best.sort(key=lambda r: (-r[2], -r[1], r[0]))
    return ConversationStats(counts, _top_frame(conn, org, best))


# SQLite walks all conversations (or one agent's) from the costliest for a period's top ones when
# at least one in this many lies inside it (reading about this many times `top` rows); with fewer,
# it sorts those of the period (top_conversations_by_cost_sqlite.sql). PostgreSQL's planner
# chooses well on its own.
COST_WALK_SHARE = 20


def _top_query(conn: Connection, org: Tenant, agent: str, inside: int) -> str:
    """The statement of a period's costliest conversations of `agent` (ALL_AGENTS: whole ones),
    given how many of them lie inside it."""
    if conn.dialect.name == "sqlite":
        total = conn.execute(load("organization_conversations"), {"org_id": org.id, "agent_id": agent}).scalar_one()
        if inside * COST_WALK_SHARE >= total:
            return "top_conversations_by_cost_sqlite"
    return "top_conversations"


def conversation_stats(
    conn: Connection, org: Tenant, period: Period, top: int = DEFAULT_TOP, filters: Filters = NO_FILTERS
) -> ConversationStats:
    """Conversations lying wholly inside the period count with their stored totals; the few
    crossing its edges are summed over their in-period days, so every figure stays exact.

    Stored totals exist for whole conversations, each agent's part of one, and each model's or
    tag value's part of one (of all agents or per agent): a filter of at most one agent and one
    model or tag value counts and ranks those; any other filter sums the conversations' kept days
    (filtered_conversation_stats.sql)."""
    part = filters.conversation_part()
    if part is None:
        return _filtered_conversation_stats(conn, org, period, filters, top)
    dimension, value, agent = part
    window = organization_window(conn, org, period)
    if dimension:
        window |= {"dimension": dimension, "value": value}
        inside, crossing_query, query = "parts_inside", "parts_crossing", "parts_top"
    else:
        inside, crossing_query, query = "conversations_inside", "conversations_crossing", ""
    counts = {a: int(n) for a, n in conn.execute(load(inside), window)}
    crossing = conn.execute(load(crossing_query), window).all()
    partial: dict[tuple[str, str], list] = {}
    if crossing:
        ids = sorted({conversation for conversation, _ in crossing})
        rows = run_in_chunks(conn, "conversations_partial", ids, **window, **filters.params())
        for conversation, part_agent, tokens, cost, messages in rows:
            for key in ((conversation, part_agent), (conversation, ALL_AGENTS)):
                sums = partial.setdefault(key, [0, Decimal(0), 0])
                sums[0] += int(tokens)
                sums[1] += cost
                sums[2] += int(messages)
    candidates = []
    if top:
        query = query or _top_query(conn, org, agent, counts.get(agent, 0))
        candidates = [tuple(r) for r in conn.execute(load(query), {**window, "agent_id": agent, "limit": top})]
    for conversation, part_agent in crossing:
        found = partial.get((conversation, part_agent))
        if found and found[2] > 0:
            counts[part_agent] = counts.get(part_agent, 0) + 1
            if part_agent == agent:
                candidates.append((conversation, *found))
    best = sorted(candidates, key=lambda r: (-r[2], -int(r[1]), r[0]))[:top]
    if agent != ALL_AGENTS:  # the filtered report's conversations are the agent's
        counts = {agent: counts.get(agent, 0), ALL_AGENTS: counts.get(agent, 0)}
    return ConversationStats(counts, _top_frame(conn, org, best))


def summarize(
    conn: Connection,
    org: Tenant,
    period: Period,
    daily: pd.DataFrame | None = None,
    conversations: ConversationStats | None = None,
    filters: Filters = NO_FILTERS,
) -> Summary:
    """Totals of a period (of the filtered usage); they are the sums of its days, so the two can
    never disagree."""
    if daily is None:
        daily = _daily(conn, org, period, filters)
    if conversations is None:
        conversations = conversation_stats(conn, org, period, top=0, filters=filters)
    return Summary(
        total_tokens=int(daily["total_tokens"].sum()),
        prompt_tokens=int(daily["prompt_tokens"].sum()),
        completion_tokens=int(daily["completion_tokens"].sum()),
        total_cost=sum(daily["cost"], Decimal(0)),
        total_messages=int(daily["message_count"].sum()),
        total_conversations=conversations.counts.get(ALL_AGENTS, 0),
        unpriced_messages=int(daily["unpriced_count"].sum()),
        cache_read_tokens=int(daily["cache_read_tokens"].sum()),
        cache_write_tokens=int(daily["cache_write_tokens"].sum()),
        reasoning_tokens=int(daily["reasoning_tokens"].sum()),
        cache_savings=sum(daily["cache_savings"], Decimal(0)),
    )


def agent_budgets(conn: Connection, org: Tenant, filters: Filters = NO_FILTERS) -> pd.DataFrame:
    """Tokens each agent with a monthly budget used this calendar month (organization's zone);
    filtered: the budgets of the kept agents, counting the tokens of the kept models."""
    month = resolve_period("month", org.timezone)
    df = _frame(conn, "agent_budgets", org_id=org.id, day_from=month.start, day_to=month.end, **filters.params())
    df["budget_used"] = [  # type: ignore[assignment]  # Decimal cells, as in _daily
        Decimal(int(used)) / int(budget) if budget else Decimal(0)
        for used, budget in zip(df["month_tokens"], df["monthly_token_budget"], strict=True)
    ]
    return df


def month_forecast(
    conn: Connection, org: Tenant, period: Period, method: str = DEFAULT_METHOD, filters: Filters = NO_FILTERS
) -> MonthForecast:
    """The month of a month-to-date `period` (ending today, in its zone) projected to its last day
    from its days so far and the four weeks before today (of the filtered usage)."""
    today = period.end
    first = min(period.start, today - timedelta(days=LOOKBACK_DAYS))
    daily = _daily(conn, org, Period("custom", first, today, period.tz), filters)
    days = [date.fromisoformat(d) for d in daily["date"]]
    cost = dict(zip(days, daily["cost"], strict=True))
    tokens = {d: Decimal(int(t)) for d, t in zip(days, daily["total_tokens"], strict=True)}
    end = period_bounds("month", today)[1]
    cost_days = project(cost, today, period.start, end, method)
    token_days = project(tokens, today, period.start, end, method)
    return MonthForecast(
        end=end,
        cost=sum((v for _, v in cost_days), Decimal(0)),
        tokens=int(sum((v for _, v in token_days), Decimal(0)).to_integral_value()),
        method=method,
        days=tuple((d, c, t) for (d, c), (_, t) in zip(cost_days, token_days, strict=True) if d >= today),
    )


# Every usage sum, and total_tokens, per agent and per model.
PAIR_SUMS = [*(s.name for s in USAGE_SUMS), "total_tokens"]
AGENT_COLUMNS = ["agent_id", "agent_name", *PAIR_SUMS]
BUDGET_COLUMNS = ["monthly_token_budget", "month_tokens", "budget_used"]
MODEL_COLUMNS = ["model", *PAIR_SUMS]


def _sum_by(pairs: pd.DataFrame, key: str, columns: list[str]) -> pd.DataFrame:
    """Sums of `pairs` per `key`, costliest first (ties: tokens, then the key)."""
    if pairs.empty:
        return pd.DataFrame(columns=[key, *columns])
    sums = pairs.groupby(key, sort=False)[columns].sum().reset_index()
    return sums.sort_values(["cost", "total_tokens", key], ascending=[False, False, True], ignore_index=True)


def _agents_and_models(
    conn: Connection, org_id: int, window: dict, filters: Filters = NO_FILTERS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Usage per agent (with its name) and per model in a period's window (of the kept pairs)."""
    months = whole_months(window["day_from"], window["day_to"])
    pairs = _frame(conn, "by_agent_model", **window, **months, **filters.params())
    pairs["total_tokens"] = pairs["prompt_tokens"] + pairs["completion_tokens"]
    agents = _sum_by(pairs, "agent_id", PAIR_SUMS).merge(
        _frame(conn, "agent_names", org_id=org_id), on="agent_id", how="left"
    )
    # An agent id without a row in agents (imports always create one) shows as its id.
    agents["agent_name"] = [
        n if isinstance(n, str) else a for a, n in zip(agents["agent_id"], agents["agent_name"], strict=True)
    ]
    models = _sum_by(pairs, "model", PAIR_SUMS)
    return agents[AGENT_COLUMNS], models[MODEL_COLUMNS]


def billing_report(
    conn: Connection,
    org: Tenant,
    period: Period,
    top: int = DEFAULT_TOP,
    filters: Filters = NO_FILTERS,
    granularity: str | None = None,
    stack_by: str | None = None,
    group_key: str | None = None,
    group_top: int = DEFAULT_TAG_GROUPS,
) -> BillingReport:
    """Compute the full report of `period` for organization `org` from the aggregates, of the
    usage of `filters`' agents, models and tag values only, with the `series` of `granularity` if
    given (its buckets split by agent or model if `stack_by` says so) and the usage per value of
    tag key `group_key` (its `group_top` costliest) if given."""
    window = {"org_id": org.id, **period.window(org.timezone)}
    daily = _daily(conn, org, period, filters)
    conversations = conversation_stats(conn, org, period, top, filters)
    agents, models = _agents_and_models(conn, org.id, window, filters)
    agents["conversation_count"] = pd.array([conversations.counts.get(a, 0) for a in agents["agent_id"]], dtype="Int64")
    budgets = agent_budgets(conn, org, filters)
    # This month's budget use rides along with each agent that has a budget (missing otherwise).
    agents = agents.merge(budgets[["agent_id", *BUDGET_COLUMNS]], on="agent_id", how="left")
    summary = summarize(conn, org, period, daily, conversations)
    return BillingReport(
        period=period,
        summary=summary,
        daily=daily,
        agents=agents,
        models=models,
        conversations=conversations.top,
        budgets=budgets,
        forecast=month_forecast(conn, org, period, filters=filters) if period.name == "month" else None,
        unpriced_models=unpriced_models(conn, org, period, filters) if summary.unpriced_messages else (),
        filters=filters,
        granularity=granularity,
        series=None if granularity is None else usage_series(conn, org, period, granularity, filters, daily),
        stack_by=stack_by if granularity else None,
        stack=usage_stack(conn, org, period, granularity, stack_by, filters) if granularity and stack_by else None,
        group_key=group_key,
        tags=None if group_key is None else usage_by_tag(conn, org, period, group_key, filters, group_top, daily),
    )


TAG_COLUMNS = ["tag_value", "group", "value_count", *PAIR_SUMS]


def usage_by_tag(
    conn: Connection,
    org: Tenant,
    period: Period,
    key: str,
    filters: Filters = NO_FILTERS,
    top: int = DEFAULT_TAG_GROUPS,
    daily: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The period's (filtered) usage per value of pre-aggregated tag `key`: the `top` costliest
    values (ties: tokens, then the value in code point order), then one `other` row summing the
    rest (when there are more), then the `untagged` usage of events without the key (when any):
    the period's total (its `daily` rows) minus the values', every event having at most one value
    of a key. Each row's `value_count` says how many values it sums."""
    window = period.window(org.timezone)
    months = whole_months(window["day_from"], window["day_to"])
    rows = _frame(conn, "tag_groups", org_id=org.id, **window, **months, group_key=key, **filters.params())
    rows["total_tokens"] = rows["prompt_tokens"] + rows["completion_tokens"]
    tagged = _sum_by(rows, "tag_value", PAIR_SUMS)
    tagged = tagged[tagged["message_count"] > 0]
    if daily is None:
        daily = _daily(conn, org, period, filters)
    untagged = {c: daily[c].sum() - tagged[c].sum() for c in PAIR_SUMS}
    parts = [tagged.head(top).assign(group="value", value_count=1)]
    if len(tagged) > top:
        rest = tagged.iloc[top:]
        parts.append(pd.DataFrame([{**rest[PAIR_SUMS].sum().to_dict(), "group": "other", "value_count": len(rest)}]))
    if untagged["message_count"] > 0:
        parts.append(pd.DataFrame([{**untagged, "group": "untagged", "value_count": 0}]))
    frame = pd.concat(parts, ignore_index=True)
    frame["tag_value"] = [v if g == "value" else None for v, g in zip(frame["tag_value"], frame["group"], strict=True)]
    return frame[TAG_COLUMNS]


def unpriced_models(
    conn: Connection, org: Tenant, period: Period, filters: Filters = NO_FILTERS
) -> tuple[tuple[str, int, int], ...]:
    """Models of the period's (filtered) events that had no price, with their messages and tokens,
    most messages first (ties: model name in code point order)."""
    rows = conn.execute(
        load("unpriced_models"),
        {"org_id": org.id, "start": period.start_utc, "end": period.end_utc, **filters.params()},
    ).all()
    return tuple(sorted(((m, int(n), int(t)) for m, n, t in rows), key=lambda r: (-r[1], r[0])))


def summary_changes(current: Summary, previous: Summary) -> dict[str, Decimal | None]:
    """Percent change of the headline figures against the previous period (None: nothing to compare)."""
    pairs: dict[str, tuple[Decimal | int, Decimal | int]] = {
        "totalCost": (current.total_cost, previous.total_cost),
        "totalTokens": (current.total_tokens, previous.total_tokens),
        "avgCostPerMessage": (current.avg_cost_per_message, previous.avg_cost_per_message),
        "totalConversations": (current.total_conversations, previous.total_conversations),
    }
    return {key: (Decimal(now) - before) * 100 / before if before else None for key, (now, before) in pairs.items()}


SERIES_COLUMNS = ["start", *(s.name for s in USAGE_SUMS), "total_tokens"]
_QUARTER = timedelta(minutes=15)


def _hour_start(instant: datetime, zone: ZoneInfo) -> str:
    """The local hour of `instant` with its offset: a repeated hour (DST's end) is two buckets."""
    return instant.astimezone(zone).replace(minute=0, second=0, microsecond=0).isoformat()


def _day_bucket(day: date, granularity: str) -> str:
    """The first day of the bucket of local `day`: itself, its week's Monday or its month's 1st."""
    if granularity == "week":
        day -= timedelta(days=day.weekday())
    elif granularity == "month":
        day = day.replace(day=1)
    return day.isoformat()


def usage_series(
    conn: Connection,
    org: Tenant,
    period: Period,
    granularity: str,
    filters: Filters = NO_FILTERS,
    daily: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The period's usage per bucket of `granularity` in its zone, every bucket of the period
    (zeros included) oldest first: `start` is the bucket's local hour (with its UTC offset) or
    first day (weeks from Monday, calendar months), the first and last only counting period days.

    Days, weeks and months are sums of the report's days; hours are sums of quarter hours, which
    every zone's local hours are made of (offsets are whole quarter hours, Asia/Kolkata's too)."""
    if granularity == "hour":
        zone = ZoneInfo(period.tz)
        keys: list[str] = []
        instant = local_midnight_utc(period.start, period.tz)
        while instant < period.end_utc:
            key = _hour_start(instant, zone)
            if not keys or keys[-1] != key:
                keys.append(key)
            instant += _QUARTER
        rows = _quarters(conn, org, period, filters)
        rows["start"] = [_hour_start(b, zone) for b in rows["bucket"]]
        return _by_key(rows.drop(columns="bucket"), keys, "start")[SERIES_COLUMNS]
    if daily is None:
        daily = _daily(conn, org, period, filters)
    rows = daily.assign(start=[_day_bucket(date.fromisoformat(d), granularity) for d in daily["date"]])
    keys = list(dict.fromkeys(rows["start"]))
    return _by_key(rows.drop(columns=["date", "total_tokens"]), keys, "start")[SERIES_COLUMNS]


STACK_COLUMNS = ["start", "key", *(s.name for s in USAGE_SUMS), "total_tokens"]


def usage_stack(
    conn: Connection, org: Tenant, period: Period, granularity: str, by: str, filters: Filters = NO_FILTERS
) -> pd.DataFrame:
    """The series' usage per bucket (`start`, as usage_series names it) and agent or model (`by`,
    as `key`): a row per pair with usage, buckets oldest first, then costliest first (ties: key
    in code point order). Each bucket's rows add up to its series row."""
    column = STACKS[by]
    if granularity != "hour" and period.tz == org.timezone:
        rows = _frame(conn, "stacked_days", org_id=org.id, day_from=period.start, day_to=period.end, **filters.params())
        starts = [_day_bucket(date.fromisoformat(str(day)), granularity) for day in rows["day"]]
    else:
        rows = _frame(
            conn, "stacked_quarters", org_id=org.id, start=period.start_utc, end=period.end_utc, **filters.params()
        )
        zone = ZoneInfo(period.tz)
        starts = [
            _hour_start(b, zone) if granularity == "hour" else _day_bucket(b.astimezone(zone).date(), granularity)
            for b in rows["bucket"]
        ]
    rows = rows.assign(start=starts).rename(columns={column: "key"})
    sums = [s.name for s in USAGE_SUMS]
    stack = rows.groupby(["start", "key"], sort=False)[sums].sum().reset_index()
    for col in _SUM_COUNTS:
        stack[col] = stack[col].astype("int64")
    stack["total_tokens"] = stack["prompt_tokens"] + stack["completion_tokens"]
    # Hours sort as their UTC instants (a repeated local hour's two buckets keep their order).
    keys = [
        (_bucket_instant(start), -cost, str(key).encode())
        for start, cost, key in zip(stack["start"], stack["cost"], stack["key"], strict=True)
    ]
    order = sorted(range(len(stack)), key=keys.__getitem__)
    return stack.iloc[order].reset_index(drop=True)[STACK_COLUMNS]


def _bucket_instant(start: Any) -> datetime:
    """A bucket's start (`2026-10-25` or `2026-10-25T02:00:00+02:00`) as an instant, for ordering."""
    instant = datetime.fromisoformat(str(start))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)
