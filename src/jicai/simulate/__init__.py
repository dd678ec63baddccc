"""A synthetic province (福建省) with planted situations, at any size.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as out_dir:
...     m = simulate(out_dir, institutions=40, months=3, seed=1)
>>> lagging = m.of_kind("lagging")[0]
>>> lagging.zh, len(lagging.institution_codes)
('低于序时进度', 4)

Writes one file per contract table (``<table>.parquet`` or ``.csv``) and ``manifest.json`` into
``out_dir``. The same seed and arguments give the same files. Orders, deliveries and payments are
generated and written in chunks of about ``chunk_rows`` order lines, so memory does not grow with size.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from jicai.contract.tables import TABLES
from jicai.simulate.actors import make_enterprises, make_institutions
from jicai.simulate.catalogue import make_catalogue
from jicai.simulate.class_kickback import plant_class_kickback
from jicai.simulate.dictionary import local_products
from jicai.simulate.fund import fund_tables
from jicai.simulate.manifest import Manifest, Planted
from jicai.simulate.model import batch_starts, build_world
from jicai.simulate.planted import plant_all, plant_clues
from jicai.simulate.purchasing import Generator
from jicai.simulate.reference import reference_tables
from jicai.simulate.substitution import plant_substitution
from jicai.simulate.writer import FORMATS, TableSink, write_table

__all__ = ["simulate", "Manifest", "Planted", "MIN_INSTITUTIONS"]

MIN_INSTITUTIONS = 40  # below this the planted situations do not find enough distinct institutions
Progress = Callable[[int, int], None]  # (order lines written, order lines expected)


def simulate(
    out_dir: Path | str,
    institutions: int = 300,
    months: int = 12,
    seed: int = 1,
    order_lines: int | None = None,
    start: date = date(2024, 1, 1),
    fmt: str = "parquet",
    progress: Progress | None = None,
    chunk_rows: int = 200_000,
) -> Manifest:
    """Generate a complete canonical dataset and return its manifest (also written as manifest.json).

    ``order_lines`` scales the number of order lines per institution-month so that the total is about
    that many; without it a buyer places 1–8 lines per variety-month depending on its size.
    """
    if institutions < MIN_INSTITUTIONS:
        raise ValueError(f"institutions must be at least {MIN_INSTITUTIONS} (planted situations need them)")
    if not 1 <= months <= 120:
        raise ValueError("months must be between 1 and 120")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if order_lines is not None and order_lines < 1:
        raise ValueError("order_lines must be positive")
    start = date(start.year, start.month, 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    inst = make_institutions(np.random.default_rng([seed, 1]), institutions)
    ent = make_enterprises(np.random.default_rng([seed, 2]))
    cat = make_catalogue(np.random.default_rng([seed, 3]), ent.manufacturers, batch_starts(start))
    world = build_world(seed, inst, ent, cat, start, months, np.random.default_rng([seed, 4]))
    plant_all(world, np.random.default_rng([seed, 5]))
    substitution = plant_substitution(world, np.random.default_rng([seed, 6]))  # its own stream: the rest unchanged
    plant_clues(world)  # after every other plant: its institutions are none of theirs, and it draws no rng
    class_kickback = plant_class_kickback(world, np.random.default_rng([seed, 29]))  # after it; its own stream
    if order_lines is not None:
        world.scale = order_lines / world.expected_lines()

    counts: dict[str, int] = {}
    small = reference_tables(world)
    small.update(fund_tables(world))
    small["local_products"] = local_products(world)
    small["products"] = pa.concat_tables([small["products"], substitution.products(world),
                                          class_kickback.products(world)])
    small["listings"] = pa.concat_tables([small["listings"], substitution.listings(world),
                                          class_kickback.listings(world)])
    for name, data in small.items():
        counts[name] = write_table(out, name, data, fmt)

    total = int(round(world.expected_lines()))
    done = 0
    big = ("orders", "deliveries", "payments")
    sinks = {n: TableSink(out, n, fmt) for n in big}

    def write(chunk) -> None:
        nonlocal done
        for n in big:
            sinks[n].write(getattr(chunk, n))
        done += chunk.orders.num_rows
        if progress is not None:
            progress(done, max(total, done))

    try:
        for chunk, _expected in Generator(world).chunks(chunk_rows):
            write(chunk)
        # the alternatives' lines, then the class kickback product's, numbered after the generator's
        for extra_of in (substitution.chunk, class_kickback.chunk):
            write(extra_of(world, done))
    finally:
        for s in sinks.values():
            s.close()
    counts.update({n: s.rows for n, s in sinks.items()})

    as_of = world.end.toordinal() - 1
    manifest = Manifest(
        seed=seed,
        params={"institutions": institutions, "months": months, "order_lines": order_lines, "start": start.isoformat(),
                "format": fmt, "chunk_rows": chunk_rows},
        start=start.isoformat(), end=world.end.isoformat(), as_of=date.fromordinal(as_of).isoformat(),
        tables={n: counts[n] for n in TABLES if n in counts},
        files={n: f"{n}.{fmt}" for n in TABLES if n in counts},
        planted=world.planted,
        notes=["All names are synthetic; codes follow the national formats.", *world.notes],
    )
    manifest.write(out / "manifest.json")
    return manifest
