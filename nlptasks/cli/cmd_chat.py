"""`nlptasks chat`: an interactive conversation on stdin/stdout (piped input works too).

Each user line gets the model's response on stdout. The history is kept between lines; the oldest turns
are dropped when the prompt would exceed the context budget. `/reset` clears the history, `/exit` (or
end of input) quits. Prompts and notices go to stderr, and only on a terminal.
"""
from __future__ import annotations

import argparse
import sys

from .common import add_model_args, add_task_options, model_kwargs, task_options

HELP = "/reset clears the history, /exit quits"


def register(sub) -> None:
    from ..tasks.chat import ChatTask

    p = sub.add_parser("chat", help="chat with a dialogue model interactively",
                       description=f"Chat with a dialogue model. One line per turn; {HELP}. "
                                   f"Default model: {ChatTask.default_model}.")
    add_model_args(p)
    add_task_options(p, ChatTask)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..paths import check_stdout
    from ..tasks.chat import ChatTask

    check_stdout()  # the responses go there
    task = ChatTask(args.model, **model_kwargs(args), **task_options(args, ChatTask))
    task.load()  # a missing model fails here, before the first line is read
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"chatting with {task.model_name}; {HELP}", file=sys.stderr)
    history: list[str] = []
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:  # end of input
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            break
        if text == "/reset":
            history = []
            if interactive:
                print("(history cleared)", file=sys.stderr)
            continue
        if text.startswith("/") and text.split()[0] in ("/help", "/?"):
            print(HELP, file=sys.stderr)
            continue
        history.append(text)
        out = task.predict([{"history": list(history)}])[0]
        if out["dropped_turns"]:
            history = history[out["dropped_turns"]:]
            if interactive:
                print(f"(context full: dropped the {out['dropped_turns']} oldest turn(s))", file=sys.stderr)
        history.append(out["response"])
        print(out["response"], flush=True)
    return 0
