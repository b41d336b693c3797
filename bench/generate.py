"""Fast, deterministic, streaming generator of benchmark usage events as import-ready JSONL."""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from bisect import bisect_right
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from billing_dash.demo import TOPICS  # the same conversation titles as the demo data

DAYS = 365
AGENT_COUNT = 50
MESSAGES_PER_CONVERSATION = 50
EXPLICIT_COST_SHARE = 0.30
# A conversation's messages fall within this many hours of its first one.
MAX_CONVERSATION_HOURS = 4.0
MIN_CONVERSATION_HOURS = 0.25
MAX_CONTEXT_TOKENS = 32_000
# Prompt caching as agents see it: a message after the first reads the conversation so far (its
# previous prompt) from the provider's cache this often (a cache that expired reads nothing), and
# Claude models, whose caching is explicit, write the rest of the prompt to the cache.
CACHE_READ_SHARE = 0.6
CACHE_WRITE_PREFIX = "claude-"
# Messages of a thinking model spend this share of their output reasoning, this often.
REASONING_SHARE = 0.2
# With tags (opt-in): 90% of conversations carry a customer (Zipf-weighted) and an environment,
# the keys `python -m bench.run --tags` pre-aggregates.
TAG_CUSTOMERS = 300
TAGGED_SHARE = 0.9
TAG_KEYS = ("customer", "env")

# Eight models of the seeded price table (billing_dash/migrations/versions/0001_initial.py SEED_PRICES),
# with their USD list prices per million (prompt, completion) tokens. Our own copy: the explicit
# `cost` strings are computed from it, and the events without one are priced by the app's table.
MODELS: dict[str, tuple[str, str]] = {
    "gpt-4o": ("2.50", "10.00"),
    "gpt-4o-mini": ("0.15", "0.60"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "gpt-4.1-nano": ("0.10", "0.40"),
    "claude-sonnet-4": ("3.00", "15.00"),
    "claude-3-5-haiku": ("0.80", "4.00"),
    "gemini-2.5-flash": ("0.30", "2.50"),
    "mistral-small": ("0.20", "0.60"),
}
ROLES = [
    "Support",
    "Sales",
    "Onboarding",
    "IT Helpdesk",
    "Docs Q&A",
    "Billing",
    "HR",
    "Legal Review",
    "Marketing Copy",
    "Data Analyst",
]


@dataclass(frozen=True)
class GenerationStats:
    """What `generate` wrote."""

    path: str
    events: int
    conversations: int
    agents: int
    models: int
    explicit_cost_events: int
    cache_read_events: int
    cache_write_events: int
    reasoning_events: int
    first_ts: str
    last_ts: str
    end: str
    seed: int
    seconds: float
    bytes: int


def _price_units(price: str) -> int:
    """USD per million tokens as integer units of 1e-10 USD per token (exact for the seeded prices)."""
    whole, _, frac = price.partition(".")
    micro = int(whole) * 1_000_000 + int((frac + "000000")[:6])  # 1e-6 USD per million tokens
    if micro % 100:
        raise ValueError(f"price {price} has more than 4 decimals")
    return micro // 100  # 1e-6 USD per 1e6 tokens = 1e-12 USD per token = 1/100 of a 1e-10 unit


def agents() -> list[tuple[str, str, int, int]]:
    """The 50 agents: (id, display name, primary model index, secondary model index)."""
    out = []
    for i in range(AGENT_COUNT):
        role = ROLES[i % len(ROLES)]
        out.append(
            (f"agent-{i + 1:02d}", f"{role} Bot {i // len(ROLES) + 1}", i % len(MODELS), (i * 3 + 1) % len(MODELS))
        )
    return out


def _fmt_cost(units: int) -> str:
    return f"{units // 10**10}.{units % 10**10:010d}"


def generate(
    path: str | Path,
    events: int,
    seed: int = 1,
    end: datetime | None = None,
    days: int = DAYS,
    per_conversation: int = MESSAGES_PER_CONVERSATION,
    tags: bool = False,
) -> GenerationStats:
    """Write `events` events to `path` (JSONL), `events // per_conversation` conversations spread
    over the `days` days ending at `end` (default: now, to the minute), each within a few hours.

    The same seed and end give the same bytes. Memory stays flat: conversation start times are
    drawn already sorted (sequential uniform order statistics), one conversation at a time.
    `tags`: conversations also carry tags (TAG_KEYS), drawn from a generator of their own, so the
    events are otherwise the same as without them.
    """
    if events < 1:
        raise ValueError("events must be >= 1")
    started = time.perf_counter()
    rng = random.Random(seed)
    rand = rng.random
    end = (end or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    end_s = int(end.timestamp())
    begin_s = end_s - days * 86400
    # Starts leave room for the longest conversation, so nothing lands after `end`.
    span = days * 86400 - int(MAX_CONVERSATION_HOURS * 3600) - 60

    models = list(MODELS)
    prompt_units = [_price_units(MODELS[m][0]) for m in models]
    completion_units = [_price_units(MODELS[m][1]) for m in models]
    agent_list = agents()
    weights = [1 / (i + 1) ** 0.8 for i in range(len(agent_list))]  # a few busy agents, a long tail
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    conversations = max(1, events // per_conversation)
    base, extra = divmod(events, conversations)
    jitter_cap = max(0, min(base - 1, base // 2))

    tag_rng = random.Random(seed + 1)
    customers = [f"customer-{i:03d}" for i in range(TAG_CUSTOMERS)]
    customer_weights = [1 / (i + 1) for i in range(TAG_CUSTOMERS)]

    day_cache: dict[int, str] = {}
    epoch = datetime(1970, 1, 1)

    def day_str(day: int) -> str:
        s = day_cache.get(day)
        if s is None:
            s = (epoch + timedelta(days=day)).strftime("%Y-%m-%d")
            day_cache[day] = s
        return s

    # The token parts (cache reads and writes, reasoning) follow the counts when not 0.
    line_plain = (
        '{"event_id":"ev-%d-%d","timestamp":"%sT%02d:%02d:%02dZ",%s,"model":"%s",'
        '"prompt_tokens":%d,"completion_tokens":%d%s}\n'
    )
    line_cost = (
        '{"event_id":"ev-%d-%d","timestamp":"%sT%02d:%02d:%02dZ",%s,"model":"%s",'
        '"prompt_tokens":%d,"completion_tokens":%d%s,"cost":"%s"}\n'
    )
    writes_cache = [m.startswith(CACHE_WRITE_PREFIX) for m in models]
    lognorm_mu, lognorm_sigma = math.log(220), 0.6
    gauss = rng.gauss
    exp = math.exp

    written = explicit = cache_reads = cache_writes = reasoning_events = 0
    first_ts = last_ts = ""
    v = 1.0  # descending order statistic; 1 - v ascends through [0, 1)
    jitter = 0
    n_bytes = 0
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        for c in range(conversations):
            # Sizes: exactly `events` in all, ~per_conversation each, varied in +/- pairs.
            size = base + (1 if c < extra else 0)
            if c % 2 == 0:
                jitter = int(rand() * (jitter_cap + 1)) if c + 1 < conversations else 0
                size += jitter
            else:
                size -= jitter
            v *= rand() ** (1.0 / (conversations - c))
            start = begin_s + int((1.0 - v) * span)
            agent_id, agent_name, primary, secondary = agent_list[bisect_right(cum, rand() * total)]
            fixed = (
                f'"agent_id":"{agent_id}","agent_name":"{agent_name}","conversation_id":"conv-{seed}-{c:08d}",'
                f'"conversation_title":"{TOPICS[int(rand() * len(TOPICS))]} #{c + 1}"'
            )
            if tags and tag_rng.random() < TAGGED_SHARE:
                customer = tag_rng.choices(customers, customer_weights)[0]
                env = "prod" if tag_rng.random() < 0.9 else "staging"
                fixed += f',"tags":{{"customer":"{customer}","env":"{env}"}}'
            duration = MIN_CONVERSATION_HOURS * 3600 + rand() * (MAX_CONVERSATION_HOURS - MIN_CONVERSATION_HOURS) * 3600
            offsets = sorted(int(rand() * duration) for _ in range(size - 1))
            offsets.insert(0, 0)
            context = 200 + int(rand() * 1800)
            previous = 0  # the previous message's prompt: what a cache may hold
            lines = []
            for off in offsets:
                ts = start + off
                days_since, sod = divmod(ts, 86400)
                h, rem = divmod(sod, 3600)
                m, s = divmod(rem, 60)
                mi = secondary if rand() < 0.1 else primary
                completion = int(exp(lognorm_mu + lognorm_sigma * gauss(0.0, 1.0)))
                written += 1
                parts = ""
                read = previous if previous and rand() < CACHE_READ_SHARE else 0
                if read:
                    cache_reads += 1
                    parts = f',"cache_read_tokens":{read}'
                if writes_cache[mi] and context > read:
                    cache_writes += 1
                    parts += f',"cache_write_tokens":{context - read}'
                if rand() < REASONING_SHARE:
                    reasoning_events += 1
                    parts += f',"reasoning_tokens":{int(completion * (0.3 + 0.5 * rand()))}'
                previous = context
                if rand() < EXPLICIT_COST_SHARE:
                    explicit += 1
                    units = context * prompt_units[mi] + completion * completion_units[mi]
                    lines.append(
                        line_cost
                        % (
                            seed,
                            written,
                            day_str(days_since),
                            h,
                            m,
                            s,
                            fixed,
                            models[mi],
                            context,
                            completion,
                            parts,
                            _fmt_cost(units),
                        )
                    )
                else:
                    lines.append(
                        line_plain
                        % (seed, written, day_str(days_since), h, m, s, fixed, models[mi], context, completion, parts)
                    )
                context = min(MAX_CONTEXT_TOKENS, context + completion + 20 + int(rand() * 180))
            if c == 0:
                first_ts = lines[0].split('"timestamp":"', 1)[1][:20]
            last_ts = lines[-1].split('"timestamp":"', 1)[1][:20]
            chunk = "".join(lines)
            n_bytes += len(chunk)
            out.write(chunk)
    return GenerationStats(
        path=str(path),
        events=written,
        conversations=conversations,
        agents=len(agent_list),
        models=len(models),
        explicit_cost_events=explicit,
        cache_read_events=cache_reads,
        cache_write_events=cache_writes,
        reasoning_events=reasoning_events,
        first_ts=first_ts,
        last_ts=last_ts,
        end=end.isoformat(),
        seed=seed,
        seconds=round(time.perf_counter() - started, 3),
        bytes=n_bytes,
    )


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.generate --events N --out FILE [--seed S] [--end ISO] [--tags]`."""
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument("--events", type=int, required=True, help="number of events (messages)")
    parser.add_argument("--out", required=True, help="JSONL file to write")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", help="ISO instant the data ends at (default: now)")
    parser.add_argument("--tags", action="store_true", help="conversations carry tags (customer, env)")
    args = parser.parse_args(argv)
    end = datetime.fromisoformat(args.end) if args.end else None
    if end is not None and end.tzinfo is None:
        parser.error("--end needs a UTC offset or Z")
    stats = generate(args.out, args.events, args.seed, end, tags=args.tags)
    print(
        f"wrote {stats.events:,} events ({stats.conversations:,} conversations, {stats.bytes / 1e6:.1f} MB) "
        f"to {stats.path} in {stats.seconds:.1f} s ({stats.events / stats.seconds:,.0f} events/s)",
        file=sys.stderr,
    )
    print(asdict(stats))


if __name__ == "__main__":
    main()
