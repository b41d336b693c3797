"""Budgets, forecasts and (later) anomalies and the webhook outbox."""
