"""Resolve `model.name_or_path` to something a backend can load, and pick device and dtype."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evallaunch.errors import EvallaunchError
from evallaunch.models.embedded import embedded_checkpoint, is_embedded

DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICES = ("auto", "cpu", "cuda")


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or text.count("/") != 1


def resolve_model(model: Any, cache_dir: str) -> str:
    """Return a local checkpoint directory or a Hub id whose config.json is reachable."""
    ref = str(model.name_or_path)
    if is_embedded(ref):
        return str(embedded_checkpoint(ref, cache_dir))
    path = Path(ref).expanduser()
    if path.exists() or _looks_like_path(ref):
        return str(_check_local(path, ref))
    _check_hub(ref, model.revision)
    return ref


def _check_local(path: Path, ref: str) -> Path:
    if not path.is_dir():
        raise EvallaunchError(
            f"model.name_or_path={ref}: no such model directory",
            hint="give a local checkpoint directory, a Hub id (org/name), "
            "or embedded:smollm2-135m-instruct",
        )
    config = path / "config.json"
    try:
        json.loads(config.read_text())
    except FileNotFoundError:
        raise EvallaunchError(
            f"model.name_or_path={ref}: {config} is missing, so this is not a "
            "Hugging Face checkpoint directory"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EvallaunchError(
            f"model.name_or_path={ref}: {config} is not valid JSON ({err})"
        ) from None
    return path.resolve()


def _check_hub(repo_id: str, revision: str) -> None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HFValidationError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        hf_hub_download(repo_id, "config.json", revision=revision)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        raise EvallaunchError(
            f"model.name_or_path={repo_id} (revision {revision}) is not in the local Hugging "
            "Face cache and the Hub cannot be reached",
            hint="download it on a machine with network access (huggingface-cli download), "
            "or point model.name_or_path at a local checkpoint directory",
        ) from None
    except (
        RepositoryNotFoundError,
        RevisionNotFoundError,
        EntryNotFoundError,
        HFValidationError,
    ) as err:
        raise EvallaunchError(
            f"model.name_or_path={repo_id} revision {revision}: {type(err).__name__}: {err}"
        ) from None


def pick_device_and_dtype(device: str, dtype: str) -> tuple[str, str]:
    """The device (`auto`: cuda when a GPU is visible, else cpu) and the dtype (`auto`:
    bfloat16 on GPU, float32 on CPU, where bfloat16 is slow or unsupported); both are
    checked before torch is imported to look for a GPU."""
    if device not in DEVICES:
        raise EvallaunchError(f"backend.device={device!r}; valid choices: {DEVICES}")
    if dtype not in DTYPES:
        raise EvallaunchError(f"model.dtype={dtype!r}; valid choices: {DTYPES}")
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device == "cuda" else "float32"
    return device, dtype


def context_length(model_path: str) -> int:
    """The model's own context length, from its config.json."""
    config_file = Path(model_path) / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        config = {}
    for node in (config, config.get("text_config") or {}):
        for key in ("max_position_embeddings", "max_sequence_length", "seq_length"):
            if isinstance(node.get(key), int):
                return int(node[key])
    raise EvallaunchError(
        f"cannot tell the context length of {model_path} from its config.json",
        hint="set model.max_model_length",
    )
