"""The output folder of a training run: its state checks and atomic publication of the final model.

Layout::

    DIR/                      the final model + tokenizer (loadable with ``--model DIR``)
    DIR/README.md             model card
    DIR/training_result.json  metrics, settings, data, cost (written last: the run is complete)
    DIR/checkpoints/          Trainer checkpoints (``checkpoint-N``) and ``run.json`` (settings of the run)

The final files are written into ``DIR/.final-tmp`` and then renamed into place one by one, ending with
``training_result.json``; a run that dies before that leaves its checkpoints intact for ``--resume``.

``DIR/.nlptasks-output.json`` (:data:`nlptasks.paths.MARKER`) records the kind of run and every top-level
entry it wrote, before writing it: a later run of the same kind may continue there, ``--overwrite`` deletes
exactly those entries, and a folder holding anything else is refused (:func:`nlptasks.paths.check_output_dir`).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from .. import paths
from ..errors import InputError
from ..io import atomic_write

RESULT = "training_result.json"
CARD = "README.md"
CHECKPOINTS = "checkpoints"
RUN = "run.json"
TMP = ".final-tmp"
TEACHER_CACHE = "teacher_outputs"  # distillation: cached teacher generations (kept by --overwrite)

# settings that must match for --resume to continue a run (others, e.g. logging, may change)
RESUME_KEYS = ("task", "model", "train_data", "validation_data", "epochs", "max_steps", "batch_size",
               "grad_accum", "lr", "scheduler", "warmup", "weight_decay", "seed", "max_length", "lora",
               "freeze_base", "labels", "precision", "class_weights")


def checkpoints(out: Path) -> list[Path]:
    d = out / CHECKPOINTS
    if not d.is_dir():
        return []
    cps = [p for p in d.iterdir() if p.is_dir() and p.name.startswith("checkpoint-")
           and p.name.split("-")[-1].isdigit()]
    return sorted(cps, key=lambda p: int(p.name.split("-")[-1]))


def check(out: Path, *, resume: bool, overwrite: bool, settings: dict, kind: str = "finetune") -> Path | None:
    """Check the folder against ``--resume``/``--overwrite`` (read-only, so every rank can run it and
    all fail alike); returns the checkpoint to resume from."""
    paths.check_output_dir(out, kind=kind, overwrite=overwrite, resume=resume)
    done = (out / RESULT).exists()
    cps = checkpoints(out)
    if resume:
        if not cps:
            raise InputError(f"--resume: {out} holds no checkpoint to resume from")
        prev = _read_run(out)
        diff = [k for k in RESUME_KEYS if prev is not None and prev.get(k) != settings.get(k)]
        if diff:
            shown = ", ".join(f"{k}: {prev.get(k)!r} then, {settings.get(k)!r} now" for k in diff[:4])
            raise InputError(f"--resume: the settings differ from the interrupted run ({shown}); "
                             f"resume with the same settings, or start over with --overwrite")
        return cps[-1]
    if (done or cps or (out / CHECKPOINTS / RUN).exists()) and not overwrite:
        what = "a finished model" if done else f"checkpoints of an unfinished run ({cps[-1].name})" if cps \
            else "an earlier run"
        raise InputError(f"{out} already holds {what}; pass --resume to continue it or --overwrite to start over")
    return None


def start(out: Path, *, resume: bool, overwrite: bool, settings: dict, kind: str = "finetune") -> None:
    """Main process, after :func:`check`: for ``--overwrite`` delete what earlier runs wrote (only that;
    cached teacher outputs are kept), then record the settings."""
    if overwrite and not resume and out.exists():
        kept = paths.remove_outputs(out, keep=[TEACHER_CACHE])
        paths.record_outputs(out, kind, [CHECKPOINTS, TMP, *kept], fresh=True)
    else:
        paths.record_outputs(out, kind, [CHECKPOINTS, TMP])
    write_run(out, settings)


def _read_run(out: Path) -> dict | None:
    try:
        return json.loads((out / CHECKPOINTS / RUN).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_run(out: Path, settings: dict) -> None:
    atomic_write(str(out / CHECKPOINTS / RUN), json.dumps(settings, indent=2, default=str) + "\n")


def staging(out: Path) -> Path:
    tmp = out / TMP
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def publish(out: Path, tmp: Path, card: str, result: dict) -> None:
    """Move the staged model into ``out``: model files, then the card, then the result (the marker)."""
    (tmp / CARD).write_text(card, encoding="utf-8")
    (tmp / RESULT).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    order = sorted((p for p in tmp.iterdir() if p.name not in (CARD, RESULT)), key=lambda p: p.name)
    paths.record_outputs(out, result.get("kind") or "finetune", [p.name for p in order] + [CARD, RESULT])
    for p in order + [tmp / CARD, tmp / RESULT]:
        target = out / p.name
        if target.is_dir() and not p.is_dir():
            shutil.rmtree(target)
        os.replace(p, target)
    shutil.rmtree(tmp, ignore_errors=True)


def environment() -> dict:
    """Versions recorded in ``training_result.json``."""
    import accelerate
    import torch
    import transformers

    from .. import __version__

    return {"nlptasks": __version__, "transformers": transformers.__version__, "torch": torch.__version__,
            "accelerate": accelerate.__version__, "python": sys.version.split()[0]}
