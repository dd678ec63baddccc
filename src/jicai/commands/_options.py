"""Options several commands share, declared once so that their names and help read the same everywhere."""

from __future__ import annotations

import typer

FORMAT = typer.Option("xlsx", "--format", help="输出格式 / output format: xlsx, csv, json")
OUT = typer.Option(None, "--out", help="输出文件 / output file (default: <data>/reports/)")
# commands whose batch names its policy, and commands with no batch (the bundled policy unless given)
POLICY_OF_BATCH = typer.Option(None, "--policy", help="政策文件(缺省:批次指定的政策) / policy TOML "
                                                      "(default: the policy the batch names)")
POLICY = typer.Option(None, "--policy", help="政策文件(缺省:内置政策) / policy TOML (default: bundled)")
