"""The Python API for models bigger than one device (``--device-map``, ``--max-memory``,
``--offload-folder``): check the options once, then load models inside :func:`placed`.

>>> with placed(check_placement("auto", "0=20GiB,cpu=60GiB")):   # doctest: +SKIP
...     run("summarize", ["a long text ..."], model="some/large-model")
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from .backend.loading import Placement


def check_placement(device_map: str | None, max_memory: str | None = None,
                    offload_folder: str | None = None) -> "Placement | None":
    """The checked placement for ``device_map`` (auto, balanced, balanced_low_0 or sequential),
    ``max_memory`` (``DEV=SIZE,...``, e.g. ``0=20GiB,cpu=60GiB``) and ``offload_folder``; ``None`` without
    ``device_map`` (the usual one-device load). Bad options raise :class:`nlptasks.errors.InputError`
    before any model loads."""
    from .backend.loading import placement_from_options

    return placement_from_options(device_map, max_memory, offload_folder)


@contextlib.contextmanager
def placed(how: "Placement | None") -> Iterator[None]:
    """Models loaded inside the block are spread as ``how`` (from :func:`check_placement`) says;
    ``None``: as usual, on one device."""
    from .backend.loading import placement

    with placement(how):
        yield
