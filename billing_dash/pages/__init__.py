"""Dash pages, one module per URL."""
