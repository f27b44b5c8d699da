"""Benchmark: the packaged en->de model (marian-multi30k-en-de) through nlptasks' transformers path vs
CTranslate2, greedy, on Multi30k validation sources, fp32 and int8, in one run.

    pip install 'nlptasks[ctranslate2]'   # the optional engine
    python benchmarks/speed_translation_ct2.py [--n 500] [--batch-size 64] [--rounds 3] [--threads N]

Each contender runs in its own child process (spawned one after another, never side by side), which
loads the model, translates a warm-up slice, then all ``--n`` sources once; contenders take turns for
``--rounds`` rounds and each reports its median round's seconds, generated tokens per second and the child's peak RSS (model load included). Outputs are compared with
the nlptasks fp32 output (identical lines, and BLEU of each contender against it) and with the
references (BLEU).

Conversion: CTranslate2's own Marian converter assumes the opus-mt convention that the decoder starts
from a zero embedding and drops ``<pad>`` (the last id) from the vocabulary. Our model was trained in
transformers, where the decoder starts from the *trained* embedding of ``<pad>`` (id 7999, not zero:
tied embeddings give it gradients through the output layer), so the stock conversion changes the
output (8 of the first 40 validation lines differ). The conversion used here is the one of
``--engine ctranslate2`` (``nlptasks/backend/ct2.py``): it keeps ``<pad>`` as the decoder start, like
transformers, and suppresses it in the output, as the model's ``bad_words_ids`` does. One float32
conversion, cached by weights hash; int8 is CTranslate2's compute type at load, as the engine uses it.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time

from _speed import DATA, fmt_table, log, machine, need_data, print_machine, read_jsonl

MODEL = "marian-multi30k-en-de"
MAX_NEW = 128


def model_dir() -> str:
    from nlptasks.backend.embedded import embedded_model_dir

    return str(embedded_model_dir(MODEL))


def convert() -> str:
    """The packaged model converted for CTranslate2 by nlptasks' own engine code (``backend/ct2.py``: the
    trained ``<pad>`` kept as the decoder start), cached by weights hash in the user cache."""
    from nlptasks.backend.ct2 import converted_dir
    from nlptasks.backend.loading import load_pretrained

    return str(converted_dir(load_pretrained(model_dir(), "AutoModelForSeq2SeqLM", device="cpu")))


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_nlptasks(src, batch_size, threads, quantize):
    import torch

    torch.set_num_threads(threads)
    from nlptasks.api import load_task

    task = load_task("translate", device="cpu", quantize=quantize, batch_size=batch_size,
                     max_new_tokens=MAX_NEW).load()
    tok = task._lm.tokenizer
    recs = [{"text": s} for s in src]
    task.predict(recs[:batch_size])  # warm-up
    t0 = time.perf_counter()
    out = [r["translation"] for r in task.predict(recs)]
    secs = time.perf_counter() - t0
    new = sum(len(tok(o, add_special_tokens=False)["input_ids"]) + 1 for o in out)  # + </s>
    return {"out": out, "secs": secs, "tokens": new, "rss_mb": _peak_rss_mb()}


def run_ct2(src, batch_size, threads, path, compute_type):
    """CTranslate2 with the model's tokenizer.json through the ``tokenizers`` library (no torch in this
    process, so the peak RSS is CTranslate2's)."""
    import os

    import ctranslate2
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(model_dir(), "tokenizer.json"))
    tr = ctranslate2.Translator(path, device="cpu", compute_type=compute_type, inter_threads=1,
                                intra_threads=threads)
    tokens = [e.tokens for e in tok.encode_batch(src)]  # ends with </s>, as the transformers tokenizer
    kw = dict(beam_size=1, max_batch_size=batch_size, max_decoding_length=MAX_NEW,
              suppress_sequences=[["<pad>"]])
    tr.translate_batch(tokens[:batch_size], **kw)  # warm-up
    t0 = time.perf_counter()
    res = tr.translate_batch(tokens, **kw)
    secs = time.perf_counter() - t0
    hyps = [r.hypotheses[0] for r in res]
    out = [tok.decode([tok.token_to_id(t) for t in h], skip_special_tokens=True).strip() for h in hyps]
    return {"out": out, "secs": secs, "tokens": sum(len(h) + 1 for h in hyps), "rss_mb": _peak_rss_mb()}


def _child(fn, args, q):
    q.put(fn(*args))


def in_child(fn, *args):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, args, q))
    p.start()
    res = q.get()
    p.join()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="Multi30k validation sources (default 500)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per contender, interleaved (median)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads per contender (default: nlptasks')")
    args = ap.parse_args()
    try:
        import ctranslate2
    except ImportError:
        sys.exit("ctranslate2 is not installed: pip install ctranslate2")
    import sacrebleu
    import torch

    info = machine()
    print_machine(info)
    threads = args.threads or torch.get_num_threads()
    need_data("translation")
    rows = read_jsonl(DATA / "translation" / "validation.jsonl", args.n)
    src = [r["translation"]["en"] for r in rows]
    refs = [r["translation"]["de"] for r in rows]
    path = convert()
    contenders = {
        "nlptasks (transformers) fp32": (run_nlptasks, src, args.batch_size, threads, None),
        "nlptasks (transformers) int8": (run_nlptasks, src, args.batch_size, threads, "int8"),
        f"CTranslate2 {ctranslate2.__version__} fp32": (run_ct2, src, args.batch_size, threads, path, "float32"),
        f"CTranslate2 {ctranslate2.__version__} int8": (run_ct2, src, args.batch_size, threads, path, "int8"),
    }
    results: dict[str, dict] = {}
    for rnd in range(args.rounds):  # contenders take turns, so a slow minute hits all of them alike
        for name, (fn, *a) in contenders.items():
            log(f"round {rnd + 1}/{args.rounds}: {name}")
            r = in_child(fn, *a)
            if name in results:
                if r["out"] != results[name]["out"]:
                    sys.exit(f"{name}: outputs differ between rounds")
                results[name]["all_secs"].append(r["secs"])
                results[name]["rss_mb"] = max(results[name]["rss_mb"], r["rss_mb"])
            else:
                results[name] = {**r, "all_secs": [r["secs"]]}
    for r in results.values():  # the median round
        r["secs"] = sorted(r["all_secs"])[len(r["all_secs"]) // 2]
    base = results["nlptasks (transformers) fp32"]
    table = []
    for name, r in results.items():
        tps = r["tokens"] / r["secs"]
        same = sum(a == b for a, b in zip(r["out"], base["out"]))
        table.append([name, f"{r['secs']:.2f}", f"{tps:.0f}", f"{tps / (base['tokens'] / base['secs']):.2f}x",
                      f"{r['rss_mb']:.0f}", f"{same}/{len(src)}",
                      f"{sacrebleu.corpus_bleu(r['out'], [base['out']]).score:.1f}",
                      f"{sacrebleu.corpus_bleu(r['out'], [refs]).score:.2f}"])
    print(f"\n{MODEL}: {len(src)} Multi30k validation sources, greedy, max {MAX_NEW} new tokens, batch "
          f"{args.batch_size}, CPU, {threads} thread(s), median of {args.rounds} interleaved rounds (load {info['load']:.1f})")
    print(fmt_table(["contender", "seconds", "tokens/s", "vs nlptasks fp32", "peak RSS MB",
                     "lines identical to nlptasks fp32", "BLEU vs nlptasks fp32", "BLEU vs references"], table))
    ct2_fp32 = results[f"CTranslate2 {ctranslate2.__version__} fp32"]
    agree = sum(a == b for a, b in zip(ct2_fp32["out"], base["out"])) / len(src)
    print(f"\nCTranslate2 fp32 agrees with nlptasks fp32 on {100 * agree:.1f}% of lines")
    return 0 if agree >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
