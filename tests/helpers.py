"""What tests share besides fixtures: the repository's paths, the tiny run settings, a
job's spec, a generation request, where a job of the embedded model writes its files, the
config files' options, and a PATH without Slurm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from evallaunch.backends.base import GenerationRequest
from evallaunch.config.schema import EvaluateConfig

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"

# Small enough for a 2-core CPU: a few problems, a few dozen tokens.
TINY = ["benchmark.limit=3", "benchmark.n=1", "generation.max_new_tokens=48"]


def config_options() -> list[tuple[str, str]]:
    """Every option of every config group, as (group, option)."""
    from evallaunch.config.compose import CONFIG_GROUPS, group_options

    return [(group, option) for group in CONFIG_GROUPS for option in group_options(group)]


def option_overrides(group: str, option: str) -> list[str]:
    """The overrides that select `option` of `group`, with the values it requires."""
    overrides = [f"{group}={option}"]
    if (group, option) == ("model", "custom"):
        overrides.append("model.name_or_path=/models/run-1/checkpoint-500")
    if (group, option) == ("model", "endpoint"):
        overrides += ["model.name_or_path=org/tokenizer", "model.endpoint.url=http://h/v1"]
    if (group, option) == ("benchmark", "harness"):
        overrides.append("benchmark.task=gsm8k")
    return overrides


SLURM_COMMANDS = {"sbatch", "srun", "squeue", "sacct", "scontrol", "scancel", "sinfo", "salloc"}


def path_without_slurm(tmp_path: Path) -> str:
    """A PATH holding every command of the current one except Slurm's (symlinks in one
    folder), so a test sees a machine where Slurm is not installed."""
    folder = tmp_path / "bin-without-slurm"
    folder.mkdir(exist_ok=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for tool in Path(directory).iterdir():
            link = folder / tool.name
            if tool.name in SLURM_COMMANDS or link.is_symlink():
                continue
            if tool.is_file() and os.access(tool, os.X_OK):
                link.symlink_to(tool.resolve())
    path = str(folder)
    assert all(shutil.which(command, path=path) is None for command in SLURM_COMMANDS)
    return path


#: The `evaluate` fixture: runs `python -m evallaunch.evaluate ARGS...`.
Evaluate = Callable[..., subprocess.CompletedProcess[str]]


def compose_spec(overrides: Sequence[str] = ()) -> EvaluateConfig:
    """The frozen spec of `evaluate.yaml` composed with command-line style `overrides`, as
    the entry builds it for a job."""
    from evallaunch.config.compose import compose_config
    from evallaunch.config.spec import job_spec

    return job_spec(compose_config(list(overrides)))


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


def engine_kept_max_new_tokens(directory: Path, cap: int | None = None) -> pd.DataFrame:
    """The job's details, checked against the max_new_tokens its results.json records (or
    `cap`: a harness task's, whose results record the harness's gen_kwargs): no completion
    is longer (the engine received the setting), and a completion is flagged truncated
    exactly when it ended for its length. Returns the details."""
    results = json.loads((directory / "results.json").read_text())
    details = pd.read_parquet(directory / "details.parquet")
    cap = cap or results["generation"]["max_new_tokens"]
    assert details["num_tokens"].notna().all() and (details["num_tokens"] <= cap).all(), (
        f"completions longer than max_new_tokens={cap}: {details['num_tokens'].tolist()}"
    )
    assert details["truncated"].equals(details["finish_reason"] == "length")
    assert results["num_truncated"] == int(details["truncated"].sum())
    return details


def harness_completion_tokens(directory: Path) -> list[int]:
    """The tokens of each completion of a harness-task job, as the job's model counts them."""
    from transformers import AutoTokenizer

    results = json.loads((directory / "results.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(results["model"]["resolved_path"])
    details = pd.read_parquet(directory / "details.parquet")
    return [
        len(tokenizer(text, add_special_tokens=False)["input_ids"])
        for text in details["completion"]
    ]
