"""季度通报 (quarterly notice), seed 003 四(五) 季度通报: as of the last day of the quarter.

The paragraphs of the notice name the figures (总体完成率, 序时进度, how many institutions are behind and
which most), then two ranked lists — institutions behind 序时进度 by their gap, late payers by overdue
amount — and the roll-ups by city and level with their charts. Figures come from ``measures.monitor``.
"""

from __future__ import annotations

from datetime import datetime

from jicai import clock
from jicai.policy import Policy
from jicai.reports import paragraphs
from jicai.reports.documents import Report, ReportError
from jicai.reports.monitoring import Monitoring
from jicai.store import Warehouse

TITLE = "集中带量采购执行情况季度通报"


def quarterly_report(wh: Warehouse, year: int, quarter: int, batch_id: str | None = None,
                     policy: Policy | None = None, computed_at: datetime | None = None,
                     scope: str = "全省") -> Report:
    if quarter not in paragraphs.QUARTERS:
        raise ReportError(f"季度应为 1–4：{quarter}", f"quarter must be 1–4: {quarter}")
    as_of = paragraphs.quarter_end(year, quarter)
    mon = Monitoring.build(wh, as_of, batch_id, policy, scope)
    return Report(
        kind="quarterly", title=TITLE, period=paragraphs.quarter_zh(year, quarter), as_of=as_of, batch_id=batch_id,
        policy_version=mon.policy.version, policy_label=mon.policy.label, computed_at=computed_at or clock.stamp(),
        paragraphs=[paragraphs.opening("quarterly", as_of, scope, year, quarter), *mon.batch_paragraphs(),
                    paragraphs.closing("quarterly")],
        headline=mon.headline(),
        tables=[mon.lagging_table(), mon.late_table(), mon.city_table(), mon.level_table(), mon.zero_table(),
                mon.excess_table()],
        charts=mon.charts(),
        notes=mon.notes(),
    )
