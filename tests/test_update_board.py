"""scripts/update_board.py: new records replace their entry's record on a rendered board, others are added."""
from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOARD = REPO / "eval" / "leaderboards" / "offline.results.json"
sys.path.insert(0, str(REPO / "scripts"))

import update_board  # noqa: E402


def _board() -> list[dict]:
    return json.loads(BOARD.read_text(encoding="utf-8"))


def test_a_new_record_of_an_entry_replaces_it_and_another_is_added():
    board = _board()
    again = copy.deepcopy(board[0])
    again["run_id"] = "0123456789abcdef"
    other = copy.deepcopy(board[0])
    other["run_id"] = "fedcba9876543210"
    other["model"]["variant"] = {"dtype": "bfloat16", "quantize": "int8"}  # no such entry on the board
    merged, replaced = update_board.merge(board, [again, other])
    assert replaced == 1 and len(merged) == len(board) + 1
    assert merged[0]["run_id"] == "0123456789abcdef" and merged[-1]["run_id"] == "fedcba9876543210"
    assert [r["run_id"] for r in merged[1:-1]] == [r["run_id"] for r in board[1:]]


def test_a_different_option_is_another_entry():
    board = _board()
    r = copy.deepcopy(board[0])
    r["settings"]["doc_stride"] = 64
    assert update_board.merge(board, [r])[1] == 0


def test_main_renders_the_board_with_the_new_record(tmp_path):
    shutil.copy(BOARD, tmp_path / "offline.results.json")
    rec = copy.deepcopy(_board()[0])
    rec["run_id"] = "0123456789abcdef"
    primary = rec["primary_metric"]
    rec["metrics"][primary]["score"] = 12.345
    (tmp_path / "new.json").write_text(json.dumps(rec))
    assert update_board.main([str(tmp_path), "offline", str(tmp_path / "new.json")]) == 0
    records = json.loads((tmp_path / "offline.results.json").read_text())
    assert len(records) == len(_board()) and records[0]["run_id"] == "0123456789abcdef"
    assert "| 12.345 |" in (tmp_path / "offline.md").read_text() and (tmp_path / "offline.html").exists()


@pytest.mark.parametrize("content", [json.dumps({"run_id": "x"}), "{not json", None])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, content):
    """A record that does not validate, a file that is not JSON, a missing file: one line, exit 1."""
    shutil.copy(BOARD, tmp_path / "offline.results.json")
    before = (tmp_path / "offline.results.json").read_text()
    if content is not None:
        (tmp_path / "bad.json").write_text(content)
    assert update_board.main([str(tmp_path), "offline", str(tmp_path / "bad.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("update_board: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "offline.md").exists() and (tmp_path / "offline.results.json").read_text() == before
