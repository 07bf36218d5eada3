"""What tests share besides fixtures: the repository's paths, the tiny run settings, a
generation request, and where a job of the embedded model writes its files."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evallaunch.backends.base import GenerationRequest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"

# Small enough for a 2-core CPU: a few problems, a few dozen tokens.
TINY = ["benchmark.limit=3", "benchmark.n=1", "generation.max_new_tokens=48"]

#: The `evaluate` fixture: runs `python -m evallaunch.evaluate ARGS...`.
Evaluate = Callable[..., subprocess.CompletedProcess[str]]


def job_dir(
    outputs: Path,
    benchmark: str = "math_500",
    backend: str = "lighteval",
    model: str = "smollm2-135m-instruct",
) -> Path:
    """The directory of a job of `model` (main revision, experiment `default`) under the
    output root `outputs`."""
    return outputs / "default" / model / "main" / benchmark / backend


def make_request(work_dir: Path, **changes: Any) -> GenerationRequest:
    """A generation request with small CPU settings; `changes` set any field."""
    fields: dict[str, Any] = {
        "benchmark": "math_500",
        "problems": [],
        "problems_file": work_dir / "test.jsonl",
        "model_path": "m",
        "revision": None,
        "dtype": "float32",
        "device": "cpu",
        "chat_template": True,
        "system_prompt": None,
        "max_model_length": None,
        "trust_remote_code": False,
        "n": 1,
        "temperature": 0.6,
        "top_p": 0.95,
        "max_new_tokens": 8,
        "seed": 1234,
        "work_dir": work_dir,
    }
    return GenerationRequest(**{**fields, **changes})
