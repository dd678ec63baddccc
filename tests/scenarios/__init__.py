"""Declarative scenarios: TOML files of input rows and expected result rows, one folder per rule."""
