"""`nlptasks serve` robustness: many requests mixing good and bad bodies, on 127.0.0.1 only.

    python benchmarks/serve_robustness.py [--requests 20000] [--task sentiment] [--clients 32]
                                          [--bad-fraction 0.5] [--no-api-key] [--json OUT]

One server process (uvicorn, started as ``nlptasks serve --preload`` in a subprocess, loopback only, with an
API key unless ``--no-api-key``) gets ``--requests`` requests from ``--clients`` concurrent clients: good
bodies (one to eight SST-2 sentences, the right key) and bad ones, each with the status it must get:
malformed JSON, wrong field types, a record without its field, empty inputs, unknown or mistyped options,
too many items, a body over the size limit, an unknown task or path, a wrong method, and a missing or wrong
key. Checked: no 5xx at all, every good body 200, every bad body answered with its expected 4xx code, no
transport error. The server's RSS is read from /proc after a warm-up (good requests of every batch size up
to 64, so the batch shapes the run will meet have been seen) and then every tenth of the run: memory must
stay flat, not grow with the requests served. Exit status 0 only when every check passed.

Writes benchmarks/results/serve_robustness.json (``--json``): counts per kind, RSS samples, the machine
(CPU model, cores, versions), date and command. It is a functional and memory check, not a timing, so the
machine need not be idle (the seconds it records are not a speed figure).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import stat
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import Server, items_for, log  # noqa: E402  (the same server runner and items)

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "serve_robustness.json"
MAX_ITEMS = 256            # the server's --max-items default
MAX_BODY = 1 << 20         # the server's --max-body-bytes default


def bad_requests(task: str) -> dict[str, tuple[str, str, bytes | None, int]]:
    """name -> (method, path, body, expected status); the auth ones are added by the caller."""
    p = f"/v1/{task}"
    return {
        "malformed_json": ("POST", p, b'{"inputs": ["unterminated', 422),
        "not_utf8": ("POST", p, b'{"inputs": ["\xff\xfe"]}', 422),
        "body_not_object": ("POST", p, b"[]", 422),
        "inputs_not_list": ("POST", p, b'{"inputs": "a fine film"}', 422),
        "inputs_missing": ("POST", p, b'{"options": {}}', 422),
        "item_wrong_type": ("POST", p, b'{"inputs": [42]}', 422),
        "record_without_field": ("POST", p, b'{"inputs": [{"wrong_field": "x"}]}', 422),
        "field_null": ("POST", p, b'{"inputs": [{"text": null}]}', 422),
        "field_wrong_type": ("POST", p, b'{"inputs": [{"text": ["a", "b"]}]}', 422),
        "empty_inputs": ("POST", p, b'{"inputs": []}', 422),
        "unknown_field": ("POST", p, b'{"inputs": ["x"], "extra": 1}', 422),
        "unknown_option": ("POST", p, b'{"inputs": ["x"], "options": {"no_such_option": 1}}', 422),
        "option_wrong_type": ("POST", p, b'{"inputs": ["x"], "options": {"max_length": "long"}}', 422),
        "options_not_object": ("POST", p, b'{"inputs": ["x"], "options": []}', 422),
        "server_only_option": ("POST", p, b'{"inputs": ["x"], "options": {"engine": "ctranslate2"}}', 422),
        "too_many_items": ("POST", p, json.dumps({"inputs": ["x"] * (MAX_ITEMS + 1)}).encode(), 413),
        "body_too_large": ("POST", p, b'{"inputs": ["' + b"x" * MAX_BODY + b'"]}', 413),
        "unknown_task": ("POST", "/v1/no-such-task", b'{"inputs": ["x"]}', 404),
        "unknown_path": ("GET", "/v2/nothing", None, 404),
        "wrong_method": ("GET", p, None, 405),
        "chat_not_served": ("POST", "/v1/chat/completions",
                            b'{"messages": [{"role": "user", "content": "hi"}]}', 404),
    }


def write_key(folder: str) -> tuple[str, str]:
    import secrets

    key = secrets.token_urlsafe(32)
    path = os.path.join(folder, "key")
    with open(path, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return key, path


async def warm_up(base: str, task: str, good: list[str], headers: dict) -> None:
    """Every batch size from 1 to 64 (one request of n items each), twice: the shapes the run meets."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=300, headers=headers) as client:
        for _ in range(2):
            for n in range(1, 65):
                r = await client.post(f"/v1/{task}", json={"inputs": good[:n]})
                if r.status_code != 200:
                    raise SystemExit(f"warm-up request failed: {r.status_code} {r.text[:300]}")


async def hammer(base: str, task: str, n: int, clients: int, bad_fraction: float, key: str | None,
                 good: list[str], rss, samples: list) -> dict:
    import httpx

    bad = bad_requests(task)
    if key is not None:
        p = f"/v1/{task}"
        body = b'{"inputs": ["a fine film"]}'
        bad.update({"auth_missing": ("POST", p, body, 401), "auth_wrong_key": ("POST", p, body, 401),
                    "auth_wrong_scheme": ("POST", p, body, 401)})
    names = sorted(bad)
    rng = random.Random(0)
    plan = [None if rng.random() >= bad_fraction else rng.choice(names) for _ in range(n)]
    good_sizes = [rng.randint(1, 8) for _ in range(n)]
    counts: dict = {"good": {"sent": 0, "200": 0, "other": {}},
                    "bad": {k: {"expected": bad[k][3], "sent": 0, "as_expected": 0, "other": {}} for k in names},
                    "5xx": 0, "transport_errors": 0}
    auth = {"authorization": f"Bearer {key}"} if key else {}
    json_type = {"content-type": "application/json"}
    it = iter(range(n))
    step = max(1, n // 10)
    done = [0]
    async with httpx.AsyncClient(base_url=base, timeout=300,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        async def worker():
            for i in it:
                name = plan[i]
                try:
                    if name is None:
                        start = i % len(good)
                        texts = (good[start:] + good)[:good_sizes[i]]
                        r = await client.post(f"/v1/{task}", json={"inputs": texts}, headers=auth)
                    else:
                        method, path, body, _ = bad[name]
                        headers = dict(json_type)
                        if name == "auth_wrong_key":
                            headers["authorization"] = "Bearer " + "x" * len(key)
                        elif name == "auth_wrong_scheme":
                            headers["authorization"] = f"Basic {key}"
                        elif name != "auth_missing":
                            headers.update(auth)
                        r = await client.request(method, path, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    counts["transport_errors"] += 1
                    log(f"transport error on request {i} ({name or 'good'}): {exc!r}")
                    continue
                finally:
                    done[0] += 1
                    if done[0] % step == 0:
                        samples.append({"requests": done[0], "rss_mb": rss()})
                code = r.status_code
                if code >= 500:
                    counts["5xx"] += 1
                if name is None:
                    c = counts["good"]
                    c["sent"] += 1
                    if code == 200 and len(r.json().get("outputs", ())) == len(texts):
                        c["200"] += 1
                    else:
                        c["other"][str(code)] = c["other"].get(str(code), 0) + 1
                else:
                    c = counts["bad"][name]
                    c["sent"] += 1
                    if code == c["expected"] and r.headers.get("content-type", "").startswith("application/json") \
                            and "error" in r.json():
                        c["as_expected"] += 1
                    else:
                        c["other"][str(code)] = c["other"].get(str(code), 0) + 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20000, help="requests in all (default 20000)")
    ap.add_argument("--task", default="sentiment")
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    ap.add_argument("--bad-fraction", type=float, default=0.5, help="share of bad bodies (default 0.5)")
    ap.add_argument("--no-api-key", action="store_true", help="serve without an API key (no auth checks)")
    ap.add_argument("--pad-multiple", type=int, default=None, metavar="N",
                    help="the server's --pad-multiple (default: its own, 16; 1 to see memory without it)")
    ap.add_argument("--json", default=str(OUT), help=f"where the report goes (default {OUT.relative_to(REPO)}; "
                                                      f"'-' for none)")
    args = ap.parse_args()
    if args.requests < 1 or args.clients < 1 or not 0 <= args.bad_fraction <= 1:
        ap.error("--requests and --clients must be positive, --bad-fraction within [0, 1]")
    from _speed import machine

    env = machine()
    command = "python benchmarks/serve_robustness.py " + " ".join(sys.argv[1:])
    good = items_for(args.task, 256)
    with tempfile.TemporaryDirectory() as tmp:
        key, key_file = (None, None) if args.no_api_key else write_key(tmp)
        extra = ["--api-key-file", key_file] if key_file else []
        if args.pad_multiple is not None:
            extra += ["--pad-multiple", str(args.pad_multiple)]
        server = Server([args.task], True, extra)
        log(f"{args.task}: starting the server (pid {server.proc.pid}, {server.base})")
        try:
            server.wait_ready()
            auth = {"authorization": f"Bearer {key}"} if key else {}
            rss_loaded = server.rss_mb()
            asyncio.run(warm_up(server.base, args.task, good, auth))
            rss_start = server.rss_mb()
            log(f"RSS {rss_loaded:.0f} MB loaded, {rss_start:.0f} MB after the warm-up; "
                f"{args.requests} requests from {args.clients} clients")
            samples: list = []
            t0 = time.perf_counter()
            counts = asyncio.run(hammer(server.base, args.task, args.requests, args.clients, args.bad_fraction,
                                        key, good, server.rss_mb, samples))
            wall = time.perf_counter() - t0
            rss_end = server.rss_mb()
        finally:
            rc = server.stop()
    bad_total = sum(c["sent"] for c in counts["bad"].values())
    bad_ok = sum(c["as_expected"] for c in counts["bad"].values())
    growth = rss_end - rss_start if rss_end is not None and rss_start is not None else None
    checks = {"no_5xx": counts["5xx"] == 0, "no_transport_errors": counts["transport_errors"] == 0,
              "every_good_200": counts["good"]["200"] == counts["good"]["sent"],
              "every_bad_expected_4xx": bad_ok == bad_total, "clean_exit_after_sigterm": rc == 0}
    ok = all(checks.values())
    report = {"command": command, "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "environment": env, "task": args.task, "requests": args.requests, "clients": args.clients,
              "api_key": key is not None, "pad_multiple": args.pad_multiple or 16, "good_requests": counts["good"]["sent"],
              "good_200": counts["good"]["200"], "bad_requests": bad_total, "bad_answered_as_expected": bad_ok,
              "responses_5xx": counts["5xx"], "transport_errors": counts["transport_errors"],
              "rss_mb_loaded": rss_loaded, "rss_mb_start": rss_start, "rss_mb_end": rss_end,
              "rss_growth_mb": growth, "seconds": wall, "exit_code_after_sigterm": rc, "pass": ok,
              "checks": checks, "rss_samples": samples, "by_kind": counts["bad"],
              "good_other_codes": counts["good"]["other"]}
    print(f"serve robustness ({args.task}, {args.requests} requests, {args.clients} clients, "
          f"{'API key' if key else 'no key'}): {counts['good']['200']}/{counts['good']['sent']} good answered 200, "
          f"{bad_ok}/{bad_total} bad answered with their expected 4xx, {counts['5xx']} 5xx, "
          f"{counts['transport_errors']} transport errors; server RSS {rss_start:.0f} MB after warm-up, "
          f"{rss_end:.0f} MB at the end ({growth:+.0f} MB); exit code after SIGTERM {rc}; "
          f"{'PASS' if ok else 'FAIL'}")
    for name, c in counts["bad"].items():
        if c["as_expected"] != c["sent"]:
            print(f"  {name}: expected {c['expected']}, got {c['other']}")
    if args.json != "-":
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
