"""`nlptasks distill`: logit distillation (sentiment, qa) into layer-truncated students, the
distillation loss itself, and sequence-level distillation (summarize) with the teacher's outputs cached."""
from __future__ import annotations

import json

import pytest
from train_data import ROWS, write_jsonl

from nlptasks.api import distill, run


def _training_without_dropout(model):
    import torch

    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model.train()  # compute_loss returns the plain task loss in eval mode


def test_distillation_loss_is_zero_for_an_identical_student(tiny_models):
    """alpha=1: the loss is T²·KL(teacher || student), 0 for a copy of the teacher, > 0 otherwise."""
    import copy

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainingArguments

    from nlptasks.training.distillation import _distill_trainer_cls

    teacher = AutoModelForSequenceClassification.from_pretrained(tiny_models["bert-cls"]).eval()
    tok = AutoTokenizer.from_pretrained(tiny_models["bert-cls"])
    batch = dict(tok(["a dog likes the house.", "the cat hates good food."], padding=True, return_tensors="pt"),
                 labels=torch.tensor([1, 0]))
    args = TrainingArguments("/tmp/unused-nlptasks-distill", use_cpu=True, report_to=[])
    cls = _distill_trainer_cls()
    same = cls(model=_training_without_dropout(copy.deepcopy(teacher)), args=args, teacher=teacher, temperature=3.0, alpha=1.0)
    assert same.compute_loss(same.model, batch).item() == pytest.approx(0.0, abs=1e-6)
    other = copy.deepcopy(teacher)
    torch.nn.init.normal_(other.classifier.weight, std=1.0)
    other = _training_without_dropout(other)
    trainer = cls(model=other, args=args, teacher=teacher, temperature=3.0, alpha=1.0)
    with torch.no_grad():
        s, t = other(**batch).logits / 3.0, teacher(**batch).logits / 3.0
    kl = torch.nn.functional.kl_div(s.log_softmax(-1), t.softmax(-1), reduction="batchmean") * 9.0
    assert trainer.compute_loss(other, batch).item() == pytest.approx(kl.item(), rel=1e-5)
    mixed = cls(model=other, args=args, teacher=teacher, temperature=3.0, alpha=0.25)
    with torch.no_grad():
        hard = other(**batch).loss.item()
    assert mixed.compute_loss(other, batch).item() == pytest.approx(0.25 * kl.item() + 0.75 * hard, rel=1e-5)


@pytest.mark.parametrize("task,teacher", [("sentiment", "bert-cls"), ("qa", "distilbert-qa")])
def test_logit_distillation_into_fewer_layers(task, teacher, tiny_models, tmp_path):
    from transformers import AutoConfig

    data = write_jsonl(tmp_path / "d.jsonl", ROWS[task]())
    result = distill(task, str(tiny_models[teacher]), data, data, str(tmp_path / "student"), student_layers=1,
                     max_steps=3, batch_size=4, lr=1e-3, metric="loss", max_length=64, doc_stride=16, temperature=2.0,
                     alpha=0.7)
    cfg = AutoConfig.from_pretrained(tmp_path / "student")
    assert (cfg.num_hidden_layers if task == "sentiment" else cfg.n_layers) == 1
    rows = result["comparison"]
    assert [r["model"].split()[0] for r in rows] == ["teacher", "student"]
    assert rows[1]["values"][rows[1]["columns"].index("parameters")] < rows[0]["values"][
        rows[0]["columns"].index("parameters")]
    assert result["speedup"] > 0
    # evaluation uses the task's own loss (not the distillation loss): equal for teacher and student
    # only by accident, so the two rows differ
    assert rows[0]["values"][0] != rows[1]["values"][0]
    card = (tmp_path / "student" / "README.md").read_text()
    assert "## Teacher vs student" in card and "logit distillation (T=2.0, alpha=0.7)" in card
    assert result["kind"] == "distill" and result["train"]["steps"] == 3


def test_sequence_level_distillation_caches_teacher_outputs(tiny_models, tmp_path, caplog):
    import logging

    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    rows = ROWS["summarize"](4)
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    kw = dict(student=str(tiny_models["bart"]), max_steps=2, batch_size=2, max_target_length=12, max_new_tokens=4)
    out = distill("summarize", str(tiny_models["t5"]), data, data, str(tmp_path / "s"), **kw)
    assert [r["model"].split()[0] for r in out["comparison"]] == ["teacher", "student"]
    assert "sequence-level" in out["method"]
    caches = list((tmp_path / "s" / "teacher_outputs").glob("*.jsonl"))
    assert len(caches) == 1 and out["teacher_cache"] == str(caches[0])
    cached = [json.loads(x)["output"] for x in caches[0].read_text().splitlines()]
    assert len(cached) == len(rows)
    # parity: the cache holds the teacher's greedy outputs (a direct generate call) ...
    tok = AutoTokenizer.from_pretrained(tiny_models["t5"])
    teacher = AutoModelForSeq2SeqLM.from_pretrained(tiny_models["t5"]).eval()
    enc = tok("summarize: " + rows[0]["document"], return_tensors="pt")
    with torch.no_grad():
        gen = teacher.generate(**enc, max_new_tokens=12, do_sample=False, num_beams=1)
    assert cached[0] == tok.decode(gen[0], skip_special_tokens=True).strip()
    # ... which are what `nlptasks run summarize --model TEACHER --num-beams 1 --max-new-tokens 12` answers
    served = run("summarize", [{"document": r["document"]} for r in rows], model=str(tiny_models["t5"]),
                 device="cpu", num_beams=1, max_new_tokens=12)
    assert cached == [o["summary"] for o in served]
    # the teacher's validation score is what `nlptasks eval` gives it (its own tokenizer, not the student's)
    from nlptasks.training.families import training_spec

    served = run("summarize", [{"document": r["document"]} for r in rows], model=str(tiny_models["t5"]),
                 device="cpu", num_beams=1, max_new_tokens=4)  # validation's --max-new-tokens
    expected = training_spec("summarize").score([o["summary"] for o in served], [r["summary"] for r in rows])
    assert out["teacher_eval"]["scores"]["rougeLsum"] == pytest.approx(expected["rougeLsum"])
    stamp = caches[0].stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="nlptasks"):
        distill("summarize", str(tiny_models["t5"]), data, data, str(tmp_path / "s"), overwrite=True,
                **{**kw, "metric": "loss"})
    assert "teacher outputs from the cache" in caplog.text
    assert caches[0].stat().st_mtime_ns == stamp


@pytest.mark.parametrize("task, teacher, options", [
    ("translate", "marian", {"num_beams": 1}),  # multi-sentence lines: run translates each sentence alone
    ("chat", "gpt2", {}),                       # a long history: run drops the oldest turns
])
def test_teacher_outputs_are_the_teachers_run_predictions(task, teacher, options, tiny_models, tmp_path, monkeypatch):
    """Sequence-level distillation's teacher outputs go through the task's own predict path with the teacher
    in memory: they equal ``nlptasks run TASK --model TEACHER --max-new-tokens N`` (greedy)."""
    import transformers

    from nlptasks.registry import TASKS
    from nlptasks.training.distillation import teacher_outputs
    from nlptasks.training.families import training_spec
    from nlptasks.training.settings import FinetuneSettings

    rows = ROWS[task](3)
    if task == "translate":
        rows[0]["translation"]["en"] += " " + rows[1]["translation"]["en"]
    else:
        rows[0]["history"] = [f"turn {i} : the cat number {i} sees a book ." for i in range(14)]
    cls = TASKS.get(task)
    names = []
    predict = cls._predict
    monkeypatch.setattr(cls, "_predict", lambda self, records: names.append(self.model_name) or predict(self, records))
    path = tiny_models[teacher]
    model = getattr(transformers, cls.model_class).from_pretrained(path)
    tok = transformers.AutoTokenizer.from_pretrained(path)
    s = FinetuneSettings(task=task, model=str(path), train="-", max_target_length=8, batch_size=2)
    spec = training_spec(task)
    outs = teacher_outputs(spec, s, model, tok, rows, tmp_path, "key", True)
    assert names == ["in-memory"]  # the task's predict path, not a loop of distillation's own
    inputs = [{"text": r["translation"]["en"]} for r in rows] if task == "translate" else \
        [{"history": r["history"]} for r in rows]
    served = run(task, inputs, model=str(path), device="cpu", max_new_tokens=8, **options)
    assert outs == [o[cls.output_fields[0]] for o in served]
    assert served[0].get("pieces" if task == "translate" else "dropped_turns")  # the case run handles


def test_distill_needs_one_student(tiny_models, tmp_path, cli):
    from nlptasks.errors import InputError

    data = write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"]())
    proc = cli("distill", "sentiment", "--teacher", tiny_models["bert-cls"], "--train", data, "--output", tmp_path / "o")
    assert proc.returncode == 2 and "exactly one of --student MODEL or --student-layers N" in proc.stderr
    with pytest.raises(InputError, match="tokenizer differs from the teacher's"):
        distill("sentiment", str(tiny_models["bert-cls"]), data, None, str(tmp_path / "o"),
                student=str(tiny_models["t5"]))


def test_stdout_summary_carries_the_distillation_ratios():
    """`nlptasks distill` prints the quality kept and the speed-up; `finetune` summaries have neither."""
    from nlptasks.training.trainer import dumps

    out = json.loads(dumps({"kind": "distill", "quality_kept": 0.97, "speedup": 2.0, "cost": {"wall_time_s": 1}}))
    assert out["quality_kept"] == 0.97 and out["speedup"] == 2.0 and out["cost"]["wall_time_s"] == 1
    assert "speedup" not in json.loads(dumps({"kind": "finetune"}))
