"""`--engine ctranslate2`: the same outputs as the transformers path, a conversion cached by weights hash,
the engine recorded in results, and one-line errors for what it cannot run."""
import pytest

from nlptasks.api import load_task
from nlptasks.errors import NlpTasksError

from optional import CT2_ENV, import_extra  # noqa: E402

ct2 = import_extra("ctranslate2", "ctranslate2", CT2_ENV)  # part of `test`; CI fails without it (.ci/run)

CAPTIONS = ["A man rides a bike.", "Two dogs play in the snow.", "A woman is reading a book on a bench.",
            "Three children are jumping into a swimming pool.", "A man in a red shirt is climbing a rock wall.",
            "Ein", "", "A group of people stand in front of a building while a dog runs past them."]


@pytest.fixture(autouse=True)
def _ct2_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NLPTASKS_CT2_CACHE", str(tmp_path / "ct2"))
    return tmp_path / "ct2"


def _translate(model=None, **kw):
    task = load_task("translate", model, device="cpu", batch_size=4, **kw)
    return [r["translation"] for r in task.predict([{"text": t} for t in CAPTIONS])], task


def test_packaged_model_same_translations_as_transformers(_ct2_cache):
    """The packaged Marian starts its decoder from a trained <pad> embedding: the conversion keeps it."""
    ref, _ = _translate()
    got, task = _translate(engine="ctranslate2")
    assert got == ref
    assert any(w in ref[0].lower().split() for w in ("ein", "mann"))  # real German, not empty strings
    info = task.model_info()
    assert info["variant"]["engine"] == "ctranslate2" and info["variant"]["compute_type"] == "float32"
    (converted,) = list(_ct2_cache.iterdir())
    assert (converted / "model.bin").is_file() and (converted / "nlptasks_suppress_pad").is_file()


def test_conversion_is_cached_by_weights_hash(_ct2_cache):
    _translate(engine="ctranslate2")
    (converted,) = list(_ct2_cache.iterdir())
    stamp = (converted / "model.bin").stat().st_mtime_ns
    _translate(engine="ctranslate2", quantize="int8")  # int8 is a compute type of the same conversion
    assert [p.name for p in _ct2_cache.iterdir()] == [converted.name]
    assert (converted / "model.bin").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("name", ["marian", "bart"])
def test_tiny_models_agree_with_transformers(tiny_models, name):
    """Random-weight Marian (zero <pad> row: the stock converter) and BART, greedy, fp32."""
    task = "translate" if name == "marian" else "summarize"
    field, out = ("text", "translation") if name == "marian" else ("document", "summary")
    recs = [{field: t} for t in CAPTIONS if t]
    kw = dict(device="cpu", max_new_tokens=12)
    ref = [r[out] for r in load_task(task, str(tiny_models[name]), **kw).predict(recs)]
    got = [r[out] for r in load_task(task, str(tiny_models[name]), engine="ctranslate2", **kw).predict(recs)]
    assert got == ref and any(ref)


def test_int8_variant_is_close_and_named(_ct2_cache):
    import sacrebleu

    ref, _ = _translate()
    got, task = _translate(engine="ctranslate2", quantize="int8")
    assert sacrebleu.corpus_bleu(got, [ref]).score > 60
    from nlptasks.evaluation.records import variant_name

    assert variant_name({"model": task.model_info()}) == "float32+int8@ctranslate2"


def test_decoder_only_model_is_refused_in_one_line(tiny_models):
    from nlptasks.backend.loading import load_pretrained

    with pytest.raises(NlpTasksError, match="encoder-decoder models only"):
        load_pretrained(str(tiny_models["gpt2"]), "AutoModelForCausalLM", device="cpu", engine="ctranslate2")


def test_cli_engine_flag(cli, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("A man rides a bike.\n", encoding="utf-8")
    env = {"NLPTASKS_CT2_CACHE": str(tmp_path / "ct2")}
    a = cli("run", "translate", "--input", str(src), "--engine", "ctranslate2", env=env)
    b = cli("run", "translate", "--input", str(src))
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout.strip()
    bad = cli("run", "translate", "--input", str(src), "--engine", "onnx")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "ctranslate2" in bad.stderr


def test_extractive_summarizer_refuses_the_engine():
    with pytest.raises(NlpTasksError, match="runs abstractive"):
        load_task("summarize", "lead-3", engine="ctranslate2").load()
