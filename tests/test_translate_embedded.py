"""The packaged en->de model (nlptasks/embedded/marian-multi30k-en-de): the offline default of
`run translate` for en->de, an ordinary transformers folder, parity with a plain generate call."""
import json

import pytest

from nlptasks import run
from nlptasks.api import load_task
from nlptasks.backend.embedded import EMBEDDED_DIR
from nlptasks.errors import InputError, ModelLoadError
from nlptasks.tasks.translate import TranslateTask

NAME = "marian-multi30k-en-de"
FOLDER = EMBEDDED_DIR / NAME
CAPTIONS = ["A man rides a bike.", "Two dogs play in the snow.", "A woman is reading a book."]
GERMAN_OPENERS = {"ein", "eine", "zwei", "der", "die", "das"}


def test_default_model_follows_the_language_pair():
    assert TranslateTask().model_name == NAME
    assert TranslateTask(source_lang="en", target_lang="de").model_name == NAME
    assert TranslateTask(target_lang="DE").model_name == NAME
    assert TranslateTask(source_lang="de", target_lang="en").model_name == "Helsinki-NLP/opus-mt-de-en"
    assert TranslateTask(target_lang="fr").model_name == "Helsinki-NLP/opus-mt-en-fr"
    assert TranslateTask("some/model", target_lang="fr").model_name == "some/model"


def test_embedded_model_refuses_another_pair_before_loading():
    with pytest.raises(InputError, match="translates en->de only, not target language 'fr'"):
        TranslateTask(NAME, target_lang="fr")


def test_packaged_folder_is_a_plain_transformers_model():
    import torch
    from transformers import AutoModelForSeq2SeqLM

    config = json.loads((FOLDER / "config.json").read_text())
    assert config["use_cache"] is True and config["model_type"] == "marian"
    size = sum(f.stat().st_size for f in FOLDER.iterdir())
    assert size <= 20 * 1024 * 1024
    model = AutoModelForSeq2SeqLM.from_pretrained(FOLDER)
    assert model.dtype == torch.float32  # fp16 on disk, float32 when loaded as is


def test_run_translate_without_model_gives_german_offline(cli):
    r = cli("run", "translate", input="\n".join(CAPTIONS) + "\n", env={"HF_HUB_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    for src, out in zip(CAPTIONS, lines):
        assert out and out != src
        assert out.split()[0].lower() in GERMAN_OPENERS, out


def test_embedded_default_matches_plain_generate():
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(FOLDER)
    model = AutoModelForSeq2SeqLM.from_pretrained(FOLDER).eval()
    expected = []
    for text in CAPTIONS:
        with torch.inference_mode():
            ids = model.generate(**tok(text, return_tensors="pt"), do_sample=False, num_beams=1)
        expected.append(tok.decode(ids[0], skip_special_tokens=True).strip())
    task = load_task("translate", device="cpu")
    assert [o["translation"] for o in task.predict([{"text": t} for t in CAPTIONS])] == expected
    info = task.model_info()
    assert info["name"] == NAME and info["variant"]["dtype"] == "float32" and info["weights_hash"]


def test_models_lists_the_embedded_default(cli):
    r = cli("models", "translate", "--json")
    assert r.returncode == 0, r.stderr
    rows = {x["model"]: x for x in json.loads(r.stdout)}
    assert rows[NAME]["kind"] == "embedded" and rows[NAME]["default"] is True
    assert rows["Helsinki-NLP/opus-mt-en-de"]["default"] is False


def test_missing_embedded_files_are_one_clear_error(monkeypatch, tmp_path):
    from nlptasks.backend import embedded

    monkeypatch.setattr(embedded, "EMBEDDED_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match="embedded model 'marian-multi30k-en-de' is not installed"):
        run("translate", ["A dog."])
