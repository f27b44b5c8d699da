"""Every shell and Python example in README.md and docs/ runs, offline, on the packaged models, the files in
examples/ and ../shared/data (tests/doc_examples.py says what counts as an example and how it runs).

A renamed flag, a changed default or a removed command breaks a test here, not a reader. An example that
cannot run offline or quickly carries ``<!-- skip-example: REASON -->`` right before its fence; the skips
are counted and listed by ``test_skipped_examples_say_why``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from doc_examples import Runner, extract, output_matches, shell_commands, shown_outputs

REPO = Path(__file__).resolve().parents[1]
DOC_FILES = ["README.md"] + sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md"))


def all_examples():
    out = []
    for rel in DOC_FILES:
        out += extract(REPO / rel, rel)
    return out


@pytest.fixture(scope="module")
def runner(shared_data, tmp_path_factory) -> Runner:
    """One working folder for every example, laid out like a checkout: ``examples/``, ``tasks/``,
    ``benchmarks/`` and ``eval/suites/`` of the repository, ``../shared/data``, and its own results store
    and caches."""
    root = tmp_path_factory.mktemp("doc-examples")
    (root / "shared").mkdir()
    (root / "shared" / "data").symlink_to(shared_data, target_is_directory=True)
    work = root / "work"
    work.mkdir()
    for name in ("examples", "tasks", "benchmarks"):
        (work / name).symlink_to(REPO / name, target_is_directory=True)
    (work / "eval").mkdir()
    (work / "eval" / "suites").symlink_to(REPO / "eval" / "suites", target_is_directory=True)
    env = {"NLPTASKS_STORE": str(root / "results.sqlite3"), "NLPTASKS_CACHE_DIR": str(root / "cache"),
           "NLPTASKS_CT2_CACHE": str(root / "ct2"), "NLPTASKS_INDEX_CACHE": str(root / "indexes"), "HF_HUB_OFFLINE": "1", "NLPTASKS_PROGRESS": "0",
           "NLPTASKS_DATA_DIR": str(root / "shared" / "data")}
    env.pop("NLPTASKS_BENCHMARKS_PATH", None)
    saved = os.environ.pop("NLPTASKS_BENCHMARKS_PATH", None)
    yield Runner(work, env)
    if saved is not None:
        os.environ["NLPTASKS_BENCHMARKS_PATH"] = saved


@pytest.mark.data
@pytest.mark.parametrize("doc", DOC_FILES)
def test_examples_run(doc, runner):
    examples = [e for e in extract(REPO / doc, doc) if not e.skip]
    failures, ran = [], 0
    for ex in examples:
        if ex.lang == "python":
            outcomes = [(ex.code.strip().splitlines()[0] if ex.code.strip() else "", runner.python(ex.code, ex.where))]
        else:
            outcomes = [(cmd, runner.shell(cmd)) for cmd in shell_commands(ex.code)]
        shown = shown_outputs(ex.code) if ex.check else [None] * len(outcomes)
        for (cmd, o), want in zip(outcomes, shown):
            ran += 1
            print(f"{ex.where}: {o.seconds:5.1f} s {o.how:10} {cmd[:100]}")
            if o.code != 0:
                failures.append(f"{ex.where}: `{cmd}` exited {o.code}: {(o.stderr.strip() or o.stdout.strip())[-800:]}")
            elif want is not None and not output_matches(want, o.stdout):
                failures.append(f"{ex.where}: `{cmd}` printed something else than the page shows:\n{o.stdout[-1500:]}")
        whole = "".join(o.stdout for _, o in outcomes)
        if ex.expected is not None and not output_matches(ex.expected, whole):
            failures.append(f"{ex.where}: the output differs from the expected-output block after it:\n{whole[-1500:]}")
    assert not failures, "\n".join(failures)


def test_skipped_examples_say_why():
    """Skips are explained: each names its reason, and more examples run than are skipped."""
    examples = all_examples()
    skipped = [e for e in examples if e.skip]
    for e in skipped:
        print(f"skipped {e.where}: {e.skip}")
    print(f"{len(examples)} examples, {len(skipped)} skipped")
    assert all(len(e.skip) >= 8 for e in skipped), [e.where for e in skipped if len(e.skip) < 8]
    assert len(examples) - len(skipped) > len(skipped)
    # the README shows each command at least once
    run_text = "\n".join(e.code for e in examples if e.path == "README.md")
    from nlptasks.cli import COMMANDS

    for command in COMMANDS:
        assert f"nlptasks {command}" in run_text, f"README.md has no example of `nlptasks {command}`"


def test_example_extraction_rules(tmp_path):
    """The rules the docs rely on: console prompts, continuations, skip markers, the test command."""
    from doc_examples import plan

    md = tmp_path / "x.md"
    md.write_text("text\n\n<!-- skip-example: needs the Hub -->\n```bash\nnlptasks run x --model a/b\n```\n\n"
                  "```console\n$ nlptasks tasks \\\n    --json\n[output]\n$ echo hi | nlptasks run sentiment\n```\n\n"
                  "<!-- test-command -->\n```bash\npytest\n```\n\n```python\nprint(1)\n```\n\n```yaml\na: 1\n```\n",
                  encoding="utf-8")
    ex = extract(md)
    assert [(e.lang, bool(e.skip)) for e in ex] == [("shell", True), ("shell", False), ("shell", True), ("python", False)]
    assert ex[0].skip == "needs the Hub"
    assert shell_commands(ex[1].code) == ["nlptasks tasks --json", "echo hi | nlptasks run sentiment"]
    p = plan("printf 'a | b\\n' | nlptasks run sentiment --all-scores > out.txt  # note")
    assert p.producer == "printf 'a | b\\n'" and p.argv == ["run", "sentiment", "--all-scores"] and p.stdout_file == "out.txt"
    assert plan("nlptasks run x && echo done") is None and plan('echo "$HOME" | nlptasks run x') is None
    assert plan("HF_HUB_OFFLINE=1 nlptasks tasks").env == {"HF_HUB_OFFLINE": "1"}
    # a server and its clients are skipped by rule, with a reason, wherever they appear
    md.write_text("```console\n$ nlptasks serve --port 8000\n```\n\n```bash\npip install 'nlptasks[kb]'\n```\n\n"
                  "```console\n$ nlptasks run sentiment\n```\n", encoding="utf-8")
    assert [bool(e.skip) for e in extract(md)] == [True, True, False]


def test_shown_output_rules(tmp_path):
    """check-output / expected-output: what a page shows under a command is what the command prints."""
    md = tmp_path / "y.md"
    md.write_text("<!-- check-output -->\n```console\n$ nlptasks tasks \\\n    --json\nline one\n...\n$ echo x\nx\n```\n\n"
                  "```python\nprint(2)\n```\n\n<!-- expected-output -->\n```text\n2\n```\n", encoding="utf-8")
    first, second = extract(md)
    assert first.check and shown_outputs(first.code) == ["line one\n...", "x"]
    assert not second.check and second.expected == "2"
    assert output_matches("line one\n...", "line one\nmore\nand more\n")
    assert output_matches("bleu *  0.12...  higher", "bleu *  0.1227  higher  \n")
    assert not output_matches("bleu *  0.1227", "bleu *  0.1300\n")          # a changed figure fails
    assert not output_matches("a\nb", "a\nb\nc\n")                           # so does an unshown extra line
    assert output_matches("a\n...\nc", "a\nc\n") and not output_matches("a\n...\nc", "a\nb\n")
