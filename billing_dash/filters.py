"""Report filters: the agents and models a report counts (none given: all of them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .limits import MAX_FILTER_VALUES, MAX_ID

# The query parameters, each repeatable: OR within one, AND across them.
AGENT_PARAM = "agentId"
MODEL_PARAM = "model"
# What a series' buckets may be split by (stackBy=...): each choice's column of the aggregates.
STACK_PARAM = "stackBy"
STACKS = {"agent": "agent_id", "model": "model"}


class FilterError(ValueError):
    """A filter value the API refuses (400 invalid_filter)."""

    code = "invalid_filter"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Filters:
    """Agent ids and model names a report is limited to; an empty tuple lets all through."""

    agents: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.agents or self.models)

    def params(self) -> dict[str, Any]:
        """The SQL parameters of a filtered statement: `(:all_agents = 1 OR x.agent_id IN :agents)`.
        An unused list holds one empty string, which no id can be, rather than an empty IN ()."""
        return {
            "all_agents": int(not self.agents),
            "agents": list(self.agents) or [""],
            "all_models": int(not self.models),
            "models": list(self.models) or [""],
        }

    def keeps_budget(self, scope: str, scope_id: str) -> bool:
        """Whether a budget's card shows under this filter: an agent's or a model's when the filter
        lets its agent or model through, the organization's always (its use stays the whole one)."""
        if scope == "agent":
            return not self.agents or scope_id in self.agents
        if scope == "model":
            return not self.models or scope_id in self.models
        return True

    def as_json(self) -> dict[str, list[str]]:
        """The applied filter as the API echoes it."""
        return {AGENT_PARAM: list(self.agents), MODEL_PARAM: list(self.models)}


NO_FILTERS = Filters()


def _values(name: str, raw: Sequence[str]) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(raw))  # a repeated value counts once; the order as given
    if len(values) > MAX_FILTER_VALUES:
        raise FilterError(f"At most {MAX_FILTER_VALUES} values of {name}; got {len(values)}.")
    for value in values:
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID or "\x00" in value:
            raise FilterError(f"Each {name} must be 1 to {MAX_ID} characters without NUL; got {value[:20]!r}.")
    return values


def parse_filters(agents: Sequence[str], models: Sequence[str]) -> Filters:
    """The Filters of the request's repeated agentId and model parameters, or FilterError."""
    return Filters(_values(AGENT_PARAM, agents), _values(MODEL_PARAM, models))


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
