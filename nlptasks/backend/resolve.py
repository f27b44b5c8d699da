"""Resolve a model reference: a local directory or a Hugging Face hub id (with revision).

Embedded models (``minilm-extractive``, ``lead-3``, ...) are resolved by the task that owns them, before
this module is asked. For hub ids we look in the local cache first; when the model is not cached and
the Hub cannot be reached we fail at once with one actionable line instead of a retry loop.
"""
from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelLoadError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


@dataclass(frozen=True)
class ModelSource:
    ref: str                 # what the user passed
    kind: str                # "local" | "hub"
    path: str                # directory for local models; repo id for hub models
    revision: str | None = None
    local_files_only: bool = False  # hub model found in the cache (or offline mode)


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP probe of the Hub endpoint (DNS included), instead of huggingface_hub's retries."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = re.sub(r"^https?://", "", endpoint).split("/")[0]
    port = 443 if endpoint.startswith("https") else 80
    if ":" in host:
        host, port_s = host.rsplit(":", 1)
        port = int(port_s)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _is_cached(repo_id: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id, revision=revision, local_files_only=True,
                          allow_patterns=["config.json"])
        return True
    except Exception:
        return False


def check_embedded_typo(ref: str, embedded: list[str], task: str = "") -> None:
    """Refuse ``ref`` when it is no local path, has no ``owner/`` part and is close to one of the
    ``embedded`` model names (``majorty``, ``minilm-sst3``): a typo, not a hub id like ``gpt2``."""
    import difflib

    if not ref or not embedded or "/" in ref or os.sep in ref or Path(ref).expanduser().exists():
        return
    close = difflib.get_close_matches(ref.lower(), embedded, n=1, cutoff=0.75)
    if not close or _is_cached(ref, None):
        return
    of = f" for {task}" if task else ""
    raise ModelLoadError(f"unknown model {ref!r}; embedded models{of}: {', '.join(embedded)}; "
                         f"did you mean {close[0]!r}? (a hub id or a local directory is also accepted)")


def resolve_model(ref: str, revision: str | None = None) -> ModelSource:
    if not ref or not ref.strip():
        raise ModelLoadError("empty model reference; pass --model with a hub id or a local directory")
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"model path {ref!r} is a file; pass the directory that holds config.json")
        if not (path / "config.json").exists():
            raise ModelLoadError(f"model directory {ref!r} has no config.json (is it a Hugging Face model dir?)")
        from .model_files import check_model_dir

        check_model_dir(path, ref)
        return ModelSource(ref, "local", str(path.resolve()), None, True)
    looks_local = ref.startswith((".", "/", "~")) or ref.count("/") > 1 or os.sep in ref and ref.count("/") != 1
    if looks_local or not _HUB_ID.match(ref):
        raise ModelLoadError(f"model {ref!r} is neither a local directory nor a valid hub id")
    if _is_cached(ref, revision):
        return ModelSource(ref, "hub", ref, revision, True)
    download = f"hf download {ref}" + (f" --revision {revision}" if revision else "")
    hint = f"pass --model PATH to a local copy, or download it once with network access (`{download}`)"
    if hub_offline():
        raise ModelLoadError(f"model {ref!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; {hint}")
    if not hub_reachable():
        raise ModelLoadError(f"model {ref!r} is not in the local Hugging Face cache and the Hub cannot be reached "
                             f"(no network?); {hint}, or set HF_HUB_OFFLINE=1 to fail fast")
    return ModelSource(ref, "hub", ref, revision, False)
