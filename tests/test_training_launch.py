"""`--num-processes N` re-runs the command under `accelerate launch`: the command each process runs is
rebuilt from the parsed settings (not from argparse internals) and must parse back to the same run.
The finetune flags take their defaults from FinetuneSettings (one place)."""
from __future__ import annotations

import pytest

from nlptasks.cli import build_parser
from nlptasks.cli.cmd_finetune import run_options, settings_from_args
from nlptasks.training.settings import FinetuneSettings


def _relaunched(monkeypatch, argv: list[str]) -> list[str]:
    """The nlptasks argv the relaunch would run in each process (nothing is started)."""
    import subprocess

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("ACCELERATE_LAUNCHED", raising=False)
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, env=None: calls.append(cmd) or 0)
    args = build_parser().parse_args(argv)
    assert args.func(args) == 0
    (cmd,) = calls
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"] and "--num_processes" in cmd
    return cmd[cmd.index("nlptasks") + 1:]


@pytest.mark.parametrize("argv", [
    ["finetune", "sentiment", "--model", "m", "--train", "t.jsonl", "-o", "out", "--labels", "neg,pos",
     "--new-head", "--lr", "0.001", "--max-length", "64", "--lora", "--lora-targets", "query,value"],
    ["-v", "distill", "qa", "--teacher", "tdir", "--student-layers", "2", "--train", "t.jsonl", "--validation",
     "v.jsonl", "-o", "out", "--alpha", "0.7", "--metric", "loss", "--max-steps", "3"],
])
def test_relaunched_command_parses_back_to_the_same_run(argv, monkeypatch):
    parser = build_parser()
    first = parser.parse_args(argv + ["--num-processes", "2"])
    again = _relaunched(monkeypatch, argv + ["--num-processes", "2"])
    assert "--num-processes" not in again
    second = parser.parse_args(again)
    assert second.num_processes is None and second.verbose == first.verbose
    assert run_options(second) == run_options(first)
    for key in ("teacher", "student", "student_layers", "temperature", "alpha"):
        assert getattr(second, key, None) == getattr(first, key, None)


def test_finetune_flags_default_to_the_settings_defaults():
    args = build_parser().parse_args(["finetune", "qa", "--train", "t.jsonl", "-o", "out"])
    defaults = FinetuneSettings.defaults()
    got = settings_from_args(args)
    assert got == {k: defaults[k] for k in got}
