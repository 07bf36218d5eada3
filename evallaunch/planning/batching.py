"""One model's benchmarks in one job (`launch.benchmarks_per_job`): the batches, and why.

A batch runs its benchmarks one after another on one set of engines, each replica loaded
once. With `auto`, the benchmarks of one model that share engines (its vLLM replicas or
servers, on a GPU cluster whose plan estimates their times) go into one job while the
batch's estimated time fits the cluster's time limit: each benchmark beyond the first
saves an engine start (the planner's estimate of the model's load). With a number,
batches of that many, whatever they save.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from evallaunch.errors import EvallaunchError

AUTO = "auto"


@dataclass(frozen=True)
class Member:
    """One job as the batching sees it."""

    key: Hashable  # jobs with the same key may share an allocation (same model, GPUs)
    name: str  # the benchmark, for the messages
    model: str
    gpus: int = 0
    #: The plan's estimated wall time (minutes); None: no estimate (no GPU plan).
    estimated_min: float | None = None
    #: The plan's estimate of one engine start (model load), minutes.
    start_min: float = 0.0
    #: Its engines run as servers a batch-mate can reuse (vLLM replicas or model_type=server).
    shares: bool = False


@dataclass(frozen=True)
class Batch:
    """Indices of the members that run in one job, and why (empty: nothing to say)."""

    members: tuple[int, ...]
    reason: str = ""


def check_per_job(value: Any) -> int | str:
    """`launch.benchmarks_per_job`: auto or a whole number >= 1."""
    if value == AUTO:
        return AUTO
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EvallaunchError(
            f"launch.benchmarks_per_job={value!r} is invalid: expected auto (one job per "
            "model when that saves GPU-hours) or a value >= 1"
        )
    return value


def batches(members: Sequence[Member], per_job: Any, limit_min: float | None) -> list[Batch]:
    """The batches of `members` (in their order), each with the reason for the choice."""
    per_job = check_per_job(per_job)
    by_key: dict[Hashable, list[int]] = {}
    for index, member in enumerate(members):
        by_key.setdefault(member.key, []).append(index)
    chosen: list[Batch] = []
    for indices in by_key.values():
        if per_job != AUTO:
            assert isinstance(per_job, int)
            for start in range(0, len(indices), per_job):
                part = tuple(indices[start : start + per_job])
                why = f"launch.benchmarks_per_job={per_job}" if len(part) > 1 else ""
                chosen.append(Batch(part, _together(members, part, why) if why else ""))
            continue
        chosen += _auto(members, indices, limit_min)
    return chosen


def _auto(members: Sequence[Member], indices: list[int], limit_min: float | None) -> list[Batch]:
    """Greedy, in order: a member joins the current batch while the batch fits the limit."""
    group = [members[i] for i in indices]
    if len(indices) < 2 or not all(m.shares and m.estimated_min is not None for m in group):
        return [Batch((i,)) for i in indices]
    parts: list[list[int]] = [[indices[0]]]
    splits: dict[int, str] = {}
    for index in indices[1:]:
        together = [*parts[-1], index]
        minutes = batch_minutes([members[i] for i in together])
        if limit_min is None or minutes <= limit_min:
            parts[-1] = together
            continue
        names = ", ".join(members[i].name for i in parts[-1])
        splits[len(parts)] = (
            f"{members[index].name} starts another job: with {names} "
            f"({members[index].model}) it would exceed the "
            f"{_duration(limit_min)} limit (~{_duration(minutes)} estimated)"
        )
        parts.append([index])
    result = []
    for number, part in enumerate(parts):
        saved = saved_gpu_min([members[i] for i in part])
        why = f"saves ~{saved:.0f} GPU-min of engine starts" if len(part) > 1 else ""
        reason = _together(members, tuple(part), why) if why else ""
        reason = "; ".join(r for r in (reason, splits.get(number, "")) if r)
        result.append(Batch(tuple(part), reason))
    return result


def batch_minutes(group: Sequence[Member]) -> float:
    """Estimated minutes of one job running `group`: the members' estimates, one engine
    start instead of one each."""
    total = sum(m.estimated_min or 0.0 for m in group)
    return total - (sum(m.start_min for m in group) - max(m.start_min for m in group))


def saved_gpu_min(group: Sequence[Member]) -> float:
    """GPU-minutes of the engine starts that one job instead of one per member saves."""
    starts = [m.start_min * m.gpus for m in group]
    return sum(starts) - max(starts)


def member_of(cfg: Any, plan: Any, key: Hashable) -> Member:
    """The batching's view of a job planned as `plan` (None: no GPU plan)."""
    model = f"{cfg.model.name}@{cfg.model.version}"
    if plan is None:
        return Member(key, str(cfg.benchmark.name), model)
    return Member(
        key,
        str(cfg.benchmark.name),
        model,
        gpus=int(plan.total_gpus),
        estimated_min=float(plan.estimated_hours) * 60,
        start_min=float(plan.engine_start_min),
        shares=shares_engines(cfg, plan),
    )


def shares_engines(cfg: Any, plan: Any) -> bool:
    """Whether the job's engines run as servers (vLLM replicas, model_type=server) that a
    batch-mate can use; an in-process model (transformers, one vLLM engine) is the job's."""
    from evallaunch.engines.settings import engine_settings, resolve_units_in_flight, uses_servers
    from evallaunch.serving.endpoint import endpoint_of

    model_type = str(cfg.backend.model_type)
    if model_type == "transformers" or endpoint_of(cfg) is not None:
        return False
    engine = engine_settings(cfg, "cuda", plan.dtype, cfg.model.max_model_length, plan=plan)
    units = resolve_units_in_flight(cfg.sampling.units_in_flight, model_type, "cuda", engine)
    return uses_servers(model_type, engine, units)


def _together(members: Sequence[Member], part: tuple[int, ...], why: str) -> str:
    names = ", ".join(members[i].name for i in part)
    return f"one job for {names} ({members[part[0]].model}): {why}"


def _duration(minutes: float) -> str:
    if minutes >= 60 and round(minutes) % 60 == 0:
        return f"{round(minutes) // 60} h"
    return f"{minutes:.0f} min"
