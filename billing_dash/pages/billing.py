"""The billing dashboard at /dashboard/billing."""

import dash
from dash import html

dash.register_page(__name__, path="/dashboard/billing", title="Billing · billing-dash", name="Billing")


def layout(**_query) -> html.Div:
    return html.Div([html.H1("Billing & Usage", id="billing-title")])
