"""What the pages and the API show: each dataset is a measure, its parameters, its columns and its dimensions.

A dataset computes rows (an Arrow table) on the warehouse's engine with the measure the command line uses,
so a page, an API response and ``jicai <command> --format csv`` hold the same figures. The web layer caches
the rows (:mod:`jicai.web.data`), applies scope (:mod:`jicai.web.scope`), filters, sorts and pages them.
Issues' measures register their datasets with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from jicai.errors import BilingualError
from jicai.store import Warehouse
from jicai.web.principal import ROLES
from jicai.web.scope import Dims

PARAMS = {
    "as_of": ("截至日期", "as-of date"),
    "batch": ("批次", "batch"),
    "year": ("采购年度", "cycle year"),
    "month": ("月份", "month (YYYY-MM)"),
    "period": ("结算期", "period"),
}


class DatasetError(BilingualError):
    """A dataset cannot be computed for these arguments (unknown batch, missing tables); shown as 422."""


@dataclass(frozen=True)
class Dataset:
    name: str  # URL segment: /api/<name>, /data/<name>
    title_zh: str
    title_en: str
    columns: dict[str, tuple[str, str]]
    dims: Dims
    params: tuple[str, ...]
    compute: Callable[[Warehouse, dict[str, Any], Any], pa.Table]  # (warehouse, params, policy) -> rows
    roles: tuple[str, ...] = ROLES
    sort: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # warehouse tables the measure reads
    note_zh: str = ""
    note_en: str = ""
    group: str = "execution"  # menu group: execution, assessment, supply, fund


DATASETS: dict[str, Dataset] = {}


def register(ds: Dataset) -> Dataset:
    DATASETS[ds.name] = ds
    return ds


def _policy(wh: Warehouse, data_dir, batch: str | None):
    from jicai.policy.registry import resolve_policy

    return resolve_policy(data_dir, wh, batch, None)


def compute_rows(ds: Dataset, wh: Warehouse, params: dict[str, Any], data_dir) -> pa.Table:
    """The dataset's rows for ``params``, with its columns in order; bilingual :class:`DatasetError` on failure."""
    missing = [t for t in ds.requires if not wh.has_table(t)]
    if missing:
        raise DatasetError(f"数据仓库缺少表:{', '.join(missing)}(请先导入)",
                           f"the warehouse lacks tables: {', '.join(missing)} (import them first)")
    try:
        policy = _policy(wh, data_dir, params.get("batch"))
        rows = ds.compute(wh, params, policy)
    except DatasetError:
        raise
    except BilingualError as exc:  # the measures' and the policy lookup's own errors (AssessmentError, …)
        raise DatasetError(exc.zh, exc.en) from exc
    cols = [c for c in ds.columns if c in rows.schema.names]
    return rows.select(cols)


# ---- the built-in datasets -----------------------------------------------------------------------

def _monitor(wh, p, policy):
    from jicai.measures.monitor import monitor

    return monitor(wh, p["as_of"], None, policy).to_pyarrow()


def _assessment(wh, p, policy):
    from jicai.assess.assessment import assess
    from jicai.assess.period import assessment_period

    period = assessment_period(wh, p["batch"], p["year"])
    as_of = p["as_of"] if period.cycle_start <= p["as_of"] < period.cycle_end else None
    return assess(wh, p["batch"], p["year"], policy, as_of).to_pyarrow()


def _prepayment(wh, p, policy):
    from jicai.assess.prepayment import prepayment_ledger

    return prepayment_ledger(wh, p["batch"], p["year"], policy, p["as_of"]).to_pyarrow()


def _volume_audit(wh, p, policy):
    from jicai.measures.volume_audit import volume_audit

    return volume_audit(wh, p["batch"], p["year"], policy).to_pyarrow()


def _listing(wh, p, policy):
    from jicai.measures.listing import listing_governance

    return listing_governance(wh, p["as_of"], policy).to_pyarrow()


def _onboarding(wh, p, policy):
    from jicai.measures.onboarding_report import onboarding_report

    return onboarding_report(wh, p["as_of"], None, policy).to_pyarrow()


def _builtins() -> None:
    from jicai.assess.assessment import ASSESS_COLUMNS
    from jicai.assess.prepayment import PREPAYMENT_COLUMNS
    from jicai.measures.listing import LISTING_COLUMNS
    from jicai.measures.monitor import INPUT_TABLES, MONITOR_COLUMNS
    from jicai.measures.onboarding_report import ONBOARDING_COLUMNS
    from jicai.measures.volume_audit import VOLUME_AUDIT_COLUMNS

    inst = Dims(institution="institution_code", region="region_code", variety="variety_id")
    register(Dataset("monitor", "月度监测", "Monthly monitoring", MONITOR_COLUMNS, inst, ("as_of",), _monitor,
                     sort=("institution_code", "batch_id", "variety_id"), requires=INPUT_TABLES,
                     note_zh="每家机构每个约定品种一行:完成率、序时进度、非中选占比、线下采购、回款、进院",
                     note_en="One row per institution × agreed variety: completion, time progress, non-selected "
                             "share, offline purchasing, payment, onboarding"))
    register(Dataset("assessment", "年度考核", "Annual assessment", ASSESS_COLUMNS,
                     Dims(institution="institution_code", region="region_code"), ("batch", "year", "as_of"),
                     _assessment, roles=("admin", "bureau", "auditor", "institution"),
                     sort=("institution_code",), requires=INPUT_TABLES, group="assessment",
                     note_zh="考核结果、得分、结余留用奖励(年度未结束时为截至日期的预计数)",
                     note_en="Assessment, score and surplus-retention reward (provisional before the year ends)"))
    register(Dataset("prepayment", "预付台账", "Prepayment ledger", PREPAYMENT_COLUMNS,
                     Dims(institution="institution_code", region="region_code"), ("batch", "year", "as_of"),
                     _prepayment, roles=("admin", "bureau", "auditor", "institution"),
                     sort=("institution_code", "month"), requires=INPUT_TABLES, group="assessment"))
    register(Dataset("volume-audit", "报量审核", "Volume audit", VOLUME_AUDIT_COLUMNS,
                     Dims(institution="institution_code", variety="variety_id"), ("batch", "year"), _volume_audit,
                     roles=("admin", "bureau", "auditor", "institution"), sort=("institution_code", "variety_id"),
                     requires=("agreements", "volume_reports", "batches"), group="assessment"))
    register(Dataset("listing", "挂网价格治理", "Listing governance", LISTING_COLUMNS,
                     Dims(product="product_code"), ("as_of",), _listing,
                     roles=("admin", "bureau", "auditor", "enterprise"), sort=("product_code",),
                     requires=("listings", "selected_products", "products"), group="execution"))
    register(Dataset("onboarding", "未进院排查", "Not onboarded", ONBOARDING_COLUMNS,
                     Dims(institution="institution_code", region="region_code", variety="variety_id"), ("as_of",),
                     _onboarding, sort=("institution_code", "variety_id"), requires=INPUT_TABLES))


_builtins()


def _more() -> None:
    from jicai.web import datasets_fund, datasets_supply

    datasets_supply.register_all()
    datasets_fund.register_all()


_more()
