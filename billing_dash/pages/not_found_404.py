"""The 404 page for unknown dashboard URLs."""

import dash
from dash import html

from . import DASHBOARD_PATH

dash.register_page(__name__, path="/404")


def layout(**_query: str) -> html.Div:
    return html.Div(
        [
            html.H1("Page not found"),
            html.P(["Nothing lives here. ", html.A("Go to billing", href=DASHBOARD_PATH)]),
        ],
        className="py-5 text-center",
    )
