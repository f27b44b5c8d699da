"""The corpus of an open-domain benchmark (its ``corpus`` section), indexed once and cached.

The corpus rows are read like the benchmark's data (local files resolved against ``--data-dir``);
each distinct text is one document (``id``: the ``corpus.id`` column, else ``<title>/<n>`` — the n-th
distinct text under that title, in file order — so ids do not depend on where the files lie). The
index is built under the cache folder (``$NLPTASKS_INDEX_CACHE``, else ``<user cache>/nlptasks/indexes``)
in a folder named by the benchmark and a fingerprint of the documents, the packaged encoder's weights
and the index format: a changed corpus or encoder builds a new index, an unchanged one is reused. The
same index can be built by hand with ``nlptasks index build`` and given with ``--set index=DIR``.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..hashing import json_hash
from .datasets_io import MissingColumn, get_path, load_rows

CACHE_ENV = "NLPTASKS_INDEX_CACHE"


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("nlptasks")) / "indexes"


def corpus_documents(bench, data_dir) -> list[dict]:
    """The distinct documents of ``bench.corpus``, in file order."""
    from ..errors import InputError

    c = bench.corpus
    rows, _ = load_rows({"path": c["path"], "data_files": c["data_files"]}, data_dir,
                        where=f"benchmark {bench.name} (corpus)", with_where=True)
    docs, seen, per_title = [], set(), {}
    for i, row in enumerate(rows):
        try:
            text = get_path(row, c["text"])
            title = get_path(row, c["title"]) if c.get("title") else None
            doc_id = get_path(row, c["id"]) if c.get("id") else None
        except MissingColumn as exc:
            raise InputError(f"{row.get('__where__') or f'corpus row {i + 1}'}: no column {exc.path!r} "
                             f"(benchmark {bench.name}, corpus)") from None
        if not isinstance(text, str) or not text.strip() or text in seen:
            continue
        seen.add(text)
        if doc_id is None:
            n = per_title[title] = per_title.get(title, -1) + 1
            doc_id = f"{title or 'doc'}/{n}"
        docs.append({"id": str(doc_id), "text": text, "title": title, "source": str(doc_id)})
    if not docs:
        raise InputError(f"benchmark {bench.name}: the corpus has no text")
    return docs


def corpus_index(bench, data_dir) -> str:
    """The folder of the index of ``bench``'s corpus, built first when it is not cached."""
    from ..api_index import build_index
    from ..retrieval.index import FORMAT, encoder_identity, read_manifest

    docs = corpus_documents(bench, data_dir)
    fp = json_hash([FORMAT, encoder_identity(), bench.corpus, [(d["id"], d["title"], d["text"]) for d in docs]], 16)
    root = cache_dir()
    folder = root / f"{bench.name}-{fp}"
    try:
        read_manifest(folder)
        return str(folder)
    except Exception:  # not built yet (or a damaged one): build it anew
        shutil.rmtree(folder, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    print(f"nlptasks: {bench.name}: indexing the corpus ({len(docs)} documents) into {folder} (once)",
          file=sys.stderr)
    tmp = root / f".{folder.name}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    build_index([], str(tmp), documents=docs)
    try:
        os.replace(tmp, folder)
    except OSError:  # another process built it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return str(folder)
