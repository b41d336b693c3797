"""Realistic demo usage: agents, models and conversations over a year and more, ending now."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

AGENTS = [
    # id, name, models with weights, monthly token budget (None: no budget)
    ("agent-support", "Customer Support Bot", {"gpt-4o-mini": 6, "gpt-4o": 2, "claude-3-5-haiku": 2}, 120_000_000),
    ("agent-sales", "Sales Assistant", {"gpt-4o": 5, "claude-sonnet-4": 3}, 40_000_000),
    ("agent-onboarding", "Onboarding Guide", {"gpt-4.1-mini": 7, "gemini-2.0-flash": 3}, None),
    ("agent-it", "Internal IT Helpdesk", {"gpt-4.1-nano": 6, "gpt-4o-mini": 3, "acme-llm-internal": 1}, 15_000_000),
    ("agent-docs", "Docs Q&A", {"gemini-2.5-flash": 5, "claude-3-5-haiku": 3}, None),
    ("agent-billing", "Billing Assistant", {"claude-sonnet-4": 4, "gpt-4.1": 3}, None),
]
TOPICS = [
    "Refund request",
    "Password reset",
    "Invoice question",
    "Plan upgrade",
    "API error 429",
    "SSO setup",
    "Data export",
    "Shipping delay",
    "Pricing for teams",
    "Bug report",
    "Webhook retries",
    "Account deletion",
    "Onboarding call",
    "VPN access",
    "Laptop replacement",
]


def generate_events(
    days: int = 400, conversations_per_day: float = 20.0, seed: int = 7, end: datetime | None = None
) -> Iterator[dict]:
    """Yield import-ready event dicts in time order; the same seed gives the same data."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    start = (end - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    n = 0
    for day in range(days + 1):
        day_start = start + timedelta(days=day)
        growth = 0.5 + day / days  # usage roughly triples over the span
        weekly = 0.45 if day_start.weekday() >= 5 else 1.0
        for c in range(max(0, round(rng.gauss(conversations_per_day * growth * weekly, 3)))):
            agent_id, agent_name, models, _ = rng.choices(AGENTS, weights=[5, 2, 2, 2, 2, 1])[0]
            model = rng.choices(list(models), weights=list(models.values()))[0]
            # Chats cluster in working hours; each lasts minutes to a few hours.
            at = day_start + timedelta(hours=min(23.5, max(0.0, rng.gauss(14, 3.5))))
            conv_id = f"conv-{seed}-{day}-{c}"
            title = f"{rng.choice(TOPICS)} #{rng.randint(1000, 9999)}"
            context = rng.randint(300, 1500)
            cached = 0  # turns after the first read the previous prompt from the provider's cache
            for _ in range(rng.randint(2, 14)):
                at += timedelta(minutes=rng.expovariate(1 / 6))
                if at > end:
                    break
                completion = int(rng.lognormvariate(math.log(220), 0.6))
                n += 1
                yield {
                    "event_id": f"demo-{seed}-{n}",
                    "timestamp": at.isoformat(),
                    "agent_id": agent_id,
                    "agent_name": agent_name,
                    "conversation_id": conv_id,
                    "conversation_title": title,
                    "model": model,
                    "prompt_tokens": context,
                    "cache_read_tokens": cached,
                    "completion_tokens": completion,
                }
                cached = context
                context += completion + rng.randint(20, 200)  # the transcript grows every turn


def demo_budgets() -> dict[str, int]:
    return {agent_id: budget for agent_id, _, _, budget in AGENTS if budget is not None}
