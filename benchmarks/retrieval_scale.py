"""Knowledge-base index at scale (issue 22): build time, size on disk, peak memory and query latency at
10k, 100k and 1M passages, and how each grows.

    python benchmarks/retrieval_scale.py                          # 10k, 100k, 1M (hours: see below)
    python benchmarks/retrieval_scale.py --sizes 10000,100000     # the real encoder at both sizes
    python benchmarks/retrieval_scale.py --sizes 500 --random-vectors-above 0   # a quick check

The corpus is synthetic: passages of 80-150 words drawn from a Zipf-distributed vocabulary of 30,000
made-up words (deterministic, seed 0), one passage per document, written as JSON Lines. Each size is
built by a child process (``nlptasks.retrieval.index.build_index``, as ``nlptasks index build``) whose
wall time and peak RSS are measured alone (``os.wait4``); a second child opens the index (memory-mapped)
and times ``--queries`` single questions per retriever after one warm-up (the query embedding included,
model load excluded), reporting p50/p95 in ms and its own peak RSS.

Embedding with the packaged MiniLM runs at a few hundred passages a second on a CPU, so 1M passages
would take over an hour of encoder time alone: sizes above ``--random-vectors-above`` (default 100,000)
are built with random unit vectors in place of the encoder's (everything else, BM25 included, is the
real code path; the table says which sizes did). FAISS (IVF) is used from ``--faiss-threshold``
passages on (default: the index default, 200,000), so 1M runs through FAISS and 10k/100k scan exactly.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RETRIEVERS = ("bm25", "dense", "hybrid")


# -- the synthetic corpus ----------------------------------------------------------------------------
def _vocab(n: int = 30_000, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    out, seen = [], set()
    while len(out) < n:
        w = "".join(rng.choice(letters) for _ in range(rng.randint(3, 10)))
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def write_corpus(path: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` one-passage documents into ``path``; returns a few queries taken from them."""
    import numpy as np

    vocab = np.array(_vocab(seed=seed))
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, len(vocab) + 1)
    p = 1.0 / ranks
    p /= p.sum()
    queries = []
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            words = vocab[rng.choice(len(vocab), size=int(rng.integers(80, 151)), p=p)]
            sents, k = [], 0
            while k < len(words):
                m = int(rng.integers(8, 20))
                sents.append(" ".join(words[k:k + m]).capitalize() + ".")
                k += m
            text = " ".join(sents)
            f.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")
            if i % max(1, n // 200) == 0:
                queries.append("what is " + " ".join(words[rng.choice(len(words), 4, replace=False)]))
    return queries


class RandomEncoder:
    """Random unit vectors in place of the encoder's (for sizes too large to embed here)."""

    dim = 384

    def __init__(self, seed: int = 0):
        import numpy as np

        self.rng = np.random.default_rng(seed)

    def encode(self, texts, **_):
        import numpy as np

        v = self.rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


# -- children ----------------------------------------------------------------------------------------
def child_build(args) -> None:
    from nlptasks.retrieval.index import BuildSettings, build_index

    s = BuildSettings(faiss_threshold=args.faiss_threshold or BuildSettings().faiss_threshold)
    enc = RandomEncoder() if args.random else None
    build_index([args.corpus], args.index, settings=s, encoder=enc)


def child_query(args) -> None:
    import numpy as np

    from nlptasks.retrieval.index import KnowledgeIndex

    queries = json.loads(Path(args.queries_file).read_text())
    idx = KnowledgeIndex(args.index)
    _ = idx.encoder  # model load excluded from the timings
    out = {}
    for r in RETRIEVERS:
        idx.search([queries[0]], r, args.top_k)  # warm-up: first touch of the memory maps
        times = []
        for q in queries:
            t = time.perf_counter()
            idx.search([q], r, args.top_k)
            times.append((time.perf_counter() - t) * 1000)
        out[r] = {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)), "n": len(times)}
    print(json.dumps(out))


def _run_child(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of one child process."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *argv], stdout=subprocess.PIPE,
                            env={**os.environ, "NLPTASKS_PROGRESS": "0", "HF_HUB_OFFLINE": "1",
                                 "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"})
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"child {argv[0]} failed with exit code {proc.returncode}")
    return wall, usage.ru_maxrss / 1024, out


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def measure(n: int, work: Path, args) -> dict:
    corpus = work / f"corpus-{n}.jsonl"
    queries = write_corpus(corpus, n)[: args.queries]
    qfile = work / f"queries-{n}.json"
    qfile.write_text(json.dumps(queries))
    index = work / f"index-{n}"
    shutil.rmtree(index, ignore_errors=True)
    random_vectors = n > args.random_vectors_above
    argv = ["--_child", "build", "--corpus", str(corpus), "--index", str(index)]
    if random_vectors:
        argv.append("--random")
    if args.faiss_threshold:
        argv += ["--faiss-threshold", str(args.faiss_threshold)]
    build_s, build_rss, _ = _run_child(argv)
    manifest = json.loads((index / "manifest.json").read_text())
    q_s, q_rss, out = _run_child(["--_child", "query", "--index", str(index), "--queries-file", str(qfile),
                                  "--top-k", str(args.top_k)])
    row = {"passages": manifest["passages"], "documents": n, "vectors": "random" if random_vectors else "MiniLM",
           "dense_search": "faiss-ivf" if manifest.get("faiss") else "exact", "build_s": build_s,
           "peak_rss_mb": build_rss, "size_bytes": _size(index), "query_peak_rss_mb": q_rss,
           "query_ms": json.loads(out.strip().splitlines()[-1])}
    if not args.keep:
        shutil.rmtree(index, ignore_errors=True)
        corpus.unlink()
    return row


def growth(rows: list[dict]) -> list[str]:
    """How each measure grows between consecutive sizes, as an exponent: x grows like n^e."""
    import math

    lines = []
    for a, b in zip(rows, rows[1:]):
        if a["vectors"] != b["vectors"]:
            lines.append(f"{a['passages']} -> {b['passages']}: different vectors (MiniLM vs random): build times not "
                         f"comparable")
        r = math.log(b["passages"] / a["passages"])
        parts = []
        for key, label in (("build_s", "build time"), ("size_bytes", "size"), ("peak_rss_mb", "build peak RSS")):
            parts.append(f"{label} ~ n^{math.log(b[key] / a[key]) / r:.2f}")
        for ret in RETRIEVERS:
            parts.append(f"{ret} p50 ~ n^{math.log(b['query_ms'][ret]['p50'] / a['query_ms'][ret]['p50']) / r:.2f}")
        lines.append(f"{a['passages']} -> {b['passages']}: " + ", ".join(parts))
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated passage counts")
    ap.add_argument("--random-vectors-above", type=int, default=100_000,
                    help="sizes above this use random vectors instead of the encoder (default 100000)")
    ap.add_argument("--faiss-threshold", type=int, default=None, help="passages from which FAISS is used")
    ap.add_argument("--queries", type=int, default=50, help="queries timed per retriever (default 50)")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--work-dir", default=None, help="where corpora and indexes go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the corpora and indexes")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="retrieval-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# retrieval_scale: {os.cpu_count()} CPUs, sizes {sizes}", file=sys.stderr)
    rows = []
    for n in sizes:
        print(f"# building {n} passages ...", file=sys.stderr)
        rows.append(measure(n, work, args))
    head = ("passages", "vectors", "dense", "build s", "size MB", "build RSS MB", "query RSS MB",
            "bm25 p50/p95 ms", "dense p50/p95 ms", "hybrid p50/p95 ms")
    print("\t".join(head))
    for r in rows:
        q = r["query_ms"]
        print("\t".join([str(r["passages"]), r["vectors"], r["dense_search"], f"{r['build_s']:.1f}",
                         f"{r['size_bytes'] / 1e6:.1f}", f"{r['peak_rss_mb']:.0f}", f"{r['query_peak_rss_mb']:.0f}",
                         *(f"{q[x]['p50']:.1f}/{q[x]['p95']:.1f}" for x in RETRIEVERS)]))
    for line in growth(rows):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": rows, "growth": growth(rows)}, indent=1))
    if not args.work_dir and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _child_main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--_child", choices=["build", "query"])
    ap.add_argument("--corpus")
    ap.add_argument("--index")
    ap.add_argument("--random", action="store_true")
    ap.add_argument("--faiss-threshold", type=int, default=None)
    ap.add_argument("--queries-file")
    ap.add_argument("--top-k", type=int, default=5)
    args = ap.parse_args()
    (child_build if args._child == "build" else child_query)(args)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main() if "--_child" in sys.argv else main())
