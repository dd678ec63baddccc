"""The parts of the monthly and quarterly reports: the monitoring rows once, then their lists and charts.

:class:`Monitoring` runs ``measures.monitor.monitor`` once on the warehouse, freezes the rows and
builds from them (with lists.py's Ibis selections) the tables, charts and paragraph figures both
reports share. monthly.py and quarterly.py only choose and order these parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

import ibis
import ibis.expr.types as ir

from jicai.analytics.ddd_rollups import ROLLUP_DDD_COLUMNS, rollup_ddd
from jicai.analytics.ddd_units import ddd_columns, factor_rows, with_ddd
from jicai.contract.columns import Col, col
from jicai.measures.monitor import COLUMNS, INPUT_TABLES, ROLLUP_COLUMNS, STATUS, monitor
from jicai.measures.registry import measure
from jicai.policy import Policy, load_policy
from jicai.reports import lists, paragraphs
from jicai.reports.charts import progress_chart, share_chart
from jicai.reports.documents import LEVELS, Chart, Column, ReportError, Table, fixed
from jicai.reports.paragraphs import BatchFigures, Named
from jicai.store import Warehouse

# the columns the lists show: a list of agreements (institution × variety) labels them as the monitoring does,
# a roll-up as the roll-ups do (总体完成率…); the few a report adds (lists.REPORT_COLUMNS) come first. Both carry
# their figures in DDDs too (jicai.analytics.ddd_units, ddd_rollups): the rows are the monitoring's with their
# variety's DDD columns, the roll-ups convert each row before the sums.
ROW_COLUMNS = {c.name: c for c in (*COLUMNS, *ddd_columns(measure("monitor")))}
SUM_COLUMNS = {**ROW_COLUMNS, **{c.name: c for c in (*ROLLUP_COLUMNS, *ROLLUP_DDD_COLUMNS)}}

AGREEMENT = ("batch_id", "institution_code", "institution_name", "region_code", "level", "variety_id", "variety_name")
ROLLUP_FIGURES = ("institutions", "rows", "agreed_volume", "selected_volume", "completion", "zero", "behind",
                  "nonselected_share", "nonselected_excess_rows", "not_onboarded_rows", "amount_due", "paid_by_due",
                  "overdue_amount", "payment_rate")
ADDITIVE = ("rows", "agreed_volume", "selected_volume", "zero", "behind", "over", "normal",
            "nonselected_excess_rows", "not_onboarded_rows", "selected_amount", "nonselected_amount",
            "amount_due", "paid_by_due", "overdue_amount", "overdue_lines", "shortfall_volume",
            "nonselected_counted_volume")

# ratios of volumes (and the time progress, which differs per batch): like volumes, only totalled over one unit
PER_UNIT = ("completion", "nonselected_share", "time_progress")

# a roll-up's DDD figures, each beside the figure in minimum units it converts, the rest after; DDDs add across
# varieties and batches, so the totals row shows the scope's own (Table.across_units) — a value, not an Excel SUM:
# a row without DDDs is blank, never a zero
DDD_BESIDE = {"completion": ("agreed_volume_ddd", "selected_volume_ddd", "completion_ddd"),
              "nonselected_share": ("nonselected_share_ddd",)}
DDD_AFTER = ("selected_cost_per_ddd", "nonselected_cost_per_ddd", "rows_without_ddd", "agreed_volume_unconverted",
             "selected_volume_unconverted", "ddd_note")
IN_DDDS = ("agreed_volume_ddd", "selected_volume_ddd", "completion_ddd", "nonselected_share_ddd",
           "selected_cost_per_ddd", "nonselected_cost_per_ddd")


def _in_ddds(names: tuple[str, ...]) -> tuple[str, ...]:
    """A roll-up's columns ``names`` with their DDD figures (:data:`DDD_BESIDE`, :data:`DDD_AFTER`)."""
    out: list[str] = []
    for n in names:
        out += [n, *DDD_BESIDE.get(n, ())]
    return (*out, *DDD_AFTER)


def _row_ddds(figures: tuple[str, ...]) -> tuple[str, ...]:
    """An agreement list's figures with each volume's DDDs beside it and the row's DDD note (none totalled: a
    row without DDDs would be left out of the sum)."""
    out: list[str] = []
    for n in figures:
        out += [n, *([f"{n}_ddd"] if f"{n}_ddd" in ROW_COLUMNS else [])]
    return (*out, "ddd_note")


def _additive(names) -> tuple[str, ...]:
    return tuple(n for n in names if n in ADDITIVE)


def _columns(by_name: dict[str, Col], names, totals: tuple[str, ...] = ()) -> list[Column]:
    """Report columns of ``names``: labels from the report's own columns or ``by_name``, kinds from the
    vocabulary, progress status by its Chinese name."""
    out = []
    for n in names:
        if n in lists.REPORT_COLUMNS:
            zh, en = lists.REPORT_COLUMNS[n]
            c = col(n, zh, en)
        else:
            c = by_name[n]
        out.append(Column.of(c, n in totals, STATUS if n == "status" else None))
    return out


@dataclass
class Monitoring:
    """The monitoring rows of one as-of date (and batch), frozen, with what the reports need of them."""

    as_of: date
    batch_id: str | None
    policy: Policy
    m: ir.Table
    batch_names: ir.Table
    city_names: ir.Table
    scope: str = "全省"

    @classmethod
    def build(cls, wh: Warehouse, as_of: date, batch_id: str | None = None, policy: Policy | None = None,
              scope: str = "全省") -> Monitoring:
        policy = policy or load_policy()
        missing = [t for t in INPUT_TABLES if not wh.has_table(t)]
        if missing:
            raise ReportError(f"数据仓库缺少表：{', '.join(missing)}（请先 jicai import）",
                              f"warehouse lacks tables: {', '.join(missing)} (run jicai import first)")
        batch_names = lists.names(wh, "batches", "batch_id", "batch_name")
        if batch_id is not None and not lists.rows(batch_names.filter(batch_names.batch_id == batch_id)):
            raise ReportError(f"没有批次 {batch_id}", f"no batch {batch_id}")
        m = lists.frozen(monitor(wh, as_of, batch_id, policy))
        # each row with its variety's DDDs (analytics.ddd_units): the roll-ups add them (rollup_ddd)
        m = lists.frozen(with_ddd(measure("monitor"), m, ibis.memtable(factor_rows(wh))))
        city_names = lists.names(wh, "regions", "region_code", "city_name")
        return cls(as_of, batch_id, policy, m, batch_names, city_names, scope)

    @property
    def nonselected_share_max(self) -> float:
        return float(self.policy.value("nonselected_share_max", on=self.as_of))

    # -- figures (each list is queried once and kept: compiling a query costs more than running it) -----
    @cached_property
    def _batches(self) -> list[dict[str, Any]]:
        return lists.rows(lists.by_batch(self.m, self.batch_names, rollup_ddd))

    @cached_property
    def _total(self) -> dict[str, Any] | None:
        return lists.scope_total(self.m, rollup_ddd)

    @cached_property
    def _lagging(self) -> list[dict[str, Any]]:
        return lists.rows(lists.lagging_institutions(self.m, rollup_ddd))

    @cached_property
    def _late(self) -> list[dict[str, Any]]:
        return lists.rows(lists.late_payers(self.m))

    @cached_property
    def _excess(self) -> list[dict[str, Any]]:
        return lists.rows(lists.nonselected_excess_rows(self.m))

    @cached_property
    def _city(self) -> list[dict[str, Any]]:
        return lists.rows(lists.by_city(self.m, self.city_names, rollup_ddd))

    @cached_property
    def _level(self) -> list[dict[str, Any]]:
        return lists.rows(lists.by_level(self.m, rollup_ddd))

    def batches(self) -> list[dict[str, Any]]:
        return self._batches

    def total(self) -> dict[str, Any] | None:
        return self._total

    def figures(self, b: dict[str, Any]) -> BatchFigures:
        return BatchFigures(
            batch_id=b["batch_id"], batch_name=b.get("batch_name"), cycle_year=b["cycle_year"],
            time_progress=b["time_progress"], institutions=b["institutions"], rows=b["rows"],
            completion=b["completion"], zero=b["zero"], behind=b["behind"],
            not_onboarded_rows=b["not_onboarded_rows"], nonselected_share=b["nonselected_share"],
            nonselected_excess_rows=b["nonselected_excess_rows"], amount_due=b["amount_due"],
            payment_rate=b["payment_rate"], overdue_amount=b["overdue_amount"])

    def batch_paragraphs(self, top: int = 3) -> list[str]:
        """Per batch: progress against 序时进度, non-selected share, payment — the figures named."""
        out = []
        for b in self.batches():
            f = self.figures(b)
            lag = [r for r in self._lagging if r["batch_id"] == f.batch_id]  # ranked lists, in order
            out.append(paragraphs.progress_paragraph(
                f, self.as_of, [Named(r["institution_name"], r["completion"], r["gap"]) for r in lag[:top]],
                len(lag), scope=self.scope))
            ex = [r for r in self._excess if r["batch_id"] == f.batch_id]
            out.append(paragraphs.nonselected_paragraph(
                f, [Named(f"{r['institution_name']}·{r['variety_name']}", r["nonselected_share"]) for r in ex[:top]],
                self.nonselected_share_max))
            late = [r for r in self._late if r["batch_id"] == f.batch_id]
            out.append(paragraphs.payment_paragraph(
                f, self.as_of, [Named(r["institution_name"], r["overdue_amount"]) for r in late[:top]], len(late)))
        return out

    def headline(self) -> list[tuple[str, str]]:
        """The cards: counts and money over everything; completion, 序时进度 and non-selected share — ratios of
        volumes in each batch's own units — once per batch, named by the batch (never a "见各批次")."""
        t = self.total() or {}
        batches = self.batches()
        cards = [("医疗机构", f"{t.get('institutions', 0):,} 家"), ("约定品种", f"{t.get('rows', 0):,} 个")]
        if len(batches) == 1:
            b = batches[0]
            cards += [("总体完成率", paragraphs.pct(b["completion"])), ("序时进度", paragraphs.pct(b["time_progress"])),
                      ("非中选产品占比", paragraphs.pct(b["nonselected_share"]))]
        else:
            for b in batches:
                name = b.get("batch_name") or b["batch_id"]
                cards += [(f"{name} 完成率 / 序时进度",
                           f"{paragraphs.pct(b['completion'])} / {paragraphs.pct(b['time_progress'])}"),
                          (f"{name} 非中选产品占比", paragraphs.pct(b["nonselected_share"])
                           if b["nonselected_share"] is not None else "尚无采购")]
        return [*cards, *self._ddd_cards(t), ("按期回款率", paragraphs.pct(t.get("payment_rate"))),
                ("逾期未回款", paragraphs.yuan(t.get("overdue_amount", 0.0)))]

    @staticmethod
    def _ddd_cards(t: dict[str, Any]) -> list[tuple[str, str]]:
        """The selected volume in DDDs and its cost per DDD over everything (DDDs add across varieties and
        batches), and how many agreements had no DDDs; none when no variety has DDDs."""
        if t.get("selected_volume_ddd") is None:
            return []
        cards = [("中选产品采购量(DDD)", f"{fixed(t['selected_volume_ddd'], 0, sep=True)} DDD")]
        if t.get("selected_cost_per_ddd") is not None:
            cards.append(("中选产品每DDD费用", f"{fixed(t['selected_cost_per_ddd'], 4)}元"))
        if t.get("rows_without_ddd"):
            cards.append(("无DDD的约定品种", f"{t['rows_without_ddd']:,} 行(未计入DDD)"))
        return cards

    # -- tables -------------------------------------------------------------------------------------
    def _rollup_table(self, key: str, title: str, rows: list[dict[str, Any]], keys: tuple[str, ...], note: str,
                      extra: tuple[str, ...] = ()) -> Table:
        names = _in_ddds((*keys, "time_progress", *ROLLUP_FIGURES, *extra))
        cols = _columns(SUM_COLUMNS, names, _additive(names))
        return Table(key, title, cols, rows, totals=self.total(), note=note, like_units="batch_id",
                     per_unit=PER_UNIT, across_units=IN_DDDS)

    def batch_table(self) -> Table:
        t = self._rollup_table(
            "by_batch", "按批次汇总", self._batches, ("batch_id", "batch_name", "cycle_year"),
            "每批次一行；完成率、占比、回款率为合计量之比（Σ中选量/Σ约定量等）。",
            extra=("over", "normal", "selected_amount", "nonselected_amount", "offline_share"))
        t.brief = ("batch_id", "batch_name", "cycle_year", "time_progress", "institutions", "rows", "completion",
                   "completion_ddd", "zero", "behind", "nonselected_share", "selected_cost_per_ddd", "payment_rate",
                   "overdue_amount")
        return t

    def city_table(self) -> Table:
        t = self._rollup_table("by_city", "按地市汇总", self._city,
                               ("batch_id", "city_code", "city_name"), "每批次 × 地市一行，按地市区划排序。")
        t.brief = ("city_name", "batch_id", "institutions", "rows", "completion", "completion_ddd", "time_progress",
                   "zero", "behind", "nonselected_share", "payment_rate", "overdue_amount")
        return t

    def level_table(self) -> Table:
        t = self._rollup_table("by_level", "按医院等级汇总", self._level, ("batch_id", "level"),
                               "每批次 × 医院等级一行。")
        t.brief = ("level", "batch_id", "institutions", "rows", "completion", "completion_ddd", "time_progress",
                   "nonselected_share", "nonselected_excess_rows", "payment_rate", "overdue_amount")
        return t

    def _agreement_table(self, key: str, title: str, expr: ir.Table, figures: tuple[str, ...], note: str,
                         brief: tuple[str, ...], rows: list[dict[str, Any]] | None = None) -> Table:
        names = (*AGREEMENT, *_row_ddds(figures))
        tot = _additive(figures)
        return Table(key, title, _columns(ROW_COLUMNS, names, tot), lists.rows(expr) if rows is None else rows,
                     totals=lists.sums(expr, tot), note=note, brief=brief, like_units="variety_id", per_unit=PER_UNIT)

    def zero_table(self) -> Table:
        return self._agreement_table(
            "zero", "零采购", lists.status_rows(self.m, "zero"),
            ("agreed_volume", "time_progress", "shortfall_volume"),
            "有约定采购量、截至监测日中选产品采购量为 0 的机构品种。",
            ("institution_name", "level", "variety_name", "agreed_volume", "shortfall_volume"))

    def behind_table(self) -> Table:
        return self._agreement_table(
            "behind", "低于序时进度", lists.status_rows(self.m, "behind"),
            ("agreed_volume", "selected_volume", "completion", "time_progress", "shortfall_volume"),
            "完成率低于序时进度的机构品种（不含零采购），差距最大的在前。",
            ("institution_name", "level", "variety_name", "completion", "time_progress", "shortfall_volume"))

    def excess_table(self) -> Table:
        return self._agreement_table(
            "nonselected_excess", "非中选超量", lists.nonselected_excess_rows(self.m),
            ("selected_volume", "nonselected_counted_volume", "nonselected_share", "nonselected_amount"),
            f"非中选产品占比超过 {paragraphs.pct(self.nonselected_share_max)} 的机构品种，占比最高的在前。",
            ("institution_name", "level", "variety_name", "selected_volume", "nonselected_counted_volume",
             "nonselected_share"), rows=self._excess)

    def not_onboarded_table(self) -> Table:
        return self._agreement_table(
            "not_onboarded", "未进院", lists.not_onboarded_rows(self.m), ("agreed_volume",),
            "执行满规定月数仍未采购任何中选产品的机构品种。",
            ("institution_name", "region_code", "level", "variety_name", "agreed_volume"))

    def _institution_table(self, key: str, title: str, expr: ir.Table, rows: list[dict[str, Any]],
                           figures: tuple[str, ...], note: str, brief: tuple[str, ...]) -> Table:
        names = ("rank", "batch_id", "institution_code", "institution_name", "region_code", "level", *figures)
        tot = _additive(figures)
        return Table(key, title, _columns(SUM_COLUMNS, names, tot), rows,
                     totals=lists.sums(expr, tot), note=note, brief=brief, like_units="batch_id", per_unit=PER_UNIT,
                     across_units=IN_DDDS)

    def lagging_table(self) -> Table:
        return self._institution_table(
            "lagging", "进度落后机构排名", lists.lagging_institutions(self.m, rollup_ddd), self._lagging,
            ("rows", "agreed_volume", "agreed_volume_ddd", "selected_volume", "selected_volume_ddd", "completion",
             "completion_ddd", "time_progress", "gap", "zero", "behind", "selected_cost_per_ddd", "rows_without_ddd",
             "agreed_volume_unconverted", "selected_volume_unconverted", "ddd_note"),
            "总体完成率（本批次各约定品种 Σ中选量/Σ约定量）低于序时进度的医疗机构，按差距从大到小排名。",
            ("rank", "institution_name", "level", "batch_id", "completion", "completion_ddd", "time_progress", "gap",
             "zero", "behind"))

    def late_table(self) -> Table:
        return self._institution_table(
            "late_payers", "逾期回款排名", lists.late_payers(self.m), self._late,
            ("amount_due", "paid_by_due", "payment_rate", "overdue_amount", "overdue_lines"),
            "截至监测日有逾期未回款（超过验收次月底仍未结清）的医疗机构，按逾期金额从大到小排名。",
            ("rank", "institution_name", "level", "batch_id", "amount_due", "payment_rate", "overdue_amount",
             "overdue_lines"))

    # -- charts -------------------------------------------------------------------------------------
    def _label(self, b: dict[str, Any], many: bool, label: str) -> str:
        return f"{b['batch_id']} {label}" if many else label

    def charts(self) -> list[Chart]:
        batches = self.batches()
        many = len(batches) > 1
        out = []
        city, level = self._city, self._level
        for b in batches:
            suffix = f"（{paragraphs.batch_label(self.figures(b))}）"
            items = [(r["city_name"], r["completion"], r["time_progress"]) for r in city if r["batch_id"] == b["batch_id"]]
            out.append(Chart(f"progress_city_{b['batch_id']}", f"各地市完成率与序时进度{suffix}", progress_chart(
                f"各地市完成率与序时进度{suffix}", items)))
            items = [(LEVELS.get(r["level"], str(r["level"])), r["completion"], r["time_progress"])
                     for r in level if r["batch_id"] == b["batch_id"]]
            out.append(Chart(f"progress_level_{b['batch_id']}", f"各级医疗机构完成率与序时进度{suffix}", progress_chart(
                f"各级医疗机构完成率与序时进度{suffix}", items)))
        items = [(self._label(r, many, LEVELS.get(r["level"], str(r["level"]))), r["nonselected_share"]) for r in level]
        out.append(Chart("nonselected_level", "各级医疗机构非中选产品占比",
                         share_chart("各级医疗机构非中选产品占比", items, self.nonselected_share_max)))
        return out

    def notes(self) -> list[str]:
        return [
            "完成率 = 中选产品采购量（含核实供应问题期间的备供替代量）/ 约定采购量；序时进度 = 采购年度已过天数 / 全年天数。",
            f"非中选产品占比 = 非中选采购量 /（中选 + 非中选采购量），不计核实的供应问题期间和特殊品种豁免期间；"
            f"上限 {paragraphs.pct(self.nonselected_share_max)}。",
            "按期回款率 = 在验收次月底前付清的金额 / 到期应回款金额；逾期未回款为截至监测日已过期限仍未付清的金额。",
            "按DDD（限定日剂量）的数字：各约定品种先按其每单位DDD数换算再汇总（总体完成率(按DDD) = Σ中选DDD / Σ约定DDD，"
            "中选产品每DDD费用 = 有DDD品种的中选金额 / Σ中选DDD）；无DDD的品种（DDD表无该药品、含量不明或品种内各产品"
            "含量不同）不计入，其用量在工作簿“未换算”列（最小单位）。",
            f"执行政策 {self.policy.label}；各项数值由 jicai 监测指标计算，可追溯至订单明细。",
        ]
