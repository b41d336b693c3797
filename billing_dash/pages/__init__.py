"""Dash pages, one module per URL."""

# Where the dashboard lives: login sends users there, the navigation links to it, the CLI prints it.
DASHBOARD_PATH = "/dashboard/billing"
