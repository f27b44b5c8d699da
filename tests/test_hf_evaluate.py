"""nlptasks' metrics as Hugging Face ``evaluate`` modules (metrics/hf_evaluate.py) and
``nlptasks eval --reference-metrics evaluate`` (evaluation/reference_metrics.py).

The wrapped metrics are held against nlptasks' own functions on baselines built from the shared data
(copy-source translation, lead-3 summaries, shifted labels, partial SQuAD answers, repeat-last-turn
dialogue), and against `nlptasks eval`'s records on the same predictions."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

evaluate = pytest.importorskip("evaluate")  # the `evaluate` extra, part of `test`: CI runs all of this

from nlptasks.errors import NlpTasksError, UnknownNameError  # noqa: E402
from nlptasks.metrics.hf_evaluate import evaluate_module  # noqa: E402
from nlptasks.metrics.base import DEFAULT_BOOTSTRAP  # noqa: E402
from nlptasks.registry import METRICS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
N = 240  # examples per task slice


def _rows(shared_data: Path, folder: str, n: int = N) -> list[dict]:
    with open(shared_data / folder / "validation.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


@pytest.fixture(scope="module")
def cases(request) -> dict[str, tuple[list, list | None]]:
    """metric -> (predictions, references) built from the shared data."""
    shared_data = request.getfixturevalue("shared_data")
    from nlptasks.metrics.summarization import split_sentences

    mt = _rows(shared_data, "translation")
    copy_source = ([r["translation"]["en"] for r in mt], [r["translation"]["de"] for r in mt])
    multi_ref = (copy_source[0], [[r["translation"]["de"], r["translation"]["en"].upper()] for r in mt])
    sm = _rows(shared_data, "summarization", 50)
    lead3 = (["\n".join(split_sentences(r["document"]).split("\n")[:3]) for r in sm], [r["summary"] for r in sm])
    st = _rows(shared_data, "sentiment")
    names = ["negative", "positive"]
    gold = [names[r["label"]] for r in st]
    shifted = gold[1:] + gold[:1]  # a "model" right about half the time
    qa = _rows(shared_data, "qa")
    qa_pred = [r["answers"]["text"][0] if i % 3 else " ".join(r["context"].split()[:4]) for i, r in enumerate(qa)]
    qa_ref = [r["answers"]["text"] for r in qa]
    qa_ref_v2 = [[] if i % 5 == 0 else refs for i, refs in enumerate(qa_ref)]
    dd = _rows(shared_data, "dialogue")
    last_turn = ([r["history"][-1] for r in dd], [r["response"] for r in dd])
    nll = [{"nll": 1.5 * len(r["response"].split()) + len(r["history"]) / 4, "tokens": len(r["response"].split()) + 1}
           for r in dd]
    out = {"bleu": copy_source, "chrf": copy_source, "ter": copy_source, "bleu.multi": multi_ref,
            "rouge": lead3, "accuracy": (shifted, gold), "f1": (shifted, gold), "mcc": (shifted, gold),
            "macro_recall": (shifted, gold), "squad": (qa_pred, qa_ref), "squad_v2": (qa_pred, qa_ref_v2),
            "unigram_f1": last_turn, "bleu4": last_turn, "distinct": (last_turn[0], None),
            "perplexity": (nll, None)}
    if "retrieval_recall" in METRICS:  # the passages "retrieved": the question's own context, or the next one's
        out["retrieval_recall"] = ([[r["context"]] if i % 2 else [qa[(i + 1) % len(qa)]["context"]]
                                    for i, r in enumerate(qa)], qa_ref)
    return out


def _ours(name: str, predictions, references, **options) -> dict:
    """nlptasks' own function, with the bootstrap the modules default to."""
    fn = METRICS.get(name)
    options.setdefault("bootstrap", DEFAULT_BOOTSTRAP)
    if name == "distinct":
        options.pop("bootstrap")
    return fn(predictions, references, **options)


def _assert_same(result: dict, values: dict, name: str) -> None:
    from nlptasks.metrics.signature import value_signature

    assert set(values) <= set(result), (name, sorted(result))
    for key, value in values.items():
        assert result[key] == value.score, (name, key)
        assert result[f"{key}_ci"] == (list(value.ci) if value.ci is not None else None), (name, key)
        assert result["stats"][key] == value.stats, (name, key)
    assert result["signature"] == value_signature(name, METRICS.get(name), next(iter(values.values())))


def _compute(module, predictions, references, **kwargs):
    if references is None:
        return module.compute(predictions=predictions, **kwargs)
    return module.compute(predictions=predictions, references=references, **kwargs)


@pytest.mark.data
def test_every_builtin_metric_matches_its_nlptasks_function(shared_data, cases):
    for key, (preds, refs) in cases.items():
        name = key.split(".")[0]
        module = evaluate_module(name, keep_in_memory=True)
        assert isinstance(module, evaluate.EvaluationModule)
        result = _compute(module, preds, refs)
        _assert_same(result, _ours(name, preds, refs), name)
        if name not in ("distinct", "squad", "squad_v2") and key != "bleu.multi":
            assert all(result[f"{k}_ci"] is not None for k in _ours(name, preds, refs)), key  # intervals are there


@pytest.mark.data
def test_every_registered_metric_has_a_case_here(shared_data, cases):
    """A metric added to the registry without an evaluate case here fails (never silently untested)."""
    covered = {k.split(".")[0] for k in cases}
    missing = [m for m in METRICS.names() if m not in covered]
    assert not missing, f"no evaluate-module case for {missing}"


@pytest.mark.data
@pytest.mark.parametrize("name", ["bleu", "rouge", "accuracy", "squad", "perplexity"])
def test_add_add_batch_and_compute_agree(shared_data, cases, name):
    preds, refs = cases[name]
    whole = _compute(evaluate_module(name, keep_in_memory=True), preds, refs)
    batched = evaluate_module(name, keep_in_memory=True)
    for i in range(0, len(preds), 37):
        if refs is None:
            batched.add_batch(predictions=preds[i:i + 37])
        else:
            batched.add_batch(predictions=preds[i:i + 37], references=refs[i:i + 37])
    one = evaluate_module(name, keep_in_memory=True)
    for i, p in enumerate(preds):
        one.add(prediction=p, reference=None if refs is None else refs[i])
    assert batched.compute() == whole
    assert one.compute() == whole


@pytest.mark.data
def test_options_reach_the_metric_and_its_signature(shared_data, cases):
    preds, refs = cases["bleu"]
    lower = evaluate_module("bleu", keep_in_memory=True, tokenize="intl", lowercase=True)
    got = lower.compute(predictions=preds, references=refs, bootstrap=200, seed=3)
    ours = _ours("bleu", preds, refs, tokenize="intl", lowercase=True, bootstrap=200, seed=3)["bleu"]
    assert got["bleu"] == ours.score and got["bleu_ci"] == list(ours.ci)
    assert "tok:intl" in got["signature"] and "case:lc" in got["signature"]
    preds, refs = cases["rouge"]
    got = evaluate_module("rouge", keep_in_memory=True).compute(predictions=preds, references=refs,
                                                               rouge_types=["rouge2"], use_stemmer=False)
    assert set(got) == {"rouge2", "rouge2_ci", "stats", "signature"}
    assert "use_stemmer:no" in got["signature"] and "rouge_types:rouge2|" in got["signature"]
    assert got["rouge2"] == _ours("rouge", preds, refs, rouge_types=["rouge2"], use_stemmer=False)["rouge2"].score


@pytest.mark.data
def test_the_hub_squad_format_scores_as_nlptasks_does(shared_data, cases):
    preds, refs = cases["squad"]
    hf_preds = [{"id": str(i), "prediction_text": p} for i, p in enumerate(preds)]
    hf_refs = [{"id": str(i), "answers": {"text": r, "answer_start": [0] * len(r)}} for i, r in enumerate(refs)]
    got = evaluate_module("squad", keep_in_memory=True).compute(predictions=hf_preds, references=hf_refs)
    _assert_same(got, _ours("squad", preds, refs), "squad")


@pytest.mark.data
@pytest.mark.parametrize("benchmark, model, limit", [("multi30k_en_de_local", "copy-source", 120),
                                                     ("cnn_dailymail_local", "lead-3", 40)])
def test_same_numbers_as_nlptasks_eval(shared_data, tmp_path, benchmark, model, limit):
    """The module on `nlptasks eval`'s own predictions gives the record's scores, intervals and signatures."""
    from nlptasks.evaluation.definitions import get_benchmark
    from nlptasks.evaluation.engine import evaluate as run_eval

    record = run_eval(benchmark, model, limit=limit, data_dir=str(shared_data), output_dir=str(tmp_path),
                      log_samples=True, store=False, cache=False)
    samples = [json.loads(line) for line in
               (tmp_path / benchmark / f"{record['run_id']}.samples.jsonl").read_text(encoding="utf-8").splitlines()]
    preds, refs = [s["prediction"] for s in samples], [s["reference"] for s in samples]
    bench = get_benchmark(benchmark)
    for name in bench.metrics:
        opts = dict(bench.metric_options.get(name) or {})
        got = evaluate_module(name, keep_in_memory=True, **opts).compute(predictions=preds, references=refs)
        for key in METRICS.get(name)(preds[:2], refs[:2], bootstrap=0):
            assert got[key] == record["metrics"][key]["score"], key
            assert got[f"{key}_ci"] == record["metrics"][key]["ci"], key
            assert got["signature"] == record["metrics"][key]["extra"]["signature"], key


def test_a_plugin_metric_becomes_a_module():
    def overlap(predictions, references, bootstrap=0, seed=0):
        from nlptasks.metrics.base import mean_value

        return {"overlap": mean_value([100.0 * (p == r) for p, r in zip(predictions, references)], bootstrap, seed)}

    overlap.info = {"task": "translate", "produces": ["overlap"], "higher_is_better": {"overlap": True},
                    "description": "exact string match (x100)"}
    METRICS.register("toy_overlap_plugin", overlap)
    try:
        module = evaluate_module("toy_overlap_plugin", keep_in_memory=True)
        got = module.compute(predictions=["a", "b", "c", "d"], references=["a", "x", "c", "d"])
        assert got["overlap"] == 75.0 and got["overlap_ci"] is not None
        assert got["signature"].startswith("toy_overlap_plugin|")
        assert "exact string match" in module.description
        ints = evaluate_module("toy_overlap_plugin", keep_in_memory=True)
        assert ints.compute(predictions=[1, 2], references=[1, 3])["overlap"] == 50.0
    finally:
        METRICS._items.pop("toy_overlap_plugin", None)


def test_unknown_metric_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as err:
        evaluate_module("rogue-9")
    assert "bleu" in str(err.value) and "rouge" in str(err.value)


def test_without_the_extra_one_line_names_it(monkeypatch):
    from nlptasks.metrics import hf_evaluate

    hf_evaluate._module_class.cache_clear()
    monkeypatch.setitem(sys.modules, "evaluate", None)  # import evaluate -> ImportError
    try:
        with pytest.raises(NlpTasksError, match=r"pip install 'nlptasks\[evaluate\]'"):
            evaluate_module("bleu")
    finally:
        hf_evaluate._module_class.cache_clear()


def test_the_cli_and_metrics_do_not_import_evaluate():
    code = ("import sys, nlptasks.metrics, nlptasks.cli; nlptasks.cli.build_parser(); "
            "nlptasks.metrics.compute('bleu', ['a b'], ['a b']); print('evaluate' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# -- --reference-metrics evaluate -----------------------------------------------------------------
@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "no-network"])
def test_reference_metrics_offline_stops_at_once(cli, tmp_path, how):
    env = {"HF_MODULES_CACHE": str(tmp_path / "no-modules")}
    if how == "HF_HUB_OFFLINE":
        env["HF_HUB_OFFLINE"] = "1"
    else:  # not marked offline, but the Hub cannot be reached
        env.update(HF_HUB_OFFLINE="0", HF_EVALUATE_OFFLINE="0", HF_ENDPOINT="http://127.0.0.1:9")
    t0 = time.perf_counter()
    out = cli("eval", "sst2_local", "--model", "minilm-sst2-lora", "--reference-metrics", "evaluate", "--no-store",
              env=env, timeout=60)
    elapsed = time.perf_counter() - t0
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nlptasks: error:"), out.stderr
    assert "Hub's metric code" in lines[0] and "cannot be fetched" in lines[0]
    assert ("HF_HUB_OFFLINE=1" if how == "HF_HUB_OFFLINE" else "127.0.0.1:9") in lines[0]
    assert "examples, task" not in out.stderr  # no model was loaded
    assert elapsed < 8, f"took {elapsed:.1f} s"  # the process start included; the check itself is below


def test_reference_metrics_refusal_is_immediate_in_process(monkeypatch, tmp_path):
    from nlptasks.evaluation import engine
    from nlptasks.evaluation.reference_metrics import HubUnavailable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "none"))
    loaded = []
    monkeypatch.setattr(engine, "load_rows", lambda *a, **k: loaded.append(1))
    t0 = time.perf_counter()
    with pytest.raises(HubUnavailable, match="sacrebleu, ter"):
        engine.evaluate("multi30k_en_de_local", "copy-source", reference_metrics="evaluate", store=False)
    assert time.perf_counter() - t0 < 1.0
    assert not loaded  # stopped before the data (and the model)


_FAKE_HUB = '''import datasets, evaluate
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef


class {cls}(evaluate.Metric):
    """Stands in for the Hub's {name} module (whose code is the same scikit-learn call)."""

    def _info(self):
        return evaluate.MetricInfo(description="", citation="", inputs_description="", features=datasets.Features(
            {{"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}}))

    def _compute(self, predictions, references, **kwargs):
        return {{"{name}": float({call})}}
'''


@pytest.mark.data
def test_reference_metrics_recorded_beside_ours(shared_data, tmp_path, cli):
    """Offline, with the Hub's modules in the cache (stand-ins here), the cross-check runs and is recorded."""
    cache = tmp_path / "modules"
    for name, cls, call in (("accuracy", "Accuracy", "accuracy_score(references, predictions)"),
                            ("f1", "F1", "f1_score(references, predictions, average=kwargs['average'])"),
                            ("matthews_correlation", "Mcc", "matthews_corrcoef(references, predictions)")):
        folder = cache / "evaluate_modules" / "metrics" / f"evaluate-metric--{name}" / ("0" * 64)
        folder.mkdir(parents=True)
        (folder / f"{name}.py").write_text(_FAKE_HUB.format(name=name, cls=cls, call=call), encoding="utf-8")
    env = {"HF_MODULES_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    args = ("eval", "sst2_local", "--model", "majority", "--limit", "60", "--data-dir", shared_data, "--no-store",
            "--no-cache", "--reference-metrics", "evaluate")
    out = cli(*args, "--json", env=env)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    ref = record["reference_metrics"]
    assert ref["implementation"] == "evaluate" and ref["evaluate_version"] == evaluate.__version__
    assert {m: e["module"] for m, e in ref["metrics"].items()} == {"accuracy": "accuracy", "f1": "f1",
                                                                 "mcc": "matthews_correlation"}
    for metric, entry in ref["metrics"].items():
        for key, v in entry["values"].items():
            assert v["nlptasks"] == record["metrics"][key]["score"]
            assert v["evaluate"] == pytest.approx(v["nlptasks"], abs=1e-9), key
    assert set().union(*(e["values"] for e in ref["metrics"].values())) == {"accuracy", "f1", "mcc"}
    from nlptasks.evaluation.reference_metrics import format_reference  # the lines under `nlptasks eval`'s table

    text = format_reference(record)
    assert text.startswith("reference metrics (Hugging Face evaluate") and text.count("\n") == 4
    mcc = ref["metrics"]["mcc"]["values"]["mcc"]
    assert f"mcc: nlptasks {mcc['nlptasks']:.4f}, evaluate/matthews_correlation {mcc['evaluate']:.4f}" in text


def test_a_hub_that_never_answers_costs_the_probe_timeout_only(monkeypatch):
    """A resolver or firewall that swallows the connection: the probe gives up after its timeout."""
    import socket

    from nlptasks.evaluation import reference_metrics

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: time.sleep(30))
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    t0 = time.perf_counter()
    reason = reference_metrics.unreachable(timeout=0.3)
    assert time.perf_counter() - t0 < 2 and reason == "no answer from hub.invalid:443 within 0.3 s"
