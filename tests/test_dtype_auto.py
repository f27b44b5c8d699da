"""`--dtype auto` on the CPU: bfloat16 for the packaged models when the CPU has AMX (the `amx_bf16` flag in
/proc/cpuinfo), float32 otherwise, for other models, with --quantize, with --dtype float32 or with
NLPTASKS_AUTO_BF16=0. The detection is mocked both ways; the record names what auto chose."""
from __future__ import annotations

import pytest
import torch

from nlptasks.backend import device as dev

CPU = torch.device("cpu")


@pytest.fixture
def amx(monkeypatch):
    """Set whether the CPU 'has' AMX (the rule's variable unset, as for users)."""
    monkeypatch.delenv("NLPTASKS_AUTO_BF16", raising=False)

    def set_(value: bool):
        monkeypatch.setattr(dev, "cpu_has_amx", lambda cpuinfo="/proc/cpuinfo": value)
    return set_


def test_cpuinfo_flag_detection(tmp_path):
    with_amx = tmp_path / "a"
    with_amx.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f amx_bf16 amx_tile amx_int8\n\n"
                        "processor\t: 1\nflags\t\t: fpu sse avx512f amx_bf16 amx_tile amx_int8\n")
    without = tmp_path / "b"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16\n")
    assert dev.cpu_has_amx(str(with_amx)) is True
    assert dev.cpu_has_amx(str(without)) is False     # avx512_bf16 alone is no matrix unit
    assert dev.cpu_has_amx(str(tmp_path / "missing")) is False


def test_auto_rule(amx, monkeypatch):
    amx(True)
    assert dev.resolve_dtype("auto", CPU, packaged=True) is torch.bfloat16
    assert dev.resolve_dtype("auto", CPU, packaged=False) is torch.float32          # a hub model: unchecked
    assert dev.resolve_dtype("auto", CPU, packaged=True, quantize="int8") is torch.float32
    assert dev.resolve_dtype("float32", CPU, packaged=True) is torch.float32         # one flag away
    monkeypatch.setenv("NLPTASKS_AUTO_BF16", "0")
    assert dev.resolve_dtype("auto", CPU, packaged=True) is torch.float32
    monkeypatch.delenv("NLPTASKS_AUTO_BF16")
    amx(False)
    assert dev.resolve_dtype("auto", CPU, packaged=True) is torch.float32
    assert dev.resolve_dtype("bfloat16", CPU) is torch.bfloat16


def test_packaged_paths():
    from nlptasks.backend.embedded import EMBEDDED_DIR

    assert dev.is_packaged(EMBEDDED_DIR / "minilm-sst2-lora")
    assert not dev.is_packaged("/tmp/some-model")
    assert not dev.is_packaged(None)


@pytest.mark.parametrize("has_amx,expected", [(True, "bfloat16"), (False, "float32")])
def test_packaged_sentiment_record_names_the_choice(amx, has_amx, expected):
    from nlptasks.tasks.sentiment import SentimentTask

    amx(has_amx)
    task = SentimentTask("minilm-sst2-lora", device="cpu")
    out = task.predict([{"text": "a wonderful film"}])
    assert out[0]["label"] == "positive"
    assert task.model_info()["variant"]["dtype"] == expected
    assert task.run_settings()["dtype"] == "auto"
    fp32 = SentimentTask("minilm-sst2-lora", device="cpu", dtype="float32")
    assert fp32.model_info()["variant"]["dtype"] == "float32"


def test_a_hub_style_model_stays_float32_on_amx(amx, tiny_models):
    from nlptasks.tasks.sentiment import SentimentTask

    amx(True)
    task = SentimentTask(str(tiny_models["bert-cls"]), device="cpu")
    task.load()
    assert task.model_info()["variant"]["dtype"] == "float32"
