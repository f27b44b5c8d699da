"""Training families without a Trainer (``TrainingSpec.trainer_kind == "fit"``): the spec's ``fit`` builds
the model files (a retrieval index, a small extractive scorer) in one pass.

The run keeps the contract of every ``nlptasks finetune`` run: the output folder is checked and recorded
before anything is written (``--overwrite`` replaces an earlier run; there are no checkpoints, so
``--resume`` is refused), the work is measured by the cost tracker, and the folder ends with the model
files, ``README.md`` (model card) and ``training_result.json``, published atomically.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import InputError
from . import outputs
from .settings import FinetuneSettings


def run_fit(spec, s: FinetuneSettings) -> dict:
    import torch

    from ..cost import CostTracker
    from .model_card import render
    from .data import load_data
    from .outputs import environment as _environment

    from .spec import ENCODER_MODELS

    if str(s.model).lower() not in ENCODER_MODELS:
        raise InputError(f"finetune {spec.name}: a {spec.family} is built on the packaged MiniLM encoder; "
                         f"use --model minilm (got {s.model!r})")
    if s.resume:
        raise InputError(f"--resume: a {spec.pipeline_tag or spec.name} model is built in one pass and has no "
                         f"checkpoints; run it again (with --overwrite)")
    if s.lora or s.freeze_base:
        raise InputError("--lora and --freeze-base do not apply: this family trains no transformer weights")
    s.task = spec.name
    train, val = load_data(s)
    out = Path(s.output)
    settings = {**s.record(), "train_data": train.fingerprint, "validation_data": val.fingerprint if val else None}
    outputs.check(out, kind="finetune", resume=False, overwrite=s.overwrite, settings=settings)
    outputs.start(out, kind="finetune", resume=False, overwrite=s.overwrite, settings=settings)
    cuda = torch.cuda.is_available() and s.device != "cpu"
    print(f"nlptasks: finetune {spec.name}: {spec.family} from {s.model} on {len(train.records)} examples",
          file=sys.stderr, flush=True)
    tmp = outputs.staging(out)
    torch.manual_seed(s.seed)
    with CostTracker(device="cuda" if cuda else "cpu") as tracker:
        t0 = time.perf_counter()
        built = spec.fit(s, train.records, val.records if val else None, tmp)
        runtime = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in tmp.iterdir() if f.is_file())
    result = {
        "kind": "finetune", "task": spec.name, "name": out.name, "base_model": s.model, "output": str(out),
        "pipeline_tag": spec.pipeline_tag, "family": spec.family,
        "data": {"train": train.describe(), "validation": val.describe() if val else None},
        "labels": None, "preprocessing": built.get("preprocessing", {}),
        "settings": {**s.record(), "precision": "fp32"}, "metrics": built.get("metrics", {}),
        "metric_for_best": None, "best_checkpoint": None, "history": [],
        "train": {"steps": None, "epochs": None, "loss": None, "runtime_s": runtime, "samples_per_s":
                  len(train.records) / runtime if runtime > 0 else None, "loss_curve": []},
        "parameters": built.get("parameters"), "model_bytes": size,
        "world_size": 1, "cost": tracker.result(), "environment": _environment(),
    }
    result["nlptasks_version"] = result["environment"]["nlptasks"]
    outputs.publish(out, tmp, render(result), result)
    shown = ", ".join(f"{k} {v:.4g}" for k, v in result["metrics"].items()) or "no validation"
    print(f"nlptasks: saved {out} ({shown}); use it with `nlptasks run {spec.name} --model {out}`",
          file=sys.stderr, flush=True)
    print(f"nlptasks: {tracker.summary_line()}", file=sys.stderr, flush=True)
    return result
