"""vLLM engine arguments a user gives (`parallelism.engine_args`: prefix caching, fp8 KV
cache, speculative decoding, chunked prefill, ...), checked against the installed vLLM's
own `EngineArgs` before anything runs or is submitted."""

from __future__ import annotations

import difflib
import functools
import json
import logging
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evallaunch.config.frozen import plain
from evallaunch.config.running import ParallelismConfig
from evallaunch.engines.vllm_python import find_vllm_python
from evallaunch.errors import EvallaunchError
from evallaunch.runtime.files import write_json

log = logging.getLogger(__name__)

# Engine arguments evallaunch sets itself, and the setting that sets each.
OWN = {
    "model": "model.name_or_path",
    "tokenizer": "model.name_or_path",
    "revision": "model.revision",
    "dtype": "model.dtype",
    "seed": "generation.seed",
    "max_model_len": "model.max_model_length",
    "trust_remote_code": "model.trust_remote_code",
    "tensor_parallel_size": "parallelism.tensor_parallel_size",
    "pipeline_parallel_size": "parallelism.pipeline_parallel_size",
    "data_parallel_size": "parallelism.data_parallel_size",
    "gpu_memory_utilization": "parallelism.gpu_memory_utilization",
    "max_num_seqs": "parallelism.max_num_seqs",
    "enforce_eager": "parallelism.enforce_eager",
}
_FIELDS = (
    "import dataclasses, json, vllm\n"
    "from vllm.engine.arg_utils import EngineArgs\n"
    "print(json.dumps(sorted(f.name for f in dataclasses.fields(EngineArgs))))\n"
)
_ENVIRONMENT = (
    "import json, vllm.envs\nprint(json.dumps(sorted(vllm.envs.environment_variables)))\n"
)


@functools.lru_cache(maxsize=4)
def _vllm_version(python: str) -> str | None:
    proc = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('vllm'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def engine_arg_names(cache_dir: str | Path) -> tuple[str, list[str]] | None:
    """The installed vLLM's version and the names of its engine arguments (read once per
    vLLM version, in the Python that has vLLM, and cached); None without vLLM."""
    return _vllm_names(cache_dir, "engine-args", _FIELDS)


def engine_env_names(cache_dir: str | Path) -> tuple[str, list[str]] | None:
    """The installed vLLM's version and the environment variables it reads (as
    `engine_arg_names`)."""
    return _vllm_names(cache_dir, "environment", _ENVIRONMENT)


def _vllm_names(cache_dir: str | Path, kind: str, script: str) -> tuple[str, list[str]] | None:
    python = find_vllm_python()
    version = _vllm_version(python) if python else None
    if python is None or version is None:
        return None
    cached = Path(cache_dir).expanduser() / "vllm" / f"{kind}-{version}.json"
    try:
        return version, list(json.loads(cached.read_text()))
    except (OSError, ValueError):
        pass
    proc = subprocess.run(
        [python, "-c", script], capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        log.warning("could not read vLLM's %s names: %s", kind, proc.stderr.strip()[-500:])
        return None
    names = list(json.loads(proc.stdout.strip().splitlines()[-1]))
    write_json(cached, names)
    return version, names


def check_engine_args(engine_args: Mapping[str, Any], model_type: str, cache_dir: str) -> None:
    """Refuse an engine argument vLLM does not have (naming the closest), one evallaunch
    sets from its own setting, or engine arguments for a job that runs no vLLM."""
    check_own_engine_args(engine_args, model_type)
    if not engine_args:
        return
    found = engine_arg_names(cache_dir)
    if found is None:
        log.warning("vLLM is not installed here: vLLM checks parallelism.engine_args at start")
        return
    version, names = found
    for key in engine_args:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
            raise EvallaunchError(
                f"parallelism.engine_args.{key} is not an engine argument of vLLM {version}",
                hint=f"closest: {', '.join(close)}" if close else "see `vllm serve --help`",
            )


def check_engine_env(engine_env: Mapping[str, Any], model_type: str, cache_dir: str) -> None:
    """Refuse a variable that is not vLLM's (VLLM_*, known to the installed vLLM, naming
    the closest) or one for a job that runs no vLLM."""
    if not engine_env:
        return
    key = next(iter(engine_env))
    if model_type == "transformers":
        raise EvallaunchError(
            f"parallelism.engine_env.{key} is invalid with backend.model_type=transformers: "
            "engine_env are vLLM's environment variables",
            hint="backend.model_type=vllm (in process) or server (vllm serve replicas)",
        )
    found = engine_env_names(cache_dir)
    for key in engine_env:
        if found is not None and key in found[1]:
            continue
        if found is None and key.startswith("VLLM_"):
            continue  # vLLM checks nothing: the job's vLLM reads what it knows
        names = found[1] if found else []
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
        version = f" {found[0]}" if found else ""
        raise EvallaunchError(
            f"parallelism.engine_env.{key} is not an environment variable of vLLM{version}",
            hint=f"closest: {', '.join(close)}" if close else "vLLM's variables start VLLM_",
        )


#: The harnesses' own data parallelism: it rebuilds its engines on every call, and the job's
#: record could not count them. evallaunch runs the replicas.
HARNESS_PARALLELISM = {
    "data_parallel_size": "parallelism.data_parallel_size",
    "tensor_parallel_size": "parallelism.tensor_parallel_size",
    "pipeline_parallel_size": "parallelism.pipeline_parallel_size",
}


def check_model_args(model_args: Mapping[str, Any], model_type: str) -> None:
    """Refuse engine sizes given to a harness's vLLM model (`backend.model_args`) that
    evallaunch sets itself, naming the setting to use."""
    if model_type != "vllm":
        return
    for key in model_args:
        if key in HARNESS_PARALLELISM:
            raise EvallaunchError(
                f"backend.model_args.{key}={model_args[key]} is evallaunch's to set: use "
                f"{HARNESS_PARALLELISM[key]}",
                hint="evallaunch runs the replicas itself (one engine load each) and records "
                "them; the harness's own data parallelism rebuilds its engines on every call",
            )


def check_own_engine_args(engine_args: Mapping[str, Any], model_type: str) -> None:
    """Refuse engine arguments for a job that runs no vLLM, and one evallaunch sets from
    its own setting (naming that setting)."""
    if not engine_args:
        return
    if model_type == "transformers":
        key, value = next(iter(engine_args.items()))
        raise EvallaunchError(
            f"parallelism.engine_args.{key}={value} is invalid with "
            "backend.model_type=transformers: engine_args are vLLM's engine arguments",
            hint="backend.model_type=vllm (in process) or server (vllm serve replicas)",
        )
    for key in engine_args:
        if key in OWN:
            raise EvallaunchError(
                f"parallelism.engine_args.{key} is evallaunch's to set: use {OWN[key]}"
            )


def engine_args_of(parallelism: ParallelismConfig) -> dict[str, Any]:
    """parallelism.engine_args as plain (mutable) values."""
    args = plain(parallelism.engine_args)
    assert isinstance(args, dict)
    return args


def engine_env_of(parallelism: ParallelismConfig) -> dict[str, str]:
    """parallelism.engine_env as environment strings (true/false as 1/0, as vLLM reads)."""
    return {
        str(k): str(int(v)) if isinstance(v, bool) else str(v)
        for k, v in parallelism.engine_env.items()
    }
