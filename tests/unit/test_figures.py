"""Figure builders: plain functions from a small frame to a plotly Figure."""

from __future__ import annotations

import html

import pandas as pd

from billing_dash.figures.usage import MAX_SLICES, build_daily_figure, build_model_share_figure
from billing_dash.services.export import HEADERS


def daily_frame(days: int = 5) -> pd.DataFrame:
    rows = [
        {
            "date": f"2026-03-{d + 1:02d}",
            "promptTokens": 100 * d,
            "completionTokens": 10 * d,
            "totalTokens": 110 * d,
            "cost": 0.5 * d,
            "messageCount": d,
        }
        for d in range(days)
    ]
    return pd.DataFrame(rows, columns=HEADERS["daily"])


def test_daily_figure_stacks_prompt_and_completion_with_cost_on_a_second_axis():
    df = daily_frame()
    fig = build_daily_figure(df)
    prompt, completion, cost = fig.data
    assert prompt.stackgroup == completion.stackgroup == "tokens"
    assert list(prompt.y) == list(df["promptTokens"]) and list(completion.y) == list(df["completionTokens"])
    assert cost.yaxis == "y2" and list(cost.y) == list(df["cost"])
    assert fig.layout.yaxis2.overlaying == "y"
    # Zero days are drawn as zero, not left out.
    assert prompt.y[0] == 0 and len(prompt.x) == len(df)
    # The hover names the tokens, cost and messages of the day.
    assert "messages" in cost.hovertemplate and "tokens" in cost.hovertemplate and "$" in cost.hovertemplate
    assert [list(row) for row in cost.customdata] == df[["totalTokens", "messageCount"]].values.tolist()


def test_daily_figure_of_an_empty_frame_is_empty_not_an_error():
    fig = build_daily_figure(pd.DataFrame(columns=HEADERS["daily"]))
    assert all(len(trace.y) == 0 for trace in fig.data)


def test_model_share_folds_the_tail_into_other_and_skips_zero_cost():
    models = [f"m{i}" for i in range(12)]
    costs = [float(12 - i) for i in range(12)]
    df = pd.DataFrame({"model": [*models, "unpriced"], "cost": [*costs, 0.0]})
    pie = build_model_share_figure(df).data[0]
    assert len(pie.labels) == MAX_SLICES and pie.labels[-1] == "Other"
    assert list(pie.labels[:-1]) == models[: MAX_SLICES - 1]
    assert sum(pie.values) == sum(costs)
    assert "unpriced" not in pie.labels


def test_model_share_of_no_models_is_empty():
    pie = build_model_share_figure(pd.DataFrame(columns=HEADERS["models"])).data[0]
    assert len(pie.values) == 0


HOSTILE = ['<a href="https://evil.example/phish">Click for refund</a>', "<b>bold</b> & co", "a&lt;b", "x<br>y"]


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, (list, tuple)):
        return [s for value in node for s in _strings(value)]
    return []


def test_model_names_are_text_not_markup_in_the_cost_share_figure():
    fig = build_model_share_figure(pd.DataFrame({"model": HOSTILE, "cost": [4.0, 3.0, 2.0, 1.0]}))
    pie = fig.data[0]
    # Plotly reads a subset of HTML and entities in labels: each name must come back as itself.
    assert [html.unescape(label) for label in pie.labels] == HOSTILE
    assert not any("<" in label or ">" in label for label in pie.labels)
    everything = _strings(fig.to_plotly_json())
    for name in HOSTILE:
        assert not any(name in s for s in everything), name


def test_daily_figure_draws_the_projection_dashed_on_the_cost_axis():
    projection = pd.DataFrame({"date": ["2026-03-05", "2026-03-06", "2026-03-07"], "cost": [2.5, 3.0, 1.25]})
    fig = build_daily_figure(daily_frame(), projection)
    *_, projected = fig.data
    assert projected.line.dash == "dash" and projected.yaxis == "y2"
    assert list(projected.y) == [2.5, 3.0, 1.25]
    assert [x.strftime("%Y-%m-%d") for x in pd.to_datetime(projected.x)] == list(projection["date"])
    assert len(build_daily_figure(daily_frame(), projection.iloc[:0]).data) == 3
