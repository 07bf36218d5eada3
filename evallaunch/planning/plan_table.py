"""The plan table printed by `evallaunch plan`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evallaunch.planning.job_details import JobDetails
from evallaunch.planning.planner import Plan

_HEADER = "job|GPUs|nodes|TP|DP|PP|weights GB/GPU|KV GB/GPU|max seqs|est. hours|time limit"


def format_plan_table(
    rows: Sequence[tuple[str, Plan | None]], details: Sequence[JobDetails | None] = ()
) -> str:
    """A fixed-width table of plans, one row per job, ending with the total GPU-hours (a
    job without a plan sends its requests to a model.endpoint: no GPU). With `details`
    (one per row), an engine column, and below the table each job's model, engine
    settings and notes."""
    engines = [d.engine if d else "endpoint" for d in details] if details else []
    table = [_HEADER.split("|")]
    if engines:
        table[0].insert(1, "engine")
    for index, (job, p) in sorted(enumerate(rows), key=lambda row: row[1][1] is not None):
        if p is None:
            cells = [job, "0", "1", *["-"] * 7, "endpoint"]
        else:
            ints = map(str, (p.total_gpus, p.nodes, p.tp, p.dp, p.pp))
            gbs = (f"{p.weights_gb_per_gpu:.1f}", f"{p.kv_cache_gb_per_gpu:.1f}")
            limit = f"{p.time_limit_min // 60}:{p.time_limit_min % 60:02d}:00"
            cells = [job, *ints, *gbs, str(p.max_num_seqs), f"{p.estimated_hours:.2f}", limit]
        table.append(cells[:1] + engines[index : index + 1] + cells[1:])
    widths = [max(map(len, column)) for column in zip(*table, strict=True)]
    fmt = "  ".join(f"{{:{'<' if i in (0, 1) else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*row) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    planned = [p for _, p in rows if p is not None]
    used = sum(p.total_gpus * p.estimated_hours for p in planned)
    reserved = sum(p.total_gpus * p.time_limit_min / 60 for p in planned)
    lines.append(f"total GPU-hours: {used:.1f} (estimated; the time limits reserve {reserved:.1f})")
    if served := len(rows) - len(planned):
        lines.append(
            f"{served} job(s) send their requests to model.endpoint: no GPU, the "
            "launcher's own resources (e.g. a CPU partition: hydra.launcher.partition=...)"
        )
    for (job, p), detail in zip(rows, details, strict=False):
        if p is not None and detail is not None:
            lines += _detail_lines(job, p, detail)
    return "\n".join(lines)


def batching_lines(reasons: Sequence[str]) -> list[str]:
    """Which benchmarks of a model run in one job, and why (each reason once, in order)."""
    return [f"jobs: {reason}" for reason in dict.fromkeys(r for r in reasons if r)]


def _setting(value: Any) -> str:
    return "(the model's own)" if value is None else str(value)


def _detail_lines(job: str, plan: Plan, detail: JobDetails) -> list[str]:
    settings = " ".join(f"{key}={_setting(value)}" for key, value in detail.settings.items())
    notes = dict.fromkeys((*plan.notes, *detail.notes))  # in order, once each
    return [
        f"{job}:",
        f"  model: {detail.model}",
        f"  engine: {detail.engine}: {settings}",
        *(f"  note: {note}" for note in notes),
    ]
