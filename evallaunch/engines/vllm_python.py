"""Where a Python with vLLM is: vLLM lives in its own environment (`make setup-vllm`),
apart from the harnesses' pinned set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from evallaunch.errors import EvallaunchError

#: A Python with vLLM (and Ray), for jobs that run from a snapshot of the code.
VLLM_PYTHON_ENV = "EVALLAUNCH_VLLM_PYTHON"


def find_vllm_python() -> str | None:
    """A Python that has vLLM: EVALLAUNCH_VLLM_PYTHON, this one, else `.venv-vllm`'s."""
    import importlib.util

    if os.environ.get(VLLM_PYTHON_ENV):
        return os.environ[VLLM_PYTHON_ENV]
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    candidate = Path(__file__).resolve().parents[2] / ".venv-vllm" / "bin" / "python"
    return str(candidate) if candidate.is_file() else None


def vllm_python() -> str:
    """A Python that has vLLM (`find_vllm_python`), or an error saying how to get one."""
    found = find_vllm_python()
    if found:
        return found
    raise EvallaunchError(
        "backend.model_type=vllm runs `vllm serve` replicas, but vLLM is not installed here",
        hint="run `make setup-vllm` (creates .venv-vllm), or install vLLM into this environment",
    )
