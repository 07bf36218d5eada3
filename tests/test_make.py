"""The Makefile's entry points: open-r1's `make evaluate` variables and `make test`'s Slurm."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.helpers import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")

OPEN_R1_VARIABLES = ("EXPERIMENT", "MODEL", "TASK", "PARALLEL", "NUM_GPUS", "ARGS", "SLURM")


def make_env() -> dict[str, str]:
    """The environment without make's variables (make reads them from the environment)."""
    skip = {*OPEN_R1_VARIABLES, "MAKEFLAGS", "MAKELEVEL", "MFLAGS"}
    return {k: v for k, v in os.environ.items() if k not in skip}


def dry_make(*args: str) -> list[str]:
    """`make -n ARGS`: the recipe lines, continuation lines joined."""
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=make_env(),
        check=True,
    )
    return proc.stdout.replace("\\\n", " ").splitlines()


def evaluate_overrides(*variables: str) -> list[str]:
    """The overrides `make evaluate VARIABLES` passes to evallaunch-evaluate: its recipe
    from `make -n`, run with --print instead of --run."""
    (line,) = [line for line in dry_make("evaluate", *variables) if "open_r1_args.py" in line]
    words = shlex.split(line)
    words = words[next(i for i, w in enumerate(words) if "=" not in w) :]  # drop env settings
    run = words.index("--run")
    assert words[run + 1].endswith("bin/evallaunch-evaluate")
    words[run : run + 2] = ["--print"]
    proc = subprocess.run(words, cwd=REPO, capture_output=True, text=True, env=make_env())
    assert proc.returncode == 0, proc.stderr
    return shlex.split(proc.stdout)


def composed(overrides: list[str]) -> dict:
    """The job config evallaunch-evaluate composes from these overrides."""
    proc = subprocess.run(
        [sys.executable, "-m", "evallaunch.evaluate", *overrides, "--cfg", "job"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(yaml.safe_load(proc.stdout))


def test_open_r1_make_evaluate_line_on_a_preset_model() -> None:
    words = evaluate_overrides(
        "MODEL=deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "TASK=gpqa:diamond",
        "PARALLEL=data",
        "NUM_GPUS=8",
    )
    assert words == [
        "experiment=open_r1",
        "model=r1_distill_qwen_7b",  # the preset whose name_or_path MODEL is
        "benchmark=gpqa_diamond",
        "parallelism=dp",
        "parallelism.data_parallel_size=8",
    ]
    cfg = composed(words)
    assert cfg["model"]["name_or_path"] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
    assert cfg["benchmark"]["name"] == "gpqa_diamond"
    assert cfg["parallelism"]["name"] == "dp" and cfg["parallelism"]["data_parallel_size"] == 8
    assert cfg["generation"]["temperature"] == 0.6  # the open-r1 recipe
    assert cfg["generation"]["max_new_tokens"] == 32768


def test_any_model_tensor_parallel_and_args_alongside() -> None:
    words = evaluate_overrides(
        "MODEL=my-org/r1-run7",
        "TASK=lcb",
        "PARALLEL=tensor",
        "NUM_GPUS=4",
        "ARGS=backend=lmeval benchmark.limit=10",
    )
    assert words == [
        "experiment=open_r1",
        "model=custom",
        "model.name_or_path=my-org/r1-run7",
        "benchmark=lcb_codegen",
        "parallelism=tp",
        "parallelism.tensor_parallel_size=4",
        "backend=lmeval",
        "benchmark.limit=10",
    ]
    cfg = composed(words)
    assert cfg["model"]["name_or_path"] == "my-org/r1-run7"
    assert cfg["parallelism"]["tensor_parallel_size"] == 4
    assert cfg["backend"]["name"] == "lmeval" and cfg["benchmark"]["limit"] == 10


@pytest.mark.parametrize(
    ("task", "benchmark"),
    [("aime24", "aime24"), ("aime25", "aime25"), ("math_500", "math_500"), ("lcb", "lcb_codegen")],
)
def test_open_r1_task_names(task: str, benchmark: str) -> None:
    words = evaluate_overrides("MODEL=deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", f"TASK={task}")
    assert words == ["experiment=open_r1", "model=r1_distill_qwen_1_5b", f"benchmark={benchmark}"]


def test_plain_make_evaluate_is_still_the_quickstart() -> None:
    assert evaluate_overrides() == ["experiment=quickstart"]
    assert evaluate_overrides("ARGS=backend=lmeval") == ["experiment=quickstart", "backend=lmeval"]


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("task", "aime26", ["TASK='aime26'", "gpqa:diamond", "lcb", "gpqa_diamond", "lcb_codegen"]),
        ("parallel", "pipeline", ["PARALLEL='pipeline'", "data, tensor"]),
        ("num-gpus", "eight", ["NUM_GPUS='eight'", "integer >= 1"]),
    ],
)
def test_bad_values_fail_naming_the_valid_choices(
    variable: str, value: str, named: list[str]
) -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/open_r1_args.py", f"--{variable}", value, "--print"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert all(text in proc.stderr for text in named), proc.stderr
    assert "Traceback" not in proc.stderr


def test_make_test_starts_the_local_slurm_first() -> None:
    lines = dry_make("test")
    script = next(i for i, line in enumerate(lines) if "scripts/slurm/up-for-tests.sh" in line)
    tests = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert script < tests
    proc = subprocess.run(
        ["bash", "scripts/slurm/up-for-tests.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**make_env(), "SLURM": "0"},
    )
    assert proc.returncode == 0  # the suite runs anyway
    assert "SLURM=0" in proc.stdout and "the Slurm tests will skip" in proc.stdout
