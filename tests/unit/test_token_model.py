"""The token model: flat counts with their parts, and providers' usage objects normalized to them.

The golden cases are the providers' documented example responses and the usage objects of peers'
bug reports; each expectation is worked out by hand from what the provider's fields mean (README,
"Provider usage objects"), never taken from the code's output."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_dash.ingest import FIELDS, MAX_TOKENS, parse_event, read_csv
from billing_dash.ingest.parse import _Invalid
from billing_dash.pricing import Price, cache_savings_at, cost_at

BASE = {
    "event_id": "e1",
    "timestamp": "2026-03-01T12:00:00Z",
    "agent_id": "a",
    "conversation_id": "c",
    "model": "m",
}


def flat(**counts) -> dict:
    return BASE | {"prompt_tokens": 100, "completion_tokens": 50} | counts


def provider(name: str, usage) -> dict:
    return BASE | {"provider": name, "usage": usage}


def counts(raw: dict) -> tuple[int, int, int, int, int]:
    e = parse_event(raw)
    return e.prompt_tokens, e.completion_tokens, e.cache_read_tokens, e.cache_write_tokens, e.reasoning_tokens


def refused(raw: dict) -> tuple[str, str]:
    with pytest.raises(_Invalid) as info:
        parse_event(raw)
    return info.value.field, info.value.message


# --- flat counts ---------------------------------------------------------------------------------


def test_parts_default_to_zero():
    assert counts(flat()) == (100, 50, 0, 0, 0)


def test_parts_are_kept():
    assert counts(flat(cache_read_tokens=60, cache_write_tokens=40, reasoning_tokens=50)) == (100, 50, 60, 40, 50)


@pytest.mark.parametrize(
    "parts,field",
    [
        ({"cache_read_tokens": 101}, "cache_read_tokens"),
        ({"cache_write_tokens": 101}, "cache_write_tokens"),
        ({"cache_read_tokens": 60, "cache_write_tokens": 41}, "cache_write_tokens"),
        ({"reasoning_tokens": 51}, "reasoning_tokens"),
    ],
)
def test_a_part_larger_than_its_total_is_refused_naming_the_field(parts, field):
    name, message = refused(flat(**parts))
    assert name == field
    assert "more than" in message


@pytest.mark.parametrize("field", ["cache_read_tokens", "cache_write_tokens", "reasoning_tokens"])
@pytest.mark.parametrize("value", [-1, "x", 1.5, True, MAX_TOKENS + 1])
def test_bad_part_values_are_refused_like_any_count(field, value):
    assert refused(flat(**{field: value}))[0] == field


def test_csv_reads_the_parts_by_header():
    header = ",".join(FIELDS)
    line = "e,2026-03-01T00:00:00Z,a,,c,,m,100,50,,60,40,20\n"
    ((_, row),) = read_csv([header + "\n", line])
    assert counts(row) == (100, 50, 60, 40, 20)


def test_csv_refuses_a_part_larger_than_its_total():
    header = ",".join(FIELDS)
    ((_, row),) = read_csv([header + "\n", "e,2026-03-01T00:00:00Z,a,,c,,m,100,50,,,,51\n"])
    assert refused(row)[0] == "reasoning_tokens"


# --- provider usage objects ----------------------------------------------------------------------


def test_openai_chat_completions_documented_example():
    # The chat completion object of OpenAI's API reference.
    usage = {
        "prompt_tokens": 19,
        "completion_tokens": 10,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    assert counts(provider("openai", usage)) == (19, 10, 0, 0, 0)


def test_openai_reasoning_tokens_are_part_of_the_completion():
    usage = {
        "prompt_tokens": 75,
        "completion_tokens": 1186,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 1024},
    }
    assert counts(provider("openai", usage)) == (75, 1186, 0, 0, 1024)


def test_openai_responses_api_documented_example():
    # The response object of OpenAI's Responses API reference.
    usage = {
        "input_tokens": 36,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 123,
    }
    assert counts(provider("openai", usage)) == (36, 87, 0, 0, 0)


def test_openai_responses_api_with_cache_and_reasoning():
    usage = {
        "input_tokens": 2006,
        "input_tokens_details": {"cached_tokens": 1920},
        "output_tokens": 300,
        "output_tokens_details": {"reasoning_tokens": 256},
    }
    assert counts(provider("openai", usage)) == (2006, 300, 1920, 0, 256)


def test_langfuse_10592_cached_tokens_are_inside_the_prompt_not_added_to_it():
    # 17,903 prompt tokens of which 17,817 cached: 17,903 input tokens in all (Langfuse showed 35,720).
    usage = {"prompt_tokens": 17_903, "completion_tokens": 120, "prompt_tokens_details": {"cached_tokens": 17_817}}
    assert counts(provider("openai", usage)) == (17_903, 120, 17_817, 0, 0)


def test_langfuse_5568_a_repeated_request_is_the_same_input_with_part_of_it_cached():
    # Two identical requests of 1,999 prompt tokens; the second had 1,792 cached: still 1,999 (not 3,791).
    first = {"prompt_tokens": 1999, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 0}}
    second = {"prompt_tokens": 1999, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 1792}}
    assert counts(provider("openai", first))[0] == counts(provider("openai", second))[0] == 1999
    assert counts(provider("openai", second))[2] == 1792


def test_openai_null_details_count_as_none():
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": None}
    assert counts(provider("openai", usage)) == (10, 5, 0, 0, 0)


def test_openai_cached_tokens_above_the_prompt_are_refused():
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 11}}
    assert refused(provider("openai", usage))[0] == "usage.prompt_tokens_details.cached_tokens"


def test_anthropic_documented_example_without_cache():
    # The Messages API reference's example response.
    assert counts(provider("anthropic", {"input_tokens": 2095, "output_tokens": 503})) == (2095, 503, 0, 0, 0)


def test_langfuse_12306_anthropic_input_is_the_sum_of_the_three_fields_once():
    # input 5 + cache reads 128,955 + cache writes 1,253 = 130,213 input tokens (Langfuse showed 260,421).
    usage = {
        "input_tokens": 5,
        "cache_read_input_tokens": 128_955,
        "cache_creation_input_tokens": 1253,
        "output_tokens": 9,
    }
    assert counts(provider("anthropic", usage)) == (130_213, 9, 128_955, 1253, 0)


CLAUDE_37_SONNET = Price(Decimal(3), Decimal(15), cache_read=Decimal("0.30"), cache_write=Decimal("3.75"))


def test_litellm_9812_cache_writes_are_billed_once_at_the_write_price():
    # Anthropic billed $0.04614 of cache writes and $0.00825 of output for this call; LiteLLM said
    # $0.091311, billing the 12,304 written tokens as input too.
    usage = {
        "input_tokens": 3,
        "cache_creation_input_tokens": 12_304,
        "cache_read_input_tokens": 0,
        "output_tokens": 550,
    }
    prompt, completion, read, write, _ = counts(provider("anthropic", usage))
    assert (prompt, completion, read, write) == (12_307, 550, 0, 12_304)
    cost = cost_at(CLAUDE_37_SONNET, prompt, completion, read, write)
    assert cost == Decimal("0.000009") + Decimal("0.04614") + Decimal("0.00825")


def test_litellm_6575_cache_creation_tokens_are_not_also_input_tokens():
    # The fix of #6575 (PR #6576): cache creation tokens cost the write price instead of the input
    # price, not on top of it. 1,000 written and 10 uncached at $3/$3.75 per million.
    usage = {"input_tokens": 10, "cache_creation_input_tokens": 1000, "output_tokens": 0}
    prompt, completion, read, write, _ = counts(provider("anthropic", usage))
    assert cost_at(CLAUDE_37_SONNET, prompt, completion, read, write) == Decimal("0.00003") + Decimal("0.00375")


def test_litellm_11364_reads_and_writes_at_their_own_prices():
    # The usage of a Claude Opus 4.5 call in the issue, as Anthropic reports it: LiteLLM's own
    # prompt_tokens (98,805) already included the 66,360 reads and 32,435 writes, i.e. 10 uncached.
    usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 66_360,
        "cache_creation_input_tokens": 32_435,
        "output_tokens": 5120,
    }
    prompt, completion, read, write, _ = counts(provider("anthropic", usage))
    assert (prompt, completion, read, write) == (98_805, 5120, 66_360, 32_435)
    opus = Price(Decimal(5), Decimal(25), cache_read=Decimal("0.50"), cache_write=Decimal("6.25"))
    # 10 x 5 + 66,360 x 0.5 + 32,435 x 6.25 + 5,120 x 25 = 363,948.75 per million tokens (LiteLLM: $0.047080).
    assert cost_at(opus, prompt, completion, read, write) == Decimal("0.36394875")


def test_google_thoughts_are_output_beside_the_candidates():
    # A Gemini 2.5 response (sub2api #554): totalTokenCount 56,729 = 55,021 + 923 + 785.
    usage = {
        "promptTokenCount": 55_021,
        "candidatesTokenCount": 923,
        "totalTokenCount": 56_729,
        "thoughtsTokenCount": 785,
    }
    assert counts(provider("google", usage)) == (55_021, 1708, 0, 0, 785)


def test_google_cached_content_is_part_of_the_prompt():
    usage = {
        "promptTokenCount": 10_000,
        "cachedContentTokenCount": 8000,
        "candidatesTokenCount": 100,
        "toolUsePromptTokenCount": 50,
        "totalTokenCount": 10_150,
    }
    assert counts(provider("google", usage)) == (10_050, 100, 8000, 0, 0)


def test_google_without_candidates():
    assert counts(provider("google", {"promptTokenCount": 8, "thoughtsTokenCount": 98})) == (8, 98, 0, 0, 98)


@pytest.mark.parametrize(
    "raw,field",
    [
        (provider("openai", {"completion_tokens": 1}), "usage.prompt_tokens"),
        (provider("openai", {"input_tokens": 1}), "usage.output_tokens"),
        (provider("anthropic", {"output_tokens": 1}), "usage.input_tokens"),
        (provider("google", {"candidatesTokenCount": 1}), "usage.promptTokenCount"),
        (provider("openai", {"prompt_tokens": -1, "completion_tokens": 1}), "usage.prompt_tokens"),
        (
            provider("openai", {"prompt_tokens": 1, "completion_tokens": 1, "prompt_tokens_details": 3}),
            "usage.prompt_tokens_details",
        ),
        (provider("mistral", {"prompt_tokens": 1}), "provider"),
        (BASE | {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}, "provider"),
        (BASE | {"provider": "openai"}, "usage"),
        (provider("openai", "12"), "usage"),
        (provider("openai", {"prompt_tokens": 1, "completion_tokens": 1}) | {"prompt_tokens": 1}, "usage"),
        (
            provider("anthropic", {"input_tokens": MAX_TOKENS, "cache_read_input_tokens": 1, "output_tokens": 0}),
            "usage",
        ),
    ],
)
def test_bad_usage_objects_are_refused_naming_the_field(raw, field):
    assert refused(raw)[0] == field


def test_flat_counts_and_usage_together_are_refused_with_a_clear_message():
    raw = provider("openai", {"prompt_tokens": 10, "completion_tokens": 5}) | {"prompt_tokens": 10}
    assert "not both" in refused(raw)[1]


# --- cache savings -------------------------------------------------------------------------------


def test_cache_savings_are_the_reads_at_the_input_price_less_the_cache_read_price():
    # 17,817 reads at $2.50 instead of $1.25 per million.
    assert cache_savings_at(Price(Decimal("2.50"), Decimal(10), Decimal("1.25")), 17_817) == Decimal("0.02227125")


def test_no_cache_read_price_saves_nothing():
    assert cache_savings_at(Price(Decimal(3), Decimal(15)), 1000) == 0
