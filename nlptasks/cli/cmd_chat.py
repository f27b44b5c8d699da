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
    from ..api import task_class

    ChatTask = task_class("chat")
    p = sub.add_parser("chat", help="chat with a dialogue model interactively",
                       description=f"Chat with a dialogue model. One line per turn; {HELP}. "
                                   f"Default model: {ChatTask.default_model}.")
    add_model_args(p)
    add_task_options(p, ChatTask)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..api import ChatSession, task_class
    from ..errors import InputError
    from ..paths import check_stdout

    if sys.stdin is None or sys.stdin.closed:
        raise InputError("chat reads the conversation from stdin, but stdin is closed")
    check_stdout()  # the responses go there
    session = ChatSession(args.model, **model_kwargs(args), **task_options(args, task_class("chat")))
    session.load()  # a missing model fails here, before the first line is read
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"chatting with {session.model_name}; {HELP}", file=sys.stderr)
    lineno = 0
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        lineno += 1
        line = read_line(lineno)
        if line is None:  # end of input
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            break
        if text == "/reset":
            session.reset()
            if interactive:
                print("(history cleared)", file=sys.stderr)
            continue
        if text.startswith("/") and text.split()[0] in ("/help", "/?"):
            print(HELP, file=sys.stderr)
            continue
        out = session.reply(text)
        if out.get("dropped_turns") and interactive:
            print(f"(context full: dropped the {out['dropped_turns']} oldest turn(s))", file=sys.stderr)
        print(out["response"], flush=True)
    return 0


def read_line(lineno: int) -> str | None:
    """The next line of stdin as text (``None`` at the end): bounded, strictly UTF-8, no binary data."""
    from ..errors import InputError
    from ..io import MAX_LINE_BYTES

    try:
        raw = sys.stdin.buffer.readline(MAX_LINE_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: stdin closed under us
        raise InputError(f"<stdin>: cannot be read ({getattr(exc, 'strerror', None) or exc})") from exc
    if not raw:
        return None
    if len(raw) > MAX_LINE_BYTES:
        raise InputError(f"<stdin>: line {lineno} is over {MAX_LINE_BYTES >> 20} MiB (the limit for one turn)")
    if b"\x00" in raw:
        raise InputError(f"<stdin>: line {lineno} holds binary data (NUL bytes); chat reads UTF-8 text")
    try:
        return raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"<stdin>: line {lineno}: invalid UTF-8 (byte {exc.start}); chat reads UTF-8 text"
                         ) from exc
