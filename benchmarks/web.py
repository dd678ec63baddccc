"""Benchmark of the pages and the API: 20 concurrent clients over loopback against `jicai serve` on the demo
province. `python benchmarks/web.py [--clients 20] [--rounds 10]`.

Builds the demo province once (benchmarks/data/web/, 300 institutions × 12 months), starts `jicai serve` in
its own process, logs one client in per demo role, warms each endpoint once (the first call computes the
measure; later calls read the cached result, as a running server does), then lets --clients clients (a mix of
roles: bureau, district bureau, hospital, supplier) each request every endpoint --rounds times, concurrently.
Prints median and p95 latency per endpoint and writes benchmarks/results/web.json. The clients are asyncio
tasks of this process, each with its own connections and logins; the server is a single uvicorn process
(the DuckDB default) on the same two cores.
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


async def load(base: str, clients: int, rounds: int) -> tuple[dict[str, list[float]], list[str], float, float]:
    """Warm every endpoint once, then ``clients`` concurrent clients (asyncio tasks, each with its own
    connections and logins) request every endpoint ``rounds`` times, each in a shifted order."""
    roles = sorted({r for r, _, _ in ENDPOINTS})
    first = {r: await login(base, r) for r in roles}
    t0 = time.perf_counter()
    for role, method, path in ENDPOINTS:  # the first call computes the measure, as on a running server
        await call(*first[role], method, path)
    warm = time.perf_counter() - t0
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
    return times, errors, warm, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    data = HERE / "data" / "web"
    prepare(data)
    port = _port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "JICAI_DATA_DIR": str(data)}
    env.pop("JICAI_WAREHOUSE_URL", None)
    server = subprocess.Popen([JICAI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
    try:
        import httpx

        for _ in range(600):
            try:
                httpx.get(f"{base}/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        times, errors, warm, wall = asyncio.run(load(base, args.clients, args.rounds))
        print(f"warm-up (every measure computed once): {warm:.1f} s")
    finally:
        server.terminate()
        server.wait(timeout=30)
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
    (res / "web.json").write_text(json.dumps({"clients": args.clients, "rounds": args.rounds, "warm_s": warm,
                                              "wall_s": wall, "requests": n, "errors": errors[:20],
                                              "endpoints": out}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
