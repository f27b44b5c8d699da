"""Model folders are loaded safely: their Python code never runs unless --trust-remote-code is given (not
even after a "y" on stdin to transformers' prompt), and a damaged config.json or truncated weights file is
one line naming the file, from every command that loads a model."""
from __future__ import annotations

import json
import shutil

import pytest
from train_data import ROWS, write_jsonl

from nlptasks.errors import ModelLoadError

AUTO = ("AutoConfig", "AutoModel", "AutoTokenizer", "AutoModelForSequenceClassification",
        "AutoModelForQuestionAnswering", "AutoModelForSeq2SeqLM", "AutoModelForCausalLM")
LOADERS = ["run", "eval", "chat", "finetune", "distill"]


@pytest.fixture
def evil_model(tmp_path):
    """A model folder whose config's auto_map points at its own .py; importing it writes ``pwned``."""
    d = tmp_path / "evil-model"
    d.mkdir()
    marker = tmp_path / "pwned"
    (d / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import PretrainedConfig, PreTrainedModel\n"
        "class EvilConfig(PretrainedConfig):\n    model_type = 'nlptasks-evil'\n"
        "class EvilModel(PreTrainedModel):\n    config_class = EvilConfig\n")
    (d / "config.json").write_text(json.dumps({
        "model_type": "nlptasks-evil", "architectures": ["EvilModelForSequenceClassification"],
        "auto_map": {a: f"evil.Evil{'Config' if a == 'AutoConfig' else 'Model'}" for a in AUTO}}))
    return d, marker


def _argv(cmd: str, model, tmp_path) -> list:
    data = write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"](4))
    (tmp_path / "in.txt").write_text("a good film\n")
    return {"run": ["run", "sentiment", "-i", "in.txt", "--model", model],
            "eval": ["eval", "sentiment", "--data", data, "--model", model, "--no-store"],
            "chat": ["chat", "--model", model],
            "finetune": ["finetune", "sentiment", "--model", model, "--train", data, "--output", "o", "--max-steps", "1"],
            "distill": ["distill", "sentiment", "--teacher", model, "--student-layers", "1", "--train", data,
                        "--output", "o", "--max-steps", "1"]}[cmd]


def _one_line_error(proc, *needles):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and all(ln.startswith("nlptasks: ") for ln in lines), proc.stderr
    err = lines[-1]  # (eval says what it evaluates first)
    assert err.startswith("nlptasks: error: ") and sum("error" in ln for ln in lines) == 1, proc.stderr
    for n in needles:
        assert n in err, err


@pytest.mark.parametrize("cmd", LOADERS)
def test_model_code_never_runs_without_trust_remote_code(cmd, evil_model, tmp_path, cli):
    model, marker = evil_model
    proc = cli(*_argv(cmd, model, tmp_path), input="y\ny\ny\n", env={"HF_HOME": str(tmp_path / "hf")})
    assert not marker.exists(), f"{cmd} ran the model's code: {proc.stderr}"
    _one_line_error(proc, "needs custom code", "--trust-remote-code")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("cmd", LOADERS)
def test_every_loading_command_has_the_trust_remote_code_flag(cmd, tmp_path):
    from nlptasks.cli import build_parser

    args = build_parser().parse_args([str(a) for a in _argv(cmd, "m", tmp_path)] + ["--trust-remote-code"])
    assert args.trust_remote_code is True


def test_training_loader_passes_trust_remote_code(evil_model, monkeypatch):
    """finetune/distill load through the backend loader, which always passes trust_remote_code explicitly."""
    from nlptasks.training import models

    model, marker = evil_model
    monkeypatch.setattr("builtins.input", lambda *a: "y")  # transformers' prompt would say yes
    with pytest.raises(ModelLoadError, match="needs custom code"):
        models.load_config(str(model))
    with pytest.raises(ModelLoadError, match="needs custom code"):
        models.load_tokenizer(str(model))
    with pytest.raises(ModelLoadError, match="needs custom code"):
        models.load_model(str(model), "AutoModelForSequenceClassification")
    assert not marker.exists()


# -- 15. damaged model folders --------------------------------------------------------------------------
def _damaged(tiny_models, tmp_path, how):
    d = tmp_path / "damaged"
    shutil.copytree(tiny_models["bert-cls"], d)
    if how == "list":
        (d / "config.json").write_text("[]")
        return d, "config.json holds a JSON list, not an object"
    if how == "json":
        (d / "config.json").write_text('{"model_type": "bert",')
        return d, "config.json is not valid JSON"
    w = d / "model.safetensors"
    data = w.read_bytes()
    if how == "truncated":
        w.write_bytes(data[: len(data) // 2])
    else:  # header cut
        w.write_bytes(data[:20])
    return d, "model.safetensors is truncated or damaged"


@pytest.mark.parametrize("how", ["list", "json", "truncated", "header"])
def test_damaged_model_folder_is_one_line(tiny_models, tmp_path, how):
    from nlptasks.backend.resolve import resolve_model

    d, needle = _damaged(tiny_models, tmp_path, how)
    with pytest.raises(ModelLoadError, match=needle.replace("(", r"\(")):
        resolve_model(str(d))


@pytest.mark.parametrize("cmd", LOADERS)
@pytest.mark.parametrize("how", ["list", "truncated"])
def test_damaged_model_folder_cli(tiny_models, tmp_path, cli, cmd, how):
    d, needle = _damaged(tiny_models, tmp_path, how)
    proc = cli(*_argv(cmd, d, tmp_path))
    _one_line_error(proc, needle, str(d))
    assert not (tmp_path / "o").exists()
