"""Volumes by class, completion (完成率), status and the non-selected share (非中选占比).

Per institution × variety in the cycle year containing the as-of date:

* ``selected_volume`` = volume of i's selected (primary) products + ``backup_volume``;
* ``backup_volume`` = volume of backup products on days inside a verified supply-problem period of i
  for v (policy ``backup_substitution``); backup purchases outside such a period are non-selected;
* ``nonselected_volume`` = every other purchase of a product of v (so selected + non-selected = all);
* ``nonselected_counted_volume`` = the part of ``nonselected_volume`` that enters the share: without days
  inside i's verified supply-problem periods for v (policy ``supply_problem_exclusion``) and without days
  inside the special period of an exempt special variety (policy ``special_treatment``);
* amounts (yuan) follow the same split.

``completion`` = selected_volume / agreed_volume, null when agreed_volume is 0.
``status`` by priority: ``zero`` 零采购 (selected_volume = 0) → ``behind`` 低于序时进度 (completion <
time_progress) → ``over`` 超额完成 (completion > 1, or agreed_volume = 0 with selected purchases: the agreed
volume is already exceeded, which is success, not a fault — 003 三) → ``normal`` 进度正常 (on or ahead of
time progress, up to the agreed volume). Completion exactly equal to time progress is not behind; exactly 1
is not over.
``nonselected_share`` = counted non-selected / (selected + counted non-selected), null when that is 0;
``nonselected_excess`` = share > ``nonselected_share_max`` (exactly the maximum is not excess; a null
share is not excess).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from jicai.measures.classes import mark_supply_problem_days

KEYS = ["institution_code", "variety_id", "batch_id"]


def class_volumes(summary: ir.Table, classes: ir.Table, periods: ir.Table,
                  *, backup_substitution: bool, supply_problem_exclusion: bool, special_treatment: str,
                  extra_keys: Sequence[str] = ()) -> ir.Table:
    """Aggregate the summarized purchases to one row per (institution_code, variety_id, batch_id).

    ``summary`` is :func:`jicai.measures.purchases.summarize` of the lines on the volume basis (flags
    in_cycle, since_start, in_special, sp_day). Also returns ``primary_volume_to_date``: primary-selected
    volume since the batch start (for onboarding). ``extra_keys``: further grouping keys carried through
    from ``summarize`` (the prepayment ledger's month).
    """
    d = mark_supply_problem_days(summary, periods)
    d = d.left_join(classes, ["institution_code", "product_code"]).drop(
        "institution_code_right", "product_code_right"
    )
    primary = d.is_primary.fill_null(0) == 1
    backup = d.is_backup.fill_null(0) == 1
    in_cycle = d.in_cycle
    since_start = d.since_start
    substituted = backup & d.in_sp if backup_substitution else ibis.literal(False)
    selected = primary | substituted
    excluded = d.in_special if special_treatment == "exclude" else ibis.literal(False)
    if supply_problem_exclusion:
        excluded = excluded | d.in_sp
    zero = ibis.literal(0.0)
    d = d.select(
        *KEYS, *extra_keys,
        sel_v=ibis.ifelse(in_cycle & selected, d.volume, zero),
        bak_v=ibis.ifelse(in_cycle & substituted, d.volume, zero),
        non_v=ibis.ifelse(in_cycle & ~selected, d.volume, zero),
        cnt_v=ibis.ifelse(in_cycle & ~selected & ~excluded, d.volume, zero),
        sel_a=ibis.ifelse(in_cycle & selected, d.amount, zero),
        bak_a=ibis.ifelse(in_cycle & substituted, d.amount, zero),
        non_a=ibis.ifelse(in_cycle & ~selected, d.amount, zero),
        prim_all=ibis.ifelse(primary & since_start, d.volume, zero),
    )
    return d.group_by([*KEYS, *extra_keys]).agg(
        selected_volume=d.sel_v.sum(),
        backup_volume=d.bak_v.sum(),
        nonselected_volume=d.non_v.sum(),
        nonselected_counted_volume=d.cnt_v.sum(),
        selected_amount=d.sel_a.sum(),
        backup_amount=d.bak_a.sum(),
        nonselected_amount=d.non_a.sum(),
        primary_volume_to_date=d.prim_all.sum(),
    )


def ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """num / den as float64, null when den is 0 or null."""
    return ibis.ifelse(den.fill_null(0) == 0, ibis.null("float64"), num.cast("float64") / den.cast("float64"))


def progress_columns(t: ir.Table, nonselected_share_max: float) -> ir.Table:
    """Add completion, status, shortfall_volume, nonselected_share, nonselected_excess."""
    t = t.mutate(
        completion=ratio(t.selected_volume, t.agreed_volume),
        nonselected_share=ratio(
            t.nonselected_counted_volume, t.selected_volume + t.nonselected_counted_volume
        ),
    )
    status = (
        ibis.cases(
            (t.selected_volume == 0, "zero"),
            (t.completion < t.time_progress, "behind"),
            ((t.completion > 1) | (t.agreed_volume == 0), "over"),
            else_="normal",
        )
    )
    return t.mutate(
        status=status,
        # volume still needed to reach time progress (0 when on or ahead of it)
        shortfall_volume=ibis.greatest(0.0, t.agreed_volume * t.time_progress - t.selected_volume),
        nonselected_excess=(t.nonselected_share > nonselected_share_max).fill_null(False),
    )
