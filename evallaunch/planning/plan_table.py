"""The plan table printed by `evallaunch plan`."""

from __future__ import annotations

from collections.abc import Sequence

from evallaunch.planning.planner import Plan

_HEADER = "job|GPUs|nodes|TP|DP|PP|weights GB/GPU|KV GB/GPU|max seqs|est. hours|time limit"


def format_plan_table(rows: Sequence[tuple[str, Plan | None]]) -> str:
    """A fixed-width table of plans, one row per job, ending with the total GPU-hours (a
    job without a plan sends its requests to a model.endpoint: no GPU)."""
    table = [_HEADER.split("|")]
    served = [job for job, p in rows if p is None]
    for job in served:
        table.append([job, "0", "1", *["-"] * 7, "endpoint"])
    planned = [(job, p) for job, p in rows if p is not None]
    for job, p in planned:
        ints = map(str, (p.total_gpus, p.nodes, p.tp, p.dp, p.pp))
        gbs = (f"{p.weights_gb_per_gpu:.1f}", f"{p.kv_cache_gb_per_gpu:.1f}", str(p.max_num_seqs))
        limit = f"{p.time_limit_min // 60}:{p.time_limit_min % 60:02d}:00"
        table.append([job, *ints, *gbs, f"{p.estimated_hours:.2f}", limit])
    widths = [max(map(len, column)) for column in zip(*table, strict=True)]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*row) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    used = sum(p.total_gpus * p.estimated_hours for _, p in planned)
    reserved = sum(p.total_gpus * p.time_limit_min / 60 for _, p in planned)
    lines.append(f"total GPU-hours: {used:.1f} (estimated; the time limits reserve {reserved:.1f})")
    if served:
        lines.append(
            f"{len(served)} job(s) send their requests to model.endpoint: no GPU, the "
            "launcher's own resources (e.g. a CPU partition: hydra.launcher.partition=...)"
        )
    return "\n".join(lines)
