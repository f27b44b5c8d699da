"""`nlptasks serve` under load, on 127.0.0.1 only, bounded in requests and time.

    python benchmarks/serve_load.py [--tasks sentiment translate] [--concurrency 1 8 32 128]
                                    [--requests 512] [--max-seconds 60] [--json out.json]

For each task, a server with dynamic batching and one with ``--no-batching`` (each a separate process,
models preloaded, started one after the other, never at once) get the same items, one item per request,
from 1, 8, 32 and 128 concurrent clients; each level stops after ``--requests`` requests or
``--max-seconds`` (requests in flight then finish). Reported: throughput (items/s), p50 and p99 latency,
and batching on / off. The same items also go through ``nlptasks run TASK`` as one whole process (start-up
and model load included, as a user pays them). Items: SST-2 validation sentences and Multi30k English
captions from ../shared/data (synthetic sentences when it is absent). The JSON report (``--json``) records
the command, date and machine. Good and bad bodies, error codes and memory: benchmarks/serve_robustness.py.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _speed
DATA = Path(os.environ.get("NLPTASKS_DATA", REPO.parent / "shared" / "data"))
HOST = "127.0.0.1"  # loopback only, by design


def log(msg: str) -> None:
    print(f"serve_load: {msg}", file=sys.stderr, flush=True)


def items_for(task: str, n: int) -> list[str]:
    path = {"sentiment": DATA / "sentiment" / "validation.jsonl",
            "translate": DATA / "translation" / "validation.jsonl"}.get(task)
    out: list[str] = []
    if path is not None and path.is_file():
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                out.append(row["text"] if task == "sentiment" else row["translation"]["en"])
                if len(out) >= n:
                    break
    if not out:
        rng = random.Random(0)
        words = "a the film man woman dog runs street old young red quiet happy boring long short".split()
        out = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 14))) for _ in range(n)]
    while len(out) < n:
        out += out[: n - len(out)]
    return out[:n]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tasks: list[str], batching: bool, extra: list[str] | None = None):
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        cmd = [sys.executable, "-m", "nlptasks", "serve", "--host", HOST, "--port", str(self.port), "--preload",
               "--max-queue", "100000", "--timeout", "300"]
        for t in tasks:
            cmd += ["--task", t]
        if not batching:
            cmd.append("--no-batching")
        self.proc = subprocess.Popen(cmd + (extra or []), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})

    def wait_ready(self, limit: float = 300) -> None:
        import urllib.request

        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: {self.proc.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(self.base + "/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit("server not ready in time")

    def rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(-(-q * len(s) // 1)) - 1))]


async def load_level(base: str, task: str, items: list[str], clients: int, max_requests: int,
                     max_seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = iter(range(max_requests))
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300) as client:
        async def worker():
            nonlocal errors
            for i in counter:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                r = await client.post(f"/v1/{task}", json={"inputs": [items[i % len(items)]]})
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {"clients": clients, "requests": len(latencies), "errors": errors, "seconds": wall,
            "items_per_s": len(latencies) / wall if wall > 0 else None,
            "p50_s": quantile(latencies, 0.50), "p99_s": quantile(latencies, 0.99)}


def run_cli(task: str, items: list[str]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(items) + "\n")
        path = f.name
    try:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "nlptasks", "run", task, "--input", path],
                              capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        wall = time.perf_counter() - t0
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise SystemExit(f"nlptasks run {task} failed: {proc.stderr[-1000:]}")
    return {"items": len(items), "seconds": wall, "items_per_s": len(items) / wall}


def fmt(v, spec=".1f") -> str:
    return "-" if v is None else format(v, spec)


def load_mode(args) -> dict:
    report: dict = {"mode": "load", "tasks": {}}
    for task in args.tasks:
        items = items_for(task, args.requests)
        rows: dict = {}
        for batching in (True, False):
            label = "batching" if batching else "no-batching"
            log(f"{task}: starting a server ({label})")
            server = Server([task], batching)
            try:
                server.wait_ready()
                asyncio.run(load_level(server.base, task, items, 1, 4, 30))  # warm-up
                for c in args.concurrency:
                    r = asyncio.run(load_level(server.base, task, items, c, args.requests, args.max_seconds))
                    rows.setdefault(c, {})[label] = r
                    log(f"{task} {label} x{c}: {fmt(r['items_per_s'])} items/s, p50 {fmt(r['p50_s'], '.3f')} s, "
                        f"p99 {fmt(r['p99_s'], '.3f')} s, {r['errors']} errors")
            finally:
                server.stop()
        log(f"{task}: nlptasks run on the same {len(items)} items (one whole process)")
        cli = run_cli(task, items)
        report["tasks"][task] = {"levels": rows, "nlptasks_run": cli}
        print(f"\n{task}: {len(items)} items, one item per request; `nlptasks run` (whole process, start-up "
              f"and load included): {cli['items_per_s']:.1f} items/s ({cli['seconds']:.1f} s)")
        print(f"{'clients':>7} | {'batching items/s':>16} | {'p50 s':>6} | {'p99 s':>6} | {'no-batching items/s':>19} "
              f"| {'p50 s':>6} | {'p99 s':>6} | {'on/off':>6}")
        for c, r in rows.items():
            on, off = r["batching"], r["no-batching"]
            ratio = on["items_per_s"] / off["items_per_s"] if on["items_per_s"] and off["items_per_s"] else None
            print(f"{c:>7} | {fmt(on['items_per_s']):>16} | {fmt(on['p50_s'], '.3f'):>6} | {fmt(on['p99_s'], '.3f'):>6} "
                  f"| {fmt(off['items_per_s']):>19} | {fmt(off['p50_s'], '.3f'):>6} | {fmt(off['p99_s'], '.3f'):>6} "
                  f"| {fmt(ratio, '.2f'):>6}")
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["sentiment", "translate"])
    ap.add_argument("--concurrency", nargs="+", type=int, default=[1, 8, 32, 128])
    ap.add_argument("--requests", type=int, default=512, help="requests per level (and items for `nlptasks run`)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time limit per level")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    args = ap.parse_args()
    if args.requests < 1 or args.max_seconds <= 0 or min(args.concurrency) < 1:
        ap.error("--requests, --max-seconds and --concurrency must be positive")
    from _speed import machine

    meta = {"command": "python benchmarks/serve_load.py " + " ".join(sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "environment": machine()}
    report = {**meta, **load_mode(args)}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
