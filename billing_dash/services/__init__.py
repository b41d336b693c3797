"""Billing computations: database aggregates in, DataFrames and dataclasses out."""
