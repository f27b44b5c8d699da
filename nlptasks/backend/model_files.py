"""Cheap checks of a local model folder before transformers reads it: a damaged ``config.json`` or a
truncated ``*.safetensors`` file is one line naming the file, not a traceback from deep inside a loader."""
from __future__ import annotations

import json
import struct
from pathlib import Path

from ..errors import ModelLoadError

MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


def check_model_dir(path: Path, ref: str) -> None:
    """``config.json`` is a JSON object; every top-level ``*.safetensors`` file is complete."""
    check_config(path / "config.json", ref)
    for f in sorted(path.glob("*.safetensors")):
        check_safetensors(f, ref)


def check_config(file: Path, ref: str) -> None:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ModelLoadError(f"model {ref!r}: {file} is not UTF-8 text") from None
    except OSError as exc:
        raise ModelLoadError(f"model {ref!r}: {file} cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"model {ref!r}: {file} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"model {ref!r}: {file} holds a JSON {type(data).__name__}, not an object "
                             f"of model settings")


def check_safetensors(file: Path, ref: str) -> None:
    """The header is readable and the tensors it lists fit in the file (a truncated download fails here)."""
    bad = f"model {ref!r}: {file} is truncated or damaged"
    try:
        size = file.stat().st_size
        with open(file, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ModelLoadError(f"{bad} ({size} bytes)")
            (n,) = struct.unpack("<Q", head)
            if n > min(size - 8, MAX_HEADER):
                raise ModelLoadError(f"{bad} (header of {n} bytes in a file of {size})")
            header = json.loads(f.read(n))
    except OSError as exc:
        raise ModelLoadError(f"model {ref!r}: {file} cannot be read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError):
        raise ModelLoadError(f"{bad} (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelLoadError(f"{bad} (its header is not a JSON object)")
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        raise ModelLoadError(f"{bad} (its header lists no valid tensor offsets)") from None
    if 8 + n + end > size:
        raise ModelLoadError(f"{bad} ({size} bytes; its tensors need {8 + n + end})")
