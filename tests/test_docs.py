"""The documentation: generated pages match the code, the site builds with `mkdocs build --strict`, the
README keeps CI's two commands and the true task defaults, and the version is stated once everywhere."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "scripts" / "gen_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_pages_are_up_to_date():
    """Every page scripts/gen_docs.py writes (the CLI, tasks, models and benchmarks references, the figures
    page, the README's task table) equals what it would write now from the code and the records."""
    gen = _gen_docs()
    pages = gen.render_all()
    assert set(gen.PAGES) <= set(pages) and "README.md" in pages
    stale = gen.stale(pages)
    if stale:
        import difflib

        f = REPO / stale[0]
        old = f.read_text(encoding="utf-8").splitlines() if f.is_file() else []
        diff = "\n".join(list(difflib.unified_diff(old, pages[stale[0]].splitlines(), stale[0], "generated now",
                                                    lineterm="", n=1))[:40])
        pytest.fail(f"out of date with the code: {stale}; run `python scripts/gen_docs.py` and commit\n{diff}")


def test_every_environment_variable_is_described():
    """Each NLPTASKS_* variable the code reads is on the environment page with what it does."""
    gen = _gen_docs()
    found = gen.env_vars()
    assert "NLPTASKS_STORE" in found and "NLPTASKS_CACHE_DIR" in found
    page = (REPO / "docs" / "reference" / "environment.md").read_text(encoding="utf-8")
    assert gen.UNDOCUMENTED not in page, "a variable has no description: add it to ENV_HELP in scripts/gen_docs.py"
    assert all(f"`{name}`" in page for name in found)


def test_readme_task_table_states_the_registry_defaults():
    from nlptasks.registry import TASKS

    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- gen:task-table -->", 1)[1].split("<!-- /gen:task-table -->", 1)[0]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] in TASKS.names():
            rows[cells[0]] = cells[2]
    assert set(rows) == set(TASKS.names()), f"README task table lists {sorted(rows)}"
    for name, cls in TASKS.items():
        assert rows[name] == cls.default_model, f"README says {rows[name]!r} for {name}, the code {cls.default_model!r}"


def test_cli_reference_names_every_command_and_option():
    """A second, independent walk of the parsers: every option string of every (sub)command appears in
    docs/reference/cli.md."""
    import argparse

    from nlptasks.cli import build_parser

    page = (REPO / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    missing = []

    def walk(p, path):
        assert f"`{' '.join(path)}`" in page, f"no section for {' '.join(path)}"
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                seen = set()
                for name, sp in a.choices.items():
                    if id(sp) not in seen:
                        seen.add(id(sp))
                        walk(sp, path + [name])
            elif a.help is not argparse.SUPPRESS and not isinstance(a, argparse._HelpAction):
                missing.extend(f"{' '.join(path)} {s}" for s in a.option_strings if f"`{s}`" not in page)

    walk(build_parser(), ["nlptasks"])
    assert not missing, f"options missing from docs/reference/cli.md: {missing[:10]}"


def test_readme_is_a_short_front_page_with_ci_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    # the line CI runs, extracted exactly as .ci/run does
    awk = re.search(r"awk '([^']+)' README\.md", (REPO / ".ci" / "run").read_text(encoding="utf-8")).group(1)
    cmd = subprocess.run(["awk", awk, str(README)], capture_output=True, text=True, check=True).stdout.strip()
    assert "python -m pytest tests" in cmd and cmd.startswith("pip install -e '.[test]'"), cmd
    # the set-up line: CPU torch first, then the package, then a command that works offline
    setup = _setup_line(text)
    assert "pip install torch==" in setup and "pip install -e ." in setup
    assert setup.index("torch==") < setup.index("pip install -e .")
    assert setup.rsplit("&&", 1)[1].strip().startswith("nlptasks ")
    # no lab notebook: no CI counts or session history on the front page
    assert not re.search(r"\d+ passed|this session|checked once", text)


def test_readme_links_resolve():
    """README.md is read on the forge, outside the site: every relative link must name a file that exists."""
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [l.split("#")[0] for l in links if not re.match(r"^[a-z]+:|^#", l)]
    assert local, "README.md links nowhere into the docs"
    missing = [l for l in local if not (REPO / l).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_quoted_example_files_match_the_files():
    """A block introduced by a line naming a file of the repository (`` `examples/x.yaml`: ``) shows that
    file as it is (comment lines aside), so the page cannot drift from the file the examples run."""
    checked = 0
    for page in [README, *sorted((REPO / "docs").rglob("*.md"))]:
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines[:-1]):
            m = re.fullmatch(r"`([\w./-]+)`:", line.strip())
            j = i + 1 + (not lines[i + 1].strip())  # the fence, after at most one blank line
            if not m or not lines[j].startswith("```") or not (REPO / m.group(1)).is_file():
                continue
            end = lines.index("```", j + 1)
            shown = [l for l in lines[j + 1:end] if not l.lstrip().startswith("#")]
            actual = [l for l in (REPO / m.group(1)).read_text(encoding="utf-8").splitlines()
                      if not l.lstrip().startswith("#")]
            assert shown == actual, f"{page.name}: the block after {m.group(1)} differs from the file"
            checked += 1
    assert checked >= 1


def _setup_line(text: str) -> str:
    block = text.split("<!-- setup-command -->", 1)[1]
    return [l for l in block.splitlines()[1:] if l.strip()][1]


def test_quick_start_command_runs(tmp_path, monkeypatch):
    """The last step of the README's set-up line (a summary of the shipped example article)."""
    import shlex

    from nlptasks.cli import main

    words = shlex.split(_setup_line(README.read_text(encoding="utf-8")).rsplit("&&", 1)[1])
    assert words[0] == "nlptasks"
    monkeypatch.chdir(REPO)
    out = tmp_path / "summary.txt"
    assert main(words[1:] + ["--output", str(out)]) == 0
    summary = out.read_text(encoding="utf-8").split()
    article = " ".join((REPO / "examples" / "news_article.txt").read_text(encoding="utf-8").split())
    assert summary and " ".join(summary[:8]) in article  # extractive: whole sentences of the article


def _nav_pages(nav) -> list[str]:
    out = []
    for item in nav:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            for v in item.values():
                out += _nav_pages(v) if isinstance(v, list) else [v]
    return out


def test_every_docs_page_is_in_the_navigation():
    cfg = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = [p for p in _nav_pages(cfg["nav"]) if p.endswith(".md")]
    assert len(listed) == len(set(listed)), f"pages listed twice in mkdocs.yml's nav: {sorted({p for p in listed if listed.count(p) > 1})}"
    nav = set(listed)
    pages = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")}
    assert pages - nav == set(), f"pages not in mkdocs.yml's nav: {sorted(pages - nav)}"
    assert nav - pages == set(), f"nav entries without a page: {sorted(nav - pages)}"


def test_mkdocs_build_strict(tmp_path):
    """What CI's test command builds: the site, with every warning (a broken link, a missing page) an error."""
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
                        "--site-dir", str(site)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    for page in ("index.html", "reference/cli/index.html", "benchmarks/index.html", "guide/running-tasks/index.html"):
        assert (site / page).is_file(), page
    # the generated figures reached the site
    assert "minilm-extsum" in (site / "reference" / "tasks" / "index.html").read_text(encoding="utf-8")


def test_version_is_one_number_everywhere(cli):
    import nlptasks

    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert nlptasks.__version__ == version
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})", changelog, re.M)
    assert first and first.group(1) == version, "CHANGELOG.md's newest release is not the package version"
    assert "## [Unreleased]" in changelog
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"nlptasks {version}"


def test_missing_hub_model_hint_names_hf_download(monkeypatch):
    from nlptasks.backend.resolve import resolve_model
    from nlptasks.errors import ModelLoadError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as err:
        resolve_model("nlptasks-test/no-such-model", "v2")
    msg = str(err.value)
    assert "`hf download nlptasks-test/no-such-model --revision v2`" in msg and "huggingface-cli" not in msg
