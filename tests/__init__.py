"""Tests of billing-dash; ROOT is the checkout they run from."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
