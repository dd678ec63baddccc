"""Indicators as engine-neutral Ibis expressions, one module per domain (see monitor.py)."""
