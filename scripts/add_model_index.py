"""Put the Hub's ``model-index`` into packaged model cards' YAML front matter, from each folder's
``eval_record.json``, leaving the rest of each card byte for byte.

The card renderers (``scripts/model_card.py``, ``scripts/model_card_scratch.py``,
``scripts/render_embedded_card.py``) do the same when they render a whole card; this script serves cards
whose renderer inputs (a training run's files) are gone, and checks them all:

    python scripts/add_model_index.py nlptasks/embedded/NAME [...] [--extra NAME=RECORD.json ...]
    python scripts/add_model_index.py --check nlptasks/embedded/*/

``--extra NAME=FILE``: a record of the same model on another benchmark, added to NAME's model-index.
``--check``: write nothing; exit 1 naming each card whose model-index is missing or differs from what its
records give, or whose text outside the model-index would change.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def card_text(folder: Path, extra: list[dict]) -> tuple[str, str]:
    """``(the card as it is, the card with the model-index its records give)``."""
    from nlptasks.evaluation.model_index import model_index_yaml, with_model_index

    record = json.loads((folder / "eval_record.json").read_text(encoding="utf-8"))
    old = (folder / "README.md").read_text(encoding="utf-8")
    return old, with_model_index(old, model_index_yaml(folder.name, [record, *extra]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folders", nargs="+", type=Path, help="packaged model folders (README.md + eval_record.json)")
    p.add_argument("--extra", action="append", default=[], metavar="NAME=FILE",
                   help="another benchmark's eval record of the model NAME (repeatable)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a card is not up to date")
    a = p.parse_args(argv)
    extra: dict[str, list[dict]] = {}
    for item in a.extra:
        name, _, path = item.partition("=")
        extra.setdefault(name, []).append(json.loads(Path(path).read_text(encoding="utf-8")))
    stale = []
    for folder in a.folders:
        if not (folder / "eval_record.json").is_file():
            stale.append(f"{folder}: no eval_record.json")
            continue
        old, new = card_text(folder, extra.get(folder.name, []))
        if old == new:
            continue
        if a.check:
            stale.append(f"{folder / 'README.md'}: model-index missing or out of date")
        else:
            (folder / "README.md").write_text(new, encoding="utf-8")
            print(f"wrote {folder / 'README.md'}", file=sys.stderr)
    for line in stale:
        print(line, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
