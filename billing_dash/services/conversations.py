"""Every conversation of a period, page by page or streamed, and one conversation's messages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from ..filters import NO_FILTERS, Filters
from ..limits import MAX_ID
from ..periods import Period
from ..queries import load
from .billing import Tenant, conversation_stats, filtered_conversations_query, organization_window

SORTS = ("cost", "tokens", "messages", "last")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_PAGE = 1_000_000  # keeps OFFSET (page - 1) * pageSize within 32 bits
# A conversation's detail lists at most this many of its messages (the oldest); its totals count all.
MAX_MESSAGES = 1000
# Streams ask the database for rows in batches of this many (constant memory whatever the period).
STREAM_BATCH = 1000
_ALL_ROWS = 2**31 - 1  # LIMIT for "no limit": the parameters are 32-bit integers on PostgreSQL


@dataclass(frozen=True)
class Conversation:
    """A conversation with its usage: in a period (list) or over its whole life (detail)."""

    conversation_id: str
    title: str
    agent_id: str
    first_ts: datetime
    last_ts: datetime
    total_tokens: int
    cost: Decimal
    message_count: int


@dataclass(frozen=True)
class Message:
    event_id: str
    ts: datetime
    agent_id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    priced: bool
    # Parts of prompt_tokens (cache reads, cache writes) and of completion_tokens (reasoning).
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cache_savings: Decimal


@dataclass(frozen=True)
class ConversationPage:
    period: Period
    sort: str
    page: int
    page_size: int
    total: int
    conversations: list[Conversation]
    filters: Filters = NO_FILTERS


def _conversation(row: Row[Any]) -> Conversation:
    # PostgreSQL sums counts as NUMERIC: back to integers.
    return Conversation(
        row.conversation_id,
        row.title,
        row.agent_id,
        row.first_ts,
        row.last_ts,
        int(row.total_tokens),
        row.cost,
        int(row.message_count),
    )


def _query(conn: Connection, org: Tenant, period: Period, sort: str, filters: Filters) -> tuple[str, dict]:
    """The list statement and its parameters: from the stored totals of whole conversations or of
    one agent's parts (conversation_list.sql; not latest first by one agent, whose parts end before
    their conversations may); any other filter's as filtered_conversations_query chooses."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    part = filters.conversation_part()
    if part is not None and not part[0] and not (part[2] and sort == "last"):
        return "conversation_list", {**organization_window(conn, org, period), "sort": sort, "agent_id": part[2]}
    name, params = filtered_conversations_query(org, period, filters, "list")
    return name, {**params, "sort": sort}


def conversation_page(
    conn: Connection,
    org: Tenant,
    period: Period,
    sort: str = "cost",
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    filters: Filters = NO_FILTERS,
) -> ConversationPage:
    """Page `page` (from 1) of the conversations with a message (of the kept agents and models) in
    `period`, in `sort` order; `total` is the number of them all (the report's totalConversations)."""
    name, params = _query(conn, org, period, sort, filters)
    params |= {"limit": page_size, "offset": (page - 1) * page_size}
    rows = [_conversation(r) for r in conn.execute(load(name), params)]
    total = conversation_stats(conn, org, period, top=0, filters=filters).counts.get("", 0)
    return ConversationPage(period, sort, page, page_size, total, rows, filters)


def all_conversations(
    conn: Connection, org: Tenant, period: Period, sort: str = "cost", filters: Filters = NO_FILTERS
) -> Iterator[Conversation]:
    """Every conversation of `period` in `sort` order, fetched in batches from a server-side cursor."""
    name, params = _query(conn, org, period, sort, filters)
    params |= {"limit": _ALL_ROWS, "offset": 0}
    result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(load(name), params)
    for row in result:
        yield _conversation(row)


@dataclass(frozen=True)
class ConversationDetail:
    conversation: Conversation
    messages: list[Message]


def conversation_detail(conn: Connection, org: Tenant, conversation_id: str) -> ConversationDetail | None:
    """One conversation of `org` with its oldest MAX_MESSAGES messages; None when `org` has none by that id."""
    if len(conversation_id) > MAX_ID or "\x00" in conversation_id:
        return None  # no event can have such an id (and PostgreSQL text cannot hold NUL)
    row = conn.execute(load("conversation_detail"), {"org_id": org.id, "conversation_id": conversation_id}).first()
    if row is None:
        return None
    conversation = _conversation(row)
    messages = [
        Message(
            m.event_id,
            m.ts,
            m.agent_id,
            m.model,
            int(m.prompt_tokens),
            int(m.completion_tokens),
            m.cost,
            bool(m.priced),
            int(m.cache_read_tokens),
            int(m.cache_write_tokens),
            int(m.reasoning_tokens),
            m.cache_savings,
        )
        for m in conn.execute(
            load("conversation_messages"),
            {
                "org_id": org.id,
                "conversation_id": conversation_id,
                "first_ts": conversation.first_ts,
                "last_ts": conversation.last_ts,
                "limit": MAX_MESSAGES,
            },
        )
    ]
    return ConversationDetail(conversation, messages)
