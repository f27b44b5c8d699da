"""`nlptasks index build|add|search`: a knowledge base for `nlptasks run qa --index DIR`."""
from __future__ import annotations

import argparse
import json
import sys

from .common import positive_int


def register(sub) -> None:
    p = sub.add_parser("index", help="build, extend and search a knowledge-base index for QA",
                       description="A knowledge-base index (passages, BM25 statistics, dense vectors) in one "
                                   "folder, for `nlptasks run qa --index DIR`.")
    cmds = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)

    b = cmds.add_parser("build", help="index text/Markdown files, folders and JSON Lines into a new folder")
    b.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="text or Markdown files, folders of them, or JSON Lines files (one document per record)")
    b.add_argument("--output", "-o", required=True, metavar="DIR", help="the index folder to create")
    b.add_argument("--overwrite", action="store_true", help="replace an index already in --output")
    _add_source_args(b)
    b.add_argument("--max-words", type=positive_int, default=None,
                   help="longest passage in words (default 160); passages end at sentence ends")
    b.add_argument("--overlap-words", type=int, default=None,
                   help="words of trailing sentences repeated at the start of the next passage (default 40)")
    b.add_argument("--faiss-threshold", type=positive_int, default=None,
                   help="from this many passages on, dense search goes through a FAISS IVF index instead of an "
                        "exact scan (default 200000)")
    b.set_defaults(func=main_build)

    a = cmds.add_parser("add", help="append documents to an index (texts already indexed are skipped)")
    a.add_argument("index", metavar="DIR", help="the index folder")
    a.add_argument("sources", nargs="+", metavar="SOURCE", help="files, folders or JSON Lines files to add")
    _add_source_args(a)
    a.set_defaults(func=main_add)

    s = cmds.add_parser("search", help="show the passages that best match a query")
    s.add_argument("index", metavar="DIR", help="the index folder")
    s.add_argument("--query", "-q", required=True, action="append", help="the query (repeat for several)")
    s.add_argument("--retriever", default="hybrid", choices=["bm25", "dense", "hybrid"],
                   help="bm25, dense, or hybrid: both fused by reciprocal rank (default)")
    s.add_argument("--top-k", type=positive_int, default=5, help="passages to show (default 5)")
    s.add_argument("--format", "-f", default="text", choices=["text", "jsonl"], help="output format (default text)")
    s.set_defaults(func=main_search)


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text-field", default="text", help="JSON Lines: the field holding the text (default: text)")
    p.add_argument("--id-field", default="id",
                   help="JSON Lines: the field holding the document id (default: id; else FILE:LINE)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="passages per encoder batch (default 64)")


def _summary(m: dict, verb: str, folder: str) -> None:
    dup = f", {m['duplicates']} duplicate(s) skipped" if m.get("duplicates") else ""
    print(f"nlptasks: {verb} {m['added']} document(s), {m['added_passages']} passage(s){dup}; {folder} holds "
          f"{m['documents']} document(s), {m['passages']} passage(s)", file=sys.stderr)


def main_build(args: argparse.Namespace) -> int:
    from ..api_index import build_index

    m = build_index(args.sources, args.output, text_field=args.text_field, id_field=args.id_field,
                    max_words=args.max_words, overlap_words=args.overlap_words,
                    faiss_threshold=args.faiss_threshold, batch_size=args.batch_size, overwrite=args.overwrite)
    _summary(m, "indexed", args.output)
    return 0


def main_add(args: argparse.Namespace) -> int:
    from ..api_index import add_to_index

    m = add_to_index(args.index, args.sources, text_field=args.text_field, id_field=args.id_field,
                     batch_size=args.batch_size)
    _summary(m, "added", args.index)
    return 0


def main_search(args: argparse.Namespace) -> int:
    from ..api_index import search_index
    from ..paths import check_stdout

    check_stdout()
    results = search_index(args.index, args.query, retriever=args.retriever, k=args.top_k)
    lines = []
    for query, hits in zip(args.query, results):
        if args.format == "jsonl":
            lines.extend(json.dumps({"query": query, **h}, ensure_ascii=False) for h in hits)
            continue
        if len(args.query) > 1:
            lines.append(f"# {query}")
        if not hits:
            lines.append("(no matching passage)")
        for h in hits:
            text = " ".join(h["text"].split())
            lines.append(f"{h['rank']}\t{h['score']:.4f}\t{h['source']}\t{h['id']}\t{text}")
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0
