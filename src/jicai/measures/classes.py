"""Product classes of an institution: selected (中选), backup (备供), non-selected (非中选).

For institution i and variety v:

* **selected** — a ``primary`` row of ``selected_products`` for v whose ``regions`` match i's region;
* **backup** — a ``backup`` row for v whose ``regions`` match i's region (decision: backups obey the
  same region rule as primaries; a product that is primary for i's region wins over a backup row);
* **non-selected** — every other product of v.

``regions`` blank (null, empty or spaces) = every region; otherwise region-code prefixes separated by
``;`` (spaces ignored); a prefix matches when i's region_code starts with it. Region codes are GB/T 2260
(6 digits), so the match compares the ≤ 6 leading prefixes of the code — pure string equality, which
every engine runs the same way and which needs no array functions.

The class table is small: it is built only for the institutions and varieties of the monitoring rows
(the agreements), and only pairs with a selected_products row are stored (a missing pair is
non-selected).

Supply-problem periods: a ``supply_problems`` report counts only when ``verified`` is true and the
reported product is a selected (primary, region-matching) product of the variety for that institution
— a verified problem with the variety's selected product. The period is
[start_date, end_date] inclusive; a blank start_date falls back to the date of ``reported_at``; a blank
end_date means the problem is still open (through the as-of date). Unverified reports have no effect.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

REGION_CODE_LENGTH = 6
SPECIAL_KINDS = ("shortage", "emergency", "seasonal", "demand_change")


def region_match(regions: ir.StringValue, region_code: ir.StringValue) -> ir.BooleanValue:
    """True when ``regions`` is blank or one of its ``;``-separated prefixes starts ``region_code``."""
    norm = regions.fill_null("").replace(" ", "")
    padded = ";" + norm + ";"
    code = region_code.fill_null("")
    hit = ibis.literal(False)
    for n in range(1, REGION_CODE_LENGTH + 1):
        hit = hit | ((code.length() >= n) & padded.contains(";" + code.substr(0, n) + ";"))
    return (norm == "") | hit


def product_classes(rows: ir.Table, institutions: ir.Table, selected_products: ir.Table) -> ir.Table:
    """Class flags of the (institution_code, product_code) pairs that can matter.

    ``rows`` has institution_code, variety_id, batch_id (the monitoring rows: agreements). Returns
    institution_code, product_code, is_primary (int 0/1), is_backup (int 0/1, 0 when primary) for every
    selected_products row of those varieties; any other product is non-selected. The table is about
    (rows × selected products per variety), independent of the number of order lines.
    """
    inst = institutions.select("institution_code", inst_region=institutions.region_code)
    sp = selected_products.select(
        "batch_id", "variety_id", "product_code", sp_role=selected_products.role, sp_regions=selected_products.regions
    )
    r = rows.select("institution_code", "variety_id", "batch_id").distinct()
    j = r.join(sp, ["batch_id", "variety_id"]).left_join(inst, "institution_code")
    m = region_match(j.sp_regions, j.inst_region)
    j = j.select(
        institution_code=j.institution_code,
        product_code=j.product_code,
        p=ibis.ifelse(m & (j.sp_role == "primary"), 1, 0),
        b=ibis.ifelse(m & (j.sp_role == "backup"), 1, 0),
    )
    g = j.group_by(["institution_code", "product_code"]).agg(is_primary=j.p.max(), is_backup=j.b.max())
    return g.mutate(is_backup=ibis.ifelse(g.is_primary == 1, 0, g.is_backup))


def supply_problem_periods(
    supply_problems: ir.Table,
    products: ir.Table,
    selected_products: ir.Table,
    institutions: ir.Table,
    as_of: date,
) -> ir.Table:
    """Verified supply-problem periods per (institution_code, variety_id): sp_start, sp_end (inclusive dates).

    Periods may overlap; callers test membership with a distinct semi-join so overlaps never double count.
    """
    s = supply_problems.filter(supply_problems.verified.fill_null(False))
    s = s.select(
        "institution_code",
        "product_code",
        sp_start=s.start_date.fill_null(s.reported_at.date()),
        sp_end=s.end_date.fill_null(ibis.literal(as_of)),
    )
    prod = products.select("product_code", "variety_id")
    prim = selected_products.filter(selected_products.role == "primary").select(
        "variety_id", "product_code", sel_regions=selected_products.regions
    )
    inst = institutions.select("institution_code", inst_region=institutions.region_code)
    j = s.join(prod, "product_code").join(prim, ["variety_id", "product_code"]).join(inst, "institution_code")
    j = j.filter(region_match(j.sel_regions, j.inst_region))
    return j.select("institution_code", "variety_id", "sp_start", "sp_end").distinct()


def mark_supply_problem_days(summary: ir.Table, periods: ir.Table) -> ir.Table:
    """``summary`` (institution_code, variety_id, sp_day, …) with ``in_sp`` (bool): sp_day lies in a period.

    ``sp_day`` is null except for the (institution, variety) pairs that have a period. An interval join
    of the distinct (institution, variety, sp_day) keys with the few periods, then a left join back on
    the keys: the big side is never multiplied by overlapping periods; a null sp_day never matches.
    """
    keys = summary.filter(summary.sp_day.notnull()).select("institution_code", "variety_id", "sp_day").distinct()
    p = periods.rename(sp_inst="institution_code", sp_variety="variety_id")
    inside = keys.join(
        p,
        [
            keys.institution_code == p.sp_inst,
            keys.variety_id == p.sp_variety,
            keys.sp_day >= p.sp_start,
            keys.sp_day <= p.sp_end,
        ],
    )
    inside = inside.select(
        in_inst=inside.institution_code, in_variety=inside.variety_id, in_day=inside.sp_day
    ).distinct()
    j = summary.left_join(
        inside,
        [
            summary.institution_code == inside.in_inst,
            summary.variety_id == inside.in_variety,
            summary.sp_day == inside.in_day,
        ],
    )
    return j.mutate(in_sp=j.in_inst.notnull()).drop("in_inst", "in_variety", "in_day")


def in_special_period(special: ir.StringValue, start: ir.DateValue, end: ir.DateValue, day: ir.DateValue,
                      treatment: str) -> ir.BooleanValue:
    """The day lies in the special period of an exempt special variety (blank start/end = unbounded).

    Only with ``special_treatment = "exclude"``; ``"none"`` gives special varieties no exemption.
    """
    if treatment != "exclude":
        return ibis.literal(False)
    return (
        special.isin(SPECIAL_KINDS).fill_null(False)
        & (start.isnull() | (day >= start)).fill_null(False)
        & (end.isnull() | (day <= end)).fill_null(False)
    )
