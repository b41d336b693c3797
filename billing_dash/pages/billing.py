"""The billing dashboard at /dashboard/billing: one period, its report, charts, tables and CSVs."""

from __future__ import annotations

import html as html_text
import os
from collections.abc import Sequence
from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask_login
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from flask import current_app
from sqlalchemy.exc import InterfaceError, OperationalError

from ..alerts.budgets import evaluate
from ..alerts.run import alert_json, recent_alerts
from ..components.alerts import alert_list
from ..components.budgets import budget_cards
from ..components.conversation import conversation_view
from ..components.report_view import csv_files, drawable, projection_rows, report_view
from ..components.tables import AGENT_COLUMNS, CONVERSATION_COLUMNS, MODEL_COLUMNS, TAG_COLUMNS, grid
from ..filters import (
    AGENT_PARAM,
    MODEL_PARAM,
    NO_FILTERS,
    STACKS,
    TAG_PARAM_PREFIX,
    FilterError,
    Filters,
    parse_filters,
    tag_choice,
)
from ..periods import DEFAULT_PERIOD, GRANULARITIES, PERIODS, Period, PeriodError, check_granularity, resolve_period
from ..queries import load
from ..services.billing import billing_report, summarize, summary_changes
from ..services.conversations import conversation_detail
from ..services.export import budget_status_json, changes_json, conversation_detail_json, report_json
from ..tags import list_keys
from ..web.context import get_engine
from . import DASHBOARD_PATH

dash.register_page(__name__, path=DASHBOARD_PATH, title="Billing · billing-dash", name="Billing")

PREFIX = "billing"
PERIOD = f"{PREFIX}-period"
DATES = f"{PREFIX}-dates"
DATES_WRAP = f"{PREFIX}-dates-wrap"
URL_SYNC = f"{PREFIX}-url-sync"
DOWNLOADS = f"{PREFIX}-downloads"
DRAWINGS = f"{PREFIX}-drawings"
ALERT = f"{PREFIX}-alert"
RETRY = f"{PREFIX}-retry"
INVALID = f"{PREFIX}-invalid"
CONTENT = f"{PREFIX}-content"
EMPTY = f"{PREFIX}-empty"
PERIOD_LABEL = f"{PREFIX}-period-label"
CARDS = f"{PREFIX}-cards"
BUDGET_CARDS = f"{PREFIX}-budget-cards"
RECENT_ALERTS = f"{PREFIX}-recent-alerts"
# The alerts the page lists (the newest first).
SHOWN_ALERTS = 10
DAILY_GRAPH = f"{PREFIX}-daily-graph"
MODEL_GRAPH = f"{PREFIX}-model-graph"
DAILY_BOX = f"{PREFIX}-daily-box"
MODEL_BOX = f"{PREFIX}-model-box"
GRAPHS = f"{PREFIX}-graphs"
AGENTS_GRID = f"{PREFIX}-agents-grid"
MODELS_GRID = f"{PREFIX}-models-grid"
CONVERSATIONS_GRID = f"{PREFIX}-conversations-grid"
# The usage per value of a pre-aggregated tag key (the API's groupBy=tag:<key>): its card, shown
# when the organization has keys, the key it groups by and the table.
TAGS_CARD = f"{PREFIX}-tags-card"
TAG_GROUP = f"{PREFIX}-tag-group"
TAGS_GRID = f"{PREFIX}-tags-grid"
CONVERSATION = f"{PREFIX}-conversation"
CONVERSATION_TITLE = f"{PREFIX}-conversation-title"
CONVERSATION_BODY = f"{PREFIX}-conversation-body"
UNPRICED = f"{PREFIX}-unpriced"
DOWNLOAD = f"{PREFIX}-download"
DOWNLOAD_BUTTON = f"{PREFIX}-download-button"
# The filter (agentId, model and tag.<key> lists, as the URL and the API name them), its chips,
# the pickers that add to it, and the series' granularity.
FILTERS = f"{PREFIX}-filters"
CHIPS = f"{PREFIX}-chips"
CHIP = f"{PREFIX}-chip"
AGENT_PICK = f"{PREFIX}-agent-pick"
MODEL_PICK = f"{PREFIX}-model-pick"
TAG_PICK = f"{PREFIX}-tag-pick"
GRANULARITY = f"{PREFIX}-granularity"
AUTO = "auto"
GRANULARITY_LABELS = {AUTO: "Auto", "hour": "Hours", "day": "Days", "week": "Weeks", "month": "Months"}
# The cost over time as one line, or stacked per agent or model (the API's stackBy).
STACK = f"{PREFIX}-stack"
STACK_LABELS = {"": "Total", "agent": "By agent", "model": "By model"}
FILTER_LABELS = {AGENT_PARAM: "Agent", MODEL_PARAM: "Model"}
# The period buttons, in the order of periods.PERIODS.
PERIOD_LABELS = {
    "today": "Today",
    "week": "Week",
    "month": "Month",
    "year": "Year",
    "last_7_days": "Last 7 days",
    "last_30_days": "Last 30 days",
    "last_month": "Last month",
    "last_quarter": "Last quarter",
    "custom": "Custom",
}
# plotly.js with only the basic trace types (scatter, bar, pie: ours are scatter and pie), a quarter
# of the full bundle dcc.Graph would load; `make plotly-basic` refreshes it.
PLOTLY_JS = "vendor/plotly-basic.min.js"
GRAPH_CONFIG: dcc.Graph.Config = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}
# What a loaded report sets: the cards and label at once, the figures and grid rows through a
# store that clientside callbacks hand on in the browser (see register_callbacks).
VIEW_OUTPUTS = [
    Output(CARDS, "children"),
    Output(PERIOD_LABEL, "children"),
    Output(EMPTY, "is_open"),
    Output(DRAWINGS, "data"),
    Output(AGENT_PICK, "options"),
    Output(MODEL_PICK, "options"),
    Output(TAG_PICK, "options"),
    Output(TAG_PICK, "style"),
    Output(TAG_GROUP, "options"),
    Output(TAG_GROUP, "value"),
    Output(TAG_GROUP, "disabled"),
    Output(TAGS_CARD, "style"),
]
# The graphs are mounted in their boxes with the first figures, not with the page: a mounted
# dcc.Graph loads plotly.js at once, and running it would hold back the cards (README, "Page load").
# Later figures go to the mounted graphs (so plotly updates them in place).
MOUNTED = [Output(DAILY_BOX, "children"), Output(MODEL_BOX, "children")]
DRAWN_FIGURES = [Output(DAILY_GRAPH, "figure"), Output(MODEL_GRAPH, "figure")]
# The grid rows and the unpriced-usage banner: what follows the two figures.
DRAWN_ROWS = [
    Output(AGENTS_GRID, "rowData"),
    Output(MODELS_GRID, "rowData"),
    Output(CONVERSATIONS_GRID, "rowData"),
    Output(UNPRICED, "children"),
    Output(TAGS_GRID, "rowData"),
]
_VIEW_UNCHANGED = (no_update,) * len(VIEW_OUTPUTS)
HIDDEN = {"display": "none"}


def _download_button(section: str, label: str) -> dbc.Button:
    return dbc.Button(
        ["⬇ ", label],
        id={"type": DOWNLOAD_BUTTON, "section": section},
        color="secondary",
        outline=True,
        size="sm",
        className="ms-2 download-button",
    )


def _panel(title: str, body: Component | list[Component], section: str | None = None, label: str = "CSV") -> dbc.Card:
    header = [html.H2(title, className="h6 mb-0 me-auto")]
    if section:
        header.append(_download_button(section, label))
    return dbc.Card(
        [dbc.CardHeader(header, className="d-flex align-items-center"), dbc.CardBody(body)], className="mb-3 panel"
    )


def _plotly_url() -> str:
    """The vendored plotly.js, named by its file's mtime as Dash names assets (so cached for a year)."""
    app = dash.get_app()
    mtime = os.path.getmtime(os.path.join(app.config.assets_folder, PLOTLY_JS))
    return f"{app.get_asset_url(PLOTLY_JS)}?m={mtime}"


def _as_list(value: str | list[str] | None) -> list[str]:
    """A query parameter as Dash pages give it (one value: a string, repeated: a list) as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]


def default_granularity(period: Period) -> str:
    """The series a period shows unless the user picks one: hours for a day or two, days up to a
    quarter's worth, weeks up to two years, months beyond."""
    if period.days <= 2:
        return "hour"
    if period.days <= 92 and period.name != "last_quarter":
        return "day"
    return "week" if period.days <= 731 else "month"


def _filter_params(filters: dict | None) -> dict[str, str]:
    """The store's parameters with their chip labels: agentId, model, then its tag.<key> (the key)."""
    tags = sorted(p for p in (filters or {}) if isinstance(p, str) and p.startswith(TAG_PARAM_PREFIX))
    return FILTER_LABELS | {p: p[len(TAG_PARAM_PREFIX) :] for p in tags}


def filter_chips(filters: dict | None) -> list[Component]:
    """One removable chip per filter value: `Agent: agent-7 ✕`, `customer: acme ✕`."""
    chips = []
    for param, label in _filter_params(filters).items():
        for value in _as_list((filters or {}).get(param)):
            chips.append(
                dbc.Button(
                    [f"{label}: ", html.Strong(value), html.Span(" ✕", className="chip-x")],
                    id={"type": CHIP, "param": param, "value": value},
                    color="primary",
                    outline=True,
                    size="sm",
                    className="filter-chip rounded-pill",
                    title=f"Remove the {label.lower()} filter {value}",
                )
            )
    return chips


def _picker(component_id: str, placeholder: str, **style: Any) -> dcc.Dropdown:
    """A dropdown whose pick adds a value to the filter (its options come with each report)."""
    return dcc.Dropdown(
        id=component_id, options=[], placeholder=placeholder, clearable=True, className="filter-pick", **style
    )


def _toggle(component_id: str, labels: dict[str, str], value: str, extra_class: str = "") -> dbc.RadioItems:
    """A row of buttons of which one is pressed: `labels` maps each value to its text."""
    return dbc.RadioItems(
        id=component_id,
        options=[{"label": text, "value": option} for option, text in labels.items()],
        value=value,
        className=f"btn-group flex-wrap {extra_class}".strip(),
        inputClassName="btn-check",
        labelClassName="btn btn-outline-secondary btn-sm",
        labelCheckedClassName="active",
    )


def layout(
    period: str = DEFAULT_PERIOD,
    startDate: str | None = None,
    endDate: str | None = None,
    agentId: str | list[str] | None = None,
    model: str | list[str] | None = None,
    granularity: str | None = None,
    stackBy: str | None = None,
    **_other: str,
) -> html.Div:
    """The skeleton, set from the URL (so a link reproduces the view); data comes by callback."""
    period = period if period in PERIODS else DEFAULT_PERIOD
    filters = {AGENT_PARAM: _as_list(agentId), MODEL_PARAM: _as_list(model)}
    filters |= {p: _as_list(v) for p, v in _other.items() if p.startswith(TAG_PARAM_PREFIX)}
    granularity = granularity if granularity in GRANULARITIES else AUTO
    stack = stackBy if stackBy in STACKS else ""
    if not (startDate and endDate):
        # A custom range starts as the last 30 days, in the organization's zone.
        last30 = resolve_period("last_30_days", flask_login.current_user.org.timezone)
        startDate, endDate = last30.start.isoformat(), last30.end.isoformat()
    return html.Div(
        [
            dcc.Store(id=DOWNLOADS),
            dcc.Store(id=DRAWINGS),
            dcc.Store(id=URL_SYNC),
            dcc.Store(id=FILTERS, data=filters),
            # What the boxes get once there are figures to draw, and the plotly.js to draw them with.
            dcc.Store(
                id=GRAPHS,
                data={
                    "plotly": _plotly_url(),
                    "graphs": [dcc.Graph(id=graph, config=GRAPH_CONFIG) for graph in (DAILY_GRAPH, MODEL_GRAPH)],
                },
            ),
            dcc.Download(id=DOWNLOAD),
            html.Div(
                [
                    html.Div(
                        [
                            html.H1("Billing & Usage", className="h3 mb-0"),
                            html.Div("Track your token usage and costs", className="text-muted"),
                        ],
                        className="me-auto",
                    ),
                    html.Div(
                        [
                            dbc.RadioItems(
                                id=PERIOD,
                                options=[{"label": PERIOD_LABELS[p], "value": p} for p in PERIODS],
                                value=period,
                                className="btn-group flex-wrap",
                                inputClassName="btn-check",
                                labelClassName="btn btn-outline-primary btn-sm",
                                labelCheckedClassName="active",
                            ),
                            html.Div(
                                # bothdates: picking a range is one change (one history entry), not two.
                                dcc.DatePickerRange(
                                    id=DATES,
                                    start_date=startDate,
                                    end_date=endDate,
                                    display_format="MMM D, YYYY",
                                    first_day_of_week=1,
                                    minimum_nights=0,
                                    clearable=False,
                                    updatemode="bothdates",
                                ),
                                id=DATES_WRAP,
                                className="mt-2",
                                hidden=period != "custom",
                            ),
                        ],
                        className="period-control",
                    ),
                ],
                className="d-flex flex-wrap align-items-start gap-3 mb-2 page-header",
            ),
            html.Div(
                [
                    _picker(AGENT_PICK, "Filter by agent…"),
                    _picker(MODEL_PICK, "Filter by model…"),
                    # Values of the pre-aggregated tag keys; shown once the report says there are some.
                    _picker(TAG_PICK, "Filter by tag…", style=HIDDEN),
                    html.Div(filter_chips(filters), id=CHIPS, className="d-flex flex-wrap gap-2"),
                    _toggle(STACK, STACK_LABELS, stack, "ms-auto"),
                    _toggle(GRANULARITY, GRANULARITY_LABELS, granularity),
                ],
                className="d-flex flex-wrap align-items-center gap-2 mb-3 filter-bar",
            ),
            dbc.Alert(
                [
                    html.Span("We could not load billing data: the database is unavailable. "),
                    dbc.Button("Try again", id=RETRY, color="danger", size="sm", outline=True, className="ms-2"),
                ],
                id=ALERT,
                color="danger",
                is_open=False,
            ),
            dbc.Alert(id=INVALID, color="warning", is_open=False),
            dbc.Modal(
                [dbc.ModalHeader(dbc.ModalTitle(id=CONVERSATION_TITLE)), dbc.ModalBody(id=CONVERSATION_BODY)],
                id=CONVERSATION,
                is_open=False,
                size="lg",
                scrollable=True,
            ),
            dcc.Loading(
                # Hidden until a report arrives and whenever a load fails, so nothing on screen is
                # ever another period's numbers (or empty axes) standing in for this one's.
                html.Div(
                    [
                        html.Div(id=PERIOD_LABEL, className="text-muted small mb-3"),
                        dbc.Alert(
                            "No usage in this period yet: all figures are zero.", id=EMPTY, color="info", is_open=False
                        ),
                        # Names the period's models without a price and the command that prices
                        # them; empty (and hidden by billing.css) when every message had one.
                        dbc.Alert(id=UNPRICED, color="warning", className="unpriced-banner"),
                        dbc.Row(id=CARDS, className="g-3 mb-1"),
                        # Budgets are about now, whatever period is shown: loaded with the page only.
                        dbc.Row(id=BUDGET_CARDS, className="g-3 mb-3"),
                        # Like the budgets, about now: loaded with the page only.
                        _panel("Recent alerts", html.Div(id=RECENT_ALERTS)),
                        # The graphs fill a box of fixed height: on its own a responsive graph takes its
                        # height from its container, which has none of its own (it collapsed to 0 px).
                        _panel(
                            "Daily usage",
                            html.Div(id=DAILY_BOX, className="daily-graph"),
                            "daily",
                        ),
                        dbc.Row(
                            [
                                dbc.Col(
                                    _panel(
                                        "Usage by agent", grid(AGENTS_GRID, AGENT_COLUMNS, row_id="agentId"), "agents"
                                    ),
                                    lg=8,
                                ),
                                dbc.Col(
                                    _panel(
                                        "Cost share by model",
                                        html.Div(id=MODEL_BOX, className="model-graph"),
                                    ),
                                    lg=4,
                                ),
                            ],
                            className="g-3",
                        ),
                        _panel("Usage by model", grid(MODELS_GRID, MODEL_COLUMNS, row_id="model"), "models"),
                        # Hidden until a report says the organization pre-aggregates tag keys.
                        html.Div(
                            _panel(
                                "By tag",
                                [
                                    dcc.Dropdown(
                                        id=TAG_GROUP,
                                        options=[],
                                        clearable=False,
                                        searchable=False,
                                        placeholder="Tag key",
                                        className="filter-pick mb-2",
                                    ),
                                    grid(
                                        TAGS_GRID,
                                        TAG_COLUMNS,
                                        row_id="rowId",
                                        clickable="params.data.group === 'value'",
                                    ),
                                ],
                                "tags",
                            ),
                            id=TAGS_CARD,
                            style=HIDDEN,
                        ),
                        _panel(
                            "Top conversations",
                            grid(CONVERSATIONS_GRID, CONVERSATION_COLUMNS, row_id="conversationId"),
                            "conversations",
                            "CSV (all)",
                        ),
                    ],
                    id=CONTENT,
                    hidden=True,
                ),
                type="default",
                delay_show=150,
                overlay_style={"visibility": "visible", "opacity": 0.5},
            ),
        ],
        className="billing-page",
    )


def toggle_date_range(period: str) -> bool:
    return period != "custom"


def _not_loaded(database_down: bool = False, message: str | None = None) -> tuple:
    return (no_update, database_down, message is not None, message, True, *_VIEW_UNCHANGED)


def _filters_of(data: Any) -> Filters:
    """The FILTERS store's lists as Filters (FilterError for what the API refuses too)."""
    if data is None:
        return NO_FILTERS
    if not isinstance(data, dict) or not all(
        isinstance(data.get(p, []), list) and all(isinstance(v, str) for v in data.get(p, []))
        for p in _filter_params(data)
    ):
        raise FilterError("The filter must be lists of agent ids, models and tag values.")
    tags = {p[len(TAG_PARAM_PREFIX) :]: data[p] for p in _filter_params(data) if p.startswith(TAG_PARAM_PREFIX)}
    return parse_filters(data.get(AGENT_PARAM, []), data.get(MODEL_PARAM, []), tags)


def _granularity_for(chosen: Period, picked: Any) -> str:
    """The granularity picked, or the period's default when it is Auto or not possible (hours of a year)."""
    if isinstance(picked, str) and picked != AUTO:
        try:
            return check_granularity(picked, chosen)
        except PeriodError:
            pass
    return default_granularity(chosen)


def _options(values: list[str], chosen: list[str]) -> list[dict[str, str]]:
    """A picker's options: the values not yet in the filter, in the report's order."""
    return [{"label": v, "value": v} for v in values if v not in chosen]


def load_report(
    period: str,
    start: str | None,
    end: str | None,
    _retry: int | None,
    filter_data: Any = None,
    granularity: Any = None,
    stack: Any = None,
    group_pick: Any = None,
) -> tuple:
    """The one billing query of a period change, and everything the page shows of it.

    Returns the CSV files for the download buttons, whether the database alert is open, whether
    the period's error message shows and its text, whether the report's widgets are hidden (when
    nothing loaded), then the cards, the period label, whether the empty note shows, and the
    figures and grid rows (DRAWN's order), the pickers' options, and the tag card's key picker
    and whether the card shows (with the usage per value of that key). One answer: the report
    never goes to the browser and back to be drawn.
    """
    org = flask_login.current_user.org
    if not all(v is None or isinstance(v, str) for v in (period, start, end)):
        return (no_update,) * (5 + len(_VIEW_UNCHANGED))  # a crafted request: the widgets only ever send strings
    try:
        chosen = resolve_period(period, org.timezone, (start or "")[:10] or None, (end or "")[:10] or None)
        filters = _filters_of(filter_data)
    except (PeriodError, FilterError) as exc:
        # The API's message for the same input: a bad link explains itself.
        return _not_loaded(message=exc.message)
    series = _granularity_for(chosen, granularity)
    try:
        with get_engine().connect() as conn:
            keys = list_keys(conn, org.id)
            if filters.tag_values and filters.tag_key not in keys:
                raise FilterError(f"Tag key {filters.tag_key!r} is not pre-aggregated for this organization.")
            group_key = grouped_key(keys, group_pick, filters)
            report = billing_report(
                conn,
                org,
                chosen,
                filters=filters,
                granularity=series,
                stack_by=stack if stack in STACKS else None,
                group_key=group_key,
            )
            previous = summarize(conn, org, chosen.previous(), filters=filters)
            agent_names = [a for (a, _name) in conn.execute(load("agent_names"), {"org_id": org.id}).all()]
            tag_values = conn.execute(load("tags/values"), {"org_id": org.id}).all()
    except (OperationalError, InterfaceError):
        current_app.logger.warning("billing report failed: database unavailable")
        return _not_loaded(database_down=True)
    except FilterError as exc:
        return _not_loaded(message=exc.message)
    view = report_view(
        report_json(report),
        changes_json(summary_changes(report.summary, previous)),
        PREFIX,
        projection_rows(report),
        org.name,
    )
    drawings = [
        view.daily_figure,
        view.model_figure,
        view.agent_rows,
        view.model_rows,
        view.conversation_rows,
        view.unpriced_banner,
        view.tag_rows,
    ]
    agent_options = _options(sorted(agent_names), list(filters.agents))
    model_options = _options(list(report.models["model"]), list(filters.models))
    return (
        csv_files(report),
        False,
        False,
        None,
        False,
        view.cards,
        view.period_label,
        view.empty,
        drawings,
        agent_options,
        model_options,
        tag_options(tag_values, filters),
        None if tag_values else HIDDEN,
        [{"label": key, "value": key} for key in keys],
        group_key if group_key != group_pick else no_update,
        bool(filters.tag_values),
        None if keys else HIDDEN,
    )


def grouped_key(keys: list[str], picked: Any, filters: Filters) -> str | None:
    """The tag key the tag card groups by: the tag filter's (the report groups by the filter's key
    only), else the one picked, else the first; None without keys (no card)."""
    if filters.tag_values:
        return filters.tag_key
    return picked if picked in keys else next(iter(keys), None)


def tag_options(values: Sequence[Any], filters: Filters) -> list[dict[str, str]]:
    """The tag picker's options, `key: value`, those in the filter left out; each option's value is
    the parameter and value, `tag.<key>=<value>` (a key has no `=`)."""
    chosen = {(filters.tag_key, v) for v in filters.tag_values}
    return [
        {"label": f"{key}: {value}", "value": tag_choice(key, value)}
        for key, value in values
        if (key, value) not in chosen
    ]


def _added(filters: dict | None, param: str, value: Any) -> Any:
    """`filters` with `value` added to `param`'s list (no_update when it is there or not text). A
    tag value of another key than the filter's replaces that key's: one tag key per report."""
    current = {p: _as_list((filters or {}).get(p)) for p in _filter_params(filters)}
    if not isinstance(value, str) or not value or value in current.get(param, []):
        return no_update
    if param.startswith(TAG_PARAM_PREFIX):
        current = {p: v for p, v in current.items() if not p.startswith(TAG_PARAM_PREFIX) or p == param}
    return current | {param: [*current.get(param, []), value]}


def change_filters(
    agent_pick: Any,
    model_pick: Any,
    tag_pick: Any,
    agent_cell: Any,
    model_cell: Any,
    tag_cell: Any,
    _chips: Any,
    filters: dict | None,
) -> tuple:
    """The filter after a pick from a dropdown, a click on an agent's, model's or tag value's row
    (click-through) or on a chip's ✕ (removes it); the pickers are emptied for the next pick."""
    trigger = ctx.triggered_id
    new: Any = no_update
    if trigger == AGENT_PICK:
        new = _added(filters, AGENT_PARAM, agent_pick)
    elif trigger == MODEL_PICK:
        new = _added(filters, MODEL_PARAM, model_pick)
    elif trigger == TAG_PICK:
        new = _tag_added(filters, tag_pick)
    elif trigger == TAGS_GRID and isinstance(tag_cell, dict):
        new = _tag_added(filters, tag_cell.get("rowId"))  # Other and Untagged rows: no tag_choice
    elif trigger == AGENTS_GRID and isinstance(agent_cell, dict):
        new = _added(filters, AGENT_PARAM, agent_cell.get("rowId"))
    elif trigger == MODELS_GRID and isinstance(model_cell, dict):
        new = _added(filters, MODEL_PARAM, model_cell.get("rowId"))
    elif isinstance(trigger, dict) and trigger.get("type") == CHIP and ctx.triggered[0]["value"]:
        param, value = trigger.get("param"), trigger.get("value")
        current = {p: _as_list((filters or {}).get(p)) for p in _filter_params(filters)}
        if param in current and value in current[param]:
            new = current | {param: [v for v in current[param] if v != value]}
    return new, None, None, None


def _tag_added(filters: dict | None, choice: Any) -> Any:
    """`filters` with the tag value of a filters.tag_choice (`tag.<key>=<value>`) added."""
    if not (isinstance(choice, str) and choice.startswith(TAG_PARAM_PREFIX)):
        return no_update
    tag_param, _, tag_value = choice.partition("=")
    return _added(filters, tag_param, tag_value)


def filter_by_clicked_model(click: Any, filters: dict | None) -> Any:
    """A click on a model's slice of the cost share chart filters by that model."""
    points = click.get("points") if isinstance(click, dict) else None
    model = points[0].get("customdata") if isinstance(points, list) and points and isinstance(points[0], dict) else None
    if isinstance(model, list):
        model = model[0] if model else None
    # The chart holds the name escaped, as it shows it (figures.usage.as_text).
    return _added(filters, MODEL_PARAM, html_text.unescape(model) if isinstance(model, str) else None)


def load_budgets(_retry: int | None, filters: Any = None) -> Any:
    """The budget cards: each budget's use, forecast and days left in its current period; under a
    filter, those of the kept agents and models and the organization's."""
    org = flask_login.current_user.org
    try:
        kept = _filters_of(filters)
    except FilterError:
        kept = NO_FILTERS  # load_report says what is wrong with the filter
    try:
        with get_engine().connect() as conn:
            statuses = [s for s in evaluate(conn, org) if kept.keeps_budget(s.budget.scope, s.budget.scope_id)]
            names: dict[str, str] = (
                dict(conn.execute(load("agent_names"), {"org_id": org.id}).all()) if statuses else {}
            )
    except (OperationalError, InterfaceError):
        return no_update  # load_report opens the alert; its retry comes here too
    return budget_cards(drawable([budget_status_json(s, org.timezone) for s in statuses]), PREFIX, names)


def load_alerts(_retry: int | None) -> Any:
    """The organization's last alerts (as GET /api/v1/alerts gives them), newest first."""
    org = flask_login.current_user.org
    try:
        with get_engine().connect() as conn:
            rows = recent_alerts(conn, org.id, SHOWN_ALERTS)
    except (OperationalError, InterfaceError):
        return no_update  # load_report opens the alert; its retry comes here too
    return alert_list(drawable([alert_json(r) for r in rows]), PREFIX, org.timezone)


def open_conversation(clicked: dict | None) -> tuple:
    """The conversation of a clicked row of the conversations grid, in the detail dialog:
    whether it opens, its title and its body (the API's detail, from the same service)."""
    conversation_id = clicked.get("rowId") if isinstance(clicked, dict) else None
    if not isinstance(conversation_id, str):
        return no_update, no_update, no_update
    org = flask_login.current_user.org
    try:
        with get_engine().connect() as conn:
            detail = conversation_detail(conn, org, conversation_id)
    except (OperationalError, InterfaceError):
        current_app.logger.warning("conversation detail failed: database unavailable")
        return True, "Conversation", dbc.Alert("The database is unavailable; try again.", color="danger")
    if detail is None:
        return True, "Conversation", dbc.Alert("This conversation does not exist.", color="warning")
    body = drawable(conversation_detail_json(detail))
    return True, body["title"], conversation_view(body, org.timezone, PREFIX)


def register_callbacks(app: dash.Dash) -> None:
    """Bind this page's callbacks to `app` (called by create_app).

    Explicit rather than `dash.callback`: that process-wide list goes to whichever app serves
    a request first, which leaves other apps built in the same process (tests) without any.
    """
    app.clientside_callback(
        dash.ClientsideFunction(namespace="billing", function_name="push_url"),
        Output(URL_SYNC, "data"),
        Input(PERIOD, "value"),
        Input(DATES, "start_date"),
        Input(DATES, "end_date"),
        Input(FILTERS, "data"),
        Input(GRANULARITY, "value"),
        Input(STACK, "value"),
    )
    app.callback(Output(DATES_WRAP, "hidden"), Input(PERIOD, "value"))(toggle_date_range)
    app.callback(
        Output(DOWNLOADS, "data"),
        Output(ALERT, "is_open"),
        Output(INVALID, "is_open"),
        Output(INVALID, "children"),
        Output(CONTENT, "hidden"),
        *VIEW_OUTPUTS,
        Input(PERIOD, "value"),
        Input(DATES, "start_date"),
        Input(DATES, "end_date"),
        Input(RETRY, "n_clicks"),
        Input(FILTERS, "data"),
        Input(GRANULARITY, "value"),
        Input(STACK, "value"),
        Input(TAG_GROUP, "value"),
    )(load_report)
    app.callback(Output(CHIPS, "children"), Input(FILTERS, "data"))(filter_chips)
    app.callback(
        Output(FILTERS, "data"),
        Output(AGENT_PICK, "value"),
        Output(MODEL_PICK, "value"),
        Output(TAG_PICK, "value"),
        Input(AGENT_PICK, "value"),
        Input(MODEL_PICK, "value"),
        Input(TAG_PICK, "value"),
        Input(AGENTS_GRID, "cellClicked"),
        Input(MODELS_GRID, "cellClicked"),
        Input(TAGS_GRID, "cellClicked"),
        Input({"type": CHIP, "param": ALL, "value": ALL}, "n_clicks"),
        State(FILTERS, "data"),
        prevent_initial_call=True,
    )(change_filters)
    # Its own callback: the chart is mounted after the page (see MOUNTED).
    app.callback(
        Output(FILTERS, "data", allow_duplicate=True),
        Input(MODEL_GRAPH, "clickData"),
        State(FILTERS, "data"),
        prevent_initial_call=True,
    )(filter_by_clicked_model)
    app.callback(Output(BUDGET_CARDS, "children"), Input(RETRY, "n_clicks"), Input(FILTERS, "data"))(load_budgets)
    app.callback(Output(RECENT_ALERTS, "children"), Input(RETRY, "n_clicks"))(load_alerts)
    # The figures and grid rows come a step after the cards: in the same update, React would hold
    # the cards back until plotly.js and the grid's code are loaded and run.
    app.clientside_callback(
        dash.ClientsideFunction(namespace="billing", function_name="mount_graphs"),
        *MOUNTED,
        Input(DRAWINGS, "data"),
        State(GRAPHS, "data"),
        *(State(box.component_id, "children") for box in MOUNTED),
        prevent_initial_call=True,
    )
    # Not run while the graphs are not mounted yet (suppress_callback_exceptions), nor when they are
    # mounted with their figures.
    app.clientside_callback(
        dash.ClientsideFunction(namespace="billing", function_name="draw_figures"),
        *DRAWN_FIGURES,
        Input(DRAWINGS, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        dash.ClientsideFunction(namespace="billing", function_name="draw_rows"),
        *DRAWN_ROWS,
        Input(DRAWINGS, "data"),
        prevent_initial_call=True,
    )
    app.callback(
        Output(CONVERSATION, "is_open"),
        Output(CONVERSATION_TITLE, "children"),
        Output(CONVERSATION_BODY, "children"),
        Input(CONVERSATIONS_GRID, "cellClicked"),
        prevent_initial_call=True,
    )(open_conversation)
    # In the browser: the CSV of what is on screen is already there, so a click sends nothing.
    app.clientside_callback(
        dash.ClientsideFunction(namespace="billing", function_name="download_csv"),
        Output(DOWNLOAD, "data"),
        Input({"type": DOWNLOAD_BUTTON, "section": ALL}, "n_clicks"),
        State(DOWNLOADS, "data"),
        prevent_initial_call=True,
    )
