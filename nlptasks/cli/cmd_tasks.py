"""`nlptasks tasks`: the tasks, their default models and metrics (no torch import)."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("tasks", help="list the tasks with their default models")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..api import task_classes

    infos = [cls.info() for cls in task_classes()]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    w = max(len(i["name"]) for i in infos)
    for i in infos:
        aliases = f" (aliases: {', '.join(i['aliases'])})" if i["aliases"] else ""
        print(f"{i['name']:<{w}}  default model: {i['default_model']}{aliases}")
        print(f"{'':<{w}}  {i['description']}")
        print(f"{'':<{w}}  inputs: {', '.join(i['inputs'])} -> outputs: {', '.join(i['outputs'])}; "
              f"metrics: {', '.join(i['metrics'])}")
    return 0
