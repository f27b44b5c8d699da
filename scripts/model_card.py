"""Render the model card (README.md) of a packaged model from its run's files; no number is typed by hand.

    python scripts/model_card.py --name minilm-squad --result RUN/training_result.json \
        --eval EVAL.json --folder nlptasks/embedded/minilm-squad --command "bash scripts/build_models.sh qa"

``--result`` is the ``training_result.json`` written by ``nlptasks finetune``/``distill``; ``--eval`` is the
record printed by ``nlptasks eval TASK --model M --data FILE --json`` (metrics with 95% bootstrap
intervals, evaluation cost); each ``--variant-eval`` is the record of the same model run as a variant
(``--quantize int8``, ``--dtype bfloat16``), shown in a table of variants. When the packaged folder's
``nlptasks_adapter.json`` records ``trained_on_base`` (the adapter was trained on other base weights
than the ones it ships over, e.g. an fp16-rounded copy), the card says so. The card gets: what the model is, the data, the rebuild command, the
metrics with their intervals, parameters and packaged size, training wall time, energy and CO2e (the
cost tracker's), the limits of the data, then the training details (``nlptasks.training.model_card``); its
YAML front matter carries the Hub's ``model-index`` built from the ``--eval`` record
(``nlptasks.evaluation.model_index``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

LIMITS = {
    "sentiment": "Trained on SST-2: short English movie-review sentences (lower-cased, PTB-tokenised). Expect "
                 "lower accuracy on other domains (product reviews, tweets), on other languages, on sarcasm and "
                 "on texts far longer than a sentence (long texts are scored in windows whose logits are averaged).",
    "qa": "Trained on 8,619 SQuAD v1.1 questions over English Wikipedia paragraphs (article-disjoint from the "
          "validation split). It always answers with a span of the context: it cannot say that the context holds "
          "no answer (SQuAD 2.0), and it is weaker on other domains and on questions needing several sentences.",
}


# models whose data differs from their task's default (by name)
MODEL_LIMITS = {
    "minilm-sentiment3-lora":
        "Trained on 8,541 SST sentences (lower-cased, PTB-tokenised movie reviews) and 10,283 SemEval-2017 tweets "
        "together, three classes (negative/neutral/positive). English only; weaker on other domains, sarcasm, "
        "mixed sentiment and texts far longer than a sentence (scored in windows whose logits are averaged). "
        "The tweets were drawn from TweetEval's test set (see the shared data README), so TweetEval test figures "
        "published elsewhere are not comparable. On a binary benchmark it predicts the higher of negative/positive.",
}


def _eval_table(record: dict) -> list[str]:
    """``## Evaluation (BENCHMARK, n, device)``: every metric with its 95% interval, and the label rule."""
    bench = record.get("benchmark")
    bench = bench.get("name") if isinstance(bench, dict) else bench
    lines = [f"## Evaluation ({bench or 'validation'}, n={record.get('n')}; {_where(record)})", "",
             "| metric | score | 95% interval |", "| --- | ---: | --- |"]
    for key, m in (record.get("metrics") or {}).items():
        ci = m.get("ci")
        lines.append(f"| {key} | {_fmt(m.get('score'), 2)} | "
                     + (f"[{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]" if ci else "n/a") + " |")
    rule = (record.get("settings") or {}).get("label_rule")
    return lines + _class_recall(record) + ([""] + [f"Label rule: {rule}."] if rule else []) + [""]


def _class_recall(record: dict) -> list[str]:
    """With more than two classes, each class's recall from the metrics' confusion counts (so a weak class,
    such as neutral, shows beside the averages)."""
    for m in (record.get("metrics") or {}).values():
        stats = m.get("stats") or {}
        labels, confusion = stats.get("labels") or [], stats.get("confusion") or []
        if stats.get("kind") == "confusion" and len(labels) > 2 and len(confusion) == len(labels):
            parts = [f"{label} {100 * row[i] / sum(row):.1f}% ({row[i]} of {sum(row)})"
                     for i, (label, row) in enumerate(zip(labels, confusion)) if sum(row)]
            return ["", "Recall by class: " + ", ".join(parts) + "."]
    return []


def _fmt(v, digits=1) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.name != "README.md")


def _variant(record: dict) -> str:
    v = (record.get("model") or {}).get("variant") or {}
    return f"{v.get('dtype') or '?'}" + (f" + {v['quantize']}" if v.get("quantize") else "")


def _where(record: dict) -> str:
    device = (record.get("settings") or {}).get("device") or (record.get("cost") or {}).get("device") or "?"
    return f"{device}, {_variant(record)}"


def _base_note(folder: Path | None) -> list[str]:
    meta_file = folder / "nlptasks_adapter.json" if folder is not None else None
    if meta_file is None or not meta_file.is_file():
        return []
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    trained = meta.get("trained_on_base")
    if not isinstance(trained, dict):
        return []
    return ["## Base weights", "",
            f"The adapter was trained on base weights sha256 `{trained.get('weights_sha256')}`: "
            f"{trained.get('note', '')}. It ships over, and every figure above was measured with, the packaged "
            f"encoder (sha256 `{meta.get('base_weights_sha256')}`, recorded as `base_weights_sha256` so the loader "
            "accepts it). Rounding to fp16 moves each base weight to its nearest fp16 value (a relative change of at "
            "most 2^-11 for weights above 6.1e-5 in size).", ""]


def render(name: str, result: dict, record: dict | None, folder: Path | None, command: str,
           parameters: int | None = None, variants: list[dict] | None = None,
           other_benchmarks: list[dict] | None = None, extra_evals: list[dict] | None = None) -> str:
    from nlptasks.training.model_card import render as training_card

    task = result["task"]
    lines = [f"# {name}", "",
             f"`{name}` is an nlptasks `{task}` model: `{result['base_model']}` {result.get('kind', 'finetune')}d by "
             f"`nlptasks {result.get('kind', 'finetune')}`"
             + (" and saved as LoRA adapters (peft format) with the task head, merged over the packaged "
                "all-MiniLM-L6-v2 encoder when loaded." if result.get("saved_as") == "lora-adapter" else "."), "",
             "## Rebuild", "", "```bash", command, "```", ""]
    data = result.get("data") or {}
    lines += ["## Data", "", "| split | file | rows |", "| --- | --- | ---: |"]
    for split, d in data.items():
        if d:
            lines.append(f"| {split} | `{Path(str(d['source'])).name}` | {d['rows']} |")
    lines += [""]
    if record:
        lines += _eval_table(record)
        lines += ["Scored by `nlptasks eval` on the validation data (bootstrap intervals); the checkpoint was "
                  "chosen on the same validation data, so these figures are slightly optimistic.", ""]
        primary = record.get("primary_metric")
        trained = (result.get("metrics") or {}).get(primary)
        scored = ((record.get("metrics") or {}).get(primary) or {}).get("score")
        val_rows = ((result.get("data") or {}).get("validation") or {}).get("rows")
        if trained is not None and scored is not None and val_rows not in (None, record.get("n")):
            lines += [f"During training the chosen checkpoint scored {primary} {_fmt(trained, 2)} on the run's "
                      f"whole validation data ({val_rows} rows, of which this benchmark is a part).", ""]
        elif trained is not None and scored is not None:
            lines += [f"During training ({(result.get('settings') or {}).get('precision', '?')} on "
                      f"{(result.get('cost') or {}).get('device', '?')}, adapter unmerged, "
                      f"on the training run's base weights) the chosen checkpoint scored {primary} "
                      f"{_fmt(trained, 2)} on the same validation data; the figures above are the packaged copy's.",
                      ""]
        if variants:
            primary = record.get("primary_metric")
            lines += ["### Variants", "", f"| variant | device | {primary} | 95% interval |", "| --- | --- | ---: | --- |"]
            for r in [record, *variants]:
                m = (r.get("metrics") or {}).get(primary) or {}
                ci = m.get("ci")
                lines.append(f"| {_variant(r)} | {(r.get('settings') or {}).get('device', '?')} | "
                             f"{_fmt(m.get('score'), 2)} | "
                             + (f"[{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]" if ci else "n/a") + " |")
            lines += [""]
    for other in extra_evals or []:  # the same model on other benchmarks, a table each
        lines += _eval_table(other)
    cost = result.get("cost") or {}
    params = parameters or ((record or {}).get("cost") or {}).get("parameters")
    lines += ["## Size and cost", "", "| | |", "| --- | --- |",
              f"| parameters (as loaded) | {params if params is not None else 'n/a'} |"]
    if folder is not None and folder.is_dir():
        lines.append(f"| packaged files | {_size(folder) / 1e6:.2f} MB |")
    lines += [f"| training wall time | {_fmt(cost.get('wall_time_s'))} s on {cost.get('device', '?')} |",
              f"| training energy | {_fmt((cost.get('energy_kwh') or 0) * 1000, 2)} Wh"
              f"{' (estimate)' if cost.get('energy_is_estimate') else ''}"
              f"{' (' + str(cost['energy_source']).upper() + ')' if cost.get('energy_source') else ''} |",
              f"| training CO2e | {_fmt(cost.get('co2e_g'), 2)} g (grid {cost.get('grid_intensity_g_per_kwh')} "
              f"g/kWh) |", ""]
    lines += _base_note(folder)
    lines += ["## Limits", "", MODEL_LIMITS.get(name) or LIMITS.get(task, "See the data's licence and domain."), "",
              "## Training details", ""]
    details = training_card(result).split("\n---\n", 1)[-1]  # without the front matter
    lines += [details.replace("\n# ", "\n### ", 1)]
    front = ["---", f"pipeline_tag: {result.get('pipeline_tag', '')}", "library_name: peft"
             if result.get("saved_as") == "lora-adapter" else "library_name: transformers",
             "base_model: sentence-transformers/all-MiniLM-L6-v2" if str(result["base_model"]).lower() == "minilm"
             else f"base_model: {result['base_model']}", "tags:", "- nlptasks", f"- {task}", "---", ""]
    text = "\n".join(front + lines).rstrip() + "\n"
    if record:  # the Hub's model-index (front matter), from the same eval record
        from nlptasks.evaluation.model_index import model_index_yaml, with_model_index

        text = with_model_index(text, model_index_yaml(name, [record, *(other_benchmarks or []), *(extra_evals or [])]))
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--name", required=True)
    p.add_argument("--result", required=True, help="training_result.json of the run")
    p.add_argument("--eval", default=None, help="the eval record (nlptasks eval ... --json)")
    p.add_argument("--variant-eval", action="append", default=[], metavar="FILE",
                   help="the eval record of a variant of the same model (repeatable)")
    p.add_argument("--model-index-eval", action="append", default=[], metavar="FILE",
                   help="the eval record of the same model on another benchmark, added to the card's model-index "
                        "(repeatable)")
    p.add_argument("--extra-eval", action="append", default=[], metavar="FILE",
                   help="the eval record of the same model on another benchmark, shown as a table of its own and "
                        "added to the model-index (repeatable)")
    p.add_argument("--folder", default=None, help="the packaged folder (size; README.md is written there)")
    p.add_argument("--command", required=True, help="the rebuild command shown in the card")
    p.add_argument("--output", default=None, help="where to write the card (default: FOLDER/README.md)")
    a = p.parse_args(argv)
    result = json.loads(Path(a.result).read_text(encoding="utf-8"))
    record = json.loads(Path(a.eval).read_text(encoding="utf-8")) if a.eval else None
    folder = Path(a.folder) if a.folder else None
    out = Path(a.output) if a.output else (folder / "README.md" if folder else None)
    variants = [json.loads(Path(v).read_text(encoding="utf-8")) for v in a.variant_eval]
    others = [json.loads(Path(v).read_text(encoding="utf-8")) for v in a.model_index_eval]
    extra = [json.loads(Path(v).read_text(encoding="utf-8")) for v in a.extra_eval]
    text = render(a.name, result, record, folder, a.command, variants=variants, other_benchmarks=others,
                  extra_evals=extra)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
