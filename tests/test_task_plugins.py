"""One definition of each task for run, eval and train: the task plugin owns its training.

Regression tests for the copies that had drifted apart: chat prompts, QA decoding, alias tables,
the primary metric, and a third-party task that could run and evaluate but not fine-tune."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from train_data import ROWS, write_jsonl

from nlptasks.registry import TASKS

TESTS = Path(__file__).resolve().parent


def test_chat_training_prompt_is_the_run_prompt_without_a_chat_template(tiny_models, tmp_path):
    """A causal LM without a chat template: training builds the prompt `run chat` sends (turns joined
    by EOS), and learns only the response and its EOS."""
    from transformers import AutoTokenizer

    from nlptasks.tasks.chat import ChatTask
    from nlptasks.training import preprocess

    plain = tmp_path / "gpt2-plain"
    shutil.copytree(tiny_models["gpt2"], plain)
    cfg_path = plain / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    cfg_path.write_text(json.dumps(cfg))
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    tok = AutoTokenizer.from_pretrained(plain)
    assert not getattr(tok, "chat_template", None)

    task = ChatTask(str(plain), device="cpu").load()
    assert not task.template
    rows = [dict(r, __line__=i) for i, r in enumerate(ROWS["chat"](3), 1)]
    feats = preprocess.chat(rows, tok, max_length=128, max_response=32)
    for f, r in zip(feats, rows):
        run_prompt = task.encode(r["history"])
        n = sum(1 for t in f["labels"] if t == -100)
        assert f["input_ids"][:n] == run_prompt
        learned = f["labels"][n:]
        assert learned == tok(r["response"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]


def test_qa_training_f1_is_the_eval_f1(tiny_models, tmp_path, monkeypatch):
    """The F1 of the training evaluation loop equals `nlptasks eval qa --data` on the saved model.

    The model's start logits are skewed towards late tokens and its end logits towards early ones, so
    the best valid span is not among the top-20 starts x top-20 ends: a decoder that prunes there (the
    old training decoder) answers differently from the task's (``qa_postprocess.select_spans``)."""
    import torch
    from transformers import BertForQuestionAnswering

    forward = BertForQuestionAnswering.forward

    def skewed(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        pos = torch.arange(out.start_logits.shape[-1], dtype=out.start_logits.dtype,
                           device=out.start_logits.device)
        out.start_logits = out.start_logits + pos
        out.end_logits = out.end_logits - pos
        return out

    monkeypatch.setattr(BertForQuestionAnswering, "forward", skewed)
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.evaluation.engine import evaluate
    from nlptasks.api import finetune

    from tiny_models import CORPUS

    context = " ".join(CORPUS[:40])  # ~250 tokens: one window, many candidate spans
    rows = [{"question": f"what does {CORPUS[i].split()[1]} do?", "context": context,
             "answers": {"text": [CORPUS[i]], "answer_start": [context.index(CORPUS[i])]}} for i in range(0, 40, 5)]
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    result = finetune("qa", str(tiny_models["bert-qa"]), data, data, str(tmp_path / "out"), max_steps=1, lr=1e-6,
                      batch_size=2, seed=0, logging_steps=1)
    record = evaluate(adhoc_benchmark("qa", data), str(tmp_path / "out"), device="cpu", store=False)
    assert record["metrics"]["f1"]["score"] > 0  # the skew leaves the task's decoder real answers
    assert result["metrics"]["f1"] == pytest.approx(record["metrics"]["f1"]["score"], abs=1e-6)
    assert result["metrics"]["exact_match"] == pytest.approx(record["metrics"]["exact_match"]["score"], abs=1e-6)


def test_qa_lora_adapter_training_f1_is_the_eval_f1_of_the_saved_folder(tiny_models, tmp_path):
    """The packaged QA model's recipe (LoRA on every linear layer, fp16 adapter files) in fp32: the F1 the
    training loop reports is the F1 of the saved folder through `nlptasks eval`."""
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.evaluation.engine import evaluate
    from nlptasks.api import finetune

    from tiny_models import CORPUS

    context = " ".join(CORPUS[:40])
    rows = [{"question": f"what does {CORPUS[i].split()[1]} do?", "context": context,
             "answers": {"text": [CORPUS[i]], "answer_start": [context.index(CORPUS[i])]}} for i in range(0, 40, 2)]
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    result = finetune("qa", str(tiny_models["bert-qa"]), data, data, str(tmp_path / "out"), max_steps=30, lr=5e-3,
                      batch_size=4, seed=0, logging_steps=100, lora=True, lora_targets=["all-linear"], lora_r=8,
                      lora_alpha=16, lora_save="adapter", adapter_dtype="float16")
    record = evaluate(adhoc_benchmark("qa", data), str(tmp_path / "out"), device="cpu", store=False)
    assert record["metrics"]["f1"]["score"] > 0
    assert result["metrics"]["f1"] == pytest.approx(record["metrics"]["f1"]["score"], abs=1e-6)


def test_finetune_task_names_are_the_registry_names(cli, tmp_path):
    """One alias table: `dialog` (a registry alias of chat) is a training task; `classification`
    (never a registry alias) is not, and the error lists the registry's names."""
    ok = cli("finetune", "dialog", "--model", "x", "--train", tmp_path / "missing.jsonl", "--output", tmp_path / "o")
    assert ok.returncode == 2 and "unknown task" not in ok.stderr and "missing.jsonl" in ok.stderr
    bad = cli("finetune", "classification", "--train", tmp_path / "t.jsonl", "--output", tmp_path / "o")
    assert bad.returncode == 2 and "unknown task 'classification'" in bad.stderr
    for name in TASKS.names():
        assert name in bad.stderr


def test_one_primary_metric_per_task_for_checkpoints_and_ranking(tiny_models, tmp_path):
    """Summarize picks its best checkpoint by the metric that ranks it (the task class's)."""
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.api import finetune

    cls = TASKS.get("summarize")
    data = write_jsonl(tmp_path / "s.jsonl", ROWS["summarize"](2))
    result = finetune("summarize", str(tiny_models["t5"]), data, data, str(tmp_path / "out"), max_steps=1,
                      batch_size=2, max_length=32, max_target_length=8, max_new_tokens=4, logging_steps=1)
    assert result["metric_for_best"] == f"eval_{cls.primary_metric}"
    assert cls.primary_metric in result["metrics"]
    assert adhoc_benchmark("summarize", data).primary_metric == cls.primary_metric


# -- a third-party task ------------------------------------------------------------------------------
TOPICS = ["the cat sees a book.", "a dog likes the house.", "Guten Morgen!", "Wie geht es dir?"]


def _plugin_env(tmp_path) -> dict:
    """A fake installed distribution whose entry point registers tests/toy_topic.py:TopicTask."""
    site = tmp_path / "site"
    dist = site / "toy_topic_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-topic-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[nlptasks.tasks]\ntopic = toy_topic:TopicTask\n")
    import os

    path = os.pathsep.join([str(site), str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path}


def test_an_entry_point_task_runs_evaluates_and_finetunes(tiny_models, tmp_path, cli):
    env = _plugin_env(tmp_path)
    rows = [{"sentence": s, "topic": "english" if i < 2 else "german"} for i, s in enumerate(TOPICS)] * 2
    data = write_jsonl(tmp_path / "topics.jsonl", rows)
    out = tmp_path / "topic-model"
    ft = cli("finetune", "topics", "--model", tiny_models["bert-cls"], "--new-head", "--train", data,
             "--validation", data, "--output", out, "--max-steps", "2", "--batch-size", "4", "--device", "cpu",
             env=env)
    assert ft.returncode == 0, ft.stderr
    summary = json.loads(ft.stdout)
    assert summary["task"] == "topic" and "accuracy" in summary["metrics"]
    saved = json.loads((out / "config.json").read_text())
    assert sorted(saved["id2label"].values()) == ["english", "german"]

    inp = write_jsonl(tmp_path / "in.jsonl", [{"sentence": s} for s in TOPICS])
    run = cli("run", "topic", "--model", out, "--input", inp, "--format", "jsonl", "--device", "cpu",
              env=env)
    assert run.returncode == 0, run.stderr
    outs = [json.loads(x) for x in run.stdout.splitlines() if x.strip()]
    assert len(outs) == 4 and all(o["topic"] in ("english", "german") for o in outs)

    ev = cli("eval", "topic", "--data", data, "--model", out, "--device", "cpu",
             "--store", tmp_path / "store.db", env=env)
    assert ev.returncode == 0, ev.stderr
    assert "accuracy" in ev.stdout
