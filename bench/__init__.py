"""Reproducible benchmark of billing-dash: generate, import, serve with gunicorn, time, compare to baselines."""
