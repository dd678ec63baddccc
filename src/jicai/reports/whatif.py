"""政策测算 (policy what-if) as a report: what changes, who flips, and what it costs, per city and in total.

Built from :func:`jicai.analytics.whatif.compare` (the comparison computed once on the warehouse's engine). The
lists' columns are the registered measures' (``what-if``, ``what-if-by-region``), so the workbook, the page and
the API show a figure alike. Lists: 参数变化 (each changed parameter with its value under both policies),
分项归因 (with two changed parameters or more: each one's part of the flips and the money, in total and per city —
:mod:`jicai.analytics.whatif_apportion`),
考核结果变化 (the institutions whose verdict or money changes: flips first, then by the size of the change in
reward), 分地区汇总 (per city, the batch total in its 合计 row) and 全部机构 (every institution compared).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jicai.analytics.whatif import Comparison, labels
from jicai.measures.registry import measure
from jicai.reports.documents import Column, Report, Table, measure_table

CHANGE_COLUMNS = [Column("parameter_zh", "参数", "parameter"), Column("parameter", "参数代码", "parameter code"),
                  Column("current", "现行政策取值", "value under the current policy"),
                  Column("alt", "测算政策取值", "value under the alternative policy"),
                  Column("effect", "影响", "whether the what-if reads it")]
# each changed parameter's part of the change (jicai.analytics.whatif_apportion), in total and per city
APPORTION_COLUMNS = [
    Column("city_code", "地市", "city (全部 = every city)"), Column("parameter_zh", "参数", "parameter"),
    Column("parameter", "参数代码", "parameter code (blank: the part left to interactions)"),
    Column("current", "现行政策取值", "value under the current policy"),
    Column("alt", "测算政策取值", "value under the alternative policy"),
    Column("to_fail", "转为不合格(家)", "flips to fail attributed (a tenth of an institution at most apart)", "score"),
    Column("to_pass", "转为合格(家)", "flips to pass attributed", "score"),
    Column("reward_change", "奖励变化", "change of the retention rewards attributed (yuan)", "money"),
    Column("overspend_shared_change", "超支分担变化", "change of the overspend shared attributed (yuan)", "money"),
    Column("offset_change", "预付冲抵变化", "change of the prepayment offsets attributed (yuan)", "money"),
    Column("balance_change", "预付余额变化", "change of the balances to recover attributed (yuan)", "money"),
]
# the columns of the changed institutions shown in HTML/PDF (the workbook has them all)
BRIEF = ("institution_name", "flip", "failed_items_zh_current", "failed_items_zh_alt", "reward_current",
         "reward_alt", "reward_change", "offset_change", "parameters_changed")


def _yuan(x: float) -> str:
    return f"{x:,.2f} 元"


def _signed(x: float) -> str:
    return ("+" if x > 0 else "") + _yuan(x)


def _count(x: float) -> str:
    """Institutions attributed: whole when they are, else to the tenth (a flip split between parameters)."""
    return f"{x:.0f}" if x == int(x) else f"{x:.1f}"


def changed_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows where something changed: flips to fail, then to pass, then by the size of the reward change."""
    order = {"to_fail": 0, "to_pass": 1, "same": 2}
    hit = [r for r in rows if r["parameters_changed"]]
    return sorted(hit, key=lambda r: (order.get(r["flip"], 3), -abs(r["reward_change"] or 0.0),
                                      -abs(r["offset_change"] or 0.0), r["institution_code"]))


def what_if_report(c: Comparison, computed_at: datetime) -> Report:
    """The report of one comparison (see the module docstring)."""
    m, by_region = measure("what-if"), measure("what-if-by-region")
    t = c.total
    period = f"批次 {c.batch_id} 第{c.year}采购年度" + ("" if c.final else f"(截至 {c.as_of},预测算)")
    changed = changed_first(c.rows)
    headline = [
        ("参加测算机构", f"{t['institutions']} 家"),
        ("由合格转为不合格", f"{t['to_fail']} 家"), ("由不合格转为合格", f"{t['to_pass']} 家"),
        ("结余留用奖励", f"{_yuan(t['reward_current'])} → {_yuan(t['reward_alt'])}({_signed(t['reward_change'])})"),
        ("预付累计冲抵", f"{_yuan(t['offset_current'])} → {_yuan(t['offset_alt'])}({_signed(t['offset_change'])})"),
        ("预付余额(应收回)", f"{_yuan(t['balance_current'])} → {_yuan(t['balance_alt'])}"
                           f"({_signed(t['balance_change'])})"),
    ]
    now, alt = labels(c.current, c.alt)
    paragraphs = [
        f"以现行政策「{now}」与测算政策「{alt}」分别重新计算{period}的年度考核、结余留用与预付冲抵,"
        "逐家机构对比:合格与否及其原因、考核得分、结余留用奖励、合理超支分担、预付金额、累计冲抵与余额。",
        ("测算政策改变的参数:" + ";".join(x.text(c.current, c.alt, c.as_of) for x in c.changes) + "。")
        if c.changes else "两项政策在本测算读取的参数上取值相同,结果不变。",
    ]
    if c.ignored:
        paragraphs.append("以下参数也不同,但不影响考核、结余留用与预付:"
                          + ";".join(x.text(c.current, c.alt, c.as_of) for x in c.ignored) + "。")
    paragraphs.append(f"{t['to_fail']} 家机构由合格转为不合格,{t['to_pass']} 家由不合格转为合格;结余留用奖励合计变化 "
                      f"{_signed(t['reward_change'])},预付累计冲抵变化 {_signed(t['offset_change'])}。"
                      "“变化原因”列出与该机构变化有关的参数" + (";各项参数各自造成多少见“分项归因”。"
                                                              if c.apportionment and len(c.changes) > 1 else "。"))
    a = c.apportionment
    if a is not None and a.method == "unavailable":
        paragraphs.append(a.note_zh + "。")
    elif a is not None and len(c.changes) > 1:
        paragraphs.append("分项归因(" + a.method_zh + "):" + a.note_zh + ";".join(
            f"{x.zh}:奖励 {_signed(x.values['reward_change'])},转为不合格 {_count(x.values['to_fail'])} 家、"
            f"转为合格 {_count(x.values['to_pass'])} 家" for x in a.total) + "。")
    report = Report(
        kind="what-if", title="政策测算:年度考核、结余留用与预付", period=period, as_of=c.as_of, batch_id=c.batch_id,
        policy_version=f"{c.current.version} → {c.alt.version}",
        policy_label=f"现行 {now};测算 {alt}", computed_at=computed_at,
        headline=headline, paragraphs=paragraphs,
        params={"batch_id": c.batch_id, "cycle_year": c.year, "as_of": c.as_of,
                "changes": {x.name: [x.current, x.alt] for x in c.changes}})
    change_rows = [{"parameter_zh": x.zh, "parameter": x.name, "current": x.shown(c.current, c.as_of),
                    "alt": x.shown(c.alt, c.as_of), "effect": effect}
                   for xs, effect in ((c.changes, "重新计算"), (c.ignored, "不影响本测算")) for x in xs]
    changes = measure_table(m, changed, "changed", "考核结果与金额变化",
                            note="有变化的机构:先列由合格转为不合格,再列由不合格转为合格,其余按奖励变化绝对值从大到小")
    changes.brief = BRIEF
    report.tables.append(Table("parameters", "参数变化", CHANGE_COLUMNS, change_rows,
                               note="测算政策与现行政策取值不同的参数"))
    if a is not None and a.method != "unavailable" and len(c.changes) > 1:
        lines = [{**r, "city_code": r["city_code"] or "全部"} for r in a.rows()]
        report.tables.append(Table("apportionment", "分项归因", APPORTION_COLUMNS, lines,
                                   note=f"{a.method_zh}:每项参数造成的变化,先列全部,再列各地市。{a.note_zh}"))
    report.tables += [
        changes,
        measure_table(by_region, c.regions, "regions", "分地区汇总", note="每地市一行;合计为全批次"),
        measure_table(m, c.rows, "rows", "全部机构", note="参加测算的全部机构,按机构编码排序"),
    ]
    return report
