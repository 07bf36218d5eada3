"""Exact parameter counts of a checkpoint from its safetensors metadata, without loading
any weights: ``model.safetensors.index.json`` (``metadata.total_parameters``, or
``metadata.total_size`` / bytes per parameter of the config's dtype), else the headers of
local ``*.safetensors`` files (8-byte little-endian length + JSON; element counts summed)."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

INDEX_FILE = "model.safetensors.index.json"
DTYPE_BYTES = {"float32": 4, "float": 4, "bfloat16": 2, "float16": 2, "half": 2, "int8": 1}


def local_exact_count(path: Path, config: dict[str, Any]) -> tuple[int | None, str | None]:
    """(exact parameter count or None, a note on why not) of a local checkpoint directory."""
    if (path / INDEX_FILE).is_file():
        return index_count(path / INDEX_FILE, config)
    files = sorted(path.glob("*.safetensors"))
    if not files:
        return None, None
    try:
        return sum(safetensors_numel(f) for f in files), None
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"safetensors header unreadable ({err}); counted from the architecture"


def safetensors_numel(path: Path) -> int:
    """Number of tensor elements in a .safetensors file, from its JSON header alone.

    Raises:
        ValueError: The file does not start with a valid safetensors header.
    """
    with path.open("rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path.name} is too short for a safetensors header")
        (length,) = struct.unpack("<Q", raw)
        if length > 100_000_000:
            raise ValueError(f"{path.name}: implausible header length {length}")
        header = json.loads(fh.read(length))
    if not isinstance(header, dict):
        raise ValueError(f"{path.name}: header is not a JSON object")
    return sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__")


def index_count(index: Path, config: dict[str, Any]) -> tuple[int | None, str | None]:
    """(exact parameter count or None, a note on why not) from a safetensors index file."""
    try:
        meta = json.loads(index.read_text()).get("metadata") or {}
    except (OSError, ValueError, AttributeError) as err:
        return None, f"{index.name} unreadable ({err}); counted from the architecture"
    if isinstance(meta.get("total_parameters"), int):
        return meta["total_parameters"], None
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "")
    size = meta.get("total_size")
    if not isinstance(size, int) or dtype not in DTYPE_BYTES or "quantization_config" in config:
        return None, f"{index.name} gives no parameter count for dtype {dtype or '?'}"
    return size // DTYPE_BYTES[dtype], None
