"""The model card (README.md) of a fine-tuned or distilled model: base model, data, settings, metrics, cost."""
from __future__ import annotations

import json


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _cost_rows(cost: dict | None) -> list[str]:
    if not cost:
        return ["| cost | not measured |"]
    rows = [f"| wall time | {cost.get('wall_time_s', 0):.1f} s |"]
    if cost.get("energy_kwh") is not None:
        est = " (estimate)" if cost.get("energy_is_estimate") else f" ({cost.get('energy_source')})"
        rows.append(f"| energy | {cost['energy_kwh'] * 1000:.3g} Wh{est} |")
    if cost.get("co2e_g") is not None:
        rows.append(f"| CO2e | {cost['co2e_g']:.3g} g (grid {cost.get('grid_intensity_g_per_kwh')} g/kWh, "
                    f"{cost.get('grid_source')}) |")
    if cost.get("peak_rss_bytes"):
        rows.append(f"| peak RSS | {cost['peak_rss_bytes'] / 1e6:.0f} MB |")
    if cost.get("device"):
        rows.append(f"| device | {cost['device']} |")
    return rows


def render(result: dict) -> str:
    """Markdown for ``result`` (the dict also written to ``training_result.json``)."""
    task = result["task"]
    kind = result.get("kind", "finetune")
    base = result["base_model"]
    origin = f"{kind} of {base}" if base else "trained from scratch"
    lines = ["---", f"pipeline_tag: {result.get('pipeline_tag', '')}", "library_name: transformers",
             *([f"base_model: {base}"] if base else []), "tags:", "- nlptasks", f"- {task}", "---", "",
             f"# {result.get('name') or task} ({origin})", "",
             f"Trained with `nlptasks {kind}` ({result.get('nlptasks_version', '?')}) for the `{task}` task. "
             f"Use it with `nlptasks run {task} --model <this folder>` or "
             f"`nlptasks eval {task} --model <this folder>`.", ""]
    if result.get("saved_as") == "lora-adapter":
        lines += ["Saved as a LoRA adapter (peft format: `adapter_config.json`, `adapter_model.safetensors` with "
                  "the task head in `modules_to_save`); nlptasks merges it over the base model when loading, "
                  "and `peft.PeftModel.from_pretrained(base, <this folder>)` loads it too.", ""]
    if kind == "distill":
        lines += [f"Teacher: `{result['teacher']}`; student initialised from `{base}`; "
                  f"method: {result.get('method')}.", ""]
    lines += ["## Data", "", "| split | source | rows | fingerprint |", "| --- | --- | ---: | --- |"]
    for split, d in result.get("data", {}).items():
        if d:
            lines.append(f"| {split} | `{d['source']}` ({d['kind']}) | {d['rows']} | {d['fingerprint']} |")
    lines += ["", "## Metrics (validation)", ""]
    metrics = result.get("metrics") or {}
    if metrics:
        lines += ["| metric | value |", "| --- | ---: |"] + [f"| {k} | {_num(v)} |" for k, v in metrics.items()]
        if result.get("best_checkpoint"):
            lines += ["", f"Best checkpoint by `{result.get('metric_for_best')}`: step "
                          f"{result['best_checkpoint']}."]
    else:
        lines.append("No validation data was given.")
    history = result.get("history") or []
    if history:
        keys = [k for k in history[0] if k not in ("epoch", "step")]
        lines += ["", "### During training", "", "| epoch | step | " + " | ".join(keys) + " |",
                  "| ---: | ---: | " + " | ".join("---:" for _ in keys) + " |"]
        for h in history:
            lines.append(f"| {h['epoch']:.2f} | {h['step']} | " + " | ".join(_num(h.get(k, "")) for k in keys) + " |")
    if result.get("comparison"):
        lines += ["", "## Teacher vs student", "", "| model | " + " | ".join(result["comparison"][0]["columns"])
                  + " |", "| --- | " + " | ".join("---:" for _ in result["comparison"][0]["columns"]) + " |"]
        for row in result["comparison"]:
            lines.append(f"| {row['model']} | " + " | ".join(_num(v) for v in row["values"]) + " |")
    lines += ["", "## Training settings", "", "```json", json.dumps(result.get("settings", {}), indent=2,
                                                                      default=str), "```", "",
              "## Cost of the training run", "", "| | |", "| --- | --- |"] + _cost_rows(result.get("cost"))
    env = result.get("environment") or {}
    if env:
        lines += ["", "## Environment", "", ", ".join(f"{k} {v}" for k, v in env.items())]
    return "\n".join(lines) + "\n"
