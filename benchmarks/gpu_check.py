"""GPU check: one script that shows the CUDA path works and what it costs, in under 8 minutes.

    python benchmarks/gpu_check.py [--out report.json] [--skip-tests] [--n-sentiment 4000] [--n-translate 500]

On a machine with a CUDA GPU it runs, in order:
1. the CUDA tests of the suite (``pytest tests -k cuda``);
2. one evaluation per task on tiny random-weight models (tests/tiny_models.py) in bfloat16 and float16,
   through the real CLI (``nlptasks eval TASK --data FILE --device cuda --dtype ...``), reporting the
   energy source the record carries (NVML on a GPU) and the peak GPU memory;
3. the sentiment speed comparison on the GPU: the packaged MiniLM as a BertForSequenceClassification
   through ``transformers.pipeline`` (batch 32) against ``nlptasks`` in fp32, bf16 and fp16, with the fp32
   labels checked identical; and the embedded ``minilm-sst2`` default;
4. the translation speed comparison on the GPU: the 74M opus-mt-shaped Marian (random weights, exactly 32
   new tokens per sentence) as fixed batches of 16 ``generate`` calls against ``nlptasks translate`` in
   fp32 and bf16, fp32 ids checked identical;
5. finished rows on the GPU: the packaged translator (real EOS) on Multi30k sources grouped by source
   length, greedy, transformers' loop against nlptasks' loop that drops finished rows
   (``nlptasks/backend/greedy.py``; off on GPUs by default until measured there), batches of 64 and 128,
   token ids compared.
It prints a short report last and writes every figure to ``--out`` (JSON). Needs ../shared/data (or
``NLPTASKS_DATA``) for the data slices. Without CUDA it says so and exits 2.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _speed import DATA, REPO, fmt_table, interleaved, log, read_jsonl  # noqa: E402

# task -> (tiny model key, data subfolder, examples, extra CLI args)
DEVICE = "cuda"  # --device cpu: a dry run of this script on a machine without a GPU (tiny sizes)
TINY_EVALS = {
    "sentiment": ("bert-cls", "sentiment", 64, []),
    "qa": ("bert-qa", "qa", 32, []),
    "summarize": ("bart", "summarization", 16, ["--set", "max_new_tokens=16"]),
    "translate": ("marian", "translation", 64, ["--set", "max_new_tokens=16"]),
    "chat": ("gpt2", "dialogue", 32, ["--set", "max_new_tokens=16"]),
}


def environment() -> dict:
    import torch
    import transformers

    info = {"torch": torch.__version__, "transformers": transformers.__version__,
            "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
            "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2 ** 30, 1),
            "logical_cpus": os.cpu_count()}
    try:
        import pynvml

        pynvml.nvmlInit()
        info["driver"] = pynvml.nvmlSystemGetDriverVersion()
    except Exception as exc:  # NVML missing: the eval records will say which energy source they used
        info["driver"] = f"NVML unavailable ({type(exc).__name__})"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = "unknown"
    return info


def cuda_tests() -> dict:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-k", "cuda"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    tail = [ln for ln in p.stdout.strip().splitlines() if ln.strip()][-1:] or ["(no output)"]
    return {"exit": p.returncode, "summary": tail[0], "seconds": round(time.perf_counter() - t, 1),
            "output": p.stdout[-3000:] + p.stderr[-2000:]}


def tiny_evals(tmp: Path) -> list[dict]:
    from tiny_models import build_all

    models = build_all(tmp / "tiny")
    rows = []
    for task, (key, sub, n, extra) in TINY_EVALS.items():
        data = DATA / sub / "validation.jsonl"
        for dtype in ("bfloat16", "float16") if DEVICE == "cuda" else ("bfloat16",):
            cmd = [sys.executable, "-m", "nlptasks", "eval", task, "--data", str(data), "--limit", str(n),
                   "--model", str(models[key]), "--device", DEVICE, "--dtype", dtype, "--json", "--no-store",
                   *extra]
            t = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp)
            row = {"task": task, "dtype": dtype, "exit": p.returncode, "seconds": round(time.perf_counter() - t, 1)}
            if p.returncode == 0:
                rec = json.loads(p.stdout)
                cost, env = rec.get("cost", {}), rec.get("environment", {})
                prim = rec.get("primary_metric") or next(iter(rec.get("metrics", {})), None)
                val = rec.get("metrics", {}).get(prim)
                row.update(n=rec.get("n"), metric=prim,
                           value=val.get("score") if isinstance(val, dict) else val,
                           device=env.get("device"), record_dtype=env.get("dtype"),
                           energy_wh=None if cost.get("energy_kwh") is None else cost["energy_kwh"] * 1000,
                           energy_source=cost.get("energy_source"), estimate=cost.get("energy_is_estimate"),
                           gpu_peak_bytes=cost.get("cuda_max_allocated_bytes"),
                           examples_per_s=cost.get("examples_per_s"))
            else:
                row["error"] = (p.stderr.strip().splitlines() or ["?"])[-1][:300]
            log(f"eval {task} {dtype}: exit {p.returncode}")
            rows.append(row)
    return rows


def _tracked(fn):
    """Run ``fn`` under the cost tracker; returns (output, cost dict)."""
    from nlptasks.cost import CostTracker

    tr = CostTracker()
    tr.set_device(DEVICE)
    with tr:
        out = fn()
    return out, tr.result()


def speed_sentiment(n: int, runs: int) -> dict:
    import torch
    from transformers import pipeline

    import _models
    from nlptasks.api import load_task

    rows = read_jsonl(DATA / "sentiment" / "validation.jsonl")
    rows += read_jsonl(DATA / "sentiment" / "train.jsonl", 10_000 + n)[10_000:]
    data = [r["text"] for r in rows[:n]]
    recs = [{"text": t} for t in data]
    model_dir = str(_models.minilm_hf_classifier())
    pipe = pipeline("text-classification", model=model_dir, device=DEVICE)
    tasks = {d: load_task("sentiment", model_dir, device=DEVICE, dtype=d).load()
             for d in (("float32", "bfloat16", "float16") if DEVICE == "cuda" else ("float32", "bfloat16"))}
    fns = {"pipeline (batch_size=32, fp32)": lambda: [r["label"] for r in pipe(data, batch_size=32)]}
    for d, t in tasks.items():
        fns[f"nlptasks {d}"] = lambda t=t: [r["label"] for r in t.predict(recs)]
    pipe(data[:64], batch_size=32)
    for t in tasks.values():
        t.predict(recs[:64])
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    secs, outs = interleaved(fns, runs)
    ref = outs["nlptasks float32"]
    table = [{"contender": k, "seconds": round(s, 3), "texts_per_s": round(n / s),
              "labels_equal_fp32": outs[k] == ref} for k, s in secs.items()]
    _, cost = _tracked(lambda: tasks["float32"].predict(recs))
    res = {"n": n, "table": table,
           "pipeline_vs_nlptasks_fp32": round(secs[next(iter(secs))] / secs["nlptasks float32"], 2),
           "fp32_labels_equal_pipeline": outs[next(iter(secs))] == ref,
           "fp32_energy_wh": None if cost.get("energy_kwh") is None else cost["energy_kwh"] * 1000,
           "fp32_energy_source": cost.get("energy_source")}
    try:  # the embedded default checks its encoder's weights hash: a stand-in encoder is refused
        emb = load_task("sentiment", device=DEVICE).load()
        emb.predict(recs[:64])
        t0 = time.perf_counter()
        emb.predict(recs)
        res["embedded_minilm_sst2_texts_per_s"] = round(n / (time.perf_counter() - t0))
    except Exception as exc:
        res["embedded_minilm_sst2"] = f"not run ({type(exc).__name__})"
    return res


def speed_translation(n: int, runs: int, new: int = 32) -> dict:
    import torch

    import _models
    from nlptasks.api import load_task
    from nlptasks.backend.inference import generate_batched

    src = [r["translation"]["en"] for r in read_jsonl(DATA / "translation" / "validation.jsonl", n)]
    model_dir = str(_models.marian_en_de())

    def task_for(**kw):
        t = load_task("translate", model_dir, device=DEVICE, max_new_tokens=new, **kw).load()
        t.gen_config.min_new_tokens = new  # random weights never emit EOS: force exactly `new` tokens
        t.gen_config.min_length = 0
        return t

    fp32, bf16 = task_for(), task_for(dtype="bfloat16")
    lm, cfg = fp32._lm, fp32.gen_config
    model, tok = lm.model, lm.tokenizer
    pad, eos = cfg.pad_token_id, cfg.eos_token_id

    def strip(row):
        out = []
        for t in row[1:]:
            if t == eos:
                break
            if t != pad:
                out.append(t)
        return out

    def fixed16():
        res = []
        with torch.inference_mode():
            for i in range(0, len(src), 16):
                enc = tok(src[i:i + 16], padding=True, return_tensors="pt").to(DEVICE)
                res += [strip(r) for r in model.generate(**enc, generation_config=cfg).tolist()]
        return res

    recs = [{"text": s} for s in src]
    fns = {"fixed batches of 16 (fp32)": fixed16,
           "nlptasks translate fp32": lambda: [r["translation"] for r in fp32.predict(recs)],
           "nlptasks translate bf16": lambda: [r["translation"] for r in bf16.predict(recs)]}
    fixed16() if len(src) <= 32 else None
    for t in (fp32, bf16):
        t.predict(recs[:64])
    secs, outs = interleaved(fns, runs)
    engine_ids = generate_batched(lm, [dict(e) for e in (tok(s) for s in src)], cfg)
    n_new = new * len(src)
    table = [{"contender": k, "seconds": round(s, 3), "new_tokens_per_s": round(n_new / s)} for k, s in secs.items()]
    _, cost = _tracked(lambda: fp32.predict(recs))
    import sacrebleu

    return {"n": len(src), "new_tokens": new, "table": table,
            # random weights give near-tied logits: on a GPU, other padding (other kernels) can flip a tie
            "fp32_ids_equal_fixed16": outs["fixed batches of 16 (fp32)"] == engine_ids,
            "fp32_rows_equal_fixed16": sum(a == b for a, b in zip(outs["fixed batches of 16 (fp32)"], engine_ids)),
            "bf16_bleu_vs_fp32": round(sacrebleu.corpus_bleu(outs["nlptasks translate bf16"],
                                                              [outs["nlptasks translate fp32"]]).score, 1),
            "fixed16_vs_nlptasks_fp32": round(secs["fixed batches of 16 (fp32)"] / secs["nlptasks translate fp32"], 2),
            "fp32_energy_wh": None if cost.get("energy_kwh") is None else cost["energy_kwh"] * 1000,
            "fp32_energy_source": cost.get("energy_source")}


def finished_rows(n: int, runs: int) -> dict:
    import torch

    from nlptasks.api import load_task
    from nlptasks.backend import greedy

    src = [r["translation"]["en"] for r in read_jsonl(DATA / "translation" / "validation.jsonl", n)]
    task = load_task("translate", device=DEVICE, max_new_tokens=128).load()
    model, tok, cfg = task._lm.model, task._lm.tokenizer, task.gen_config
    order = sorted(range(len(src)), key=lambda i: (len(tok(src[i])["input_ids"]), i))

    def run(bs, custom):
        out = {}
        with torch.inference_mode():
            for b in range(0, len(order), bs):
                idx = order[b:b + bs]
                enc = tok([src[i] for i in idx], return_tensors="pt", padding=True).to(DEVICE)
                kw = {"custom_generate": custom} if custom else {}
                for i, row in zip(idx, model.generate(**enc, generation_config=cfg, **kw).tolist()):
                    out[i] = row[:row.index(cfg.eos_token_id) + 1] if cfg.eos_token_id in row else row
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        return [out[i] for i in range(len(src))]

    fns = {}
    for bs in (64, 128):
        fns[f"transformers' loop, batch {bs}"] = lambda bs=bs: run(bs, None)
        fns[f"nlptasks' loop, batch {bs}"] = lambda bs=bs: run(bs, greedy.decode)
    for fn in fns.values():
        fn()  # warm-up
    secs, outs = interleaved(fns, runs)
    base = outs["transformers' loop, batch 64"]
    table = [{"contender": k, "seconds": round(s, 3), "sources_per_s": round(len(src) / s),
              "rows_equal_transformers_64": sum(a == b for a, b in zip(outs[k], base))} for k, s in secs.items()]
    return {"n": len(src), "table": table,
            "speedup_batch64": round(secs["transformers' loop, batch 64"] / secs["nlptasks' loop, batch 64"], 2),
            "speedup_batch128": round(secs["transformers' loop, batch 128"] / secs["nlptasks' loop, batch 128"], 2)}


def report(res: dict) -> str:
    env = res["environment"]
    lines = [f"GPU check: {env['gpu']} (sm {env['capability']}, {env['gpu_memory_gib']} GiB, driver {env['driver']}), "
             f"CPU {env['cpu']} x{env['logical_cpus']}, torch {env['torch']} (CUDA {env['cuda']}), "
             f"transformers {env['transformers']}"]
    if "tests" in res:
        lines.append(f"CUDA tests: exit {res['tests']['exit']}: {res['tests']['summary']} ({res['tests']['seconds']} s)")
    if res.get("evals"):
        lines.append(fmt_table(
            ["task", "dtype", "exit", "n", "metric", "value", "device", "ex/s", "energy Wh (source)", "GPU peak MiB"],
            [[r["task"], r["dtype"], r["exit"], r.get("n", ""), r.get("metric", ""),
              "" if r.get("value") is None else f"{r['value']:.2f}", r.get("device", r.get("error", "")),
              "" if r.get("examples_per_s") is None else f"{r['examples_per_s']:.0f}",
              "" if r.get("energy_wh") is None else f"{r['energy_wh']:.4f} ({r['energy_source']}"
              + (", estimate)" if r.get("estimate") else ")"),
              "" if not r.get("gpu_peak_bytes") else f"{r['gpu_peak_bytes'] / 2 ** 20:.0f}"] for r in res["evals"]]))
    for key, unit in (("sentiment", "texts_per_s"), ("translation", "new_tokens_per_s"),
                      ("finished_rows", "sources_per_s")):
        s = res.get(key)
        if isinstance(s, dict) and "table" in s:
            lines.append(f"{key} speed on the GPU (n={s['n']}):")
            lines.append(fmt_table(["contender", "seconds", unit], [[r["contender"], r["seconds"], r[unit]]
                                                                    for r in s["table"]]))
            lines.append("  " + ", ".join(f"{k}={v}" for k, v in s.items() if k not in ("table", "n")))
        elif s:
            lines.append(f"{key} speed: {s}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="write every figure as JSON here")
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--n-sentiment", type=int, default=4000)
    ap.add_argument("--n-translate", type=int, default=500)
    ap.add_argument("--n-finished", type=int, default=1014, help="Multi30k sources for the finished-rows step")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--device", default="cuda", help="cpu: dry-run the script itself on a machine without a GPU")
    args = ap.parse_args()
    import torch

    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU visible to torch; nothing to check", file=sys.stderr)
        return 2
    if not (DATA / "sentiment").is_dir():
        print(f"gpu_check: data folder {DATA} is missing (set NLPTASKS_DATA)", file=sys.stderr)
        return 2
    res: dict = {"environment": environment() if DEVICE == "cuda" else {
        "gpu": "none (dry run on CPU)", "capability": "-", "gpu_memory_gib": 0, "driver": "-", "cpu": "-",
        "logical_cpus": os.cpu_count(), "torch": torch.__version__, "cuda": None, "transformers": "-"}}
    start = time.perf_counter()
    steps = [("tests", None if args.skip_tests else cuda_tests),
             ("sentiment", lambda: speed_sentiment(args.n_sentiment, args.runs)),
             ("translation", lambda: speed_translation(args.n_translate, args.runs)),
             ("finished_rows", lambda: finished_rows(args.n_finished, args.runs))]
    with tempfile.TemporaryDirectory() as tmp:
        steps.insert(1, ("evals", lambda: tiny_evals(Path(tmp))))
        for name, fn in steps:
            if fn is None:
                continue
            log(f"gpu_check: {name} ...")
            try:
                res[name] = fn()
            except Exception as exc:  # report and go on: one broken step must not hide the others
                res[name] = {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"}
            log(f"gpu_check: {name} done at {time.perf_counter() - start:.0f} s")
    res["seconds"] = round(time.perf_counter() - start, 1)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    print(report(res))
    print(f"total {res['seconds']} s")
    ok = res.get("tests", {}).get("exit", 0) == 0 and all(r["exit"] == 0 for r in res.get("evals", []) or [])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
