"""``manifest.json``: what a simulated dataset contains and which situations were planted in it.

A planted situation names the institutions / varieties / products / enterprises / regions involved, the
period if any, and what a correct measure should report (``expected``), so that tests and the demo can
check that the measures find exactly these.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1


@dataclass
class Planted:
    kind: str  # stable identifier, e.g. "lagging", "zero_purchase"
    zh: str  # the name of the situation on a Chinese report
    description: str
    institution_codes: list[str] = field(default_factory=list)
    variety_ids: list[str] = field(default_factory=list)
    product_codes: list[str] = field(default_factory=list)
    enterprise_codes: list[str] = field(default_factory=list)
    region_codes: list[str] = field(default_factory=list)
    batch_id: str | None = None
    start: str | None = None  # ISO date or YYYY-MM
    end: str | None = None
    expected: dict[str, Any] = field(default_factory=dict)


@dataclass
class Manifest:
    seed: int
    params: dict[str, Any]
    start: str  # first day of data (ISO)
    end: str  # first day after the data (ISO, exclusive)
    as_of: str  # last day of data: the natural "as of" date of the measures
    tables: dict[str, int] = field(default_factory=dict)  # rows written per table
    files: dict[str, str] = field(default_factory=dict)  # table -> file name
    planted: list[Planted] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    version: int = FORMAT_VERSION

    def of_kind(self, kind: str) -> list[Planted]:
        return [p for p in self.planted if p.kind == kind]

    def one(self, kind: str) -> Planted:
        found = self.of_kind(kind)
        if len(found) != 1:
            raise KeyError(f"expected one planted {kind!r}, found {len(found)}")
        return found[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        d["planted"] = [Planted(**p) for p in d.get("planted", [])]
        return cls(**d)
