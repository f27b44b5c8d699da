"""`nlptasks models`: embedded (offline) and recommended hub models per task."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("models", help="list embedded and recommended models per task")
    p.add_argument("task", nargs="?", default=None, help="only this task")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..api import task_classes

    rows = []
    for cls in task_classes(args.task):
        name = cls.name
        for m in cls.embedded_models:
            rows.append({"task": name, "model": m.name, "kind": "baseline" if m.baseline else "embedded",
                         "default": m.name == cls.default_model, "description": m.description})
        for m in cls.recommended_models:
            rows.append({"task": name, "model": m, "kind": "hub", "default": m == cls.default_model,
                         "description": cls.model_class})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        mark = " (default)" if r["default"] else ""
        print(f"{r['task']:<10} {r['kind']:<9} {r['model']}{mark} — {r['description']}")
    return 0
