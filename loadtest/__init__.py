"""Load test of billing-dash under gunicorn on PostgreSQL: `python -m loadtest.run` (or `make loadtest`)."""
