"""Drawing a job's samples in units recorded in the sample ledger, optionally adaptively:
a rerun skips the units the ledger holds and its results equal those of an uninterrupted
run. Blocks run in order; with `sampling.adaptive`, a problem leaves the later blocks once
its pass@1 is settled (evallaunch.job.stopping)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evallaunch.backends.base import Backend, BackendOutput, Completion, GenerationRequest
from evallaunch.engines.settings import units_to_fill
from evallaunch.job.ledger import SampleKey, SampleLedger
from evallaunch.job.units import Schedule, Unit, run_overlapped, run_unit
from evallaunch.runtime.files import write_json

log = logging.getLogger(__name__)


@dataclass
class SamplingReport:
    """How the samples of a job were obtained (written to results.json as `sampling`)."""

    budget_n: int
    units: int = 0
    units_reused: int = 0
    samples_reused: int = 0
    samples_generated: int = 0
    units_in_flight: int = 1
    adaptive: dict[str, Any] | None = None
    samples_per_problem: dict[str, float] = field(default_factory=dict)


def draw_samples(
    backend: Backend,
    request: GenerationRequest,
    ledger: SampleLedger,
    sampling: Any,
    units_in_flight: int | None = 1,
    answered: Callable[[str], int] | None = None,
    progress_file: Path | None = None,
) -> tuple[BackendOutput, SamplingReport]:
    """Generate every sample of `request` that the ledger lacks, unit by unit, with up to
    `units_in_flight` units generating at once (each recorded as soon as it finishes;
    None: as many as keep the engines' slots filled, `evallaunch.engines.settings.units_to_fill`).

    `answered(unit)`: the unit's requests the servers have answered. A unit whose every
    sample is answered no longer counts as generating while its harness scores it, so the
    next unit's requests reach the servers meanwhile.

    The harness grades each sample for its own metrics with the ledger's grader, which
    remembers the grades: recording the unit reuses them (each sample is graded once)."""
    if sampling.adaptive and ledger.grader is None:
        raise ValueError("adaptive sampling decides on graded samples: the ledger needs a grader")
    schedule = Schedule(request, ledger, sampling)
    scorer = ledger.grader.score if ledger.grader is not None else None
    report = SamplingReport(budget_n=request.n, adaptive=adaptive_settings(sampling))
    planned: set[SampleKey] = set()  # this run's samples (the ledger may hold others)
    names: list[str] = []
    progress = Progress(schedule.planned_samples, progress_file)

    def start(unit: Unit) -> bool:
        """Count the unit in; True when it still has to be generated."""
        report.units += 1
        planned.update(unit.keys)
        names.append(unit.name)
        if ledger.has(unit.name, unit.keys):
            report.units_reused += 1
            report.samples_reused += len(unit.keys)
            progress.reused(len(unit.keys))
            schedule.done(unit)
            return False
        return True

    def finish(unit: Unit, result: tuple[list[Completion], dict[str, float]]) -> None:
        completions, metrics = result
        ledger.record_unit(unit.name, completions, metrics)
        report.samples_generated += len(unit.keys)
        progress.generated(unit.name, completions)
        schedule.done(unit)

    def run(unit: Unit) -> tuple[list[Completion], dict[str, float]]:
        return run_unit(backend, request, unit, scorer)

    if units_in_flight is None:
        units_in_flight = units_to_fill(request.engine, schedule.unit_sequences)
    report.units_in_flight = units_in_flight
    if units_in_flight <= 1:
        while (unit := schedule.next_unit()) is not None:
            if start(unit):
                finish(unit, run(unit))
    else:
        backend.prepare(request)
        run_overlapped(schedule, start, run, finish, units_in_flight, answered, progress.answered)
    drawn = _drawn_samples(request, ledger, planned)
    report.samples_per_problem = _spread([len(v) for v in drawn.values()])
    completions = [c for samples in drawn.values() for c in samples]
    metrics = _weighted_metrics([ledger.units[name] for name in names])
    return BackendOutput(completions, metrics=metrics), report


def adaptive_settings(sampling: Any) -> dict[str, Any] | None:
    """The adaptive stopping rule's settings, as the report records them (None: fixed n)."""
    if not sampling.adaptive:
        return None
    return {
        "rule": sampling.adaptive_rule,
        "ci_width": sampling.ci_width if sampling.adaptive_rule == "interval" else None,
        "match_n": sampling.match_n if sampling.adaptive_rule == "neyman" else None,
        "min_samples": sampling.min_samples,
    }


def _drawn_samples(
    request: GenerationRequest, ledger: SampleLedger, planned: set[SampleKey]
) -> dict[str, list[Completion]]:
    """This run's samples of each problem, in sample order, from the ledger."""
    return {
        problem.id: [
            ledger.samples[(problem.id, i)] for i in range(request.n) if (problem.id, i) in planned
        ]
        for problem in request.problems
    }


PROGRESS_FILE = "progress.json"
# Seconds between progress lines while units generate (samples answered by the servers).
PROGRESS_EVERY_S = 30.0


class Progress:
    """Logs each finished unit: samples done, tokens per second and the time left; and
    keeps them in the job's progress file (what `evallaunch status` shows of a local job)."""

    def __init__(self, total: int, path: Path | None = None) -> None:
        self.total, self.done, self.tokens, self.new = total, 0, 0, 0
        self.clock = self.last_said = time.monotonic()
        self.path = path
        self._record(None, None)

    def reused(self, samples: int) -> None:
        self.done += samples
        self._record(None, None)

    def generated(self, name: str, completions: list[Completion]) -> None:
        self.done += len(completions)
        self.new += len(completions)
        self.tokens += sum(c.num_tokens or 0 for c in completions)
        elapsed = max(time.monotonic() - self.clock, 1e-9)
        left = max(self.total - self.done, 0) * elapsed / max(self.new, 1)
        log.info(
            "Unit %s done: %d/%d samples, %.1f tokens/s, about %s left",
            name,
            self.done,
            self.total,
            self.tokens / elapsed,
            _duration(left),
        )
        self._record(self.tokens / elapsed, left)

    def answered(self, in_flight: int) -> None:
        """`in_flight` samples of the units still generating are answered (the servers say
        so): the time left from the first answered samples, not the first finished unit;
        logged at most every PROGRESS_EVERY_S."""
        now = time.monotonic()
        if in_flight <= 0 or now - self.last_said < PROGRESS_EVERY_S:
            return
        self.last_said = now
        done, new = self.done + in_flight, self.new + in_flight
        left = max(self.total - done, 0) * (now - self.clock) / new
        log.info(
            "Generating: %d/%d samples answered, about %s left", done, self.total, _duration(left)
        )
        self._record(None, left, done)

    def _record(
        self, tokens_per_s: float | None, seconds_left: float | None, done: int | None = None
    ) -> None:
        if self.path is not None:
            done = self.done if done is None else done
            record: dict[str, Any] = {"samples_done": done, "samples_planned": self.total}
            record |= {"tokens_per_s": tokens_per_s, "seconds_left": seconds_left}
            write_json(self.path, record | {"updated_at": time.time()})


def read_progress(path: Path) -> dict[str, Any] | None:
    """A job's progress file, as `Progress` writes it (None before its first unit)."""
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def describe_progress(progress: dict[str, Any] | None) -> str:
    """`12/40 samples, 850 tokens/s, about 3 min left`, or `-`."""
    if not progress:
        return "-"
    text = f"{progress['samples_done']}/{progress['samples_planned']} samples"
    if progress.get("tokens_per_s") is not None:
        text += f", {progress['tokens_per_s']:.0f} tokens/s"
    if progress.get("seconds_left") is not None:
        text += f", about {_duration(progress['seconds_left'])} left"
    return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _weighted_metrics(units: list[dict[str, Any]]) -> dict[str, float]:
    """The backend's metrics over the units, each weighted by its number of samples (a
    metric some unit lacks is left out)."""
    totals: dict[str, float] = {}
    weights: dict[str, int] = {}
    for unit in units:
        for key, value in (unit.get("metrics") or {}).items():
            totals[key] = totals.get(key, 0.0) + float(value) * unit["samples"]
            weights[key] = weights.get(key, 0) + unit["samples"]
    expected = sum(unit["samples"] for unit in units)
    return {k: totals[k] / weights[k] for k in totals if weights[k] == expected}


def _spread(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    return {"min": min(values), "mean": sum(values) / len(values), "max": max(values)}
