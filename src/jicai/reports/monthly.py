"""月度监测报告 (monthly monitoring report), seed 003 四(五) 每月监测.

Headline figures, a paragraph per batch (progress against 序时进度, non-selected share, payment), the
lists a bureau follows up — 零采购, 低于序时进度, 非中选超量, 未进院, 逾期回款 — the roll-ups by batch,
city and institution level, and charts of completion against 序时进度 and non-selected share by level.
Every figure comes from ``measures.monitor`` (see monitoring.py).
"""

from __future__ import annotations

from datetime import date, datetime

from jicai import clock
from jicai.policy import Policy
from jicai.reports import paragraphs
from jicai.reports.documents import Report
from jicai.reports.monitoring import Monitoring
from jicai.store import Warehouse

TITLE = "集中带量采购执行月度监测报告"


def monthly_report(wh: Warehouse, as_of: date, batch_id: str | None = None, policy: Policy | None = None,
                   computed_at: datetime | None = None, scope: str = "全省") -> Report:
    mon = Monitoring.build(wh, as_of, batch_id, policy, scope)
    return Report(
        kind="monthly", title=TITLE, period=f"{as_of.year}年{as_of.month}月", as_of=as_of, batch_id=batch_id,
        policy_version=mon.policy.version, policy_label=mon.policy.label, computed_at=computed_at or clock.stamp(),
        paragraphs=[paragraphs.opening("monthly", as_of, scope), *mon.batch_paragraphs(),
                    paragraphs.closing("monthly")],
        headline=mon.headline(),
        tables=[mon.batch_table(), mon.city_table(), mon.level_table(), mon.zero_table(), mon.behind_table(),
                mon.excess_table(), mon.not_onboarded_table(), mon.late_table()],
        charts=mon.charts(),
        notes=mon.notes(),
    )
