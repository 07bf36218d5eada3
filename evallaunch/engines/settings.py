"""The inference engines of one job: how many replicas, each given which settings.

evallaunch owns data parallelism: a job runs `replicas` engines, each spread over
`tensor_parallel_size` x `pipeline_parallel_size` GPUs, each loaded once for the whole job.
The harnesses' own data-parallel paths (lighteval's and lm-eval's vLLM models with
data_parallel_size > 1) rebuild their engines on every call and are never used: with more
than one replica, or with units in flight at once, the replicas are `vllm serve` processes
behind the job's load balancer (evallaunch.serving.job_servers).

On a Slurm cluster the launcher writes the plan's sizes into `parallelism` when it submits
the job (the GPUs it asked for); run elsewhere with `parallelism=auto`, the job plans
itself on the GPUs it sees.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from evallaunch.config.schema import EvaluateConfig
from evallaunch.engines.args import engine_args_of, engine_env_of
from evallaunch.errors import EvallaunchError

log = logging.getLogger(__name__)

#: Requests in flight per server when the engine's slot count is unknown.
DEFAULT_SLOTS = 32
#: sampling.units_in_flight=auto keeps this many times the engines' slots in requests.
BACKLOG = 8
MAX_UNITS_IN_FLIGHT = 16


@dataclass(frozen=True)
class EngineSettings:
    """What the job's engines are given; `replicas` engines of the same settings."""

    replicas: int = 1
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    max_num_seqs: int | None = None
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    dtype: str = "auto"
    enforce_eager: bool = False
    # Nodes of one replica (a Ray cluster each when > 1: evallaunch.serving.ray_cluster).
    nodes_per_replica: int = 1
    # Any other vLLM engine argument (parallelism.engine_args).
    engine_args: dict[str, Any] = field(default_factory=dict)
    # vLLM's environment variables (parallelism.engine_env).
    engine_env: dict[str, str] = field(default_factory=dict)

    @property
    def slots(self) -> int:
        """Sequences all replicas run at once (an estimate when max_num_seqs is unknown)."""
        return self.replicas * (self.max_num_seqs or DEFAULT_SLOTS)

    def vllm_args(self) -> dict[str, Any]:
        """Keyword arguments of one replica's `vllm.LLM` (data parallel size 1)."""
        args: dict[str, Any] = {
            "tensor_parallel_size": self.tensor_parallel_size,
            "pipeline_parallel_size": self.pipeline_parallel_size,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "dtype": self.dtype,
            "enforce_eager": self.enforce_eager,
        }
        if self.max_num_seqs:
            args["max_num_seqs"] = self.max_num_seqs
        if self.max_model_len:
            args["max_model_len"] = self.max_model_len
        return {**args, **self.engine_args}

    def vllm_flags(self) -> str:
        """The same settings as `vllm serve` flags (a mapping or list as JSON; an engine
        argument set to false as `--no-...`)."""
        flags = []
        for key, value in self.vllm_args().items():
            flag = f"--{key.replace('_', '-')}"
            if isinstance(value, bool) and not value and key in self.engine_args:
                flags.append(f"--no-{key.replace('_', '-')}")
            elif isinstance(value, bool):
                flags += [flag] if value else []
            elif isinstance(value, (dict, list)):
                flags.append(f"{flag} {shlex.quote(json.dumps(value))}")
            else:
                flags.append(f"{flag} {shlex.quote(str(value))}")
        return " ".join(flags)

    def to_dict(self) -> dict[str, Any]:
        """All fields, for results.json."""
        return asdict(self)


def engine_settings(
    cfg: EvaluateConfig, device: str, dtype: str, max_model_len: int | None, plan: Any = None
) -> EngineSettings:
    """The job's engine settings: `parallelism` as given, its null sizes from `plan` (the
    launcher's, which it writes into `parallelism`; `evallaunch plan` and a job planning on
    the GPUs it sees pass their own). An in-process transformers model is one replica."""
    par = cfg.parallelism
    if cfg.backend.model_type == "transformers":
        return EngineSettings(dtype=dtype, max_model_len=max_model_len)
    keys = ("tensor_parallel_size", "data_parallel_size", "pipeline_parallel_size", "max_num_seqs")
    sizes = {key: getattr(par, key) for key in (*keys, "nodes_per_replica")}
    if plan is not None:
        planned = plan.parallelism_sizes()
        sizes = {key: planned[key] if value is None else value for key, value in sizes.items()}
    return EngineSettings(
        replicas=int(sizes["data_parallel_size"] or 1),
        tensor_parallel_size=int(sizes["tensor_parallel_size"] or 1),
        pipeline_parallel_size=int(sizes["pipeline_parallel_size"] or 1),
        max_num_seqs=int(sizes["max_num_seqs"]) if sizes["max_num_seqs"] else None,
        gpu_memory_utilization=float(par.gpu_memory_utilization),
        max_model_len=max_model_len,
        dtype=dtype,
        # On a CPU, vLLM's compiled mode costs minutes per engine start for no speed.
        enforce_eager=par.enforce_eager or device == "cpu",
        nodes_per_replica=int(sizes["nodes_per_replica"] or 1),
        # vLLM's V1 runner rewinds a seeded request's generator after a partial prefill,
        # which CPU generators cannot do: no chunked prefill on a CPU unless asked for.
        engine_args={"enable_chunked_prefill": False, **engine_args_of(par)}
        if device == "cpu"
        else engine_args_of(par),
        engine_env=engine_env_of(par),
    )


def vllm_cpu_environment(index: int | None = None) -> dict[str, str]:
    """Variables vLLM's CPU build needs: a KV-cache size (else it reserves most of the
    machine's memory and refuses to start when that is not free) and, for the index-th of
    several engines on one machine, a core of its own."""
    env = {"VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    if index is not None and "VLLM_CPU_OMP_THREADS_BIND" not in os.environ:
        env["VLLM_CPU_OMP_THREADS_BIND"] = str(index % (os.cpu_count() or 1))
    return env


def uses_servers(model_type: str, engine: EngineSettings, units_in_flight: int | None) -> bool:
    """Whether the job talks to inference servers: model_type=server, or vLLM with more
    than one replica or more than one unit in flight (evallaunch's `vllm serve` replicas)."""
    if model_type == "server":
        return True
    return model_type == "vllm" and (
        engine.replicas > 1 or units_in_flight != 1 or engine.nodes_per_replica > 1
    )


def resolve_units_in_flight(
    value: Any, model_type: str, device: str, engine: EngineSettings | None = None
) -> int | None:
    """`sampling.units_in_flight`: auto is None (as many as keep BACKLOG x the slots of
    requests waiting, see `units_to_fill`) where requests go to servers (server mode, or
    vLLM on a GPU or with several replicas), else 1; an explicit value above 1 needs
    servers."""
    if value == "auto":
        replicas = engine.replicas if engine is not None else 1
        vllm_servers = model_type == "vllm" and (device == "cuda" or replicas > 1)
        return None if model_type == "server" or vllm_servers else 1
    if not isinstance(value, int) or value < 1:
        raise EvallaunchError(
            f"sampling.units_in_flight={value!r} is invalid: expected auto or a value >= 1"
        )
    if value > 1 and model_type == "transformers":
        raise EvallaunchError(
            f"sampling.units_in_flight={value} needs inference servers, but "
            "backend.model_type=transformers runs one in-process model",
            hint="use backend.model_type=vllm or server (e.g. backend=lighteval_server), "
            "or sampling.units_in_flight=1",
        )
    return value


def units_to_fill(engine: EngineSettings, unit_sequences: int) -> int:
    """Units generating at once so that their requests hold BACKLOG x every replica's
    slots: when one unit drains, the others' requests take its slots at once."""
    wanted = math.ceil(BACKLOG * engine.slots / max(unit_sequences, 1))
    return max(2, min(wanted, MAX_UNITS_IN_FLIGHT))
