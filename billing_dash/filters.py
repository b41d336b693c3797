"""Report filters: the agents, models and tag values a report counts (none given: all of them)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .limits import MAX_FILTER_VALUES, MAX_ID, MAX_TAG_VALUE, TAG_KEY_PATTERN

# The query parameters, each repeatable: OR within one, AND across them.
AGENT_PARAM = "agentId"
MODEL_PARAM = "model"
# What a series' buckets may be split by (stackBy=...): each choice's column of the aggregates.
STACK_PARAM = "stackBy"
STACKS = {"agent": "agent_id", "model": "model"}
# tag.<key>=<value>: one key per request (its values OR'd), a key the organization pre-aggregates.
TAG_PARAM_PREFIX = "tag."
# groupBy=tag:<key>: usage per value of a pre-aggregated key (usageByTag).
GROUP_BY_PARAM = "groupBy"
GROUP_BY_TAG = "tag:"
_TAG_KEY = re.compile(TAG_KEY_PATTERN)


class FilterError(ValueError):
    """A filter value the API refuses (400 invalid_filter)."""

    code = "invalid_filter"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Filters:
    """Agent ids, model names and values of one tag key a report is limited to; an empty tuple
    lets all through."""

    agents: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    tag_key: str = ""
    tag_values: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.agents or self.models or self.tag_values)

    def params(self) -> dict[str, Any]:
        """The SQL parameters of a filtered statement: `(:all_agents = 1 OR x.agent_id IN :agents)`,
        `(:all_tags = 1 OR tag_value(e.tags, :tag_key) IN :tag_values)`. An unused list holds one
        empty string, which no id or tag value can be, rather than an empty IN ()."""
        return {
            "all_agents": int(not self.agents),
            "agents": list(self.agents) or [""],
            "all_models": int(not self.models),
            "models": list(self.models) or [""],
            "all_tags": int(not self.tag_values),
            "tag_key": self.tag_key,
            "tag_values": list(self.tag_values) or [""],
        }

    def conversation_part(self) -> tuple[str, str, str] | None:
        """The stored conversation part this filter's conversations are (models.conversation_parts):
        (dimension, value, agent), dimension `model` or `tag.<key>` ('' for whole conversations,
        models.conversation_totals), agent '' for all of them; None when the filter keeps several
        models, tag values or agents, or a model and a tag value (their parts are summed per day)."""
        if len(self.agents) > 1 or len(self.models) + len(self.tag_values) > 1:
            return None
        agent = self.agents[0] if self.agents else ""
        if self.models:
            return MODEL_PARAM, self.models[0], agent
        if self.tag_values:
            return TAG_PARAM_PREFIX + self.tag_key, self.tag_values[0], agent
        return "", "", agent

    def keeps_budget(self, scope: str, scope_id: str) -> bool:
        """Whether a budget's card shows under this filter: an agent's or a model's when the filter
        lets its agent or model through, the organization's always (its use stays the whole one)."""
        if scope == "agent":
            return not self.agents or scope_id in self.agents
        if scope == "model":
            return not self.models or scope_id in self.models
        return True

    def as_json(self) -> dict[str, Any]:
        """The applied filter as the API echoes it."""
        return {
            AGENT_PARAM: list(self.agents),
            MODEL_PARAM: list(self.models),
            "tags": {self.tag_key: list(self.tag_values)} if self.tag_values else {},
        }

    def query(self) -> list[tuple[str, str]]:
        """The filter as query parameters (the dashboard's URL and download links)."""
        return [
            *((AGENT_PARAM, a) for a in self.agents),
            *((MODEL_PARAM, m) for m in self.models),
            *((TAG_PARAM_PREFIX + self.tag_key, v) for v in self.tag_values),
        ]


NO_FILTERS = Filters()


def _values(name: str, raw: Sequence[str], limit: int = MAX_ID) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(raw))  # a repeated value counts once; the order as given
    if len(values) > MAX_FILTER_VALUES:
        raise FilterError(f"At most {MAX_FILTER_VALUES} values of {name}; got {len(values)}.")
    for value in values:
        if not isinstance(value, str) or not 1 <= len(value) <= limit or "\x00" in value:
            raise FilterError(f"Each {name} must be 1 to {limit} characters without NUL; got {value[:20]!r}.")
    return values


class StackError(FilterError):
    """A stackBy the API refuses (400 invalid_stack)."""

    code = "invalid_stack"


def parse_stack(value: str | None, granularity: str | None) -> str | None:
    """The request's stackBy (none: no stack), or StackError: one of STACKS, with a granularity."""
    if value is None:
        return None
    if value not in STACKS:
        raise StackError(f"{STACK_PARAM} must be one of {', '.join(STACKS)}; got {value[:20]!r}.")
    if granularity is None:
        raise StackError(f"{STACK_PARAM} splits the series: it needs a granularity.")
    return value


def tag_key(name: str, raw: str) -> str:
    """`raw` if it can be a tag key, else FilterError naming the parameter `name`."""
    if not _TAG_KEY.fullmatch(raw):
        raise FilterError(f"{name}: a tag key must match {TAG_KEY_PATTERN}; got {raw[:50]!r}.")
    return raw


def parse_filters(
    agents: Sequence[str], models: Sequence[str], tags: Mapping[str, Sequence[str]] | None = None
) -> Filters:
    """The Filters of the request's repeated agentId and model parameters and its tag.<key>
    parameters (`tags`: key -> values), or FilterError."""
    tags = {k: v for k, v in (tags or {}).items() if v}
    if len(tags) > 1:
        keys = ", ".join(TAG_PARAM_PREFIX + k for k in sorted(tags))
        raise FilterError(f"One tag key per request (its values are OR'd); got {keys}.")
    key, values = next(iter(tags.items()), ("", ()))
    if key:
        tag_key(TAG_PARAM_PREFIX + key, key)
    return Filters(
        _values(AGENT_PARAM, agents),
        _values(MODEL_PARAM, models),
        key,
        _values(TAG_PARAM_PREFIX + key, values, MAX_TAG_VALUE),
    )


def tag_params(args: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The tag.<key> parameters of a request's query (`args`: name -> its values)."""
    return {
        name[len(TAG_PARAM_PREFIX) :]: list(values)
        for name, values in args.items()
        if name.startswith(TAG_PARAM_PREFIX)
    }


def tag_choice(key: str, value: str) -> str:
    """One value of a tag key as one text, `tag.<key>=<value>` (a key has no `=`): what the
    dashboard's tag picker and tag table hand on to be added to the filter."""
    return f"{TAG_PARAM_PREFIX}{key}={value}"


def parse_group_by(raw: str | None) -> str | None:
    """The tag key of groupBy=tag:<key> (None without groupBy), else FilterError."""
    if raw is None:
        return None
    if not raw.startswith(GROUP_BY_TAG):
        raise FilterError(f"{GROUP_BY_PARAM} must be tag:<key>; got {raw[:50]!r}.")
    return tag_key(GROUP_BY_PARAM, raw[len(GROUP_BY_TAG) :])
