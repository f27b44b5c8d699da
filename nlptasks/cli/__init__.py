"""Command-line interface: parses arguments and calls the Python API; nothing else.

Each command lives in ``nlptasks/cli/cmd_<name>.py`` and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (called with the parsed namespace, returns an exit code). Heavy libraries
(torch, transformers) are imported only inside command functions, so ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from .. import __version__
from ..errors import NlpTasksError
from ..urls import mask_url

# The order here is the order in `nlptasks --help`.
COMMANDS = ["run", "chat", "eval", "benchmarks", "finetune", "distill", "leaderboard", "results", "index", "serve", "tasks", "models"]


# global options that may come before the command (see build_parser)
_GLOBAL_FLAGS = {"-v", "-vv", "-vvv", "--verbose", "-q", "--quiet"}


def command_of(argv: list[str]) -> str | None:
    """The command ``argv`` runs, when the parser of that command alone parses it as the whole parser
    would: ``argv`` names a known command after nothing but ``-v``/``-q`` flags. ``None`` otherwise
    (``--help``, ``--version``, an unknown or abbreviated word...): then every command is registered."""
    for arg in argv:
        if arg in _GLOBAL_FLAGS:
            continue
        return arg if arg in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; ``only``: of that command alone (``main`` builds only the parser of the
    command it runs, so a one-line ``nlptasks run`` imports no other command's module)."""
    parser = argparse.ArgumentParser(
        prog="nlptasks",
        description="Run, evaluate, fine-tune and rank pretrained NLP models, with their energy cost.")
    parser.add_argument("--version", action="version", version=f"nlptasks {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output on stderr")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else [only]:
        importlib.import_module(f"{__name__}.cmd_{name}").register(sub)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="nlptasks: %(message)s", stream=sys.stderr)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not verbose:
        # transformers / hub chatter is not for end users unless asked for
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import warnings

        warnings.filterwarnings("ignore")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(command_of(list(argv) if argv is not None else sys.argv[1:]))
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]  # re-launched as is by --num-processes
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    _configure_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except NlpTasksError as exc:
        print(f"nlptasks: error: {mask_url(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("nlptasks: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except Exception as exc:  # last resort: one line, and a hint for the full story
        if args.verbose:
            raise
        msg = mask_url(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
        print(f"nlptasks: error: {type(exc).__name__}: {msg} (run with -v for the traceback)", file=sys.stderr)
        return 1
