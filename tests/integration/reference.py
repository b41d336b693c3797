"""An independent reference: the billing report computed in plain Python over the raw events."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from billing_dash.models import model_prices

TEN = Decimal("1e-10")
SIX = Decimal("0.000001")
TWO = Decimal("0.01")
OFFSETS = ["Z", "+00:00", "+05:30", "-08:00", "+13:45", "-03:00"]


def r6(x: Decimal) -> float:
    return float(x.quantize(SIX, rounding=ROUND_HALF_EVEN))


def r2(x: Decimal) -> float:
    return float(x.quantize(TWO, rounding=ROUND_HALF_EVEN))


# Which events a filtered report counts: a predicate over the raw event.
Keep = Callable[[dict], bool]


def keep_only(agents: tuple[str, ...] = (), models: tuple[str, ...] = ()) -> Keep:
    """The events of any of `agents` (all when empty) and any of `models` (all when empty)."""
    return lambda e: (not agents or e["agent_id"] in agents) and (not models or e["model"] in models)


class Scenario:
    """Random events around `now` with their own priced models (two price periods each)."""

    def __init__(
        self,
        seed: int,
        n: int,
        now: datetime,
        days: int = 420,
        chat_hours: float | None = None,
        token_parts: bool = True,
    ) -> None:
        """`chat_hours`: each conversation's messages fall within that many hours (as in real
        chats); by default they are spread over all `days`, so most cross any period's edges.
        `token_parts`: False gives flat prompt and completion counts only (as before the token-parts migration, 0012)."""
        self.seed = seed
        rng = random.Random(seed)
        tag = uuid.uuid4().hex[:8]
        self.change = now - timedelta(days=days // 2)
        # model -> [(effective_from, prompt, completion, cache read, cache write per million)]; a
        # cache price of None bills those tokens at the prompt price.
        self.prices = {
            f"ref-a-{tag}": [
                (datetime(2000, 1, 1, tzinfo=UTC), Decimal("2.5"), Decimal("10"), None, None),
                (self.change, Decimal("1.25"), Decimal("5"), Decimal("0.125"), Decimal("1.5625")),
            ],
            f"ref-b-{tag}": [
                (datetime(2000, 1, 1, tzinfo=UTC), Decimal("0.075"), Decimal("0.3"), Decimal("0.01875"), None)
            ],
        }
        self.unpriced_model = f"unpriced-{tag}"
        models = [*self.prices, self.unpriced_model]
        agents = [(f"agent-{i}", f"Agent {i}") for i in range(5)]
        convs = [(f"conv-{i}", f"Conversation {i}", rng.choice(agents)[0]) for i in range(n // 6 + 1)]
        starts = {c[0]: now - timedelta(seconds=rng.randint(0, days * 86400)) for c in convs}
        self.events: list[dict] = []
        for i in range(n):
            conv_id, title, agent_id = rng.choice(convs)
            if chat_hours is None:
                instant = now - timedelta(seconds=rng.randint(0, days * 86400))
            else:
                instant = min(now, starts[conv_id] + timedelta(seconds=rng.randint(0, int(chat_hours * 3600))))
            if rng.random() < 0.05:  # now and then another agent answers in the conversation
                agent_id = rng.choice(agents)[0]
            offset = rng.choice(OFFSETS)
            shown = instant.astimezone(timezone(_offset(offset))).isoformat()
            event = {
                "event_id": f"e-{seed}-{i}",
                "timestamp": shown.replace("+00:00", "Z") if offset == "Z" else shown,
                "agent_id": agent_id,
                "agent_name": dict(agents)[agent_id],
                "conversation_id": conv_id,
                "conversation_title": title,
                "model": rng.choice(models),
                **(
                    _token_counts(rng)
                    if token_parts
                    else {"prompt_tokens": rng.randint(0, 20000), "completion_tokens": rng.randint(0, 4000)}
                ),
            }
            if rng.random() < 0.4:
                event["cost"] = str(Decimal(rng.randint(0, 10**9)).scaleb(-rng.randint(4, 12)))
            self.events.append(event)

    def store_prices(self, conn: sa.Connection) -> None:
        conn.execute(
            model_prices.insert(),
            [
                {
                    "model": m,
                    "effective_from": start,
                    "prompt_per_million": p,
                    "completion_per_million": c,
                    "cache_read_per_million": read,
                    "cache_write_per_million": write,
                }
                for m, rows in self.prices.items()
                for start, p, c, read, write in rows
            ],
        )

    def cost(self, e: dict) -> tuple[Decimal, bool, Decimal]:
        """The event's cost, whether it is priced, and what its cache reads saved."""
        prompt, completion, read, write, _ = tokens_of(e)
        ts = datetime.fromisoformat(e["timestamp"])
        rows = [r for r in self.prices.get(e["model"], []) if r[0] <= ts]
        price = rows[-1] if rows else None
        savings = Decimal(0)
        if price is not None and price[3] is not None:
            savings = (read * (price[1] - price[3]) / 1_000_000).quantize(TEN)
        if "cost" in e:
            return Decimal(e["cost"]).quantize(TEN, rounding=ROUND_HALF_EVEN), True, savings
        if price is None:
            return Decimal(0), False, savings
        _, p, c, rp, wp = price
        amount = (
            (prompt - read - write) * p
            + read * (p if rp is None else rp)
            + write * (p if wp is None else wp)
            + completion * c
        )
        return (amount / 1_000_000).quantize(TEN), True, savings

    def report(self, start: date, end: date, tz: str, limit: int = 10, keep: Keep | None = None) -> dict:
        """What the API must answer for local dates start..end in tz, rounded as the API rounds;
        `keep`: only the events it accepts (a filter's report)."""
        zone = ZoneInfo(tz)
        day = defaultdict(lambda: [0, 0, Decimal(0), 0])
        agent = defaultdict(lambda: [0, Decimal(0), 0, set()])
        model = defaultdict(lambda: [0, Decimal(0), 0, 0])
        # cache reads, cache writes, reasoning tokens, cache savings: per day, agent, model, in all
        parts = {kind: defaultdict(lambda: [0, 0, 0, Decimal(0)]) for kind in ("day", "agent", "model", "all")}
        conv = defaultdict(lambda: [0, Decimal(0), 0])
        conversations = set()
        for e in self.events:
            local = datetime.fromisoformat(e["timestamp"]).astimezone(zone).date()
            if not start <= local <= end or (keep is not None and not keep(e)):
                continue
            cost, priced, savings = self.cost(e)
            prompt, completion, read, write, reasoning = tokens_of(e)
            for kind, key in (("day", local), ("agent", e["agent_id"]), ("model", e["model"]), ("all", None)):
                row = parts[kind][key]
                row[0] += read
                row[1] += write
                row[2] += reasoning
                row[3] += savings
            tokens = prompt + completion
            d = day[local]
            d[0] += prompt
            d[1] += completion
            d[2] += cost
            d[3] += 1
            a = agent[e["agent_id"]]
            a[0] += tokens
            a[1] += cost
            a[2] += 1
            a[3].add(e["conversation_id"])
            m = model[e["model"]]
            m[0] += tokens
            m[1] += cost
            m[2] += 1
            m[3] += 0 if priced else 1
            c = conv[e["conversation_id"]]
            c[0] += tokens
            c[1] += cost
            c[2] += 1
            conversations.add(e["conversation_id"])
        dates = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        total_tokens = sum(d[0] + d[1] for d in day.values())
        total_cost = sum((d[2] for d in day.values()), Decimal(0))
        messages = sum(d[3] for d in day.values())
        return {
            "summary": {
                "totalTokens": total_tokens,
                "totalCost": r6(total_cost),
                "totalMessages": messages,
                "totalConversations": len(conversations),
                "avgTokensPerMessage": r2(Decimal(total_tokens) / messages) if messages else 0.0,
                "avgCostPerMessage": r6(total_cost / messages) if messages else 0.0,
                **_parts(parts["all"][None]),
            },
            "usageByDay": [
                {
                    "date": d.isoformat(),
                    "totalTokens": day[d][0] + day[d][1],
                    "promptTokens": day[d][0],
                    "completionTokens": day[d][1],
                    "cost": r6(day[d][2]),
                    "messageCount": day[d][3],
                    **_parts(parts["day"][d]),
                }
                for d in dates
            ],
            "usageByAgent": [
                {
                    "agentId": k,
                    "totalTokens": v[0],
                    "cost": r6(v[1]),
                    "messageCount": v[2],
                    "conversationCount": len(v[3]),
                    **_parts(parts["agent"][k]),
                }
                for k, v in sorted(agent.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
            ],
            "usageByModel": [
                {
                    "model": k,
                    "totalTokens": v[0],
                    "cost": r6(v[1]),
                    "messageCount": v[2],
                    "avgTokensPerMessage": r2(Decimal(v[0]) / v[2]),
                    "unpricedMessageCount": v[3],
                    **_parts(parts["model"][k]),
                }
                for k, v in sorted(model.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
            ],
            "topConversations": [
                {"conversationId": k, "totalTokens": v[0], "cost": r6(v[1]), "messageCount": v[2]}
                for k, v in sorted(conv.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:limit]
            ],
        }

    def conversations(
        self, start: date, end: date, tz: str, sort: str = "cost", keep: Keep | None = None
    ) -> list[dict]:
        """Every conversation with a message on local dates start..end in tz, in the API's `sort`
        order: in-period usage, the whole conversation's first and last message and its newest
        event's agent (as the conversation detail gives them), money exact. `keep`: only the
        conversations and usage of the events it accepts (first, last and agent stay the whole
        conversation's)."""
        zone = ZoneInfo(tz)
        life: dict[str, list] = {}
        inside = defaultdict(lambda: [0, Decimal(0), 0])
        for e in self.events:
            ts = datetime.fromisoformat(e["timestamp"]).astimezone(UTC)
            conv = e["conversation_id"]
            if conv not in life:
                life[conv] = [ts, ts, e]
            life[conv][0] = min(life[conv][0], ts)
            if ts >= life[conv][1]:
                life[conv][1], life[conv][2] = ts, e
            if start <= ts.astimezone(zone).date() <= end and (keep is None or keep(e)):
                c = inside[conv]
                c[0] += sum(tokens_of(e)[:2])
                c[1] += self.cost(e)[0]
                c[2] += 1
        rows = [
            {
                "conversationId": conv,
                "title": life[conv][2]["conversation_title"],
                "agentId": life[conv][2]["agent_id"],
                "totalTokens": tokens,
                "cost": cost,
                "messageCount": messages,
                "firstMessageAt": life[conv][0],
                "lastMessageAt": life[conv][1],
            }
            for conv, (tokens, cost, messages) in inside.items()
        ]
        keys = {
            "cost": lambda r: (-r["cost"], -r["totalTokens"]),
            "tokens": lambda r: (-r["totalTokens"], -r["cost"]),
            "messages": lambda r: (-r["messageCount"], -r["cost"], -r["totalTokens"]),
            "last": lambda r: (-r["lastMessageAt"].timestamp(), -r["cost"], -r["totalTokens"]),
        }
        return sorted(rows, key=lambda r: (*keys[sort](r), r["conversationId"]))

    def messages(self, conversation_id: str) -> list[dict]:
        """The conversation's events oldest first (ties: event id), as the detail lists them."""
        events = [e for e in self.events if e["conversation_id"] == conversation_id]
        return sorted(events, key=lambda e: (datetime.fromisoformat(e["timestamp"]), e["event_id"]))

    def series(self, start: date, end: date, tz: str, granularity: str, keep: Keep | None = None) -> list[dict]:
        """The `series` of local dates start..end in tz: every bucket (local hour, day, week from
        Monday, calendar month) of the period, oldest first, zeros included."""
        zone = ZoneInfo(tz)
        bucket = _bucketer(zone, granularity)
        # Every bucket of the period: walk its instants a quarter hour at a time (every zone's
        # offset is whole quarter hours).
        keys: list[str] = []
        instant = datetime(start.year, start.month, start.day, tzinfo=zone).astimezone(UTC)
        while instant.astimezone(zone).date() <= end:
            if instant.astimezone(zone).date() >= start and (not keys or keys[-1] != bucket(instant)):
                keys.append(bucket(instant))
            instant += timedelta(minutes=15)
        sums = self._bucket_sums(start, end, zone, bucket, keep, lambda e: None)
        return [{"start": k, **_usage(sums.get((k, None), _ZERO))} for k in keys]

    def _bucket_sums(self, start, end, zone, bucket, keep, key_of) -> dict[tuple, list]:
        """Usage per (bucket, key_of(event)) of the kept events of local dates start..end: prompt,
        completion, cost, messages, cache reads, cache writes, reasoning, cache savings."""
        sums: dict[tuple, list] = {}
        for e in self.events:
            ts = datetime.fromisoformat(e["timestamp"])
            if not start <= ts.astimezone(zone).date() <= end or (keep is not None and not keep(e)):
                continue
            cost, _, savings = self.cost(e)
            prompt, completion, read, write, reasoning = tokens_of(e)
            row = sums.setdefault((bucket(ts), key_of(e)), list(_ZERO))
            for i, value in enumerate((prompt, completion, cost, 1, read, write, reasoning, savings)):
                row[i] += value
        return sums

    def stack(
        self, start: date, end: date, tz: str, granularity: str, by: str, keep: Keep | None = None
    ) -> dict[str, list[dict]]:
        """Each series bucket's `stack`: its usage per agent or model (`by`), costliest first (ties:
        the key's code points), only those with usage; buckets without usage are left out."""
        zone = ZoneInfo(tz)
        sums = self._bucket_sums(
            start, end, zone, _bucketer(zone, granularity), keep, lambda e: e["agent_id" if by == "agent" else "model"]
        )
        stacks: dict[str, list[dict]] = defaultdict(list)
        for (b, key), v in sorted(sums.items(), key=lambda kv: (-kv[1][2], kv[0][1].encode())):
            stacks[b].append({"key": key, **_usage(v)})
        return dict(stacks)


_ZERO = (0, 0, Decimal(0), 0, 0, 0, 0, Decimal(0))


def _usage(v) -> dict:
    """A series row's usage keys from _bucket_sums' sums."""
    return {
        "totalTokens": v[0] + v[1],
        "promptTokens": v[0],
        "completionTokens": v[1],
        "cost": r6(v[2]),
        "messageCount": v[3],
        **_parts(v[4:]),
    }


def _bucketer(zone: ZoneInfo, granularity: str):
    """The series bucket of an instant: its local hour (with its offset: a repeated hour is two
    buckets), or the first local date of its day, week from Monday or calendar month."""

    def bucket(instant: datetime) -> str:
        local = instant.astimezone(zone)
        if granularity == "hour":
            return local.replace(minute=0, second=0, microsecond=0).isoformat()
        day = local.date()
        if granularity == "week":
            while day.strftime("%A") != "Monday":
                day -= DAY
        elif granularity == "month":
            day = month_days(day)[0]
        return day.isoformat()

    return bucket


def _parts(row: list) -> dict:
    return {
        "cacheReadTokens": row[0],
        "cacheWriteTokens": row[1],
        "reasoningTokens": row[2],
        "cacheSavings": r6(row[3]),
    }


def _token_counts(rng: random.Random) -> dict:
    """An event's token counts: flat, and now and then as a provider's usage object, written from
    the canonical counts by each provider's documented meaning (the inverse of what ingest does)."""
    prompt, completion = rng.randint(0, 20000), rng.randint(0, 4000)
    read = write = reasoning = 0
    if rng.random() < 0.4:
        read = rng.randint(0, prompt)
    if rng.random() < 0.2:
        write = rng.randint(0, prompt - read)
    if rng.random() < 0.3:
        reasoning = rng.randint(0, completion)
    form = rng.random()
    if form < 0.1 and not reasoning:  # Anthropic: input_tokens is what the cache neither read nor wrote
        usage = {
            "input_tokens": prompt - read - write,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
            "output_tokens": completion,
        }
        return {"provider": "anthropic", "usage": usage}
    if form < 0.2 and not write:  # OpenAI chat completions: the details are parts of the totals
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": read},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
        return {"provider": "openai", "usage": usage}
    if form < 0.3 and not write:  # Gemini: thoughts beside the candidates, cached content inside the prompt
        usage = {
            "promptTokenCount": prompt,
            "cachedContentTokenCount": read,
            "candidatesTokenCount": completion - reasoning,
            "thoughtsTokenCount": reasoning,
        }
        return {"provider": "google", "usage": usage}
    counts = {"prompt_tokens": prompt, "completion_tokens": completion}
    for name, value in (("cache_read_tokens", read), ("cache_write_tokens", write), ("reasoning_tokens", reasoning)):
        if value:
            counts[name] = value
    return counts


def tokens_of(e: dict) -> tuple[int, int, int, int, int]:
    """prompt, completion, cache read, cache write, reasoning of an event as _token_counts wrote it."""
    u = e.get("usage")
    if e.get("provider") == "anthropic":
        read, write = u["cache_read_input_tokens"], u["cache_creation_input_tokens"]
        return u["input_tokens"] + read + write, u["output_tokens"], read, write, 0
    if e.get("provider") == "openai":
        return (
            u["prompt_tokens"],
            u["completion_tokens"],
            u["prompt_tokens_details"]["cached_tokens"],
            0,
            u["completion_tokens_details"]["reasoning_tokens"],
        )
    if e.get("provider") == "google":
        thoughts = u["thoughtsTokenCount"]
        return u["promptTokenCount"], u["candidatesTokenCount"] + thoughts, u["cachedContentTokenCount"], 0, thoughts
    return (
        e["prompt_tokens"],
        e["completion_tokens"],
        e.get("cache_read_tokens", 0),
        e.get("cache_write_tokens", 0),
        e.get("reasoning_tokens", 0),
    )


def _offset(text: str) -> timedelta:
    if text == "Z":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    hours, minutes = text[1:].split(":")
    return sign * timedelta(hours=int(hours), minutes=int(minutes))


def budget_use(
    events: list[dict], cost_of, start: date, end: date, tz: str, scope: str, scope_id: str
) -> tuple[Decimal, int]:
    """Cost and tokens of the events of a budget's scope whose local date in tz is start..end."""
    zone = ZoneInfo(tz)
    cost, tokens = Decimal(0), 0
    for e in events:
        if not start <= datetime.fromisoformat(e["timestamp"]).astimezone(zone).date() <= end:
            continue
        if (scope == "agent" and e["agent_id"] != scope_id) or (scope == "model" and e["model"] != scope_id):
            continue
        cost += cost_of(e)[0]
        prompt, completion, *_ = tokens_of(e)
        tokens += prompt + completion
    return cost, tokens


# --- calendars, walked a day at a time (no month arithmetic shared with billing_dash.periods) ---
DAY = timedelta(days=1)


def month_days(day: date) -> list[date]:
    """Every day of the month of `day`, found by stepping a day at a time."""
    first = day
    while (first - DAY).month == day.month:
        first -= DAY
    days = [first]
    while (days[-1] + DAY).month == day.month:
        days.append(days[-1] + DAY)
    return days


def quarter_days(day: date) -> list[date]:
    """Every day of the calendar quarter of `day` (Jan-Mar, Apr-Jun, Jul-Sep, Oct-Dec)."""
    quarter = {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2, 7: 3, 8: 3, 9: 3, 10: 4, 11: 4, 12: 4}
    first = day
    while quarter[(first - DAY).month] == quarter[day.month] and (first - DAY).year == day.year:
        first -= DAY
    days = [first]
    while quarter[(days[-1] + DAY).month] == quarter[day.month] and (days[-1] + DAY).year == day.year:
        days.append(days[-1] + DAY)
    return days


def named_period_dates(name: str, today: date) -> tuple[date, date]:
    """First and last local day of a named period on local date `today`, as the README defines them."""
    if name == "today":
        return today, today
    if name == "week":
        first = today
        while first.strftime("%A") != "Monday":
            first -= DAY
        return first, today
    if name == "month":
        return month_days(today)[0], today
    if name == "year":
        return date(today.year, 1, 1), today
    if name in ("last_7_days", "last_30_days"):
        return today - (int(name.split("_")[1]) - 1) * DAY, today
    if name == "last_month":
        days = month_days(month_days(today)[0] - DAY)
        return days[0], days[-1]
    if name == "last_quarter":
        days = quarter_days(quarter_days(today)[0] - DAY)
        return days[0], days[-1]
    raise ValueError(name)


def previous_dates(name: str, start: date, end: date) -> tuple[date, date]:
    """What a period's change badges compare with: month to date the same days of the previous month
    (clamped to its end), last month/quarter the one before, others the same length just before."""
    if name == "month":
        days = [d for d in month_days(start - DAY) if d.day <= end.day]
        return days[0], days[-1]
    if name in ("last_month", "last_quarter"):
        return named_period_dates(name, start)
    return start - (end - start) - DAY, start - DAY
