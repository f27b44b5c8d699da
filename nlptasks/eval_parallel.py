"""The predict step of an evaluation: data-parallel over the processes of an ``accelerate launch`` run,
through the prediction cache (``nlptasks.prediction_cache``).

``nlptasks eval ... --num-processes N`` re-launches itself under ``accelerate launch`` (as finetune
does, ``nlptasks.training.launch``); ``accelerate launch -m nlptasks eval ...`` works as well. Then

- every process loads the model (on its own GPU: ``init()`` makes ``cuda`` mean ``cuda:LOCAL_RANK``);
- the examples are sorted by input length (longest first) and dealt round-robin, so every process gets
  about the same amount of work (``shard``);
- each process predicts its share, the outputs are gathered (``all_gather_object``) and put back in
  input order; the main process scores them and writes the record, the results store entry and the
  samples, once; ``evaluate()`` returns ``None`` in the other processes;
- cost: wall time and examples/s are the job's (the main process's predict time, which ends after the
  gather, i.e. after the slowest process); energy is the sum over the processes without counting a
  shared CPU package twice: an NVML reading (a process's own GPU) is summed over every process, a
  RAPL reading or a wall-time estimate (the host's CPU package) is taken once per host, from its local
  rank 0. ``cost.processes``, ``cost.hosts`` and ``cost.devices`` say what ran.
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from .prediction_cache import PredictionCache, cached_map, default_cache_dir, example_key, model_key

CPU_SOURCES = {"rapl", "estimate", None}


def world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def init() -> tuple[int, int, int]:
    """``(rank, world size, local rank)``; in a launched data-parallel run (``WORLD_SIZE`` > 1, set by
    ``accelerate launch``/torchrun) the process group is joined first (NCCL on CUDA, else gloo) and
    each process takes the GPU of its local rank, so ``--device cuda``/``auto`` means its own GPU.
    Safe to call more than once. (accelerate's ``PartialState`` is not used: on CPU-only machines it
    does not see a ``--multi_gpu`` launch as distributed.)"""
    world = world_size()
    if world <= 1:
        return 0, 1, 0
    import torch
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local % torch.cuda.device_count())
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        import atexit

        atexit.register(_shutdown)
    return dist.get_rank(), dist.get_world_size(), local


def _shutdown() -> None:
    """Leave the process group together: a rank that tears it down while another still holds it (the main
    process writes the record after the gather) can abort in gloo ("terminate called without an active
    exception"), failing a run whose record was written."""
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    try:
        dist.barrier()
    except Exception:  # a peer that already died: nothing to wait for
        pass
    dist.destroy_process_group()


def _rank() -> tuple[int, int, int]:
    return init()


def input_length(record: dict) -> int:
    """Characters of the input fields: a cheap stand-in for the token count when balancing work."""
    n = 0
    for k, v in record.items():
        if str(k).startswith("__"):
            continue
        n += len(v) if isinstance(v, str) else len(json.dumps(v, ensure_ascii=False, default=str))
    return n


def length_order(inputs: list[dict]) -> list[int]:
    """Indices of ``inputs``, longest first (ties in input order)."""
    lengths = [input_length(r) for r in inputs]
    return sorted(range(len(inputs)), key=lambda i: (-lengths[i], i))


def shard(inputs: list[dict], rank: int, world: int) -> list[int]:
    """The indices process ``rank`` of ``world`` predicts: the length order dealt round-robin."""
    return length_order(inputs)[rank::world]


def _all_gather(obj: Any, world: int) -> list:
    if world <= 1:
        return [obj]
    import torch.distributed as dist

    out: list = [None] * world
    dist.all_gather_object(out, obj)
    return out


@dataclass
class Step:
    """What the predict step produced; ``outputs``/``nll`` are in input order (main process only)."""

    main: bool
    outputs: list | None = None
    nll: list | None = None
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    counts: dict = field(default_factory=dict)


def open_cache(task, cache) -> PredictionCache | None:
    """The prediction cache for ``task``'s loaded model: ``cache`` is a folder, ``None`` for
    ``$NLPTASKS_CACHE_DIR`` or the user cache dir, ``False`` for none."""
    if cache is False:
        return None
    from .backend.device import resolve_device

    key = model_key(task, dict(task.model_info()), str(resolve_device(task.device)))
    if key is None:
        import logging

        logging.getLogger("nlptasks").info("model %s has no weights hash: predictions are not cached",
                                           task.model_name)
        return None
    folder = cache if isinstance(cache, (str, os.PathLike)) else (os.environ.get("NLPTASKS_CACHE_DIR")
                                                                   or default_cache_dir())
    return PredictionCache(folder, key)


def predict_examples(task, inputs: list[dict], references: list[str] | None = None, *, cache=None) -> Step:
    """Outputs (and reference NLLs when ``references`` are given) for ``inputs``: this process's share
    of a data-parallel run, through the prediction cache, gathered in input order."""
    rank, world, local_rank = _rank()
    mine = shard(inputs, rank, world)
    store = open_cache(task, cache)
    chunk = 4 * (task.batch_size or 16)

    def roundtrip(values):  # as the cache returns them, so a hit and a miss give the very same record
        return json.loads(json.dumps(values, ensure_ascii=False, default=str))

    try:
        keys = [example_key(inputs[i]) for i in mine]
        outs, hits = cached_map(store, "predict", keys, [inputs[i] for i in mine],
                                lambda recs: roundtrip(task.predict(recs)), chunk=chunk)
        nll, nll_hits = None, 0
        if references is not None:
            nkeys = [example_key(inputs[i], references[i]) for i in mine]
            nll, nll_hits = cached_map(store, "reference_nll", nkeys, [i for i in mine],
                                       lambda idx: roundtrip(task.reference_nll([inputs[i] for i in idx],
                                                                                [references[i] for i in idx])),
                                       chunk=chunk)
    finally:
        if store is not None:
            store.close()
    mine_counts = {"cached": hits, "new": len(mine) - hits, "nll_cached": nll_hits}
    parts = _all_gather({"idx": mine, "outputs": outs, "nll": nll, "counts": mine_counts}, world)
    step = Step(main=rank == 0, rank=rank, world=world, local_rank=local_rank,
                counts={k: sum(p["counts"][k] for p in parts) for k in mine_counts})
    if not step.main:
        return step
    step.outputs = [None] * len(inputs)
    step.nll = [None] * len(inputs) if references is not None else None
    for p in parts:
        for j, i in enumerate(p["idx"]):
            step.outputs[i] = p["outputs"][j]
            if step.nll is not None:
                step.nll[i] = p["nll"][j]
    return step


def combine_cost(step: Step, cost: dict) -> dict:
    """The job's cost from every process's ``CostTracker.result()`` (a collective: every process of a
    data-parallel run calls it). Adds ``processes``, ``hosts``, ``devices`` and the cache counts."""
    mine = {"cost": cost, "host": socket.gethostname(), "local_rank": step.local_rank}
    parts = _all_gather(mine, step.world)
    if not step.main:
        return {}
    out = dict(cost)
    out["processes"] = step.world
    out["hosts"] = len({p["host"] for p in parts})
    out["devices"] = [str(p["cost"].get("device")) for p in parts]
    out["predictions_cached"] = step.counts.get("cached", 0)
    out["predictions_new"] = step.counts.get("new", 0)
    if step.world <= 1:
        return out
    costs = [p["cost"] for p in parts]
    for key in ("items", "generated_tokens"):
        out[key] = sum(c.get(key) or 0 for c in costs)
    model_time = max(c.get("model_time_s") or 0.0 for c in costs)  # the processes run side by side
    out["model_time_s"] = model_time
    out["items_per_s"] = out["items"] / model_time if model_time > 0 else None
    out["tokens_per_s"] = (out["generated_tokens"] / model_time
                           if out["generated_tokens"] and model_time > 0 else None)
    out["peak_rss_bytes"] = max(c.get("peak_rss_bytes") or 0 for c in costs) or None
    cuda = [c.get("cuda_max_allocated_bytes") for c in costs if c.get("cuda_max_allocated_bytes")]
    out["cuda_max_allocated_bytes"] = max(cuda) if cuda else None
    counted = [p["cost"] for p in parts
               if p["cost"].get("energy_source") not in CPU_SOURCES or p["local_rank"] == 0]
    if any(c.get("energy_kwh") is None for c in counted) or not counted:
        out["energy_kwh"] = out["co2e_g"] = None
    else:
        out["energy_kwh"] = sum(c["energy_kwh"] for c in counted)
        out["co2e_g"] = out["energy_kwh"] * (cost.get("grid_intensity_g_per_kwh") or 0.0)
    out["energy_source"] = "+".join(sorted({str(c.get("energy_source")) for c in counted}))
    out["energy_is_estimate"] = any(bool(c.get("energy_is_estimate")) for c in counted)
    out["energy_notes"] = list(cost.get("energy_notes") or []) + [
        f"summed over {len(counted)} of {step.world} processes: NVML per process (its own GPU), "
        f"RAPL or the estimate once per host (local rank 0)"]
    return out
