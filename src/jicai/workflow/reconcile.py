"""Do the workflow's decisions and the warehouse agree? ``jicai db reconcile`` asks, and with ``--repair`` fixes.

What each decision should have put in the warehouse is derived from the decisions themselves, with the same
functions that owe the writes (so the two cannot drift): every supply-problem report is a ``supply_problems``
row ``WF-<id>``; a variety with a standing exemption has its ``_variety_exemptions`` row and its special
columns on ``varieties`` (once every exemption is revoked, a re-import of ``varieties`` decides them again); every 对码 is the ``product_mappings`` row of its newest outbox entry (those
decisions live in the warehouse only). A difference is **missing** (the warehouse lacks the row), **different**
(columns disagree) or **extra** (a ``WF-`` report or an exemption row no decision stands behind). Repairing
owes the expected rows (or the deletion) through the outbox and applies it (:mod:`.outbox`), the same keyed
path as a decision. A variety absent from ``varieties`` is not a difference: its exemption row is kept, and the
importer puts it back when the variety is imported (:mod:`jicai.ingest.overrides`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jicai.ingest.overrides import EXEMPTIONS
from jicai.store import Warehouse
from jicai.workflow import outbox
from jicai.workflow.decisions import SPECIAL_FIELDS, exemption_state, warehouse_row
from jicai.workflow.models import Exemption, OutboxEntry, SupplyReport
from jicai.workflow.outbox import Applied, Write

TABLE_ZH = {"supply_problems": "供应问题表", EXEMPTIONS: "特殊品种认定表", "varieties": "品种表",
            "product_mappings": "对码结果表"}
KIND_ZH = {"missing": "数据仓库缺少该行", "different": "与工作流的决定不一致",
           "extra": "数据仓库多出该行(工作流中没有对应的决定)"}
KIND_EN = {"missing": "missing from the warehouse", "different": "differs from the workflow's decision",
           "extra": "in the warehouse without a decision behind it"}


@dataclass(frozen=True)
class Target:
    """One warehouse table decisions write: its key, how a fix is owed, and whether rows may be extra."""

    table: str
    key: tuple[str, ...]
    op: str  # "upsert" or "patch"
    extra: bool  # rows of the warehouse that only decisions write can be extra


TARGETS = (Target("supply_problems", ("report_id",), "upsert", True),
           Target(EXEMPTIONS, ("variety_id",), "upsert", True),
           Target("varieties", ("variety_id",), "patch", False),
           Target("product_mappings", ("scope", "local_code"), "upsert", False))


@dataclass
class Difference:
    table: str
    key: dict[str, Any]
    kind: str  # missing | different | extra
    expected: dict[str, Any] | None
    actual: dict[str, Any] | None

    def columns(self) -> list[str]:
        if self.expected is None or self.actual is None:
            return []
        return [c for c in self.expected if self.expected[c] != self.actual.get(c)]

    def text(self) -> tuple[str, str]:
        key = ", ".join(f"{k}={v}" for k, v in self.key.items())
        zh = f"{TABLE_ZH.get(self.table, self.table)} {key}:{KIND_ZH[self.kind]}"
        en = f"{self.table} {key}: {KIND_EN[self.kind]}"
        if self.kind == "different":
            cols = self.columns()
            zh += "(" + ";".join(f"{c} 为 {self.actual.get(c)},应为 {self.expected[c]}" for c in cols) + ")"
            en += " (" + "; ".join(f"{c} is {self.actual.get(c)}, should be {self.expected[c]}" for c in cols) + ")"
        return zh, en


def expected_rows(session: Session) -> dict[str, list[dict[str, Any]]]:
    """What the decisions should have put in the warehouse, per table (``varieties``: the special columns)."""
    out: dict[str, list[dict[str, Any]]] = {t.table: [] for t in TARGETS}
    out["supply_problems"] = [warehouse_row(r) for r in session.scalars(select(SupplyReport).order_by(SupplyReport.id))]
    for variety_id in session.scalars(select(Exemption.variety_id).distinct().order_by(Exemption.variety_id)):
        row, values = exemption_state(session, variety_id)
        if row is not None:  # with none standing, the variety's columns are the last import's to decide
            out[EXEMPTIONS].append(row)
            out["varieties"].append(values)
    newest: dict[str, dict[str, Any]] = {}
    for e in session.scalars(select(OutboxEntry).where(OutboxEntry.target == "product_mappings")
                             .order_by(OutboxEntry.id)):
        newest[json.dumps(e.key, sort_keys=True)] = e.row if e.op == "upsert" else None
    out["product_mappings"] = [r for r in newest.values() if r is not None]
    return out


def _normal(table: str, rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    return outbox.arrow_rows(table, rows, columns).to_pylist()


def _warehouse_rows(wh: Warehouse, target: Target, expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not wh.has_table(target.table):
        return []
    t = wh.table(target.table)
    if target.table == "supply_problems":
        t = t.filter(t.report_id.startswith("WF-"))
    elif not target.extra:  # only the keys decisions wrote (the rest of the table is the imports')
        if not expected:
            return []
        for k in target.key:
            t = t.filter(t[k].isin(sorted({r[k] for r in expected})))
    return t.to_pyarrow().to_pylist()


def differences(session: Session, read: Callable[[Callable[[Warehouse], Any]], Any]) -> list[Difference]:
    """Every difference between the decisions in ``session`` and the warehouse (read through ``read``)."""
    wanted = expected_rows(session)

    def look(wh: Warehouse) -> dict[str, list[dict[str, Any]]]:
        return {t.table: _warehouse_rows(wh, t, wanted[t.table]) for t in TARGETS}

    found = read(look)
    out = []
    for t in TARGETS:
        rows = wanted[t.table]
        columns = list(rows[0]) if rows else list(t.key)
        if t.table == "varieties":
            columns = ["variety_id", *SPECIAL_FIELDS]
        exp = {tuple(r[k] for k in t.key): r for r in _normal(t.table, rows, columns)}
        act = {tuple(r[k] for k in t.key): r for r in _normal(t.table, found[t.table], columns)}
        for key, row in exp.items():
            got = act.get(key)
            if got is None:
                if t.table != "varieties":  # a variety not imported: its exemption returns with it
                    out.append(Difference(t.table, dict(zip(t.key, key, strict=True)), "missing", row, None))
            elif got != row:
                out.append(Difference(t.table, dict(zip(t.key, key, strict=True)), "different", row, got))
        if t.extra:
            out += [Difference(t.table, dict(zip(t.key, key, strict=True)), "extra", None, got)
                    for key, got in act.items() if key not in exp]
    return out


def repair(workflow: Any, found: list[Difference], write: Write) -> Applied:
    """Owe the fix of every difference through the outbox, then apply everything owed."""
    by_table = {t.table: t for t in TARGETS}
    with workflow.session() as s:
        for d in found:
            t = by_table[d.table]
            if d.kind == "extra":
                outbox.enqueue(s, d.table, [d.key], t.key, op="delete")
            else:
                outbox.enqueue(s, d.table, [d.expected], t.key, op=t.op)
    return outbox.apply_pending(workflow, write)
