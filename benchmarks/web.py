"""Benchmark of the pages and the API: 20 concurrent clients over loopback against `jicai serve`.
`python benchmarks/web.py [--clients 20] [--rounds 10] [--order-lines N [--institutions I] [--months M]]`.

Builds the province once: the demo (benchmarks/data/web/, 300 institutions × 12 months), or with
``--order-lines N`` the simulator's province of about N order lines (benchmarks/data/web-N/, imported with
``jicai import``, the demo's logins). Starts `jicai serve` in its own process and measures the **first view**
of every endpoint and every dataset: the time from the server's start to its first 200 (all asked at once, as
the first users would; a 503 "computing" is retried). Then --clients clients (a mix of roles: bureau, district
bureau, hospital, supplier) each request every endpoint --rounds times, concurrently. Prints the first views,
median and p95 latency per endpoint and writes benchmarks/results/web.json (web-N.json). The clients are
asyncio tasks of this process, each with its own connections and logins; the server is a single uvicorn
process (the DuckDB default) on the same two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
JICAI = str(Path(sys.executable).with_name("jicai"))
PASSWORD = "jicai-demo"

# (role login, method, path): what each kind of user looks at
ENDPOINTS = [
    ("bureau", "GET", "/"),
    ("bureau", "GET", "/api/overview"),
    ("bureau", "GET", "/api/monitor?page_size=100"),
    ("bureau", "GET", "/ranking"),
    ("bureau", "GET", "/data/monitor"),
    ("bureau", "GET", "/api/supply-scorecard?month=2024-09&page_size=100"),
    ("bureau", "GET", "/api/capitation?period=2024"),
    ("quanzhou", "GET", "/"),
    ("quanzhou", "GET", "/api/monitor?page_size=100"),
    ("hospital", "GET", "/"),
    ("hospital", "GET", "/api/monitor"),
    ("supplier", "GET", "/api/supply-scorecard?month=2024-09"),
    ("bureau", "POST", "/api/pharmacy/settlement-check"),
]
GATE_BODY = {"pharmacy_code": "P35010200001", "at": "2024-07-12T10:00:00"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(data: Path) -> None:
    if (data / "jicai.duckdb").exists() and (data / "workflow.sqlite").exists():
        return
    subprocess.run([JICAI, "--data-dir", str(data), "demo", "--no-serve"], check=True, stdout=subprocess.DEVNULL)


def prepare_simulated(data: Path, order_lines: int, institutions: int, months: int) -> None:
    """The simulator's province of about ``order_lines`` lines, imported as a bureau would, with the demo's logins."""
    if (data / "jicai.duckdb").exists() and (data / "workflow.sqlite").exists():
        return
    from datetime import date

    from jicai.commands.demo import create_demo_users
    from jicai.settings import Settings
    from jicai.simulate import simulate

    t = time.perf_counter()
    manifest = simulate(data / "dataset", institutions=institutions, months=months, seed=2024,
                        order_lines=order_lines, start=date(2024, 1, 1))
    print(f"simulated {manifest.tables['orders']:,} order lines in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    subprocess.run([JICAI, "--data-dir", str(data), "import", str(data / "dataset")], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"imported in {time.perf_counter() - t:.0f} s")
    create_demo_users(Settings.resolve(data), manifest)


def dataset_paths() -> list[tuple[str, str, str]]:
    """Every dataset's API endpoint with its default arguments, as the bureau."""
    from jicai.web.datasets import DATASETS

    return [("bureau", "GET", f"/api/{name}") for name in DATASETS]


async def login(base: str, name: str):
    import httpx

    c = httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=4))
    page = (await c.get("/login")).text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    r = await c.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token, "next": "/"})
    if r.status_code != 303 or r.headers.get("location") != "/":
        raise RuntimeError(f"login of {name} failed: {r.status_code}")
    bearer = (await c.post("/api/auth/token", data={"username": name, "password": PASSWORD})).json()["access_token"]
    return c, {"Authorization": f"Bearer {bearer}"}


async def call(client, headers, method: str, path: str) -> float:
    t = time.perf_counter()
    if method == "POST":
        r = await client.post(path, json=GATE_BODY, headers=headers)
    else:
        r = await client.get(path, headers=headers if path.startswith("/api/") else None)
    dt = time.perf_counter() - t
    if r.status_code != 200:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:200]}")
    return dt


async def first_views(base: str, first: dict, started: float) -> dict[str, float]:
    """Every endpoint and dataset asked at once; the seconds from the server's start to each first 200."""
    async def one(role: str, method: str, path: str) -> tuple[str, float]:
        while True:
            try:
                await call(*first[role], method, path)
                return f"{method} {path} ({role})", time.perf_counter() - started
            except RuntimeError as exc:
                if ": 503 " not in str(exc):  # "computing": ask again, as a user would
                    raise
                await asyncio.sleep(0.2)

    probes = list(dict.fromkeys([*ENDPOINTS, *dataset_paths()]))
    return dict(await asyncio.gather(*(one(*p) for p in probes)))


async def load(base: str, clients: int, rounds: int,
               started: float) -> tuple[dict[str, list[float]], list[str], dict[str, float], float]:
    """The first view of every endpoint (:func:`first_views`), then ``clients`` concurrent clients (asyncio
    tasks, each with its own connections and logins) request every endpoint ``rounds`` times, each in a shifted
    order."""
    roles = sorted({r for r, _, _ in ENDPOINTS})
    first = {r: await login(base, r) for r in roles}
    firsts = await first_views(base, first, started)
    times: dict[str, list[float]] = {f"{m} {p} ({r})": [] for r, m, p in ENDPOINTS}
    errors: list[str] = []
    logins = [{r: await login(base, r) for r in roles} for _ in range(clients)]

    async def client_loop(i: int) -> None:
        for k in range(rounds):
            for j in range(len(ENDPOINTS)):
                role, method, path = ENDPOINTS[(i + j + k) % len(ENDPOINTS)]
                try:
                    times[f"{method} {path} ({role})"].append(await call(*logins[i][role], method, path))
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(str(exc))

    t0 = time.perf_counter()
    await asyncio.gather(*(client_loop(i) for i in range(clients)))
    wall = time.perf_counter() - t0
    for c in [*first.values(), *(x for d in logins for x in d.values())]:
        await c[0].aclose()
    return times, errors, firsts, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--order-lines", type=int, default=None,
                    help="the simulator's province of about this many order lines instead of the demo")
    ap.add_argument("--institutions", type=int, default=1000, help="with --order-lines")
    ap.add_argument("--months", type=int, default=12, help="with --order-lines")
    args = ap.parse_args()
    if args.order_lines:
        data = HERE / "data" / f"web-{args.order_lines}"
        prepare_simulated(data, args.order_lines, args.institutions, args.months)
    else:
        data = HERE / "data" / "web"
        prepare(data)
    port = _port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "JICAI_DATA_DIR": str(data)}
    env.pop("JICAI_WAREHOUSE_URL", None)
    started = time.perf_counter()
    server = subprocess.Popen([JICAI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    try:
        import httpx

        for _ in range(6000):
            try:
                httpx.get(f"{base}/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        times, errors, firsts, wall = asyncio.run(load(base, args.clients, args.rounds, started))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print("first view (seconds from the server's start to the first 200), all asked at once:")
    for name, sec in sorted(firsts.items(), key=lambda kv: kv[1]):
        print(f"  {name:<70} {sec:>8.2f}")
    n = sum(len(v) for v in times.values())
    print(f"{args.clients} clients × {args.rounds} rounds × {len(ENDPOINTS)} endpoints: {n} requests in "
          f"{wall:.1f} s ({n / wall:.0f}/s), errors {len(errors)}")
    print(f"{'endpoint':<70} {'median ms':>10} {'p95 ms':>8}")
    out = {}
    for name, v in times.items():
        v.sort()
        med, p95 = statistics.median(v) * 1000, v[max(0, int(len(v) * 0.95) - 1)] * 1000
        out[name] = {"median_ms": round(med, 1), "p95_ms": round(p95, 1), "n": len(v)}
        print(f"{name:<70} {med:>10.1f} {p95:>8.1f}")
    res = HERE / "results"
    res.mkdir(exist_ok=True)
    name = f"web-{args.order_lines}.json" if args.order_lines else "web.json"
    (res / name).write_text(json.dumps({"clients": args.clients, "rounds": args.rounds, "order_lines": args.order_lines,
                                        "first_view_s": {k: round(v, 3) for k, v in firsts.items()},
                                        "wall_s": wall, "requests": n, "errors": errors[:20],
                                        "endpoints": out}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
