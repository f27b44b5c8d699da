"""`nlptasks serve` under load, on 127.0.0.1 only, bounded in requests and time.

    python benchmarks/serve_load.py [--tasks sentiment translate] [--concurrency 1 8 32 128]
                                    [--requests 512] [--max-seconds 60] [--json out.json]
    python benchmarks/serve_load.py --robustness 20000 [--task sentiment]

Load mode: for each task, a server with dynamic batching and one with ``--no-batching`` (each a separate
process, models preloaded, started one after the other, never at once) get the same items, one item per
request, from 1, 8, 32 and 128 concurrent clients; each level stops after ``--requests`` requests or
``--max-seconds``. Reported: throughput (items/s), p50 and p99 latency, and batching on / off. The same
items also go through ``nlptasks run TASK`` as one whole process (start-up and model load included, as a
user pays them). Items: SST-2 validation sentences and Multi30k English captions from ../shared/data
(synthetic sentences when it is absent).

Robustness mode: N requests mixing good bodies with bad ones (malformed JSON, wrong types, missing fields,
unknown options and tasks, too many items, an oversized body), 32 at a time; every bad body must be
answered 4xx, nothing 5xx; the server's RSS is read from /proc at the start and the end.
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


def bad_bodies(task: str, max_items: int) -> list[tuple[str, bytes, dict]]:
    """(path, body, headers) of requests that must be answered 4xx."""
    j = {"content-type": "application/json"}
    return [
        (f"/v1/{task}", b'{"inputs": ["unterminated', j),
        (f"/v1/{task}", b'{"inputs": "not a list"}', j),
        (f"/v1/{task}", b'{"inputs": [42]}', j),
        (f"/v1/{task}", b'{"inputs": [{"wrong_field": "x"}]}', j),
        (f"/v1/{task}", b'{"inputs": [{"text": null}]}', j),
        (f"/v1/{task}", b'{"inputs": []}', j),
        (f"/v1/{task}", b'{"inputs": ["x"], "options": {"no_such_option": 1}}', j),
        (f"/v1/{task}", b'{"inputs": ["x"], "options": {"max_length": "long"}}', j),
        (f"/v1/{task}", b'{"inputs": ["x"], "options": []}', j),
        (f"/v1/{task}", json.dumps({"inputs": ["x"] * (max_items + 1)}).encode(), j),
        (f"/v1/{task}", b'{"inputs": ["' + b"x" * (1 << 20) + b'"]}', j),
        (f"/v1/{task}", b"\xff\xfe not utf-8", j),
        ("/v1/no-such-task", b'{"inputs": ["x"]}', j),
        (f"/v1/{task}", b"[]", j),
    ]


async def robustness(base: str, task: str, n: int, clients: int = 32) -> dict:
    import httpx

    good = items_for(task, 64)
    bad = bad_bodies(task, 256)
    rng = random.Random(0)
    plan = [("good", None) if rng.random() < 0.5 else ("bad", rng.randrange(len(bad))) for _ in range(n)]
    counts = {"good_2xx": 0, "good_other": 0, "bad_4xx": 0, "bad_other": 0, "5xx": 0, "transport_errors": 0}
    it = iter(range(n))
    async with httpx.AsyncClient(base_url=base, timeout=300,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        async def worker():
            for i in it:
                kind, which = plan[i]
                try:
                    if kind == "good":
                        r = await client.post(f"/v1/{task}", json={"inputs": [good[i % len(good)]]})
                    else:
                        path, body, headers = bad[which]
                        r = await client.post(path, content=body, headers=headers)
                except httpx.HTTPError:
                    counts["transport_errors"] += 1
                    continue
                if r.status_code >= 500:
                    counts["5xx"] += 1
                if kind == "good":
                    counts["good_2xx" if r.status_code == 200 else "good_other"] += 1
                else:
                    counts["bad_4xx" if 400 <= r.status_code < 500 else "bad_other"] += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return counts


def robustness_mode(args) -> dict:
    server = Server([args.task], True)
    try:
        server.wait_ready()
        asyncio.run(load_level(server.base, args.task, items_for(args.task, 256), 32, 256, 60))  # warm-up
        rss0 = server.rss_mb()  # after warm-up: the allocator's first growth is not a leak
        t0 = time.perf_counter()
        counts = asyncio.run(robustness(server.base, args.task, args.robustness))
        wall = time.perf_counter() - t0
        rss1 = server.rss_mb()
    finally:
        rc = server.stop()
    ok = counts["5xx"] == 0 and counts["bad_other"] == 0 and counts["transport_errors"] == 0 \
        and counts["good_other"] == 0
    print(f"robustness: {args.robustness} requests ({args.task}) in {wall:.1f} s: {counts}; server RSS "
          f"{fmt(rss0)} MB at start, {fmt(rss1)} MB at the end; exit code after SIGTERM {rc}; "
          f"{'PASS' if ok else 'FAIL'}")
    return {"mode": "robustness", "requests": args.robustness, "counts": counts, "rss_mb_start": rss0,
            "rss_mb_end": rss1, "seconds": wall, "exit_code": rc, "pass": ok}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=["sentiment", "translate"])
    ap.add_argument("--concurrency", nargs="+", type=int, default=[1, 8, 32, 128])
    ap.add_argument("--requests", type=int, default=512, help="requests per level (and items for `nlptasks run`)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time limit per level")
    ap.add_argument("--robustness", type=int, default=0, metavar="N", help="robustness mode with N requests")
    ap.add_argument("--task", default="sentiment", help="robustness mode: the task")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    args = ap.parse_args()
    report = robustness_mode(args) if args.robustness else load_mode(args)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if report.get("pass", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
