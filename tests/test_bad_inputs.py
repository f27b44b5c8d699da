"""Every bad input is refused up front with one line (file, line, option, what is allowed), and inputs
of any size are read with bounded memory: streaming, line/document limits, checked option values."""
import io
import json
import os
import subprocess
import sys

import pytest

from nlptasks import io as nio
from nlptasks import text as ntext
from nlptasks.api import load_task
from nlptasks.errors import InputError, NlpTasksError


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr)
    err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    return err


def _run_bytes(args, data: bytes | None, tmp_path, timeout=300, shell_stdin=None):
    cmd = [sys.executable, "-m", "nlptasks", *map(str, args)]
    if shell_stdin is not None:  # e.g. "<&-" (stdin closed)
        cmd = ["bash", "-c", " ".join(f"'{c}'" for c in cmd) + " " + shell_stdin]
    return subprocess.run(cmd, input=data, capture_output=True, cwd=tmp_path, timeout=timeout,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


# -- 10: sentence splitting stays linear -------------------------------------------------------------
class _Recorder:
    def __init__(self):
        self.lengths = []

    def segment(self, text):
        self.lengths.append(len(text))
        return [text]


def test_splitter_only_sees_bounded_segments(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(ntext, "_segmenter", lambda language: rec)
    para = "A short sentence here. " * 20_000 + "x" * 10_000 + " tail words"  # ~470 KB, one line
    out = ntext.split_sentences(para)
    assert rec.lengths and max(rec.lengths) <= ntext.MAX_SEGMENT
    assert "".join(out).replace(" ", "") == para.replace(" ", "")  # nothing lost or duplicated


def test_segments_prefer_sentence_ends():
    para = ("word " * 50 + "end. ") * 100
    pieces = ntext.segments(para, 1000)
    assert "".join(pieces) == para
    assert all(len(p) <= 1000 for p in pieces) and all(p.endswith(". ") for p in pieces[:-1])


def test_windowed_splitting_gives_pysbds_own_sentences():
    """A paragraph longer than a window: abbreviations ("Mr. ", "U.S. ") and a quotation open across
    a window's end are split as pysbd splits the whole paragraph (#11 cut windows after any ". ")."""
    import pysbd

    parts = []
    for i in range(150):
        parts.append(f"Mr. Smith met the U.S. envoy at 5 p.m. on day {i}.")
        if i % 7 == 3:
            parts.append('"We talked. It went well. We will meet again," he said.')
    para = " ".join(parts)
    assert len(para) > 3 * ntext.MAX_SEGMENT
    whole = [x.strip() for x in pysbd.Segmenter(language="en", clean=False).segment(para) if x.strip()]
    assert ntext.split_sentences(para) == whole


def test_summarize_one_mebibyte_line_finishes(cli, tmp_path):
    f = tmp_path / "big.txt"
    f.write_text(" ".join(["alpha", "beta", "gamma", "delta"] * 55_000)[: 1 << 20] + "\n")
    r = cli("run", "summarize", "--model", "lead-3", "--input", f, timeout=120)  # quadratic: many minutes
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()


# -- 11: streaming -------------------------------------------------------------------------------------
class _CountingReader(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.consumed = 0

    def read(self, n=-1):
        chunk = super().read(n)
        self.consumed += len(chunk)
        return chunk


def test_lines_are_read_in_blocks_not_all_at_once():
    data = b"short line\n" * 1_000_000  # 11 MB
    fh = _CountingReader(data)
    lines = nio.iter_lines(fh, "x")
    assert next(lines) == (1, "short line")
    assert fh.consumed <= nio.BLOCK_BYTES < len(data)
    assert sum(1 for _ in lines) == 999_999


def test_chunks_are_bounded():
    recs = ({"text": "x" * 10, "__line__": i} for i in range(2500))
    sizes = [len(c) for c in __import__("nlptasks.runner", fromlist=["chunked"]).chunked(recs, ("text",))]
    assert sizes == [1000, 1000, 500]


def test_bad_record_after_first_chunk_leaves_no_output_file(cli, tmp_path):
    f = tmp_path / "in.jsonl"
    rows = [json.dumps({"text": f"line {i}"}) for i in range(1, 2500)] + ['{"text": 7}']
    f.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.jsonl"
    r = cli("run", "sentiment", "--model", "majority", "--input", f, "--output", out)
    _one_line_error(r, f"{f}: line 2500: field 'text' is a number; expected a string")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # stdout streams: the chunks before the bad line were printed
    r = cli("run", "sentiment", "--model", "majority", "--input", f)
    assert r.returncode == 2 and len(r.stdout.splitlines()) >= 1000


def test_streamed_text_output_keeps_blank_lines_in_place(cli, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("\n\ngood\n\n" + "fine\n" * 1500 + "\n\nlast\n\n\n")
    r = cli("run", "sentiment", "--model", "majority", "--input", f)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[:3] == ["", "", "positive\t1.0000"] and lines[3] == ""
    assert len(r.stdout.splitlines()) == 2 + 1 + 1 + 1500 + 2 + 1  # trailing blank lines dropped


# -- 12: bounded reading ------------------------------------------------------------------------------
def test_dev_zero_and_overlong_line_are_refused(cli, tmp_path):
    r = cli("run", "sentiment", "--model", "majority", "--input", "/dev/zero", timeout=60)
    _one_line_error(r, "/dev/zero", "binary")
    r = _run_bytes(["run", "sentiment", "--model", "majority"], b"a" * (nio.MAX_LINE_BYTES + 10), tmp_path,
                   timeout=120)
    _one_line_error(r, "<stdin>: line 1 is over 10 MiB")


def test_document_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(nio, "MAX_DOCUMENT_BYTES", 1000)
    f = tmp_path / "doc.txt"
    f.write_text("a sentence. " * 200)
    with pytest.raises(InputError, match="the document is over 1,000 bytes"):
        list(nio.InputStream(str(f), text_field="document", text_mode="document"))


# -- 14: the chat REPL's stdin ------------------------------------------------------------------------
@pytest.mark.parametrize("data,needle", [
    (b"hello\ncaf\xe9\n", "<stdin>: line 2: invalid UTF-8"),
    (b"\x00\x01\x02binary\n", "<stdin>: line 1 holds binary data"),
    (None, "stdin is closed"),
])
def test_chat_repl_bad_stdin(tiny_models, tmp_path, data, needle):
    args = ["chat", "--model", tiny_models["gpt2"], "--max-new-tokens", "2"]
    r = _run_bytes(args, data, tmp_path, shell_stdin="<&-" if data is None else None)
    _one_line_error(r, needle)


# -- 16/17/18: option values refused at parse time ---------------------------------------------------
@pytest.mark.parametrize("args,needle", [
    (["summarize", "--num-beams", "0"], "argument --num-beams: must be a positive integer, got 0"),
    (["summarize", "--max-new-tokens", "0"], "argument --max-new-tokens: must be a positive integer"),
    (["translate", "--max-new-tokens", "-3"], "argument --max-new-tokens: must be a positive integer"),
    (["translate", "--num-beams", "0"], "argument --num-beams: must be a positive integer"),
    (["sentiment", "--batch-size", "0"], "argument --batch-size: must be a positive integer"),
    (["sentiment", "--batch-size", "-1"], "argument --batch-size: must be a positive integer"),
    (["sentiment", "--max-tokens", "0"], "argument --max-tokens: must be a positive integer"),
    (["sentiment", "--max-tokens", "-5"], "argument --max-tokens: must be a positive integer"),
    (["summarize", "--sentences", "0"], "argument --sentences: must be a positive integer"),
    (["summarize", "--sentences", "-2"], "argument --sentences: must be a positive integer"),
    (["summarize", "--ratio", "2"], "argument --ratio: must be a number in (0, 1], got 2"),
    (["summarize", "--ratio", "0"], "argument --ratio: must be a number in (0, 1]"),
    (["summarize", "--diversity", "5"], "argument --diversity: must be a number in [0, 1]"),
    (["summarize", "--model", "lead-3", "--sentences", "0"], "argument --sentences"),
])
def test_bad_option_values_refused_at_parse_time(cli, tmp_path, args, needle):
    f = tmp_path / "in.txt"
    f.write_text("hello there.\n")
    r = cli("run", *args, "--input", f)
    assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_option_values_checked_through_the_api_too():
    with pytest.raises(NlpTasksError, match="--batch-size must be a positive integer, got 0"):
        load_task("sentiment", "majority", batch_size=0)
    with pytest.raises(NlpTasksError, match="--num-beams must be a positive integer, got 0"):
        load_task("summarize", "lead-3", num_beams=0)
    with pytest.raises(NlpTasksError, match=r"--diversity must be a number in \[0, 1\], got 5"):
        load_task("summarize", diversity=5)


@pytest.mark.parametrize("args,needle", [
    (["--doc-stride", "400"], "--doc-stride must be smaller than the default --max-length (384): allowed 0 to 383"),
    (["--doc-stride", "64", "--max-length", "64"], "--doc-stride must be smaller than --max-length (64)"),
])
def test_qa_stride_must_be_below_window(cli, tmp_path, tiny_models, args, needle):
    f = tmp_path / "in.jsonl"
    f.write_text('{"question": "who?", "context": "me."}\n')
    r = cli("run", "qa", "--model", tiny_models["bert-qa"], "--input", f, *args)
    _one_line_error(r, needle)


def test_sentiment_stride_must_be_below_window(cli, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("fine\n")
    r = cli("run", "sentiment", "--model", "majority", "--input", f, "--max-length", "16", "--stride", "16")
    _one_line_error(r, "--stride must be smaller than --max-length (16)")
    # --max-length alone keeps working (the default stride shrinks to fit)
    assert cli("run", "sentiment", "--model", "majority", "--input", f, "--max-length", "16").returncode == 0


def test_embedded_models_honour_batch_size_and_max_tokens(monkeypatch):
    import nlptasks.backend.encoder as enc

    seen = []
    real = enc.run_batched

    def spy(items, fn, **kw):
        seen.append((kw["batch_size"], kw["max_tokens"]))
        return real(items, fn, **kw)

    monkeypatch.setattr(enc, "run_batched", spy)
    load_task("sentiment", "minilm-sst2", batch_size=3, max_tokens=40).predict([{"text": "a fine film"}] * 4)
    load_task("summarize", "minilm-extractive", batch_size=2, max_tokens=30).predict(
        [{"document": "One thing. Two things. Three things. Four things."}])
    assert seen == [(3, 40), (2, 30)]


# -- 19/21: one validator for the JSON types of every task ------------------------------------------
@pytest.mark.parametrize("task,line,needle", [
    ("sentiment", '{"text": 42}', "field 'text' is a number; expected a string"),
    ("sentiment", '{"text": ["a"]}', "field 'text' is a list; expected a string"),
    ("sentiment", '{"text": {"a": 1}}', "field 'text' is an object; expected a string"),
    ("sentiment", '{"text": true}', "field 'text' is a boolean; expected a string"),
    ("sentiment", '{"text": null}', "field 'text' is null; expected a string"),
    ("summarize", '{"document": 42}', "field 'document' is a number; expected a string"),
    ("translate", '{"text": 42}', "field 'text' is a number; expected a string"),
    ("qa", '{"question": "q", "context": 42}', "field 'context' is a number; expected a string"),
    ("chat", '{"history": ["hi", 42]}', "turn 2 of field 'history' is a number; expected a list of strings"),
    ("chat", '{"history": 42}', "field 'history' is a number; expected a list of strings"),
])
def test_wrong_json_types_refused_with_file_and_line(cli, tmp_path, task, line, needle):
    f = tmp_path / "in.jsonl"
    f.write_text(line + "\n")
    model = {"sentiment": "majority", "summarize": "lead-3", "translate": "copy-source"}.get(task, "unused/model")
    r = cli("run", task, "--model", model, "--input", f)
    _one_line_error(r, f"{f}: line 1: {needle}")
    assert r.stdout == ""


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_bom_encodings_are_decoded(tmp_path, cli, codec):
    f = tmp_path / "in.txt"
    data = "good film\n\nbad film\n".encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    f.write_bytes(data)
    r = cli("run", "sentiment", "--model", "majority", "--input", f, "-f", "jsonl")
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["text"] for x in r.stdout.splitlines()] == ["good film", "bad film"]


@pytest.mark.parametrize("task,typo,suggestion", [
    ("sentiment", "majorty", "majority"), ("sentiment", "minilm-sst3", "minilm-sst2"),
    ("summarize", "lead3", "lead-3"),
])
def test_embedded_model_typo_suggests_the_closest(cli, tmp_path, task, typo, suggestion):
    f = tmp_path / "in.txt"
    f.write_text("hello.\n")
    r = cli("run", task, "--model", typo, "--input", f)
    _one_line_error(r, f"unknown model {typo!r}", "embedded models", f"did you mean {suggestion!r}")


def test_plain_hub_id_without_slash_is_still_a_hub_id(cli, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("hello.\n")
    r = cli("run", "sentiment", "--model", "gpt2", "--input", f)
    _one_line_error(r, "not in the local Hugging Face cache")


# -- 20: references outside the label set ------------------------------------------------------------
@pytest.mark.parametrize("label,needle", [
    ('"postive"', "line 2: reference label 'postive' is not one of the labels; allowed labels: negative, positive"),
    ("null", "line 2: the reference ('label') is null; allowed labels: negative, positive"),
    ("7", "line 2: reference label 7 is not one of the labels"),
])
def test_eval_data_with_bad_references_is_refused(cli, tmp_path, label, needle):
    f = tmp_path / "data.jsonl"
    f.write_text('{"text": "good", "label": "positive"}\n{"text": "bad", "label": %s}\n' % label)
    r = cli("eval", "sentiment", "--data", f, "--model", "majority", "--no-store", "--output", tmp_path / "res")
    _one_line_error(r, f"{f}: {needle}")
    assert not (tmp_path / "res").exists()


# -- 23: the embedded sentiment model windows long texts --------------------------------------------
def test_embedded_sentiment_windows_long_texts():
    task = load_task("sentiment", "minilm-sst2")
    good = "This film is a wonderful, moving, beautifully acted masterpiece. " * 30  # > 256 tokens
    bad = "The plot is dull, the acting is terrible and it is a boring waste of time. " * 60
    prefix, full = task.predict([{"text": good}, {"text": good + bad}])
    assert prefix["label"] == "positive" and full["label"] == "negative"
    short = load_task("sentiment", "minilm-sst2", max_length=24, stride=4).predict([{"text": good + bad}])[0]
    assert short["score"] != full["score"]  # --max-length / --stride are honoured
