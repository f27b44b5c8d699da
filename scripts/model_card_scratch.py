"""Render the model card (README.md) of a packaged model trained from scratch whose run was stopped by a
time box before it wrote ``training_result.json``: figures come from the run's files, never typed.

    python scripts/model_card_scratch.py --name marian-multi30k-en-de --folder nlptasks/embedded/marian-multi30k-en-de \
        --state RUN/trainer_state.json --settings RUN/checkpoints/run.json --status RUN/logs/status \
        --log RUN/logs/mt.log --eval RECORDS/multi30k_en_de_local/*.json \
        --command "bash scripts/build_translate_model.sh OUT"

Inputs: the best checkpoint's ``trainer_state.json`` (best step, epoch and validation BLEU, per-epoch
BLEU), the run's settings (``checkpoints/run.json``), the time box's status line (``mt rc=124 at 250 s``:
the GPU wall time), the training log (its ``cost:`` line when the run got that far: energy from NVML) and
the ``nlptasks eval`` records of the packaged model (fp32, bf16, int8 variants; metrics with 95%
intervals). Without a measured energy figure the card shows nlptasks' own estimate (the cost tracker's
assumed watts per GPU x wall time) and says so; CO2e uses nlptasks' grid table (world average).

A second run of the rebuild command adds a "Rebuild check" section: ``--rebuild-result`` (its
``training_result.json``: best validation BLEU, epochs, precision, wall time and cost) and
``--rebuild-eval`` (the ``nlptasks eval`` record of the rebuilt model, float32), set beside the packaged
model's figures and its 95% intervals.

The float32 record is written beside the model as ``eval_record.json``, and the card's YAML front matter
gets the Hub's ``model-index`` from it (``nlptasks.evaluation.model_index``).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_card import _fmt, _size  # noqa: E402

LIMITS = ("It knows image-caption English: Multi30k is short descriptions of Flickr photos (people, "
          "animals, streets, sports), and this model saw {rows} of them. Expect poor German for anything else "
          "(news, technical text, dialogue, long sentences, rare words) and no document context: each line "
          "is translated alone. Greedy decoding; "
          "`--num-beams 4` may help a little. For general English->German use "
          "`--model Helsinki-NLP/opus-mt-en-de` (downloaded once).")


def _variant(rec: dict) -> str:
    v = rec["model"]["variant"]
    return "int8 (dynamic)" if v.get("quantize") else v.get("dtype", "?")


def _wall_from_status(text: str, job: str) -> float | None:
    m = re.search(rf"^{re.escape(job)} rc=\d+ at ([\d.]+) s", text, re.M)
    return float(m.group(1)) if m else None


def _metric(rec: dict, key: str) -> str:
    mv = rec["metrics"][key]
    ci = mv.get("ci")
    return f"{_fmt(mv['score'], 2)} [{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]" if ci else _fmt(mv["score"], 2)


def rebuild_section(packaged: dict, best: float, best_epoch, result: dict, record: dict, command: str) -> list[str]:
    """The "Rebuild check" lines: the rebuilt model's figures beside the packaged model's."""
    cost, st = result["cost"], result["settings"]
    where = (f"{record['environment'].get('cpu') or 'CPU'} (CPU, {record['environment'].get('threads')} threads for "
             f"the evaluation)" if cost.get("device") == "cpu" else str(cost.get("device")))
    hist = [h for h in result.get("history", []) if "bleu" in h]
    rb_best = result["metrics"].get("bleu")
    rb_epoch = next((round(h["epoch"]) for h in hist if h.get("step") == result.get("best_checkpoint")), "?")
    key = packaged["primary_metric"]
    lo, hi = packaged["metrics"][key]["ci"]
    got = record["metrics"][key]["score"]
    energy = cost.get("energy_kwh")
    how = "estimate" if cost.get("energy_is_estimate") else cost.get("energy_source", "measured")
    lines = ["## Rebuild check", "", "```bash", command, "```", "",
             f"The rebuild command was run a second time, as above, on {where}, precision {st.get('precision')}, "
             f"{_fmt(result['train']['epochs'], 0)} epochs, seed {st.get('seed')}: "
             f"{_fmt(cost['wall_time_s'], 0)} s"
             + (f", {_fmt(energy * 1000, 1)} Wh ({how}), {_fmt(cost.get('co2e_g'), 1)} g CO2e" if energy else "")
             + ". GPU and CPU kernels round differently, so the two runs follow different paths from the first "
               "step on; the check is whether the rebuilt model lands inside the packaged model's interval.", "",
             "| | packaged model | rebuilt model |", "| --- | --- | --- |",
             f"| validation BLEU in the training loop (best epoch) | {best:.2f} (epoch {best_epoch:g}) | "
             f"{_fmt(rb_best, 2)} (epoch {rb_epoch}) |"]
    by_epoch = {round(h["epoch"]): h["bleu"] for h in hist}  # the last entry repeats the best checkpoint's
    if by_epoch:
        last = max(by_epoch)
        lines.insert(-3, "Validation BLEU by epoch in the rebuild (training loop, greedy): " + ", ".join(
            f"e{e} {b:.2f}" for e, b in sorted(by_epoch.items()) if e % 5 == 0 or e >= last - 3) + ".")
        lines.insert(-3, "")
    for k in packaged["metrics"]:
        lines.append(f"| `nlptasks eval` {k} (float32) | {_metric(packaged, k)} | {_metric(record, k)} |")
    inside = lo <= got <= hi
    lines += ["", f"The rebuilt model's {key} ({_fmt(got, 2)}) is {'inside' if inside else 'outside'} the packaged "
                  f"model's 95% interval [{_fmt(lo, 2)}, {_fmt(hi, 2)}].", ""]
    return lines


def render(name: str, folder: Path, state: dict, settings: dict, status: str, log: str, records: list[dict],
           command: str, job: str, rebuild: tuple[dict, dict, str] | None = None) -> str:
    from nlptasks.energy.estimate import WATTS_PER_GPU
    from nlptasks.energy.grid import grid_intensity

    fp32 = next((r for r in records if _variant(r) == "float32"), records[0])
    params = fp32["model"]["parameters"]
    epochs = {round(h["epoch"]): h["eval_bleu"] for h in state["log_history"] if "eval_bleu" in h}
    best_epoch, best_step, best = state["epoch"], state["best_global_step"], state["best_metric"]
    wall = _wall_from_status(status, job)
    m = re.search(r"cost: ([\d.]+) s, ([\d.]+) Wh \((\w+)\)", log)
    grid, grid_src = grid_intensity()
    found = re.search(r"on (\d+) examples", log)
    rows = f"{int(found.group(1)):,} caption pairs" if found else "the training pairs"
    if m:
        wh, how = float(m.group(2)), f"measured ({m.group(3)})"
    elif wall is not None:
        wh, how = wall * WATTS_PER_GPU / 3600, (f"not measured (the time box stopped the run before its cost line); "
                                                f"nlptasks' estimate: {WATTS_PER_GPU:.0f} W per GPU x wall time, an "
                                                f"over-count as the GPU was shared with two other jobs")
    else:
        wh, how = None, "not measured"
    s = settings
    lines = ["---", "pipeline_tag: translation", "library_name: transformers", "language:", "- en", "- de",
             "tags:", "- nlptasks", "- translate", "- marian", "datasets:", "- multi30k", "---", "",
             f"# {name}", "",
             f"An English->German translation model that **knows image-caption English** (Multi30k) and little "
             f"else: a Marian-layout Transformer ({s['encoder_layers']}+{s['decoder_layers']} layers, d_model "
             f"{s['d_model']}, {s['heads']} heads, ffn {s['ffn_dim']}, {s['vocab_size']}-token joint byte-level "
             f"BPE) trained from random weights by `nlptasks finetune translate --from-scratch`. It is the "
             f"offline default of `nlptasks run translate` for en->de. The weights are stored in float16 and "
             f"load as float32 on CPU; the folder is an ordinary transformers model "
             f"(`AutoModelForSeq2SeqLM.from_pretrained(folder)`).", "",
             "```bash", "printf 'A man rides a bike.\\n' | nlptasks run translate", "```", "",
             "## Evaluation", "",
             f"`nlptasks eval {fp32['benchmark']['name']}` (Multi30k validation, n={fp32['n']}, greedy, max "
             f"{fp32['settings'].get('max_new_tokens')} new tokens, CPU; 95% bootstrap intervals, 1,000 resamples):", "",
             "| variant | " + " | ".join(fp32["metrics"]) + " |",
             "| --- | " + " | ".join("---" for _ in fp32["metrics"]) + " |"]
    order = {"float32": 0, "bfloat16": 1}
    for rec in sorted(records, key=lambda r: order.get(_variant(r), 2)):
        cells = []
        for key in fp32["metrics"]:
            mv = rec["metrics"][key]
            ci = mv.get("ci")
            cells.append(f"{_fmt(mv['score'], 2)} [{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]" if ci else _fmt(mv["score"], 2))
        lines.append(f"| {_variant(rec)} | " + " | ".join(cells) + " |")
    lines += ["", f"TER: lower is better. The checkpoint was chosen on this validation set (best of "
                  f"{len(epochs)} epochs by greedy BLEU), so the figures are slightly optimistic; Multi30k "
                  f"has no separate test split in the shared data. Speed figures in these records are not clean: "
                  f"the machine was shared with other jobs.", "",
              "## Size and training cost", "", "| | |", "| --- | --- |",
              f"| parameters | {params:,} ({params / 1e6:.2f}M, embeddings tied) |",
              f"| packaged files | {_model_size(folder) / 1e6:.2f} MB (model.safetensors float16) |",
              f"| training | {s['epochs']:g} epochs planned, stopped by a GPU time box at epoch "
              f"{max(epochs) if epochs else '?'}+; best epoch {best_epoch:g} (step {best_step}), validation "
              f"BLEU {best:.2f} in the training loop |",
              f"| GPU wall time | {_fmt(wall, 0)} s on one NVIDIA H200 (bf16 autocast), alongside two other jobs |",
              f"| training energy | {_fmt(wh, 1)} Wh: {how} |",
              f"| training CO2e | {_fmt(wh * grid / 1000 if wh is not None else None, 1)} g ({grid:g} g/kWh, "
              f"{grid_src}) |", "",
              "Validation BLEU by epoch (training loop, greedy): "
              + ", ".join(f"e{e} {b:.2f}" for e, b in sorted(epochs.items()) if e % 5 == 0 or e >= best_epoch - 3)
              + ".", "",
              "## Rebuild", "", "```bash", command, "```", "",
              "`scripts/build_translate_model.sh` holds the one seeded command (seed 0, `--epochs 21`: the "
              "inverse-square-root schedule does not depend on the epoch total, so it stops where the packaged "
              "checkpoint was taken). The packaged weights are its best checkpoint cast to float16 with "
              "`use_cache` set to true in config.json.", ""]
    if rebuild:
        lines += rebuild_section(fp32, best, best_epoch, *rebuild)
    lines += ["## Limits", "", LIMITS.format(rows=rows), ""]
    from nlptasks.evaluation.model_index import model_index_yaml, with_model_index

    # the Hub's model-index (front matter) from the float32 record, which is kept beside the model
    return with_model_index("\n".join(lines), model_index_yaml(name, [fp32]))


def _model_size(folder: Path) -> int:
    """The packaged files' bytes, without the card and the eval record kept beside them."""
    return _size(folder) - sum(p.stat().st_size for p in (folder / "eval_record.json",) if p.is_file())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--name", required=True)
    p.add_argument("--folder", required=True)
    p.add_argument("--state", required=True, help="trainer_state.json of the best checkpoint")
    p.add_argument("--settings", required=True, help="the run's checkpoints/run.json")
    p.add_argument("--status", required=True, help="the time box's status file (JOB rc=N at S s)")
    p.add_argument("--job", default="mt", help="the job's name in --status (default mt)")
    p.add_argument("--log", required=True, help="the training log")
    p.add_argument("--eval", nargs="+", required=True, help="nlptasks eval records of the packaged model")
    p.add_argument("--command", required=True)
    p.add_argument("--rebuild-result", default=None, help="training_result.json of a second run of the command")
    p.add_argument("--rebuild-eval", default=None, help="nlptasks eval record (float32) of that rebuilt model")
    p.add_argument("--rebuild-command", default=None, help="the command line of that second run, as run")
    a = p.parse_args(argv)
    read = lambda f: Path(f).read_text(encoding="utf-8")  # noqa: E731
    records = [json.loads(read(f)) for f in a.eval]
    folder = Path(a.folder)
    if not (bool(a.rebuild_result) == bool(a.rebuild_eval) == bool(a.rebuild_command)):
        p.error("--rebuild-result, --rebuild-eval and --rebuild-command go together")
    rebuild = (json.loads(read(a.rebuild_result)), json.loads(read(a.rebuild_eval)),
               a.rebuild_command) if a.rebuild_result else None
    text = render(a.name, folder, json.loads(read(a.state)), json.loads(read(a.settings)), read(a.status),
                  read(a.log), records, a.command, a.job, rebuild)
    (folder / "README.md").write_text(text, encoding="utf-8")
    fp32 = next((r for r in records if _variant(r) == "float32"), records[0])
    (folder / "eval_record.json").write_text(json.dumps(fp32, indent=1, ensure_ascii=False, default=str) + "\n",
                                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
