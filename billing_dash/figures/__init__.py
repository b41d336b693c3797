"""Pure figure builders: a small DataFrame in, a plotly Figure out."""
