"""Knowledge-base QA (issue 22): passages, the index folder, BM25/dense/hybrid retrieval, bad input,
`nlptasks index` and `nlptasks run qa --index` end to end, the recall metric, the open benchmark."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nlptasks.cli import main
from nlptasks.errors import InputError, ModelLoadError

REPO = Path(__file__).resolve().parents[1]

DOCS = [
    {"id": "nile", "title": "Nile", "text": "The Nile is a major north-flowing river in northeastern Africa. It flows "
     "into the Mediterranean Sea. The Nile is about 6,650 km long and its drainage basin covers eleven countries."},
    {"id": "eiffel", "title": "Eiffel Tower", "text": "The Eiffel Tower is a wrought-iron lattice tower on the Champ "
     "de Mars in Paris. It was designed by the company of Gustave Eiffel and built from 1887 to 1889 as the entrance "
     "to the 1889 World's Fair."},
    {"id": "photosynthesis", "title": "Photosynthesis", "text": "Photosynthesis is the process by which green plants "
     "turn sunlight, water and carbon dioxide into glucose. The process takes place in the chloroplasts and releases "
     "oxygen as a by-product."},
    {"id": "piano", "title": "Piano", "text": "The piano is a keyboard instrument invented in Italy by Bartolomeo "
     "Cristofori around the year 1700. Pressing a key makes a felt hammer strike the strings."},
    {"id": "everest", "title": "Mount Everest", "text": "Mount Everest is Earth's highest mountain above sea level, in "
     "the Himalayas on the border of Nepal and China. Its summit is 8,849 metres high. Tenzing Norgay and Edmund "
     "Hillary first reached the summit in 1953."},
    {"id": "insulin", "title": "Insulin", "text": "Insulin is a hormone made by the beta cells of the pancreas. It "
     "lets cells take up glucose from the blood. Frederick Banting and Charles Best discovered it in 1921."},
]


def _write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _cli(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("kb")
    rows = DOCS + [{**DOCS[0], "id": "nile-copy", "text": DOCS[0]["text"].replace(". ", ".  ")}]  # a duplicate
    return _write_jsonl(d / "docs.jsonl", rows)


@pytest.fixture(scope="module")
def index_dir(corpus, tmp_path_factory) -> Path:
    from nlptasks.api_index import build_index

    out = tmp_path_factory.mktemp("idx") / "index"
    m = build_index([str(corpus)], str(out))
    assert m["added"] == len(DOCS) and m["duplicates"] == 1
    return out


# -- passages ------------------------------------------------------------------------------------------
def _long_document(n: int = 120) -> str:
    topics = ["rivers", "mountains", "music", "chemistry", "history", "biology"]
    sents = [f"Sentence {i} talks about {topics[i % 6]} and has {'a few extra words ' * (i % 4)}in it." for i in range(n)]
    paras = [" ".join(sents[i:i + 7]) for i in range(0, n, 7)]
    return "\n\n".join(paras)


def test_passages_cover_every_character_overlap_and_keep_stable_ids():
    from nlptasks.retrieval.passages import split_passages

    doc = _long_document() + "\n\n" + " ".join(f"word{i}" for i in range(450))  # one 450-word run-on sentence
    ps = split_passages("doc", doc, max_words=60, overlap_words=15)
    assert len(ps) > 5
    covered = bytearray(len(doc))
    for p in ps:
        assert p.text == doc[p.start:p.end]
        assert len(p.text.split()) <= 60
        covered[p.start:p.end] = b"\x01" * (p.end - p.start)
    lost = [i for i, ch in enumerate(doc) if not ch.isspace() and not covered[i]]
    assert lost == [], f"characters in no passage: {doc[lost[0]:lost[0] + 40]!r}"
    # consecutive passages of normal sentences overlap (the next one repeats trailing sentences)
    run_on = doc.index("word0 ")
    overlaps = [b.start < a.end for a, b in zip(ps, ps[1:]) if b.end < run_on]
    assert overlaps and all(overlaps)
    assert [p.id for p in ps] == [f"doc#{i}" for i in range(len(ps))]
    assert split_passages("doc", doc, max_words=60, overlap_words=15) == ps  # stable
    assert split_passages("doc", "   \n ") == []


def test_short_document_is_one_passage_verbatim():
    from nlptasks.retrieval.passages import split_passages

    text = "Paris is in France.  It is large."
    (p,) = split_passages("x", text)
    assert (p.text, p.start, p.end, p.id) == (text, 0, len(text), "x#0")


def test_reciprocal_rank_fusion():
    from nlptasks.retrieval.fusion import reciprocal_rank_fusion

    a = [(1, 9.0), (2, 8.0), (3, 7.0)]
    b = [(3, 0.9), (1, 0.8), (4, 0.7)]
    fused = reciprocal_rank_fusion([a, b], 4, k0=60)
    assert [r for r, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


# -- the index ----------------------------------------------------------------------------------------
def test_index_round_trip_and_add(index_dir, tmp_path):
    from nlptasks.api_index import add_to_index, search_index
    from nlptasks.retrieval.index import KnowledgeIndex, read_manifest

    m = read_manifest(index_dir)
    assert m["passages"] == len(DOCS) and m["documents"] == len(DOCS) and m["encoder"]["weights_sha256"]
    idx = KnowledgeIndex(index_dir)
    assert idx.dense.shards[0].dtype.name == "float16" and not idx.dense.shards[0].flags.owndata  # memory-mapped
    rows = [idx.passage(i) for i in range(idx.n)]
    assert [r["doc_id"] for r in rows] == [d["id"] for d in DOCS]
    assert rows[1]["text"] == DOCS[1]["text"] and rows[1]["source"] == "eiffel"

    copy = tmp_path / "copy"
    shutil.copytree(index_dir, copy)
    extra = _write_jsonl(tmp_path / "more.jsonl", [
        {"id": "volcano", "text": "Mauna Loa on Hawaii is the largest active volcano on Earth by volume."},
        DOCS[2]])  # already indexed: skipped
    m2 = add_to_index(str(copy), [str(extra)])
    assert (m2["added"], m2["duplicates"], m2["passages"]) == (1, 1, len(DOCS) + 1)
    assert len(m2["shards"]) == 2 and (copy / m2["shards"][1]["file"]).is_file()
    for retriever in ("bm25", "dense", "hybrid"):
        (hits,) = search_index(str(copy), "Which volcano is the largest by volume?", retriever=retriever, k=2)
        assert hits[0]["doc_id"] == "volcano", retriever
    assert read_manifest(index_dir)["passages"] == len(DOCS)  # the original is untouched


QUERIES = [  # query, expected document, retrievers that must rank it first
    ("How long is the Nile river?", "nile", ("bm25", "dense", "hybrid")),
    ("Who invented the piano?", "piano", ("bm25", "dense", "hybrid")),
    ("which gas do plants give off when they make sugar from light", "photosynthesis", ("dense", "hybrid")),
    ("highest peak in the Himalayas", "everest", ("bm25", "dense", "hybrid")),
    ("Banting Best 1921 discovery", "insulin", ("bm25", "hybrid")),  # names: a keyword query
]


@pytest.mark.parametrize("retriever", ["bm25", "dense", "hybrid"])
def test_ranking_finds_known_documents(index_dir, retriever):
    from nlptasks.api_index import search_index

    queries = [q for q, _, who in QUERIES if retriever in who]
    results = search_index(str(index_dir), queries, retriever=retriever, k=3)
    want = [doc for _, doc, who in QUERIES if retriever in who]
    assert [hits[0]["doc_id"] for hits in results] == want
    for hits in results:
        assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
        assert all(a["score"] >= b["score"] for a, b in zip(hits, hits[1:]))


def test_dense_exact_and_faiss_agree(index_dir, tmp_path):
    import numpy as np

    from nlptasks.retrieval.dense import DenseIndex, build_faiss

    shards = sorted(index_dir.glob("embeddings-*.npy"))
    exact = DenseIndex(shards)
    build_faiss(shards, 384, tmp_path / "d.faiss")
    approx = DenseIndex(shards, tmp_path / "d.faiss", nprobe=4)
    q = np.load(shards[0])[[1, 4]].astype("float32")
    assert [r for r, _ in exact.search(q, 3)[0]] == [r for r, _ in approx.search(q, 3)[0]]
    assert exact.search(q, 1)[1][0][0] == 4


def test_encoder_mismatch_is_refused(index_dir, tmp_path, capsys):
    from nlptasks.retrieval.index import KnowledgeIndex

    bad = tmp_path / "bad"
    shutil.copytree(index_dir, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["encoder"]["weights_sha256"] = "0123456789abcdef"
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelLoadError, match="built with encoder weights 0123456789abcdef"):
        KnowledgeIndex(bad)
    rc, out, err = _cli(["index", "search", str(bad), "--query", "Nile"], capsys)
    assert rc != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("nlptasks: error: index") and "rebuild it" in err
    rc, out, err = _cli(["run", "qa", "--index", str(bad), "--question", "How long is the Nile?"], capsys)
    assert rc != 0 and err.count("\n") == 1 and "encoder weights" in err


# -- bad input ----------------------------------------------------------------------------------------
def test_bad_sources_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02binary\x00" * 50)
    notext = _write_jsonl(tmp_path / "notext.jsonl", [{"id": 1, "body": "text under another name"}])
    cases = [
        ([str(empty)], "input is empty"),
        ([str(binary)], "binary file"),
        ([str(notext)], "line 1: no field 'text' (its fields: body, id); use --text-field"),
        ([str(tmp_path / "missing.txt")], "no such file or folder"),
    ]
    for sources, message in cases:
        rc, out, err = _cli(["index", "build", *sources, "--output", str(tmp_path / "idx")], capsys)
        assert rc != 0, sources
        assert err.count("\n") == 1 and err.startswith("nlptasks: error:") and message in err, err
        assert not (tmp_path / "idx").exists()  # a failed build leaves nothing behind
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    rc, _, err = _cli(["index", "build", str(empty_dir), "--output", str(tmp_path / "idx")], capsys)
    assert rc != 0 and "holds no text" in err


def test_text_field_and_folder_sources(tmp_path):
    from nlptasks.api_index import build_index
    from nlptasks.retrieval.index import KnowledgeIndex

    folder = tmp_path / "manuals"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# Pump\n\nThe pump must be primed before first use.\n")
    (folder / "sub" / "b.txt").write_text("Clean the filter every three months.")
    (folder / "skip.bin").write_bytes(b"\x00\x01")  # not a text suffix: not read
    qa = _write_jsonl(tmp_path / "qa.jsonl", [{"qid": "q1", "context": "Filters are sold in packs of two."}])
    build_index([str(folder), str(qa)], str(tmp_path / "idx"), text_field="context", id_field="qid")
    idx = KnowledgeIndex(tmp_path / "idx")
    sources = [idx.passage(i)["source"] for i in range(idx.n)]
    assert sources == [str(folder / "a.md"), str(folder / "sub" / "b.txt"), "q1"]


# -- outputs never land on inputs (issue 20) -------------------------------------------------------------
def test_outputs_never_overwrite_inputs(index_dir, corpus, tmp_path, capsys):
    rc, _, err = _cli(["run", "qa", "--index", str(index_dir), "--question", "How long is the Nile?",
                       "-o", str(index_dir / "passages.jsonl")], capsys)
    assert rc != 0 and "is inside --index" in err and err.count("\n") == 1
    rc, _, err = _cli(["run", "qa", "--index", str(index_dir), "--question", "How long is the Nile?",
                       "-o", str(index_dir / "new-file.txt")], capsys)
    assert rc != 0 and "is inside --index" in err and not (index_dir / "new-file.txt").exists()
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("Some text to index.")
    rc, _, err = _cli(["index", "build", str(src), "--output", str(src / "idx")], capsys)
    assert rc != 0 and "inside the source folder" in err
    rc, _, err = _cli(["index", "build", str(src / "a.txt"), "--output", str(src)], capsys)
    assert rc != 0 and "holds the source file" in err
    rc, _, err = _cli(["index", "build", str(corpus), "--output", str(index_dir)], capsys)
    assert rc != 0 and "already holds an index" in err
    assert (src / "a.txt").read_text() == "Some text to index."


# -- run qa --index ---------------------------------------------------------------------------------------
def test_run_qa_with_index_end_to_end(index_dir, tmp_path, capsys):
    rc, out, err = _cli(["run", "qa", "--index", str(index_dir), "--question", "When was insulin discovered?"], capsys)
    assert rc == 0, err
    answer, score, source = out.rstrip("\n").split("\t")
    assert answer == "1921" and source == "insulin" and 0 < float(score) <= 1

    qs = _write_jsonl(tmp_path / "q.jsonl", [
        {"id": "a", "question": "When was the Eiffel Tower built?", "asked_by": "me"},
        {"id": "b", "question": "In which country was the piano invented?"}])
    out_file = tmp_path / "answers.jsonl"
    rc, _, err = _cli(["run", "qa", "--index", str(index_dir), "--input", str(qs), "--format", "jsonl",
                       "--top-k-passages", "2", "--retriever", "hybrid", "-o", str(out_file)], capsys)
    assert rc == 0, err
    rows = [json.loads(x) for x in out_file.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"] and rows[0]["asked_by"] == "me"
    for r, doc, gold in zip(rows, ["eiffel", "piano"], ["1889", "Italy"]):
        assert {"answer", "score", "start", "end", "source", "passage_id", "passage", "passages"} <= set(r)
        assert gold in r["answer"] and r["source"] == doc and r["passage_id"] == f"{doc}#0"
        assert r["passage"][r["start"]:r["end"]] == r["answer"]
        assert len(r["passages"]) == 2

    # records need only a question with --index; without it the context is still required
    rc, _, err = _cli(["run", "qa", "--input", str(qs)], capsys)
    assert rc != 0 and "context" in err


def test_context_file_still_works(tmp_path, capsys):
    ctx = tmp_path / "ctx.txt"
    ctx.write_text("The Amazon river flows through Brazil, Peru and Colombia.")
    rc, out, err = _cli(["run", "qa", "--question", "Which countries does the Amazon flow through?",
                         "--context-file", str(ctx)], capsys)
    assert rc == 0, err
    assert "Brazil" in out and out.count("\t") == 1  # no source column without --index


# -- metric and benchmark ------------------------------------------------------------------------------------
def test_retrieval_recall_metric():
    from nlptasks.metrics import compute

    preds = [[{"text": "The Nile is long."}, "Paris"], ["nothing here"], [], ["The answer: 1,921 km"]]
    refs = [["the Nile"], ["Nile"], ["x"], {"text": ["1,921 km"]}]
    v = compute("retrieval_recall", preds, refs)["recall"]
    assert v.score == pytest.approx(50.0) and v.extra["k"] == 2
    assert v.ci[0] <= 50.0 <= v.ci[1]
    with pytest.raises(ValueError, match="list of retrieved passages"):
        compute("retrieval_recall", ["just an answer"], [["x"]])


def test_open_benchmark_end_to_end_on_a_small_corpus(tmp_path, monkeypatch):
    """squad_open_local's definition on a tiny copy of the data layout: the corpus indexed once and
    cached by its fingerprint, the questions answered without context, EM/F1 and recall@k scored."""
    from nlptasks.evaluation import engine
    from nlptasks.evaluation.definitions import get_benchmark

    data = tmp_path / "data"
    (data / "qa").mkdir(parents=True)
    train = [{"id": f"t{i}", "title": d["title"], "context": d["text"], "question": "unused",
              "answers": {"text": ["x"], "answer_start": [0]}} for i, d in enumerate(DOCS[:4])]
    val = [{"id": "v1", "title": "Insulin", "context": DOCS[5]["text"], "question": "Who discovered insulin in 1921?",
            "answers": {"text": ["Frederick Banting and Charles Best"], "answer_start": [0]}},
           {"id": "v2", "title": "Mount Everest", "context": DOCS[4]["text"], "question": "How high is Mount Everest?",
            "answers": {"text": ["8,849 metres"], "answer_start": [0]}}]
    _write_jsonl(data / "qa" / "train.jsonl", train + train[:2])  # repeated paragraphs: indexed once
    _write_jsonl(data / "qa" / "validation.jsonl", val)
    monkeypatch.setenv("NLPTASKS_INDEX_CACHE", str(tmp_path / "cache"))
    bench = get_benchmark("squad_open_local")
    assert bench.corpus["text"] == "context" and "context" not in bench.columns
    rec = engine.evaluate(bench, data_dir=str(data), store=False, cache=False, top_k_passages=2,
                          retriever="hybrid")
    assert rec["metrics"]["recall"]["score"] == pytest.approx(100.0)
    assert rec["metrics"]["f1"]["score"] > 50
    assert "[hybrid, k=2, rank prior, sum]" in rec["model"]["name"]
    assert len(list((tmp_path / "cache").iterdir())) == 1
    index = next((tmp_path / "cache").iterdir())
    assert json.loads((index / "manifest.json").read_text())["documents"] == 6
    assert rec["settings"]["index"] == json.loads((index / "manifest.json").read_text())["fingerprint"]


# -- the scale benchmark ---------------------------------------------------------------------------------------
def test_scale_benchmark_smallest_size(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "retrieval_scale.py"), "--sizes", "500",
                           "--random-vectors-above", "0", "--queries", "3", "--json", str(tmp_path / "r.json"),
                           "--work-dir", str(tmp_path / "w")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (row,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert row["passages"] == 500 and row["size_bytes"] > 500 * 384 * 2
    assert row["build_s"] > 0 and row["peak_rss_mb"] > 0 and row["query_ms"]["hybrid"]["p50"] > 0
    assert re.search(r"500\s", proc.stdout)


def test_missing_kb_extra_is_one_line(index_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bm25s", None)  # as if bm25s were not installed
    rc, out, err = _cli(["index", "search", str(index_dir), "--query", "Nile", "--retriever", "bm25"], capsys)
    assert rc != 0 and out == "" and err.count("\n") == 1
    assert "pip install 'nlptasks[kb]'" in err


def test_best_answer_across_passages_and_rank_prior():
    """The answer is the best span over all read passages (one softmax), its offsets are into its own
    passage; --passage-prior rank takes log(rank) off a passage's span logits."""
    import numpy as np
    from types import SimpleNamespace

    from nlptasks.tasks.qa_open import _answer
    from nlptasks.tasks.qa_postprocess import Window

    hits = [{"id": "a#0", "source": "a", "text": "alpha beta", "score": 0.9},
            {"id": "b#0", "source": "b", "text": "gamma delta", "score": 0.5}]

    def window(text: str, best_token: int, logit: float) -> Window:  # [CLS] word word; one strong span
        s = np.full(3, -10.0)
        e = np.full(3, -10.0)
        s[best_token] = e[best_token] = logit / 2
        cut = text.index(" ")
        return Window(s, e, [None, (0, cut), (cut + 1, len(text))], 0)

    wins = [(0, window("alpha beta", 1, 5.0)), (1, window("gamma delta", 2, 5.5))]
    settings = {"max_answer_length": 30, "top_k": 1, "allow_impossible": False, "null_threshold": 0.0,
                "passage_prior": "none", "answer_aggregation": "max"}
    out = _answer(SimpleNamespace(settings=settings), hits, wins)
    assert (out["answer"], out["source"], out["passage_id"], out["start"], out["end"]) == ("delta", "b", "b#0", 6, 11)
    assert out["passage"][out["start"]:out["end"]] == "delta"
    assert 0.5 < out["score"] < 1 and [p["passage_id"] for p in out["passages"]] == ["a#0", "b#0"]
    out = _answer(SimpleNamespace(settings={**settings, "passage_prior": "rank"}), hits, wins)
    assert (out["answer"], out["source"]) == ("alpha", "a")  # 5.0 > 5.5 - log 2


def test_answer_aggregation_sums_the_spans_of_one_answer_text():
    """--answer-aggregation sum: an answer that two passages give beats a single slightly better span of
    another text (probabilities added per normalised text); max keeps the single best span."""
    import numpy as np
    from types import SimpleNamespace

    from nlptasks.tasks.qa_open import _answer, model_info
    from nlptasks.tasks.qa_postprocess import Window

    hits = [{"id": f"{c}#0", "source": c, "text": t, "score": 1.0}
            for c, t in (("a", "alpha beta"), ("b", "gamma The Delta"), ("c", "delta. epsilon"))]

    def window(text: str, span: tuple[int, int], logit: float) -> Window:  # [CLS] + one token per word
        words, offs, pos = text.split(" "), [None], 0
        for w in words:
            offs.append((pos, pos + len(w)))
            pos += len(w) + 1
        s, e = np.full(len(offs), -20.0), np.full(len(offs), -20.0)
        s[span[0]], e[span[1]] = logit / 2, logit / 2
        return Window(s, e, offs, 0)

    wins = [(0, window("alpha beta", (1, 1), 6.0)), (1, window("gamma The Delta", (2, 3), 5.5)),
            (2, window("delta. epsilon", (1, 1), 5.5))]
    settings = {"max_answer_length": 30, "top_k": 1, "allow_impossible": False, "null_threshold": 0.0,
                "passage_prior": "none", "answer_aggregation": "max"}
    best = _answer(SimpleNamespace(settings=settings), hits, wins)
    assert best["answer"] == "alpha"
    summed = _answer(SimpleNamespace(settings={**settings, "answer_aggregation": "sum"}), hits, wins)
    assert summed["answer"] in ("The Delta", "delta.") and summed["source"] in ("b", "c")
    assert summed["passage"][summed["start"]:summed["end"]] == summed["answer"]
    assert summed["score"] > best["score"] and "answers" not in summed  # top_k 1: no n-best list
    task = SimpleNamespace(settings={"retriever": "hybrid", "top_k_passages": 5, "passage_prior": "rank",
                                     "answer_aggregation": "sum"}, model_name="r")
    assert model_info(task, {"name": "r"})["name"] == "r [hybrid, k=5, rank prior, sum]"
