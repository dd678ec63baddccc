"""``jicai what-if --policy alt.toml``: the assessment, surplus retention and prepayment of one batch and cycle
year re-run under another policy, compared with the current one (:mod:`jicai.analytics.whatif`).

The current policy is the one the batch names (``--base-policy FILE`` to compare two files); ``--policy`` is
the alternative, validated like any policy file (a bad one: a bilingual error naming the parameter). One
report through the common pipeline (:mod:`jicai.reports.whatif`): the changed parameters, the institutions
that flip or whose money changes with the reasons under both policies, the totals per city and of the batch,
every institution. With two changed parameters or more it also says how much of the flips and the money each one
causes (:mod:`jicai.analytics.whatif_apportion`: Shapley values, exact up to four parameters, one at a time
beyond; ``--no-apportion`` skips the extra what-ifs). Nothing is stored: a what-if is a question, not a result.
"""

from __future__ import annotations

from pathlib import Path

import typer

from jicai.commands._runner import Run, computing_command, option, parse_day
from jicai.console import console, out

ALTERNATIVE = typer.Option(..., "--policy", help="测算用的政策文件(必填,按政策文件校验) / the alternative policy TOML "
                                                "(required, validated like any policy file)")


def _yuan(x: float) -> str:
    return f"{x:,.2f} 元"


def _signed(x: float) -> str:
    return ("+" if x > 0 else "") + _yuan(x)


def _count(x: float) -> str:
    return ("+" if x > 0 else "") + (f"{x:.0f}" if x == int(x) else f"{x:.1f}")


def _apportionment(c) -> None:
    """Each changed parameter's part of the total (two changed parameters or more), with what the parts are."""
    a = c.apportionment
    if a is None or len(c.changes) < 2:
        return
    out.print(f"  分项归因({a.method_zh}):{a.note_zh}")
    for x in a.total:
        what = f"{x.zh}({x.current} → {x.alt})" if x.parameter else x.zh
        v = x.values
        out.print(f"    {what}:转为不合格 {_count(v['to_fail'])} 家,转为合格 {_count(v['to_pass'])} 家,"
                  f"奖励 {_signed(v['reward_change'])},超支分担 {_signed(v['overspend_shared_change'])},"
                  f"预付冲抵 {_signed(v['offset_change'])}")


def register(app: typer.Typer) -> None:
    @computing_command(app, "what-if", policy=ALTERNATIVE, formats=("xlsx", "csv", "json", "html"))
    def what_if_cmd(
        r: Run,
        batch: str = option("batch"),
        year: int = option("year"),
        as_of: str = typer.Option(None, "--as-of",
                                  help="测算截止日(默认年度最后一天;之前为预测算) / as-of date, YYYY-MM-DD "
                                       "(default: the last day of the cycle year; earlier = provisional)"),
        base: Path = typer.Option(None, "--base-policy",
                                  help="现行政策文件(缺省:批次指定的政策) / the current policy TOML "
                                       "(default: the policy the batch names)"),
        apportion: bool = typer.Option(True, "--apportion/--no-apportion",
                                       help="分项归因:多项参数同时改动时,按 Shapley 值拆分各项参数的影响(每种参数组合"
                                            "另算一次;超过 4 项改为逐项测算)/ apportion the change between the changed "
                                            "parameters (one more what-if per combination; one at a time beyond 4)"),
    ) -> None:
        """政策测算:在另一政策下重算年度考核、结余留用与预付,列出合格与否发生变化的机构和奖励、冲抵金额的变化 /
        policy what-if: who flips pass/fail and the change in rewards and prepayment offsets."""
        from jicai.analytics.whatif import INPUT_TABLES, compare, labels
        from jicai.commands.policy import policy_for
        from jicai.policy.checked import load_checked
        from jicai.reports.whatif import changed_first, what_if_report

        day = parse_day(as_of) if as_of is not None else None
        alt = load_checked(r.policy_path)  # before any computation: a bad file is the first thing said
        current = load_checked(base) if base is not None else None
        r.require(INPUT_TABLES)
        if current is None:
            current = policy_for(r.settings, r.warehouse, batch, None)
        with console.status("正在按两种政策分别计算 / computing under both policies…"):
            c = compare(r.warehouse, batch, year, current, alt, day, apportion=apportion)
        path = r.write(what_if_report(c, r.computed_at), f"what_if_{batch}_{year}")
        t = c.total
        out.print(f"政策测算 批次 {batch} 第 {year} 采购年度(截至 {c.as_of}{'' if c.final else ',预测算'})")
        now, other = labels(current, alt)
        out.print(f"  现行政策 {now};测算政策 {other}")
        if not c.changes:
            out.print("  两项政策在考核、结余留用与预付读取的参数上取值相同,结果不变")
        for x in c.changes:
            out.print(f"  参数:{x.text(current, alt, c.as_of)}")
        for x in c.ignored:
            out.print(f"  参数(不影响本测算):{x.text(current, alt, c.as_of)}")
        out.print(f"  机构 {t['institutions']} 家:合格 {t['passed_current']} → {t['passed_alt']} 家,"
                  f"由合格转为不合格 {t['to_fail']} 家,由不合格转为合格 {t['to_pass']} 家")
        for row in changed_first(c.rows):
            if row["flip"] == "same":
                break
            if row["flip"] == "to_fail":
                word = f"转为不合格(测算政策下:{row['failed_items_zh_alt']})"
            else:
                word = f"转为合格(现行政策下:{row['failed_items_zh_current']})"
            out.print(f"    {row['institution_name'] or row['institution_code']}({row['institution_code']}){word},"
                      f"奖励 {_signed(row['reward_change'])};相关参数 {row['parameters_changed']}")
        out.print(f"  结余留用奖励 {_yuan(t['reward_current'])} → {_yuan(t['reward_alt'])}"
                  f"({_signed(t['reward_change'])});预付累计冲抵 {_yuan(t['offset_current'])} → "
                  f"{_yuan(t['offset_alt'])}({_signed(t['offset_change'])})")
        _apportionment(c)
        out.print(f"  报表:{path}")
