"""SentenceEncoder (packaged all-MiniLM-L6-v2) and EncoderClassifier (packaged SST-2 head)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from nlptasks.backend.embedded import minilm_path
from nlptasks.backend.encoder import DEFAULT_HEAD, EncoderClassifier, SentenceEncoder
from nlptasks.errors import ModelLoadError

TEXTS = [
    "a wonderful, moving film",
    "The plot is nothing but boilerplate clichés from start to finish, and the acting is wooden.",
    "ok",
    "",
    "It rains in Paris.",
    "a dull , tedious mess",
    "Neither the script nor the direction manages to lift this sequel above its predecessor's many flaws.",
    "cats",
    "An utterly charming, witty and beautifully shot comedy about growing old.",
    "the",
]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder.load()


@pytest.fixture(scope="module")
def classifier() -> EncoderClassifier:
    return EncoderClassifier.load()


def test_encoder_attributes(encoder):
    assert encoder.dim == 384
    assert encoder.max_length == 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
    assert 22_000_000 < encoder.num_parameters() < 23_500_000
    info = encoder.describe()
    assert info["weights_hash"] and info["parameters"] == encoder.num_parameters()


def test_embeddings_are_normalized(encoder):
    emb = encoder.encode(TEXTS)
    assert emb.shape == (len(TEXTS), 384) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=-1), torch.ones(len(TEXTS)), atol=1e-5)
    raw = encoder.encode(TEXTS[:3], normalize=False)
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(3), atol=1e-2)
    assert torch.allclose(torch.nn.functional.normalize(raw, dim=-1), emb[:3], atol=1e-5)


def test_batch_size_invariance_and_order(encoder):
    one = encoder.encode(TEXTS, batch_size=1)
    many = encoder.encode(TEXTS, batch_size=16)
    assert torch.allclose(one, many, atol=1e-5)
    rev = encoder.encode(TEXTS[::-1], batch_size=4)
    assert torch.allclose(rev.flip(0), many, atol=1e-5)
    # different texts give different vectors (order really is restored, not all equal)
    assert (many[0] - many[1]).abs().max() > 1e-2


def test_matches_direct_automodel_mean_pooling(encoder):
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    got = encoder.encode(TEXTS, batch_size=8)
    for i, text in enumerate(TEXTS):
        enc = tok(text, return_tensors="pt")
        with torch.no_grad():
            h = model(**enc).last_hidden_state[0]
        ref = torch.nn.functional.normalize(h.mean(0), dim=-1)  # no padding: plain mean over tokens
        assert torch.allclose(got[i], ref, atol=1e-5), text


def test_long_text_is_truncated_to_max_length(encoder):
    long = " ".join(["the film is good and the cast is great"] * 80)  # ~720 tokens
    ids = encoder.tokenizer(long)["input_ids"]
    assert len(ids) > encoder.max_length
    head_text = encoder.tokenizer.decode(ids[1:encoder.max_length - 1])
    a = encoder.encode([long])
    b = encoder.encode([head_text])
    assert torch.allclose(a, b, atol=1e-4)
    short = encoder.encode([long], max_length=16)
    assert not torch.allclose(a, short, atol=1e-3)


def test_empty_input(encoder):
    assert encoder.encode([]).shape == (0, 384)


def test_classifier_probabilities(classifier):
    assert classifier.labels == ["negative", "positive"]
    assert classifier.id2label == {0: "negative", 1: "positive"}
    probs = classifier.predict_proba(TEXTS, batch_size=4)
    assert probs.shape == (len(TEXTS), 2)
    assert torch.allclose(probs.sum(-1), torch.ones(len(TEXTS)), atol=1e-5)
    assert (probs >= 0).all()
    assert torch.allclose(probs, classifier.predict_proba(TEXTS, batch_size=1), atol=1e-5)


@pytest.mark.parametrize("text,label", [
    ("a wonderful, moving film", "positive"),
    ("a dull, tedious mess", "negative"),
    ("one of the best movies of the year , funny and heartfelt", "positive"),
    ("a boring , pointless waste of time", "negative"),
])
def test_classifier_obvious_cases(classifier, text, label):
    assert classifier.predict([text]) == [label]


def test_head_sidecar_is_honest():
    meta = json.loads(EncoderClassifier.sidecar_path(DEFAULT_HEAD).read_text())
    assert meta["labels"] == ["negative", "positive"]
    assert meta["encoder"]["weights_sha256"]
    assert 0.8 <= meta["metrics"]["validation_accuracy"] <= 1.0
    size = DEFAULT_HEAD.stat().st_size + EncoderClassifier.sidecar_path(DEFAULT_HEAD).stat().st_size
    assert size < 4 * 1024 * 1024


def test_head_encoder_hash_mismatch_is_an_error(tmp_path):
    head = tmp_path / "h.safetensors"
    shutil.copy(DEFAULT_HEAD, head)
    meta = json.loads(EncoderClassifier.sidecar_path(DEFAULT_HEAD).read_text())
    meta["encoder"]["weights_sha256"] = "0123456789abcdef"
    (tmp_path / "h.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="sha256"):
        EncoderClassifier.load(str(head))


def test_head_with_other_encoder_is_an_error(tmp_path):
    from transformers import BertConfig, BertModel

    enc_dir = tmp_path / "tiny-encoder"
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(enc_dir)
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(Path(minilm_path()) / f, enc_dir / f)
    tiny = SentenceEncoder.load(str(enc_dir))  # any local encoder dir works on its own
    assert tiny.encode(["hello world"]).shape == (1, 32)
    with pytest.raises(ModelLoadError, match="trained on encoder"):
        EncoderClassifier.load(encoder_path=str(enc_dir))


def test_missing_head_is_an_error(tmp_path):
    with pytest.raises(ModelLoadError):
        EncoderClassifier.load(str(tmp_path / "nope.safetensors"))


@pytest.mark.data
def test_accuracy_on_validation_sample(classifier, shared_data):
    rows = [json.loads(line) for line in (shared_data / "sentiment" / "validation.jsonl").open(encoding="utf-8")][:200]
    preds = classifier.predict([r["text"] for r in rows], batch_size=64)
    acc = sum(p == ("positive" if r["label"] == 1 else "negative") for p, r in zip(preds, rows)) / len(rows)
    assert acc >= 0.80, acc
