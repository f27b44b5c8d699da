"""Tiny training sets in the shared-data schemas (built from the tiny-model corpus), for training tests."""
from __future__ import annotations

import json
from pathlib import Path

from tiny_models import CORPUS


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def sentiment_rows(n: int = 8) -> list[dict]:
    return [{"text": CORPUS[i * 9], "label": i % 2} for i in range(n)]


QA_CONTEXT = " ".join(CORPUS[:12])


def qa_rows(n: int = 4) -> list[dict]:
    rows = []
    for i in range(n):
        sent = CORPUS[i * 3]
        start = QA_CONTEXT.index(sent)
        rows.append({"id": str(i), "title": "t", "question": f"what does {sent.split()[1]} do?", "context": QA_CONTEXT,
                     "answers": {"text": [sent], "answer_start": [start]}})
    return rows


def summarize_rows(n: int = 4) -> list[dict]:
    return [{"document": " ".join(CORPUS[i:i + 4]), "summary": CORPUS[i]} for i in range(n)]


def translate_rows(n: int = 4) -> list[dict]:
    return [{"translation": {"en": CORPUS[i], "de": CORPUS[-1 - (i % 4)]}} for i in range(n)]


def chat_rows(n: int = 4) -> list[dict]:
    return [{"history": [CORPUS[i], CORPUS[i + 1], CORPUS[i + 2]], "response": CORPUS[i + 3]} for i in range(n)]


ROWS = {"sentiment": sentiment_rows, "qa": qa_rows, "summarize": summarize_rows, "translate": translate_rows,
        "chat": chat_rows}
MODEL = {"sentiment": "bert-cls", "qa": "bert-qa", "summarize": "t5", "translate": "marian", "chat": "gpt2"}
