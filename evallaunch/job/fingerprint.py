"""A job's config fingerprint: the hash of every setting that can change its numbers.

The launcher computes it at submit time (to skip finished jobs) and the job records it in
results.json and names its sample ledger by it, so both must compute it alike: here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from evallaunch.config.frozen import plain
from evallaunch.config.schema import EvaluateConfig

# Backend model_args that only spread the work over devices (the samples do not change).
PARALLELISM_ARGS = frozenset(
    {
        "tensor_parallel_size",
        "data_parallel_size",
        "pipeline_parallel_size",
        "gpu_memory_utilization",
        "max_num_seqs",
        "batch_size",
        "max_batch_size",
        "num_concurrent",
        "concurrent_requests",
        "parallelize",
        "device_map",
    }
)


def fingerprint(parts: dict[str, Any]) -> str:
    """A stable hash of everything that changes the numbers (canonical JSON, sha256)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def config_fingerprint(cfg: EvaluateConfig, data_sha256: str) -> str:
    """Hash of every setting that can change the numbers (not paths, not verbosity). The
    spec's sections as plain values are what the composed config's resolved containers
    were: the fingerprints of results already on disk stay valid."""

    backend = plain(cfg.backend)
    # How the work is spread over GPUs does not change which samples are drawn.
    model_args = {k: v for k, v in backend["model_args"].items() if k not in PARALLELISM_ARGS}
    # Neither resuming nor overlapping units changes which samples are drawn.
    sampling = {
        k: v for k, v in plain(cfg.sampling).items() if k not in ("resume", "units_in_flight")
    }
    model = {k: v for k, v in plain(cfg.model).items() if k != "name"}
    # Of an endpoint, the URL and the served model: not how fast it is asked.
    endpoint = model.pop("endpoint", None) or {}
    if endpoint.get("url"):
        model["endpoint"] = {k: endpoint.get(k) for k in ("url", "served_model")}
    # vLLM settings that can move the numbers (fp8 KV cache, batch invariance, ...);
    # left out when none is given, so that earlier fingerprints stay what they were.
    engines = {
        key: value
        for key in ("engine_args", "engine_env")
        if (value := plain(cfg.parallelism).get(key))
    }
    return fingerprint(
        {
            **engines,
            "model": model,
            # consent to run code changes no number (and older results stay reusable)
            "benchmark": {
                k: v for k, v in plain(cfg.benchmark).items() if k != "allow_code_execution"
            },
            "generation": plain(cfg.generation),
            "backend": {"name": backend["name"], "model_type": backend["model_type"]},
            "model_args": model_args,
            "sampling": sampling,
            "data_sha256": data_sha256,
        }
    )
