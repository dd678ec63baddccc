"""The execution datasets not yet declared in the measure registry (monitoring, listing, onboarding).
Deleted as each measure declares itself (issue 11)."""

from __future__ import annotations

from jicai.measures.registry import Dims
from jicai.web.dataset import Dataset


def _monitor(wh, p, policy):
    from jicai.measures.monitor import monitor

    return monitor(wh, p["as_of"], None, policy).to_pyarrow()


def _volume_audit(wh, p, policy):
    from jicai.measures.volume_audit import volume_audit

    return volume_audit(wh, p["batch"], p["year"], policy).to_pyarrow()



def _onboarding(wh, p, policy):
    from jicai.measures.onboarding_report import onboarding_report

    return onboarding_report(wh, p["as_of"], None, policy).to_pyarrow()


def datasets() -> list[Dataset]:
    out: list[Dataset] = []
    from jicai.measures.monitor import INPUT_TABLES, MONITOR_COLUMNS
    from jicai.measures.onboarding_report import ONBOARDING_COLUMNS
    from jicai.measures.volume_audit import VOLUME_AUDIT_COLUMNS

    inst = Dims(institution="institution_code", region="region_code", variety="variety_id")
    out.append(Dataset("monitor", "月度监测", "Monthly monitoring", MONITOR_COLUMNS, inst, ("as_of",), _monitor,
                     sort=("institution_code", "batch_id", "variety_id"), requires=INPUT_TABLES,
                     note_zh="每家机构每个约定品种一行:完成率、序时进度、非中选占比、线下采购、回款、进院",
                     note_en="One row per institution × agreed variety: completion, time progress, non-selected "
                             "share, offline purchasing, payment, onboarding"))
    out.append(Dataset("volume-audit", "报量审核", "Volume audit", VOLUME_AUDIT_COLUMNS,
                     Dims(institution="institution_code", variety="variety_id"), ("batch", "year"), _volume_audit,
                     roles=("admin", "bureau", "auditor", "institution"), sort=("institution_code", "variety_id"),
                     requires=("agreements", "volume_reports", "batches"), group="assessment"))
    out.append(Dataset("onboarding", "未进院排查", "Not onboarded", ONBOARDING_COLUMNS,
                     Dims(institution="institution_code", region="region_code", variety="variety_id"), ("as_of",),
                     _onboarding, sort=("institution_code", "variety_id"), requires=INPUT_TABLES))

    return out
