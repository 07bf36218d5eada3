#!/usr/bin/env python3
"""open-r1's `make evaluate` variables as evallaunch-evaluate overrides.

    make evaluate MODEL=deepseek-ai/DeepSeek-R1-Distill-Qwen-7B TASK=aime24 PARALLEL=data NUM_GPUS=8

MODEL     a Hub id or a checkpoint path: the conf/model/ preset whose name_or_path it is
          (model=r1_distill_qwen_7b), else model=custom model.name_or_path=MODEL
TASK      an evallaunch benchmark (conf/benchmark/) or open-r1's name for it:
          aime24, aime25, math_500, gpqa:diamond (gpqa_diamond), lcb (lcb_codegen)
PARALLEL  data -> parallelism=dp, tensor -> parallelism=tp
NUM_GPUS  N -> parallelism.data_parallel_size=N (data, the default) or
          parallelism.tensor_parallel_size=N (tensor)
EXPERIMENT  the experiment preset; empty: open_r1 (the open-r1 recipe) when MODEL is given,
          else quickstart

Empty values are unset (make passes every variable). Overrides after `--` (make's ARGS) come
last, so they win. `--print` prints the overrides; `--run EXE` runs EXE with them.
Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

CONF = Path(__file__).resolve().parents[1] / "conf"
# open-r1's task names (its Makefile's TASK) -> evallaunch's benchmarks.
OPEN_R1_TASKS = {
    "aime24": "aime24",
    "aime25": "aime25",
    "math_500": "math_500",
    "gpqa:diamond": "gpqa_diamond",
    "lcb": "lcb_codegen",
}
PARALLEL = {"data": ("dp", "data_parallel_size"), "tensor": ("tp", "tensor_parallel_size")}


class BadValue(Exception):
    pass


def benchmarks() -> list[str]:
    return sorted(p.stem for p in (CONF / "benchmark").glob("*.yaml"))


def model_presets() -> dict[str, str]:
    """name_or_path -> preset name, for every conf/model/ preset that names a model."""
    presets = {}
    for path in sorted((CONF / "model").glob("*.yaml")):
        found = re.search(r"^name_or_path:\s*['\"]?([^'\"\s#]+)", path.read_text(), re.M)
        if found and found.group(1) != "???":
            presets[found.group(1)] = path.stem
    return presets


def hydra_value(value: str) -> str:
    """A string as a Hydra override value: bare when Hydra reads it as is, else quoted."""
    if re.fullmatch(r"[\w./@~+-]+", value) and not re.fullmatch(r"[\d.eE+-]+", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def overrides(experiment: str, model: str, task: str, parallel: str, num_gpus: str) -> list[str]:
    """The evallaunch-evaluate overrides for open-r1's variables (empty: unset)."""
    words = [f"experiment={experiment or ('open_r1' if model else 'quickstart')}"]
    if model:
        preset = model_presets().get(model.rstrip("/"))
        if preset:
            words.append(f"model={preset}")
        else:
            local = Path(model).expanduser()
            path = str(local.resolve()) if local.exists() else model
            words += ["model=custom", f"model.name_or_path={hydra_value(path)}"]
    if task:
        known = benchmarks()
        benchmark = OPEN_R1_TASKS.get(task, task)
        if benchmark not in known:
            raise BadValue(
                f"TASK={task!r} is not a benchmark; valid choices: "
                f"{', '.join(OPEN_R1_TASKS)} (open-r1's names) or {', '.join(known)}"
            )
        words.append(f"benchmark={benchmark}")
    if parallel and parallel not in PARALLEL:
        raise BadValue(f"PARALLEL={parallel!r} is invalid; valid choices: data, tensor")
    if num_gpus and not (num_gpus.isdigit() and int(num_gpus) >= 1):
        raise BadValue(f"NUM_GPUS={num_gpus!r} is invalid; valid choices: an integer >= 1")
    if parallel or num_gpus:
        preset, size = PARALLEL[parallel or "data"]
        words.append(f"parallelism={preset}")
        if num_gpus:
            words.append(f"parallelism.{size}={int(num_gpus)}")
    return words


def main(argv: list[str]) -> int:
    rest: list[str] = []
    if "--" in argv:
        argv, rest = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("experiment", "model", "task", "parallel", "num-gpus"):
        parser.add_argument(f"--{name}", default="")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--print", action="store_true", help="print the overrides")
    action.add_argument("--run", metavar="EXE", help="run EXE with the overrides and ARGS")
    args = parser.parse_args(argv)
    try:
        words = overrides(
            args.experiment.strip(),
            args.model.strip(),
            args.task.strip(),
            args.parallel.strip(),
            args.num_gpus.strip(),
        )
    except BadValue as err:
        print(f"make evaluate: error: {err}", file=sys.stderr)
        return 2
    if args.print:
        print(shlex.join([*words, *rest]))
        return 0
    print(f"evallaunch-evaluate {shlex.join([*words, *rest])}", file=sys.stderr, flush=True)
    os.execv(args.run, [args.run, *words, *rest])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
