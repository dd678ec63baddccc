"""Load and check declarative scenario files (``tests/scenarios/<rule>/<name>.toml``).

A scenario file holds the input rows of a small world, the measure to run with its arguments and policy
overrides, and the rows the measure must return — written by hand from the rule text, so a scenario
reads like the example in a notice. The format (see tests/scenarios/README.md):

- ``description`` (required), ``measure = "module:function"`` (required, called as
  ``f(wh, **args, policy=policy)``), ``keys`` (columns naming a row), ``partial`` (the expected rows are
  only some of the result's; without it the result's key set must equal the expected one), ``world`` (base
  rows from ``worlds/<world>.toml``), ``[combine]`` (how the scenario shares a warehouse on the engines,
  overriding its folder's ``_combine.toml``);
- ``[args]``, ``[policy]`` (overrides passed to :meth:`Policy.with_values`);
- shorthand rows ``[[agreements]]``, ``[[buys]]`` (an order line with its delivery and payments; delivery
  times as timestamps or hours after ordering for the supply measures),
  ``[[sp]]`` (a supply-problem report), and canonical rows of any table under ``[[tables.<name>]]``;
- ``[[expect]]``: the key columns and the values to check. Floats are compared to 1e-9 (relative and
  absolute); the string ``"null"`` expects a null (or NaN); TOML dates and datetimes compare as such.
"""

from __future__ import annotations

import importlib
import math
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from jicai.contract.arrow import from_pylist
from jicai.contract.tables import TABLES
from jicai.policy import Policy, load_policy

ROOT = Path(__file__).parent
WORLDS = ROOT / "worlds"
TOP_LEVEL = {"description", "measure", "keys", "partial", "world", "args", "policy", "agreements", "buys", "sp",
             "tables", "expect", "combine"}


@dataclass
class Scenario:
    path: Path
    description: str
    measure: str
    keys: list[str]
    partial: bool
    args: dict[str, Any]
    policy: Policy
    rows: dict[str, list[dict]]
    expect: list[dict]
    combine: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pa.Table] = field(init=False)

    def __post_init__(self) -> None:
        self.tables = {name: from_pylist(name, r) for name, r in self.rows.items()}

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"


def folders() -> list[str]:
    """Every folder of scenarios under tests/scenarios (``worlds`` holds base rows, not scenarios), sorted."""
    return sorted(d.name for d in ROOT.iterdir() if d.is_dir() and d != WORLDS and any(d.glob("[!_]*.toml")))


def scenario_files(rule: str) -> list[Path]:
    """Every scenario file of ``rule`` (a folder under tests/scenarios), sorted; ``_*.toml`` are settings."""
    files = sorted((ROOT / rule).glob("[!_]*.toml"))
    if not files:
        raise FileNotFoundError(f"no scenario files in {ROOT / rule}")
    return files


def _ts(v: Any, default_time: time) -> datetime | None:
    """A timestamp from a TOML datetime/date or an ISO string (a bare date gets ``default_time``)."""
    if v is None:
        return None
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime.combine(v, default_time)
    v = str(v)
    return datetime.fromisoformat(v) if "T" in v else datetime.combine(date.fromisoformat(v), default_time)


def _day(v: Any) -> date | None:
    if v is None or isinstance(v, date) and not isinstance(v, datetime):
        return v
    return date.fromisoformat(str(v))


def _coerce(table: str, row: dict) -> dict:
    """ISO strings to dates/timestamps and ints to floats where the contract says so (TOML is loose)."""
    types = {c.name: c.type for c in TABLES[table].columns}
    unknown = set(row) - set(types)
    if unknown:
        raise ValueError(f"table {table}: unknown columns {sorted(unknown)}")
    out = dict(row)
    for k, v in row.items():
        t = types[k]
        if isinstance(v, str) and t == "datetime":
            out[k] = _ts(v, time(10, 0))
        elif isinstance(v, str) and t == "date":
            out[k] = _day(v)
        elif isinstance(v, int) and not isinstance(v, bool) and t == "float":
            out[k] = float(v)
    return out


def _delivery(b: dict, line: str, ordered_at: datetime) -> dict | None:
    """The deliveries row of a [[buys]] entry, or None when it has none.

    ``accepted`` (+ ``acc_packs``) as before; for the supply measures also ``responded`` / ``shipped``
    (timestamps) or ``response_hours`` / ``ship_hours`` (hours after ordered_at), and ``ship_packs``
    (default: the packs ordered, when shipped).
    """
    row: dict[str, Any] = {}
    if b.get("accepted"):
        row.update(accepted_at=_ts(b["accepted"], time(10, 0)), accepted_quantity=float(b.get("acc_packs", b["packs"])))
    if "response_hours" in b:
        row["responded_at"] = ordered_at + timedelta(hours=float(b["response_hours"]))
    elif b.get("responded"):
        row["responded_at"] = _ts(b["responded"], time(10, 0))
    if "ship_hours" in b:
        row["shipped_at"] = ordered_at + timedelta(hours=float(b["ship_hours"]))
    elif b.get("shipped"):
        row["shipped_at"] = _ts(b["shipped"], time(10, 0))
    if "shipped_at" in row or "ship_packs" in b:
        row["shipped_quantity"] = float(b.get("ship_packs", b["packs"]))
    return {"order_line_id": line, **row} if row else None


def expand_shorthand(doc: dict) -> dict[str, list[dict]]:
    """Canonical rows of agreements, orders, deliveries, payments and supply_problems from the shorthand."""
    rows: dict[str, list[dict]] = {}
    if "agreements" in doc:
        rows["agreements"] = [
            {"batch_id": a.get("batch", "B1"), "cycle_year": a.get("k", 1), "institution_code": a.get("inst", "H1"),
             "variety_id": a.get("variety", "V1"), "agreed_volume": float(a["agreed"]),
             "signed_date": _day(a.get("signed")), "product_code": a.get("product")}
            for a in doc["agreements"]
        ]
    if "buys" in doc:
        orders, deliveries, payments = [], [], []
        for i, b in enumerate(doc["buys"]):
            line = b.get("line", f"L{i}")
            ordered = b.get("ordered") or b.get("accepted") or "2024-01-02"
            orders.append({
                "order_line_id": line, "order_id": b.get("order", f"O{i}"), "institution_code": b.get("inst", "H1"),
                "product_code": b.get("product", "P1"), "distributor_code": b.get("distributor", "D1"),
                "quantity": float(b["packs"]), "pack_price": float(b.get("price", 20.0)),
                "ordered_at": _ts(ordered, time(8, 0)), "channel": b.get("channel", "platform"),
            })
            delivery = _delivery(b, line, _ts(ordered, time(8, 0)))
            if delivery:
                deliveries.append(delivery)
            for j, (amount, paid_at) in enumerate(b.get("paid", [])):
                payments.append({"payment_id": f"{line}-{j}", "order_line_id": line, "amount": float(amount),
                                 "paid_at": _ts(paid_at, time(15, 0))})
        rows.update(orders=orders, deliveries=deliveries, payments=payments)
    if "sp" in doc:
        rows["supply_problems"] = [
            {"report_id": f"R{i}", "institution_code": s.get("inst", "H1"), "product_code": s.get("product", "P1"),
             "problem": s.get("problem", "shortage"),
             "reported_at": _ts(s.get("reported", s.get("start") or "2024-01-02"), time(10, 0)),
             "verified": s.get("verified", True), "start_date": _day(s.get("start")), "end_date": _day(s.get("end"))}
            for i, s in enumerate(doc["sp"])
        ]
    return rows


def load(path: Path) -> Scenario:
    """Parse and check one scenario file; every input table of the contract is present (empty if unused)."""
    return from_dict(tomllib.loads(path.read_text(encoding="utf-8")), path)


def from_dict(doc: dict, path: Path = Path("inline/scenario")) -> Scenario:
    """A scenario from a dict of the file's shape (for tests that vary one in code)."""
    if "exact" in doc:
        raise ValueError(f"{path}: every scenario is exact; write partial = true (and why) when the expected "
                         "rows are only some of the result's")
    unknown = set(doc) - TOP_LEVEL
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    for required in ("description", "measure", "expect"):
        if required not in doc:
            raise ValueError(f"{path}: {required!r} is required")
    rows: dict[str, list[dict]] = {name: [] for name in TABLES}
    if "world" in doc:
        world = tomllib.loads((WORLDS / f"{doc['world']}.toml").read_text(encoding="utf-8"))
        for name, r in world.get("tables", {}).items():
            rows[name] = list(r)
    for name, r in expand_shorthand(doc).items():
        rows[name] = rows[name] + r
    for name, r in doc.get("tables", {}).items():
        if name not in TABLES:
            raise ValueError(f"{path}: unknown table {name!r}")
        rows[name] = rows[name] + list(r)
    rows = {name: [_coerce(name, row) for row in r] for name, r in rows.items()}
    policy = load_policy()
    if doc.get("policy"):
        policy = policy.with_values(**doc["policy"])
    keys = doc.get("keys", ["institution_code", "variety_id"])
    for e in doc["expect"]:
        missing = [k for k in keys if k not in e]
        if missing:
            raise ValueError(f"{path}: an expected row lacks its key columns {missing}: {e}")
    combine = doc.get("combine", {})
    unknown = set(combine) - SCENARIO_COMBINE
    if unknown:
        raise ValueError(f"{path}: unknown keys in [combine] {sorted(unknown)}")
    return Scenario(path=path, description=doc["description"], measure=doc["measure"], keys=keys,
                    partial=doc.get("partial", False), args=doc.get("args", {}), policy=policy, rows=rows,
                    expect=doc["expect"], combine=combine)


def measure_function(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _normal(v: Any) -> Any:
    """Comparable Python value of a result cell (numpy/pandas scalars to Python, timestamps to datetime)."""
    if hasattr(v, "to_pydatetime"):
        v = v.to_pydatetime()
    elif hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    return v


def values_equal(expected: Any, actual: Any) -> bool:
    if expected == "null":
        return _is_null(actual)
    if _is_null(actual):
        return False
    actual = _normal(actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, date) and not isinstance(expected, datetime) and isinstance(actual, datetime):
        return actual.time() == time(0) and actual.date() == expected
    return expected == actual


def run(s: Scenario, wh) -> list[dict]:
    """The measure's rows for the scenario, as dicts."""
    expr = measure_function(s.measure)(wh, **s.args, policy=s.policy)
    return expr.to_pyarrow().to_pylist()


def check(s: Scenario, rows: list[dict]) -> None:
    """Assert the expected rows (and, unless ``partial``, nothing else) — naming the scenario, row and column."""
    where = f"scenario {s.name} ({s.description})"
    if rows:
        missing_cols = [k for k in s.keys if k not in rows[0]]
        if missing_cols:
            raise AssertionError(f"{where}: the result has no key columns {missing_cols}")
    index: dict[tuple, dict] = {}
    for r in rows:
        key = tuple("null" if _is_null(r[k]) else _normal(r[k]) for k in s.keys)  # "null" names a null key
        if key in index:
            raise AssertionError(f"{where}: key {key} appears twice in the result")
        index[key] = r
    expected_keys = {tuple(e[k] for k in s.keys) for e in s.expect}
    if not s.partial and set(index) != expected_keys:
        raise AssertionError(f"{where}: result rows {sorted(index, key=str)} != expected {sorted(expected_keys, key=str)}"
                             " (partial = true if the scenario checks only some rows)")
    for e in s.expect:
        key = tuple(e[k] for k in s.keys)
        if key not in index:
            raise AssertionError(f"{where}: no result row {dict(zip(s.keys, key, strict=True))}; rows: {sorted(index, key=str)}")
        got = index[key]
        for col, want in e.items():
            if col in s.keys:
                continue
            if col not in got:
                raise AssertionError(f"{where}: the result has no column {col!r}")
            if not values_equal(want, got[col]):
                raise AssertionError(f"{where}: row {dict(zip(s.keys, key, strict=True))} column {col!r}: "
                                     f"expected {want!r}, got {got[col]!r}")


def run_and_check(s: Scenario, wh) -> list[dict]:
    rows = run(s, wh)
    check(s, rows)
    return rows


# -- many scenarios in one warehouse ------------------------------------------------------------------
# Spark pays seconds per query and per table; loading every scenario of a folder once, with its ids
# prefixed (``s7:H1``), lets one query per (measure, arguments, policy) serve every scenario sharing them.
# How a folder's scenarios share warehouses is data: its ``_combine.toml`` and a scenario's ``[combine]``
# (see tests/scenarios/README.md).

ID_COLUMNS = ("institution_code", "batch_id", "variety_id", "product_code", "order_line_id", "order_id",
              "payment_id", "report_id", "enterprise_code", "distributor_code", "pharmacy_code", "settlement_id",
              "case_id", "manufacturer_code",
              # output columns holding ids of the inputs (supply measures)
              "sentinel_code", "main_product_code", "main_enterprise_code", "winner_product_codes",
              "winner_enterprise_codes")
FOLDER_COMBINE = {"prefixed", "alone", "merged_arg", "args"}
SCENARIO_COMBINE = {"prefixed", "alone"}


def _prefix(i: int) -> str:
    return f"s{i}:"


# arguments holding a list of ids of a column (a peer group's institution codes): each element is prefixed
LIST_ARGS = {"peers": "institution_code"}


def _arg(i: int, k: str, v: Any, columns: tuple[str, ...]) -> Any:
    """An argument of scenario i on the shared warehouse: its ids prefixed; a list as a tuple (hashable)."""
    if isinstance(v, list):
        return tuple(_prefix(i) + x if LIST_ARGS.get(k) in columns and isinstance(x, str) else x for x in v)
    return _prefix(i) + v if k in columns and isinstance(v, str) else v


def _prefixed(row: dict, p: str, columns: tuple[str, ...]) -> dict:
    return {k: (p + v if k in columns and isinstance(v, str) else v) for k, v in row.items()}


def combined_tables(scenarios: list[Scenario], columns: tuple[str, ...] = ID_COLUMNS) -> dict[str, pa.Table]:
    """Every scenario's rows in one set of tables, the ``columns`` ids of scenario i prefixed ``s<i>:``.

    With fewer ``columns`` (say institutions and order lines only), the world's batches, varieties and
    products stay shared and identical rows are kept once, so one query serves scenarios whose
    arguments name a batch.
    """
    merged: dict[str, list[dict]] = {name: [] for name in TABLES}
    for name in TABLES:
        seen: set[tuple] = set()
        for i, s in enumerate(scenarios):
            for r in s.rows[name]:
                row = _prefixed(r, _prefix(i), columns)
                key = tuple(sorted((k, repr(v)) for k, v in row.items()))
                if key not in seen:
                    seen.add(key)
                    merged[name].append(row)
    return {name: from_pylist(name, rows) for name, rows in merged.items()}


def run_combined_and_check(scenarios: list[Scenario], wh, columns: tuple[str, ...] = ID_COLUMNS,
                           merged_arg: str | None = None, extra_args: dict | None = None) -> list[str]:
    """Run every scenario on a warehouse holding :func:`combined_tables` (same ``columns``); the failures.

    Scenarios differing only in ``merged_arg`` are served by one call given the list of their values;
    ``extra_args`` go to every call.
    """
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(scenarios):
        args = tuple(sorted((k, _arg(i, k, v, columns)) for k, v in s.args.items() if k != merged_arg))
        groups.setdefault((s.measure, args, s.policy.version), []).append(i)
    failures = []
    for (measure, args, _version), members in groups.items():
        s0 = scenarios[members[0]]
        call = {**dict(args), **(extra_args or {})}
        if merged_arg:
            call[merged_arg] = [_prefix(i) + scenarios[i].args[merged_arg] if merged_arg in columns
                                else scenarios[i].args[merged_arg] for i in members]
        rows = measure_function(measure)(wh, **call, policy=s0.policy).to_pyarrow().to_pylist()
        for i in members:
            p, s = _prefix(i), scenarios[i]
            # alone on its warehouse, every row is the scenario's own — also a roll-up's, keyed by no id (a city)
            mine = [{k: (v.removeprefix(p) if k in columns and isinstance(v, str) else v) for k, v in r.items()}
                    for r in rows if len(scenarios) == 1
                    or any(isinstance(r.get(c), str) and r[c].startswith(p) for c in columns)]
            try:
                check(s, mine)
            except AssertionError as exc:
                failures.append(str(exc))
    return failures


@dataclass
class Combination:
    """Scenarios of one folder that share one warehouse on an engine, and how."""

    scenarios: list[Scenario]
    prefixed: tuple[str, ...]
    merged_arg: str | None = None
    extra_args: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pa.Table]:
        return combined_tables(self.scenarios, self.prefixed)

    def check(self, wh) -> list[str]:
        """The failures of every scenario on ``wh``, a warehouse holding :meth:`tables`."""
        return run_combined_and_check(self.scenarios, wh, self.prefixed, self.merged_arg, self.extra_args)


def folder_settings(rule: str) -> dict[str, Any]:
    """The folder's ``_combine.toml`` (empty without one)."""
    path = ROOT / rule / "_combine.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    unknown = set(doc) - FOLDER_COMBINE
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    return doc


def combinations(rule: str) -> list[Combination]:
    """The scenarios of ``rule`` grouped by the warehouse they share on an engine (see README.md)."""
    settings = folder_settings(rule)
    groups: dict[tuple, list[Scenario]] = {}
    for n, path in enumerate(scenario_files(rule)):
        s = load(path)
        opts = {**settings, **s.combine}
        prefixed = opts.get("prefixed", "all")
        columns = ID_COLUMNS if prefixed == "all" else tuple(prefixed)
        groups.setdefault((columns, n if opts.get("alone") else None), []).append(s)
    return [Combination(group, columns, settings.get("merged_arg"), settings.get("args", {}))
            for (columns, _), group in groups.items()]
