"""Translate plugin on tiny local models: parity with direct generate, T5 prefixes, language codes of
multilingual families, per-record pairs, long lines, plain-text structure, baseline, errors."""
import json
import shutil

import pytest

from nlptasks import run
from nlptasks.api import load_task
from nlptasks.errors import InputError
from nlptasks.tasks.languages import model_family, resolve_code, supported_codes

LINES = ["the cat sees a book.", "A small bird finds the river.", "Guten Morgen!",
         "my friend reads a long letter. the teacher writes the story."]


def _direct(path, texts, prefix="", **gen):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSeq2SeqLM.from_pretrained(path).eval()
    outs = []
    for t in texts:
        enc = tok(prefix + t, return_tensors="pt")
        with torch.inference_mode():
            ids = model.generate(**enc, do_sample=False, num_beams=1, **gen)
        outs.append(tok.decode(ids[0], skip_special_tokens=True).strip())
    return outs


# -- model families ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,prefix", [("marian", ""), ("bart", ""), ("t5", "translate English to German: ")])
def test_matches_direct_generate(tiny_models, name, prefix):
    path = str(tiny_models[name])
    # one generate call per line, as the direct computation does (multi-sentence lines are otherwise
    # split into sentences: tests/test_reliability_round3_results.py)
    ours = run("translate", LINES, model=path, max_new_tokens=8, num_beams=1, no_sentence_split=True)
    assert [o["translation"] for o in ours] == _direct(path, LINES, prefix, max_new_tokens=8)
    assert not any("pieces" in o for o in ours)


def test_t5_prefix_from_language_names_and_override(tiny_models):
    path = str(tiny_models["t5"])
    task = load_task("translate", path, source_lang="en", target_lang="fr", max_new_tokens=6)
    ours = task.predict([{"text": t} for t in LINES[:2]])
    assert task._plan(("en", "fr"))["prefix"] == "translate English to French: "  # not in the config
    assert [o["translation"] for o in ours] == _direct(path, LINES[:2], "translate English to French: ",
                                                       max_new_tokens=6)
    custom = run("translate", LINES[:2], model=path, prefix="xx: ", max_new_tokens=6)
    assert [o["translation"] for o in custom] == _direct(path, LINES[:2], "xx: ", max_new_tokens=6)


def test_t5_per_record_pairs_use_their_own_prefix(tiny_models):
    path = str(tiny_models["t5"])
    recs = [{"text": LINES[0]}, {"text": LINES[0], "target_lang": "fr"}, {"text": LINES[1], "target_lang": "de"}]
    out = run("translate", recs, model=path, max_new_tokens=6)
    assert out[0]["translation"] == _direct(path, [LINES[0]], "translate English to German: ", max_new_tokens=6)[0]
    assert out[1]["translation"] == _direct(path, [LINES[0]], "translate English to French: ", max_new_tokens=6)[0]
    assert out[2]["translation"] == _direct(path, [LINES[1]], "translate English to German: ", max_new_tokens=6)[0]


def test_batch_size_invariance(tiny_models):
    path = str(tiny_models["marian"])
    texts = LINES * 4
    a = run("translate", texts, model=path, max_new_tokens=8, batch_size=1)
    b = run("translate", texts, model=path, max_new_tokens=8, batch_size=8)
    assert [x["translation"] for x in a] == [x["translation"] for x in b]


# -- long lines -----------------------------------------------------------------------------------
def test_long_line_split_at_sentences_and_joined(tiny_models):
    path = str(tiny_models["marian"])
    sentences = ["The cat sees a book.", "A dog likes the house.", "My friend reads a long letter.",
                 "The teacher writes the story.", "A small bird finds the river."]
    line = " ".join(sentences * 2)
    task = load_task("translate", path, max_input_tokens=24, max_new_tokens=5)
    out = task.predict([{"text": line}, {"text": sentences[0]}])
    pieces = task._pieces(line, "", "en")
    assert out[0]["pieces"] == len(pieces) > 1 and "pieces" not in out[1]
    tok = task._lm.tokenizer
    assert all(len(tok(p)["input_ids"]) <= 24 for p in pieces)
    assert " ".join(pieces) == line                     # whole sentences, in order, nothing lost
    each = run("translate", pieces, model=path, max_new_tokens=5)
    assert out[0]["translation"] == " ".join(o["translation"] for o in each if o["translation"])


def test_over_long_sentence_is_cut_into_token_pieces(tiny_models):
    task = load_task("translate", str(tiny_models["bart"]), max_new_tokens=3)
    word_line = "word " * 400                           # one "sentence", far over 128 positions
    out = task.predict([{"text": word_line}])
    assert out[0]["pieces"] >= 3
    pieces = task._pieces(word_line, "", "en")
    assert " ".join(pieces).split() == ["word"] * 400   # packed by words: no word is cut
    glued = "x" * 3000                                  # one "word" over the limit: token slices
    assert "".join(task._pieces(glued, "", "en")) == glued


# -- language codes -------------------------------------------------------------------------------
@pytest.mark.parametrize("family,code,supported,expected", [
    ("mbart", "de", ["en_XX", "de_DE", "fr_XX"], "de_DE"),
    ("mbart", "en", ["en_XX", "de_DE"], "en_XX"),
    ("mbart", "de_DE", ["en_XX", "de_DE"], "de_DE"),
    ("mbart", "de-AT", ["en_XX", "de_DE"], "de_DE"),
    ("m2m_100", "de", ["en", "de", "fr"], "de"),
    ("m2m_100", "DE", ["en", "de"], "de"),
    ("m2m_100", "fr-CA", ["en", "fr"], "fr"),
    ("nllb", "de", ["eng_Latn", "deu_Latn"], "deu_Latn"),
    ("nllb", "en", ["eng_Latn", "deu_Latn"], "eng_Latn"),
    ("nllb", "deu_Latn", ["eng_Latn", "deu_Latn"], "deu_Latn"),
    ("nllb", "deu", ["eng_Latn", "deu_Latn"], "deu_Latn"),       # 3-letter code, one script
    ("nllb", "zh", ["zho_Hans", "zho_Hant"], "zho_Hans"),       # table wins over the ambiguity
])
def test_resolve_code(family, code, supported, expected):
    assert resolve_code(family, code, supported) == expected


def test_resolve_code_errors_list_supported_codes():
    with pytest.raises(InputError, match=r"'xx' is not supported by this NLLB model; it knows: deu_Latn, eng_Latn"):
        resolve_code("nllb", "xx", ["eng_Latn", "deu_Latn"])
    with pytest.raises(InputError, match="ambiguous.*zho_Hans, zho_Hant"):
        resolve_code("nllb", "zho", ["zho_Hans", "zho_Hant"])
    with pytest.raises(InputError, match="mBART"):
        resolve_code("mbart", "sw", ["en_XX", "de_DE"])


class _FakeTok:
    def __init__(self, vocab, lang_code_to_id=None):
        self._vocab = vocab
        if lang_code_to_id is not None:
            self.lang_code_to_id = lang_code_to_id

    def get_vocab(self):
        return dict(self._vocab)


class NllbTokenizerFast(_FakeTok):
    pass


def test_family_and_supported_codes_from_tokenizers():
    vocab = {"▁the": 5, "__en__": 10, "__de__": 11, "_x_": 3, "en_XX": 20, "deu_Latn": 30, "eng_Latn": 31}
    assert supported_codes(_FakeTok(vocab), "m2m_100") == {"en": 10, "de": 11}
    assert supported_codes(_FakeTok(vocab), "mbart") == {"en_XX": 20}
    assert supported_codes(_FakeTok(vocab), "nllb") == {"deu_Latn": 30, "eng_Latn": 31}
    assert supported_codes(_FakeTok(vocab, {"de_DE": 7}), "mbart") == {"de_DE": 7}  # the tokenizer's own table
    assert model_family("m2m_100", NllbTokenizerFast({})) == "nllb"
    assert model_family("m2m_100", _FakeTok({})) == "m2m_100"
    assert [model_family(t, _FakeTok({})) for t in ("marian", "t5", "mbart", "bart", "pegasus")] == \
        ["marian", "t5", "mbart", "generic", "generic"]


@pytest.fixture(scope="module")
def tiny_multilingual(tiny_models, tmp_path_factory):
    """Tiny random mBART and M2M100 models whose tokenizers hold language tokens (en_XX / __en__ ...)."""
    import torch
    from transformers import (AutoTokenizer, M2M100Config, M2M100ForConditionalGeneration, MBartConfig,
                              MBartForConditionalGeneration)

    root = tmp_path_factory.mktemp("multilingual")
    small = dict(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                 encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128, pad_token_id=0,
                 eos_token_id=1, bos_token_id=3, decoder_start_token_id=1)
    paths = {}
    for name, langs, cfg_cls, model_cls in (
            ("mbart", ["en_XX", "de_DE", "fr_XX"], MBartConfig, MBartForConditionalGeneration),
            ("m2m", ["__en__", "__de__", "__fr__"], M2M100Config, M2M100ForConditionalGeneration)):
        tok = AutoTokenizer.from_pretrained(tiny_models["bart"])
        tok.add_special_tokens({"additional_special_tokens": langs})
        torch.manual_seed(0)
        model = model_cls(cfg_cls(vocab_size=len(tok), **small))
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
        paths[name] = str(root / name)
    return paths


def _direct_forced(path, text, lang_token, **gen):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSeq2SeqLM.from_pretrained(path).eval()
    forced = tok.convert_tokens_to_ids(lang_token)
    with torch.inference_mode():
        ids = model.generate(**tok(text, return_tensors="pt"), forced_bos_token_id=forced, do_sample=False,
                             num_beams=1, **gen)
    assert ids[0, 1].item() == forced
    return tok.decode(ids[0], skip_special_tokens=True).strip()


@pytest.mark.parametrize("name,de,fr", [("mbart", "de_DE", "fr_XX"), ("m2m", "__de__", "__fr__")])
def test_multilingual_forced_bos_and_per_record_pairs(tiny_multilingual, name, de, fr):
    path = tiny_multilingual[name]
    # default pair en -> de; one generate call per line, as the direct computation does
    task = load_task("translate", path, max_new_tokens=6, no_sentence_split=True)
    assert task.load().family == ("mbart" if name == "mbart" else "m2m_100")
    tok = task._lm.tokenizer
    assert task._plan(("en", "de"))["forced_bos"] == tok.convert_tokens_to_ids(de)
    recs = [{"text": LINES[0]}, {"text": LINES[1], "target_lang": "fr"}, {"text": LINES[2], "target_lang": "de"},
            {"text": LINES[3], "source_lang": "de", "target_lang": "fr"}]
    out = task.predict(recs)
    assert out[0]["translation"] == _direct_forced(path, LINES[0], de, max_new_tokens=6)
    assert out[1]["translation"] == _direct_forced(path, LINES[1], fr, max_new_tokens=6)
    assert out[2]["translation"] == _direct_forced(path, LINES[2], de, max_new_tokens=6)
    assert out[3]["translation"] == _direct_forced(path, LINES[3], fr, max_new_tokens=6)
    assert task.settings["target_lang"] is None and task.target_lang == "de"


def test_multilingual_unknown_code_lists_supported(tiny_multilingual, cli, tmp_path):
    task = load_task("translate", tiny_multilingual["mbart"])
    with pytest.raises(InputError, match="'sw' is not supported.*de_DE, en_XX, fr_XX"):
        task.predict([{"text": "hello", "target_lang": "sw"}])
    r = cli("run", "translate", "--model", tiny_multilingual["mbart"], "--target-lang", "ja", input="hello\n")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "target language 'ja'" in r.stderr and "en_XX" in r.stderr


def test_bilingual_model_refuses_other_pairs(tiny_models):
    path = str(tiny_models["marian"])
    task = load_task("translate", path, source_lang="en", target_lang="de", max_new_tokens=4)
    assert task.predict([{"text": "hi", "target_lang": "de"}])[0]["translation"] == \
        run("translate", ["hi"], model=path, max_new_tokens=4)[0]["translation"]
    with pytest.raises(InputError, match=r"line 7: model .* translates en->de only.*'fr'"):
        task.predict([{"text": "hi", "target_lang": "fr", "__line__": 7}])
    unknown_pair = load_task("translate", str(tiny_models["bart"]))  # no pair known: one pair at most
    with pytest.raises(InputError, match="several"):
        unknown_pair.predict([{"text": "a", "target_lang": "de"}, {"text": "b", "target_lang": "fr"}])


def test_marian_pair_from_name_and_multi_target_tokens(tiny_models, tmp_path):
    named = tmp_path / "opus-mt-en-de"
    shutil.copytree(tiny_models["marian"], named)
    task = load_task("translate", str(named)).load()
    assert (task.source_lang, task.target_lang, task.multi_pair) == ("en", "de", False)
    multi = tmp_path / "opus-mt-en-ROMANCE"
    shutil.copytree(tiny_models["marian"], multi)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(multi)
    tok.add_special_tokens({"additional_special_tokens": [">>fr<<", ">>es<<"]})
    tok.save_pretrained(multi)
    with pytest.raises(InputError, match="pass --target-lang.*es, fr"):
        load_task("translate", str(multi)).predict([{"text": "hi"}])
    t = load_task("translate", str(multi), target_lang="fr").load()
    assert t._plan((None, "fr"))["prefix"] == ">>fr<< " and t.multi_pair


# -- baseline, CLI, errors --------------------------------------------------------------------------
def test_copy_source_baseline():
    task = load_task("translate", "copy-source")
    assert task.predict([{"text": "Hallo Welt"}, {"text": "  x "}]) == [{"translation": "Hallo Welt"},
                                                                         {"translation": "  x "}]
    assert task.model_info()["baseline"] is True


def test_cli_plain_text_keeps_lines_and_blank_lines(cli, tmp_path, tiny_models):
    path = str(tiny_models["marian"])
    text = "the cat sees a book.\n\nGuten Morgen!\n\n\na dog likes the house.\n"
    expected = [o["translation"] for o in run("translate", [t for t in text.splitlines() if t], model=path,
                                                  max_new_tokens=6)]
    f = tmp_path / "in.txt"
    f.write_text(text, encoding="utf-8")
    from_file = cli("run", "translate", "--model", path, "--max-new-tokens", "6", "--input", f)
    from_stdin = cli("run", "translation", "--model", path, "--max-new-tokens", "6", input=text)
    for r in (from_file, from_stdin):
        assert r.returncode == 0, r.stderr
        lines = r.stdout.split("\n")[:-1]
        assert len(lines) == 6 and lines[1] == lines[3] == lines[4] == ""
        assert [lines[0], lines[2], lines[5]] == expected


def test_cli_jsonl_field_and_passthrough(cli, tmp_path, tiny_models):
    f = tmp_path / "in.jsonl"
    f.write_text('{"src": "the cat sees a book.", "id": 1}\n{"src": "Guten Morgen!", "id": 2}\n', encoding="utf-8")
    r = cli("run", "translate", "--model", "copy-source", "--input", f, "--field", "src")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [(x["id"], x["translation"]) for x in rows] == [(1, "the cat sees a book."), (2, "Guten Morgen!")]


@pytest.mark.parametrize("record,expected", [
    ({"txt": "hello"}, "missing field 'text'"),
    ({"text": ["a", "b"]}, "field 'text' is a list; expected a string"),
    ({"text": "a", "target_lang": 3}, "field 'target_lang' is a number; expected a string"),
])
def test_bad_records(record, expected):
    with pytest.raises(InputError, match=expected):
        load_task("translate", "copy-source").predict([record])


def test_cli_bad_record_is_one_line(cli, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text('{"text": "ok"}\n{"text": ["a", "b"]}\n', encoding="utf-8")
    r = cli("run", "translate", "--model", "copy-source", "--input", f)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr.strip() == f"nlptasks: error: {f}: line 2: field 'text' is a list; expected a string"


def test_offline_default_model_is_one_clear_line(cli):
    r = cli("run", "translate", "--source-lang", "de", "--target-lang", "en", input="Hallo\n",
            env={"HF_HUB_OFFLINE": "1"})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Helsinki-NLP/opus-mt-de-en" in r.stderr


@pytest.mark.data
def test_real_captions_batch_invariant(shared_data, tiny_models):
    rows = [json.loads(x) for x in (shared_data / "translation" / "validation.jsonl").read_text().splitlines()[:24]]
    texts = [r["translation"]["en"] for r in rows]
    path = str(tiny_models["marian"])
    a = run("translate", texts, model=path, max_new_tokens=6, batch_size=1)
    b = run("translate", texts, model=path, max_new_tokens=6, batch_size=16)
    assert len(a) == 24 and [x["translation"] for x in a] == [x["translation"] for x in b]
