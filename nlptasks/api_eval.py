"""The Python API for the checks and the processes of ``nlptasks eval``: the options checked before
any model loads, a data-parallel re-launch, and the context every evaluating process runs in (the
evaluation itself: :func:`nlptasks.api.evaluate` and :func:`nlptasks.api.run_suite`).

>>> check_evaluation_options(limit=100, output="results/")      # doctest: +SKIP
>>> with evaluation_process(None):                              # doctest: +SKIP
...     record = evaluate("sst2_local", limit=100)
"""
from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from .backend.loading import Placement
    from .training.launch import Launch


def check_evaluation_options(*, limit: int | None = None, output: str | os.PathLike | None = None,
                             cache_dir: str | None = None, no_cache: bool = False) -> None:
    """Refuse bad options with one line before anything loads: ``limit`` below 1, stdout (where the table
    goes) or the ``output`` folder not writable, and ``cache_dir`` with ``no_cache``."""
    from .errors import InputError
    from .paths import check_output_folder, check_stdout

    if limit is not None and limit < 1:
        raise InputError(f"--limit must be a positive integer, got {limit}")
    check_stdout()  # the table goes there; checked (like --output) before any model loads
    if output:
        check_output_folder(output)
    if no_cache and cache_dir:
        raise InputError("--cache-dir and --no-cache exclude each other")


def launch_evaluation(how: "Launch", argv: list[str], placement: "Placement | None" = None) -> int:
    """Re-run the ``nlptasks`` command ``argv`` in every process of ``how`` (data-parallel evaluation);
    a ``placement`` (one model spread over the devices) cannot be combined with it. Returns the exit
    status."""
    from .errors import InputError
    from .training.launch import launch

    if placement is not None:
        raise InputError("--device-map spreads one model over the devices; it cannot be combined with "
                         "--num-processes (data-parallel copies of the model)")
    return launch(how, argv)


@contextlib.contextmanager
def evaluation_process(placement: "Placement | None" = None) -> Iterator[None]:
    """The block an evaluation runs in: in a launched data-parallel process, the process group is joined
    and this process's GPU taken first; models loaded inside are spread as ``placement`` says
    (:func:`nlptasks.api_placement.check_placement`; ``None``: one device)."""
    from .api_placement import placed
    from .eval_parallel import init

    init()
    with placed(placement):
        yield
