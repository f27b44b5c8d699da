"""Find and run the examples of README.md and docs/ (used by tests/test_doc_examples.py).

An example is a fenced block:

- ``bash`` / ``sh`` / ``shell`` / ``console``: shell commands. When some lines start with ``$ ``, those
  lines (with their ``\\`` continuation lines) are the commands and the other lines are shown output;
  otherwise every line is a command.
- ``python`` / ``py`` / ``pycon``: Python, run as one script (``>>> `` / ``... `` prompts are stripped).

Shown output is checked where the page asks for it: a console block whose fence is preceded by
``<!-- check-output -->`` must print, for each ``$ `` command, the lines shown under it; a ``text`` block
preceded by ``<!-- expected-output -->`` is what the runnable example before it must print. A line ``...``
stands for any number of lines and ``...`` inside a line for any text, so a page shows the figures a real
run prints (and a test fails when they change) without repeating every line.

A block is not run when the lines right before its fence hold ``<!-- skip-example: REASON -->`` (an
example that needs the Hub, a GPU, several machines or hours) or ``<!-- test-command -->`` (the test
command, which CI runs itself).

Commands of the form ``[VAR=value ...] [producer |] nlptasks ARGS [> FILE] [| consumer]`` run in this
process through ``nlptasks.cli.main`` (no interpreter start and no torch import per command), with stdin,
stdout and stderr on real files; anything else runs under bash. Either way the command must exit 0.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Blocks that are skipped by what they do, wherever they are (so a page need not carry a marker for
# them): a long-running server and its clients. tests/test_serve*.py start the server and test its clients.
SKIP_RULES = [
    (re.compile(r"^\$? ?(nlptasks serve|uvicorn |docker |curl |python benchmarks/serve_)|\bserve\(|base_url=\"http",
                re.M),
     "starts or talks to a long-running server (the serve tests run one)"),
    (re.compile(r"^\$? ?(python -m )?pip install ", re.M), "installs packages into the environment"),
]
SHELL_LANGS = {"bash", "sh", "shell", "console", "shell-session"}
PYTHON_LANGS = {"python", "py", "pycon", "python3"}
SKIP_RE = re.compile(r"<!--\s*skip-example:\s*(.*?)\s*-->")
CHECK_MARK = "<!-- check-output -->"
EXPECTED_MARK = "<!-- expected-output -->"
FENCE_RE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")


@dataclass
class Example:
    path: str
    line: int          # 1-based line of the opening fence
    lang: str          # "shell" or "python"
    code: str
    skip: str | None = None  # the reason, when not run
    check: bool = False      # a console block whose shown output is compared with what each command prints
    expected: str | None = None  # what the whole example must print (a following ``expected-output`` block)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def extract(path: Path, display: str | None = None) -> list[Example]:
    display = display or str(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Example] = []
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3).lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        kind = "shell" if lang in SHELL_LANGS else "python" if lang in PYTHON_LANGS else None
        marks = []
        k = i - 1
        while k >= 0 and lines[k].strip():
            marks.append(lines[k])
            k -= 1
        if kind is None and any(EXPECTED_MARK in m for m in marks):
            if not out:
                raise ValueError(f"{display}:{i + 1}: an expected-output block with no example before it")
            out[-1].expected = "\n".join(body)
        if kind:
            skip = None
            k = i - 1
            while k >= 0 and lines[k].strip():
                s = SKIP_RE.search(lines[k])
                if s:
                    skip = s.group(1) or "no reason given"
                elif "<!-- test-command -->" in lines[k]:
                    skip = "the test command (CI runs it)"
                elif "<!-- setup-command -->" in lines[k]:
                    skip = "the set-up command (CI runs its steps; tests/test_docs.py runs its last one)"
                k -= 1
            code = "\n".join(body)
            for rule, reason in SKIP_RULES:
                if skip is None and rule.search(code):
                    skip = reason
            out.append(Example(display, i + 1, kind, code, skip, check=any(CHECK_MARK in m for m in marks)))
        i = j + 1
    return out


# -- shell ------------------------------------------------------------------------------------------------
def shell_commands(code: str) -> list[str]:
    """The commands of a shell block, continuation lines joined."""
    lines = code.splitlines()
    console = any(l.startswith("$ ") for l in lines)
    if not console and "<<" in code:
        return [code]  # a here-document: the block is one script
    cmds: list[str] = []
    cont = False
    for line in lines:
        if cont:
            cmds[-1] = cmds[-1][:-1].rstrip() + " " + line.strip()
        elif console:
            if not line.startswith("$ "):
                continue
            cmds.append(line[2:].strip())
        else:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cmds.append(line.strip())
        cont = cmds[-1].endswith("\\") if cmds else False
    return [c for c in cmds if c]


def shown_outputs(code: str) -> list[str]:
    """The output shown under each ``$ `` command of a console block (continuation lines excluded)."""
    shown: list[list[str]] = []
    cont = False
    for line in code.splitlines():
        if line.startswith("$ ") and not cont:
            shown.append([])
            cont = line.rstrip().endswith("\\")
        elif cont:
            cont = line.rstrip().endswith("\\")
        elif shown:
            shown[-1].append(line)
    return ["\n".join(s) for s in shown]


def output_matches(expected: str, actual: str) -> bool:
    """``actual`` has the lines of ``expected`` (trailing spaces and blank edges ignored); a line ``...``
    matches any number of lines, ``...`` inside a line any text."""
    pattern = []
    for line in expected.strip("\n").splitlines():
        line = line.rstrip()
        if line.strip() == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(".*".join(re.escape(part) for part in line.split("...")) + r"[ \t]*\n")
    text = "\n".join(l.rstrip() for l in actual.strip("\n").splitlines()) + "\n"
    return re.fullmatch("".join(pattern), text, re.S) is not None if pattern else True


def _split_pipeline(cmd: str) -> list[str] | None:
    """``cmd`` split at its top-level ``|``; None when it has anything else a shell would interpret
    (lists, sub-shells, expansions, background jobs)."""
    parts, cur, quote, i = [], [], None, 0
    while i < len(cmd):
        c = cmd[i]
        if quote:
            if quote == '"' and c in "$`":
                return None  # an expansion: bash's job
            cur.append(c)
            if c == "\\" and quote == '"' and i + 1 < len(cmd):
                cur.append(cmd[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
            cur.append(c)
        elif c == "\\" and i + 1 < len(cmd):
            cur.append(c + cmd[i + 1])
            i += 1
        elif c == "#" and (not cur or "".join(cur)[-1:].isspace()):
            break  # a comment
        elif c == "|":
            if cmd[i + 1:i + 2] == "|":
                return None
            parts.append("".join(cur).strip())
            cur = []
        elif c in ";&`$()":
            return None
        else:
            cur.append(c)
        i += 1
    if quote:
        return None
    parts.append("".join(cur).strip())
    return parts


@dataclass
class Inproc:
    argv: list[str]
    env: dict = field(default_factory=dict)
    producer: str | None = None   # shell text whose stdout is our stdin
    stdin_file: str | None = None
    stdout_file: str | None = None
    append: bool = False
    consumer: str | None = None   # shell text reading our stdout


def plan(cmd: str) -> Inproc | None:
    parts = _split_pipeline(cmd)
    if not parts:
        return None
    idx = [i for i, p in enumerate(parts) if _words(p) and _first_word(_words(p)) == "nlptasks"]
    if len(idx) != 1:
        return None
    i = idx[0]
    words = _words(parts[i])
    env = {}
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    words = words[1:]
    p = Inproc([], env, " | ".join(parts[:i]) or None, consumer=" | ".join(parts[i + 1:]) or None)
    k = 0
    while k < len(words):
        w = words[k]
        m = re.match(r"^(2>>?|>>?|<)(.*)$", w)
        if m:
            op, target = m.group(1), m.group(2)
            if not target:
                k += 1
                if k >= len(words):
                    return None
                target = words[k]
            if op == "<":
                p.stdin_file = target
            elif op.startswith("2"):
                pass  # stderr is captured anyway
            else:
                p.stdout_file, p.append = target, op == ">>"
        else:
            p.argv.append(w)
        k += 1
    return p


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, comments=True)
    except ValueError:
        return []


def _first_word(words: list[str]) -> str:
    for w in words:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w):
            return w
    return ""


@contextlib.contextmanager
def _registries_kept():
    """What a Python example registers (a plugin task, metric or benchmark) is gone after it: the examples
    run in the test process, and the tests after them list every registered metric."""
    from nlptasks import registry

    regs = [r for r in vars(registry).values() if isinstance(r, registry.Registry)]
    for r in regs:
        r.names()  # loaded now: a built-in module registers once, at its import, so a later reload would miss it
    saved = [(r, dict(r._items), dict(r._aliases), dict(r._originals), r._loaded, r._key) for r in regs]
    try:
        yield
    finally:
        for r, items, aliases, originals, loaded, key in saved:
            r._items.clear(), r._items.update(items)
            r._aliases.clear(), r._aliases.update(aliases)
            r._originals.clear(), r._originals.update(originals)
            r._loaded, r._key = loaded, key


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float
    how: str


class Runner:
    """Runs examples in one working folder with one environment (a results store, a prediction cache)."""

    def __init__(self, cwd: Path, env: dict[str, str], timeout: int = 300):
        self.cwd = cwd
        self.env = env
        self.timeout = timeout

    def _bash(self, text: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env}
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        return subprocess.run(["bash", "-eo", "pipefail", "-c", text], input=stdin, capture_output=True,
                              cwd=self.cwd, env=env, timeout=self.timeout)

    def shell(self, cmd: str) -> Outcome:
        t0 = time.perf_counter()
        p = plan(cmd)
        if p is None:
            r = self._bash(cmd)
            return Outcome(r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"),
                           time.perf_counter() - t0, "bash")
        stdin = b""
        if p.producer:
            r = self._bash(p.producer)
            if r.returncode:
                return Outcome(r.returncode, "", r.stderr.decode(errors="replace"), time.perf_counter() - t0, "bash")
            stdin = r.stdout
        elif p.stdin_file:
            stdin = (self.cwd / p.stdin_file).read_bytes()
        code, out, err = self.inproc(p.argv, stdin, p.env)
        if code == 0 and p.stdout_file:
            with open(self.cwd / p.stdout_file, "ab" if p.append else "wb") as f:
                f.write(out)
        if code == 0 and p.consumer:
            r = self._bash(p.consumer, out)
            code, out = r.returncode, r.stdout
            err += r.stderr
        return Outcome(code, out.decode(errors="replace"), err.decode(errors="replace"),
                       time.perf_counter() - t0, "in-process")

    def inproc(self, argv: list[str], stdin: bytes, env: dict) -> tuple[int, bytes, bytes]:
        from nlptasks.cli import main

        with tempfile.TemporaryDirectory() as td, self._environment(env):
            fin, fout, ferr = (Path(td) / n for n in ("stdin", "stdout", "stderr"))
            fin.write_bytes(stdin)
            root = logging.getLogger()
            handlers, level = list(root.handlers), root.level
            with open(fin, encoding="utf-8") as i, open(fout, "w", encoding="utf-8") as o, \
                    open(ferr, "w", encoding="utf-8") as e, \
                    contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
                old_in = sys.stdin
                sys.stdin = i
                try:
                    code = main(argv)
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                finally:
                    sys.stdin = old_in
                    for h in root.handlers[:]:
                        if h not in handlers:
                            root.removeHandler(h)
                    root.setLevel(level)
            return int(code or 0), fout.read_bytes(), ferr.read_bytes()

    @contextlib.contextmanager
    def _environment(self, extra: dict):
        saved_env = dict(os.environ)
        saved_cwd = os.getcwd()
        os.environ.update(self.env)
        os.environ.update(extra)
        os.chdir(self.cwd)
        try:
            yield
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)

    def python(self, code: str, where: str) -> Outcome:
        if any(l.startswith(">>> ") for l in code.splitlines()):
            code = "\n".join(l[4:] for l in code.splitlines() if l.startswith((">>> ", "... ")))
        t0 = time.perf_counter()
        out, err = io.StringIO(), io.StringIO()
        with self._environment({}), _registries_kept(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                exec(compile(code, where, "exec"), {"__name__": "__main__"})
                rc = 0
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else 0
            except Exception as exc:  # reported by the test with the example's place
                import traceback

                err.write(traceback.format_exc())
                rc = 1
                del exc
        return Outcome(rc, out.getvalue(), err.getvalue(), time.perf_counter() - t0, "python")
