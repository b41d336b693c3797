"""The page shell: navigation bar with the product, the organization and a log-out action."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import flask_login
from dash import dcc, html
from flask_wtf.csrf import generate_csrf

from ..pages import DASHBOARD_PATH


def navbar() -> dbc.Navbar:
    user = flask_login.current_user
    org = user.org.name if user.is_authenticated else ""
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("billing-dash", href=DASHBOARD_PATH, className="fw-bold"),
                dbc.Nav(
                    [dbc.NavItem(dbc.NavLink("Billing", href=DASHBOARD_PATH, active="partial"))],
                    className="me-auto",
                    navbar=True,
                ),
                html.Span(org, id="shell-org", className="navbar-text me-3 text-truncate"),
                # A POST with the CSRF token: a plain link could be followed (or embedded) by any site.
                html.Form(
                    [
                        dcc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
                        html.Button(
                            "Log out", id="shell-logout", type="submit", className="btn btn-outline-light btn-sm"
                        ),
                    ],
                    action="/logout",
                    method="POST",
                    className="m-0",
                ),
            ],
            fluid=True,
            className="flex-nowrap",
        ),
        color="dark",
        dark=True,
        className="mb-3",
    )


def shell_layout() -> html.Div:
    """Evaluated per request: no data beyond the logged-in user's organization name."""
    return html.Div([navbar(), dbc.Container(dash.page_container, fluid="xxl", className="pb-5")])
