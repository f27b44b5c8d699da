"""Reliability round 3 (issue 20): silent wrong results.

Translation keeps every sentence of a multi-sentence line; a model is never asked for a language pair it
does not do when its languages are known; the prediction cache and the run id change when any file that
changes predictions changes (config, tokenizer, weights)."""
from __future__ import annotations

import json
import shutil

import pytest

from nlptasks.errors import InputError, NlpTasksError

FIVE = ("A man rides a bike down the street. Two dogs play in the snow. A woman is reading a book. "
        "Children are swimming in a lake. An old man sits on a bench.")


@pytest.fixture(scope="module")
def translator():
    from nlptasks.registry import TASKS

    return TASKS.get("translate")(None)


def test_multi_sentence_line_keeps_its_sentences(translator):
    from nlptasks.text import split_sentences

    out = translator.predict([{"text": FIVE}, {"text": "A dog runs on the beach."}])
    assert out[0].get("pieces") == 5
    assert len(split_sentences(out[0]["translation"], language="de")) >= 4
    assert "pieces" not in out[1]
    single = translator.predict([{"text": s} for s in split_sentences(FIVE, language="en")])
    assert out[0]["translation"] == " ".join(o["translation"] for o in single)  # the same as one by one


def test_sentence_count_tracks_the_input(translator):
    from nlptasks.text import split_sentences

    for n in (2, 3, 8):
        text = " ".join(["A man rides a bike.", "Two dogs play in the snow.", "A woman is reading a book.",
                         "Children are swimming in a lake."] * 2)
        text = " ".join(split_sentences(text, language="en")[:n])
        out = translator.predict([{"text": text}])[0]
        assert out.get("pieces") == n
        assert abs(len(split_sentences(out["translation"], language="de")) - n) <= 1


def test_no_sentence_split_translates_the_line_whole():
    from nlptasks.registry import TASKS

    task = TASKS.get("translate")(None, no_sentence_split=True)
    out = task.predict([{"text": FIVE}])[0]
    assert "pieces" not in out


def test_cli_flag_no_sentence_split(tmp_path, capsys):
    from nlptasks.cli import main

    src = tmp_path / "in.txt"
    src.write_text(FIVE + "\n")
    assert main(["run", "translate", "-i", str(src), "--format", "jsonl", "--no-sentence-split"]) == 0
    assert "pieces" not in json.loads(capsys.readouterr().out)


# -- language pairs the model does not do ----------------------------------------------------------------------
@pytest.fixture
def translator_copy(tmp_path):
    from nlptasks.backend.embedded import embedded_model_dir

    d = tmp_path / "my-translator"
    shutil.copytree(embedded_model_dir("marian-multi30k-en-de"), d)
    return d


@pytest.mark.parametrize("pair", [("ja", "fr"), ("en", "fr"), ("ja", "de")])
def test_pair_the_model_does_not_do_is_refused(translator_copy, pair):
    from nlptasks.registry import TASKS

    task = TASKS.get("translate")(str(translator_copy), source_lang=pair[0], target_lang=pair[1])
    with pytest.raises(InputError, match="en, de|de, en") as e:
        task.predict([{"text": "A dog runs."}])
    assert pair[0] in str(e.value) or pair[1] in str(e.value)


def test_pair_the_model_does_do_is_accepted(translator_copy):
    from nlptasks.registry import TASKS

    task = TASKS.get("translate")(str(translator_copy), source_lang="en", target_lang="de")
    assert task.predict([{"text": "A dog runs."}])[0]["translation"]


def test_per_record_pair_the_model_does_not_do_is_refused(translator_copy):
    from nlptasks.registry import TASKS

    task = TASKS.get("translate")(str(translator_copy))
    with pytest.raises(InputError, match="ja"):
        task.predict([{"text": "A dog runs.", "source_lang": "ja", "target_lang": "fr"}])


def test_model_languages_from_card_and_config(tmp_path):
    from nlptasks.tasks.languages import model_languages

    (tmp_path / "README.md").write_text("---\nlanguage:\n- en\n- de\ntags: [x]\n---\n# card\n")
    assert model_languages(tmp_path) == {"en", "de"}
    (tmp_path / "README.md").write_text("---\nlanguage: [fr, es]\n---\n")
    assert model_languages(tmp_path) == {"fr", "es"}
    (tmp_path / "README.md").unlink()
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"source_lang": "eng", "target_lang": "deu"}))
    assert model_languages(tmp_path) == {"eng", "deu"}
    (tmp_path / "tokenizer_config.json").unlink()
    assert model_languages(tmp_path) == set()


# -- the prediction cache and run ids cover every file that changes predictions ------------------------------
def _data(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"sentence": f"film number {i} was {w}", "label": i % 2}) + "\n"
                            for i, w in enumerate(["good", "bad", "fine", "dull", "great", "awful"] * 3)))
    return data


def test_cache_and_run_id_change_when_config_changes(tiny_models, tmp_path):
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.evaluation.engine import evaluate

    model = tmp_path / "model"
    shutil.copytree(tiny_models["bert-cls"], model)
    bench = adhoc_benchmark("sentiment", str(_data(tmp_path)), columns={"text": "sentence"})
    cache = tmp_path / "cache"
    first = evaluate(bench, str(model), store=False, cache=str(cache), device="cpu")
    again = evaluate(bench, str(model), store=False, cache=str(cache), device="cpu")
    assert again["cost"]["predictions_cached"] == again["n"]  # the cache works
    cfg = json.loads((model / "config.json").read_text())
    labels = cfg["id2label"]
    cfg["id2label"] = {k: labels[str(1 - int(k))] for k in labels}  # labels swapped
    cfg["label2id"] = {v: int(k) for k, v in cfg["id2label"].items()}
    (model / "config.json").write_text(json.dumps(cfg))
    swapped = evaluate(bench, str(model), store=False, cache=str(cache), device="cpu")
    uncached = evaluate(bench, str(model), store=False, cache=False, device="cpu")
    assert swapped["cost"]["predictions_cached"] == 0
    assert swapped["run_id"] != first["run_id"]
    assert swapped["metrics"]["accuracy"]["score"] == uncached["metrics"]["accuracy"]["score"]


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                  "special_tokens_map.json", "generation_config.json"])
def test_model_identity_covers_config_and_tokenizer_files(tiny_models, tmp_path, name):
    from nlptasks.backend.hf import config_files_hash
    from nlptasks.backend.resolve import ModelSource

    model = tmp_path / "model"
    shutil.copytree(tiny_models["bert-cls"], model)
    source = ModelSource(str(model), "local", str(model), None, True)
    before = config_files_hash(source)
    p = model / name
    p.write_text((p.read_text() if p.exists() else "{}") + "\n ")
    assert before and config_files_hash(source) != before
