"""The Python API behind ``nlptasks index``: build, extend and search a knowledge-base index
(``nlptasks.retrieval``), for question answering with ``run("qa", ..., index=DIR)``."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable


def build_index(sources: list[str], output: str, *, text_field: str = "text", id_field: str = "id",
                max_words: int | None = None, overlap_words: int | None = None,
                faiss_threshold: int | None = None, batch_size: int | None = None, overwrite: bool = False,
                documents: Iterable[dict] | None = None) -> dict:
    """Index ``sources`` (text/Markdown files, folders, JSON Lines) into the folder ``output``; returns
    the manifest (with ``added``/``duplicates`` counts).

    >>> build_index(["manuals/"], "idx")   # doctest: +SKIP
    """
    from .errors import InputError
    from .paths import check_output_dir, remove_outputs
    from .retrieval.guard import check_index_output
    from .retrieval.index import BuildSettings, build_index as build
    from .retrieval.sources import source_files

    if not sources and documents is None:
        raise InputError("no sources: give files, folders or JSON Lines files to index")
    if documents is None:
        source_files(sources)  # missing sources: one line, before anything is written
    check_index_output(output, sources or [])
    check_output_dir(output, kind="index", overwrite=overwrite)
    if not overwrite and (Path(output) / "manifest.json").exists():
        raise InputError(f"--output {output}: already holds an index; extend it with `nlptasks index add "
                         f"{output} SOURCES...`, or pass --overwrite to rebuild it")
    if overwrite and Path(output).is_dir():
        remove_outputs(output)
    s = BuildSettings()
    settings = BuildSettings(max_words or s.max_words, s.overlap_words if overlap_words is None else overlap_words,
                             faiss_threshold or s.faiss_threshold, batch_size or s.batch_size)
    _check_settings(settings)
    return build(sources, output, documents=documents, text_field=text_field, id_field=id_field,
                 settings=settings)


def add_to_index(index: str, sources: list[str], *, text_field: str = "text", id_field: str = "id",
                 batch_size: int | None = None, documents: Iterable[dict] | None = None) -> dict:
    """Append the documents of ``sources`` to the index ``index`` (texts already indexed are skipped)."""
    from .errors import InputError
    from .retrieval.guard import check_index_output
    from .retrieval.index import BuildSettings, build_index as build, read_manifest
    from .retrieval.sources import source_files

    read_manifest(index)
    if not sources and documents is None:
        raise InputError("no sources: give files, folders or JSON Lines files to add")
    if documents is None:
        source_files(sources)
    check_index_output(index, sources or [], flag="index")
    return build(sources, index, documents=documents, text_field=text_field, id_field=id_field, append=True,
                 settings=BuildSettings(batch_size=batch_size or 64))


def _check_settings(s) -> None:
    from .errors import InputError

    if s.max_words < 10:
        raise InputError(f"--max-words must be at least 10, got {s.max_words}")
    if not 0 <= s.overlap_words < s.max_words:
        raise InputError(f"--overlap-words must be from 0 to below --max-words ({s.max_words}), got {s.overlap_words}")
    if s.faiss_threshold < 1:
        raise InputError(f"--faiss-threshold must be positive, got {s.faiss_threshold}")


def open_index(index: str):
    """An opened :class:`nlptasks.retrieval.index.KnowledgeIndex` (encoder checked, loaded on first search)."""
    from .retrieval.index import KnowledgeIndex

    return KnowledgeIndex(index)


def search_index(index, queries: str | list[str], *, retriever: str = "hybrid", k: int = 5) -> list[list[dict]]:
    """The ``k`` best passages for each query (``index``: a folder or an opened index)."""
    from .errors import InputError
    from .retrieval.index import KnowledgeIndex

    qs = [queries] if isinstance(queries, str) else list(queries)
    if not qs or any(not isinstance(q, str) or not q.strip() for q in qs):
        raise InputError("--query is empty")
    if k < 1:
        raise InputError(f"--top-k must be positive, got {k}")
    idx = index if isinstance(index, KnowledgeIndex) else KnowledgeIndex(index)
    return idx.search(qs, retriever, k)
