"""Hospitals' own product dictionaries (本地产品目录), so that the demo's 对码 page has work to show.

A hospital's HIS names a drug its own way: the generic name with or without the strength in brackets, a spec
written ``20mg×7`` or ``20mg*7片``, the maker by its short name (沐恩 for 沐恩制药有限公司), sometimes no pack size
at all, sometimes the national code its supplier gave it (医保编码(自报), which the bureau still has to confirm). A
few leave the maker blank or drop the salt (二甲双胍片), so that some proposals are fuzzy, not exact. A
few entries are the hospital's own preparations (院内制剂), which have no national product: the matcher must
propose nothing for them. The demo's order lines keep the national codes, so these dictionaries change no figure.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from jicai.contract.arrow import schema
from jicai.simulate.model import World

HOSPITALS = 3  # the largest tertiary hospitals keep a dictionary in the demo
ENTRIES = 18  # national products per dictionary
# the hospitals' own preparations: no national product is any of them
SALTS = ("盐酸", "苯磺酸", "硫酸氢", "磷酸")  # a HIS name that drops the salt: 二甲双胍片 for 盐酸二甲双胍片
OWN = (("复方甘草口服溶液(院内制剂)", "100ml/瓶"), ("维生素B6软膏(自制)", "20g/支"), ("清热解毒合剂(院内制剂)", "150ml/瓶"))
_LEGAL = ("制药有限公司", "药业股份有限公司", "生物技术有限公司", "药业有限公司", "有限公司")


def _short(maker: str) -> str:
    for word in _LEGAL:
        maker = maker.removesuffix(word)
    return maker


def _local_name(name: str, style: int) -> str:
    """阿托伐他汀钙片（20mg） as a HIS writes it: without the strength, with half-width brackets, or as given."""
    if style == 0:
        return name.split("（")[0]
    if style == 1:
        return name.replace("（", "(").replace("）", ")")
    return name


def _local_spec(spec: str, style: int) -> str:
    """20mg*7片/盒 → 20mg×7 / 20mg*7片 / as given."""
    if style == 0:
        return spec.split("/")[0].replace("*", "×").rstrip("片粒袋支瓶")
    if style == 1:
        return spec.split("/")[0]
    return spec


def local_products(w: World) -> pa.Table:
    rng = np.random.default_rng([w.seed, 41])
    inst, cat, ent = w.inst, w.cat, w.ent
    tertiary = np.flatnonzero(inst.level == 3)
    chosen = tertiary[np.argsort(-inst.size[tertiary], kind="stable")][:HOSPITALS]
    drugs = [p for p in range(len(cat)) if w.varieties[cat.variety[p]].category == "drug"]
    rows: dict[str, list] = {k: [] for k in schema("local_products").names}

    def add(scope: str, code: str, name: str, spec: str | None, upp: float | None, maker: str | None,
            product_code: str | None) -> None:
        for k, v in (("scope", scope), ("local_code", code), ("name", name), ("spec", spec),
                     ("units_per_pack", upp), ("manufacturer", maker), ("product_code", product_code)):
            rows[k].append(v)

    for i in chosen:
        picks = rng.choice(drugs, size=min(ENTRIES, len(drugs)), replace=False)
        for n, p in enumerate(sorted(picks.tolist())):
            style = int(rng.integers(0, 3))
            maker = ent.name[cat.manufacturer[p]]
            name = _local_name(cat.name[p], style)
            if rng.random() < 0.2:
                name = next((name.removeprefix(x) for x in SALTS if name.startswith(x)), name)
            add(str(inst.code[i]), f"YP{n + 1:05d}", name, _local_spec(cat.spec[p], style),
                None if style == 0 else float(cat.upp[p]),
                None if rng.random() < 0.2 else _short(maker) if style != 2 else maker,
                cat.code[p] if rng.random() < 0.3 else None)
        for n, (name, spec) in enumerate(OWN):
            add(str(inst.code[i]), f"ZJ{n + 1:04d}", name, spec, None, str(inst.name[i]), None)
    return pa.Table.from_pydict(rows, schema=schema("local_products"))
