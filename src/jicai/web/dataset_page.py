"""What a dataset page puts around its rows: the table laid out and formatted (:mod:`jicai.web.present`), each
flagged row's reason (:mod:`jicai.web.reasons`), and the filters as dropdowns of names — a region tree of the
divisions the user may see, levels, batches, varieties, statuses — rather than boxes that want codes.
"""

from __future__ import annotations

from typing import Any

from jicai.contract.display import LEVELS
from jicai.contract.roles import Principal
from jicai.web.names import Names, names_of
from jicai.web.present import REASON, cell, header, layout
from jicai.web.reasons import explains, reason

MAX_OPTIONS = 500  # above this a dropdown is no help: a text box for the code


def _policy(data: Any, batch: str | None) -> Any:
    from jicai.policy.registry import resolve_policy

    return data.value(("policy", batch), lambda wh: resolve_policy(data.data_dir, wh, batch, None))


def _reason(ds: Any, r: dict, params: dict, data: Any, names: Names, lang: str) -> str:
    """One row's reason under the policy of its batch (the page's batch, else the row's own: a list may span
    batches whose policies differ)."""
    policy = _policy(data, params.get("batch") or r.get("batch_id"))
    return reason(ds.name, r, policy, names.unit(r.get("variety_id")), lang)


def row_reasons(ds: Any, rows: list[dict], params: dict, data: Any, lang: str = "zh") -> list[str] | None:
    """Each row's reason (the page's 判定依据 column), for an export; None for a dataset without rules."""
    if not explains(ds.name):
        return None
    names = names_of(data)
    return [_reason(ds, r, params, data, names, lang) for r in rows]


def table_of(ds: Any, pg: Any, params: dict, principal: Principal, data: Any, lang: str) -> dict:
    """The columns and the rendered cells of one page of rows."""
    from markupsafe import Markup, escape

    from jicai.web import drill
    from jicai.web.present import Shown

    names = names_of(data)
    m = ds.measure
    why = explains(ds.name)
    shown = layout(m, lang, reasons=why)
    if drill.drills(ds.name):  # links to what the row's figures are made of (jicai.web.drill)
        shown.append(Shown(drill.COLUMN, "明细", "Drill down", "text"))
    link = principal.role != "enterprise"
    rows = []
    for r in pg.rows:
        if why:
            r = {**r, REASON: _reason(ds, r, params, data, names, lang)}
        cells = [cell(c, r, m, names, lang, link, getattr(ds, "unit", "min")) for c in shown if c.name != drill.COLUMN]
        if drill.drills(ds.name):
            cells.append(Markup(" · ").join(
                Markup(f'<a href="{escape(url)}" data-testid="drill">{escape(en if lang == "en" else zh)}</a>')
                for zh, en, url in drill.links(ds.name, r, params)))
        rows.append(cells)
    return {"ds": ds, "pg": pg, "shown": shown, "cells": rows}


def pick_table(ds: Any, rows: list[dict], columns: tuple[str, ...], params: dict, data: Any, lang: str,
               link: bool = False) -> dict:
    """Some columns of a dataset's rows, laid out and formatted as its page shows them (the institution page's
    varieties: the monitor's status, completion bar, volumes with units and the reason of each verdict)."""
    names = names_of(data)
    m = ds.measure
    why = explains(ds.name)
    wanted = set(columns) | ({REASON} if why else set())
    shown = [c for c in layout(m, lang, reasons=why) if c.name in wanted]
    cells = []
    for r in rows:
        if why:  # an institution's varieties span batches: each under its own batch's policy
            r = {**r, REASON: _reason(ds, r, params, data, names, lang)}
        cells.append([cell(c, r, m, names, lang, link) for c in shown])
    return {"shown": shown, "cells": cells}


def _regions(names: Names, principal: Principal) -> list[tuple[str, str, int]]:
    """(code prefix, name, depth) of the prefectures and counties the user may see, prefecture before its
    counties; the prefix filters every row whose region code starts with it."""
    scope = principal.scope if principal.regional else None
    out = []
    for code, name in names.regions:
        if code.endswith("0000") or (scope and not code.startswith(scope)):
            continue
        if code.endswith("00"):
            out.append((code[:4], name, 0))
        else:
            out.append((code, name, 1))
    out.sort(key=lambda x: (x[0][:4], len(x[0])))
    return out


def filter_controls(ds: Any, filterable: list[str], principal: Principal, data: Any, lang: str) -> list[dict]:
    """One control per filterable column: a dropdown of names where the choices are few enough, else a box."""
    names = names_of(data)
    m = ds.measure
    en = lang == "en"
    out = []
    for c in filterable:
        if principal.role == "institution" and c in ("institution_code", "region_code"):
            continue  # a hospital sees one institution
        if principal.role == "enterprise" and c in ("enterprise_code", "distributor_code"):
            continue
        col = m.column(c)
        options: list[tuple[str, str, int]] | None = None
        if c == "region_code":
            options = _regions(names, principal)  # a supplier's rows span the province: the whole tree
        elif col.kind == "level":
            options = [(str(k), v[1 if en else 0], 0) for k, v in LEVELS.items()]
        elif c in m.labels:
            options = [(k, v[1 if en else 0], 0) for k, v in m.labels[c].items()]
        elif col.kind == "bool":
            options = [("true", "yes" if en else "是", 0), ("false", "no" if en else "否", 0)]
        elif c == "institution_code" and principal.regional:
            t = data.lookups().institutions
            if principal.scope:  # a district bureau: its own institutions only
                t = t.filter(t.region_code.startswith(principal.scope))
            found = data.execute(t.select("institution_code", "name").order_by("institution_code")
                                 .limit(MAX_OPTIONS + 1)).to_pylist()
            options = [(r["institution_code"], r["name"], 0) for r in found] if len(found) <= MAX_OPTIONS else None
        else:
            kind = {"batch_id": "batch", "variety_id": "variety", "enterprise_code": "enterprise",
                    "distributor_code": "enterprise", "product_code": "product"}.get(c)
            ref = names.by_kind.get(kind, {}) if kind else {}
            if ref and len(ref) <= MAX_OPTIONS:
                options = [(k, v, 0) for k, v in sorted(ref.items())]
        zh, en_label = header(col, {x.name: x for x in m.columns})
        out.append({"name": c, "zh": zh, "en": en_label, "options": options})
    return out
