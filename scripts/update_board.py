"""Add new evaluation records to a rendered suite board without evaluating its other entries again.

    python scripts/update_board.py eval/leaderboards offline NEW.json [NEW.json ...]

Reads ``DIR/NAME.results.json`` (the records the board was rendered from), puts each new record (a file
written by ``nlptasks eval --json`` or ``--output``: one record, or a list of records) in place of the
board's record for the same entry (benchmark, model name, variant and settings other than the run's own),
appends the others, and renders ``DIR/NAME.{md,html,results.json}`` again from the result, as
``nlptasks eval --suite ... --render`` does. Every record keeps its own date, versions and machine, which
the board shows, so a board updated this way says which of its rows were measured when.

``nlptasks eval --suite FILE --reuse`` does the same from a results store when the stored records match
the current code exactly (same nlptasks version); this script is for adding entries to a board whose
other records an earlier release wrote.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

_RUN_OWN = {"batch_size", "max_tokens", "device", "limit"}  # settings of the run, not of the entry


def entry_key(record: dict) -> str:
    model = record["model"]
    settings = {k: v for k, v in (record.get("settings") or {}).items() if k not in _RUN_OWN}
    return json.dumps([record["benchmark"]["name"], model["name"], model.get("variant"), settings],
                      sort_keys=True, default=str)


def merge(board: list[dict], new: list[dict]) -> tuple[list[dict], int]:
    """``board`` with each new record in place of its entry's record (or appended); and how many it replaced."""
    index = {entry_key(r): i for i, r in enumerate(board)}
    out, replaced = list(board), 0
    for r in new:
        i = index.get(entry_key(r))
        if i is None:
            index[entry_key(r)] = len(out)
            out.append(r)
        else:
            out[i], replaced = r, replaced + 1
    return out, replaced


def _read(path: str) -> list[dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    from nlptasks.errors import NlpTasksError
    from nlptasks.evaluation.result import ResultRecord
    from nlptasks.evaluation.suites import render_suite

    folder, name, *files = argv
    try:
        board = _read(str(Path(folder) / f"{name}.results.json"))
        new = []
        for f in files:
            for r in _read(f):
                ResultRecord.from_dict(r, f)  # a record that does not validate is refused before anything is written
                new.append(r)
    except (OSError, ValueError, NlpTasksError) as exc:  # missing file, bad JSON, a record that does not validate
        print(f"update_board: error: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    records, replaced = merge(board, new)
    for p in render_suite(name, records, folder):
        print(f"wrote {p}", file=sys.stderr)
    print(f"{len(new)} new records ({replaced} replacing a record of the same entry); {len(records)} on the board",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
