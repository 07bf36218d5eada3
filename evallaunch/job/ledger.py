"""The sample ledger: every generated sample of a job, recorded durably as it is produced.

One JSON-lines file per config fingerprint (`<job_dir>/ledger/<fingerprint>.jsonl`), so a
changed setting never reuses samples drawn under another. A record is keyed by problem id
and sample index, which do not depend on the GPU count or the parallelism: a job requeued
onto a different allocation reuses them. Each unit of work is appended with one write and
fsync'd before the next unit starts; a line torn by a crash is ignored on reading.

Each sample is graded when its unit is recorded, and its grade (`correct`, the
`extracted_answer`) is recorded with it: the adaptive stopping rules and the final scoring
read it, nothing grades the sample again. Samples recorded without a grade (by an older
evallaunch) are graded once, when the ledger is loaded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from evallaunch.backends.base import Completion
from evallaunch.errors import EvallaunchError
from evallaunch.job.grading import Grade, SampleGrader
from evallaunch.runtime.files import write_json

log = logging.getLogger(__name__)

LEDGER_DIR = "ledger"
SampleKey = tuple[str, int]
COMPLETION_FIELDS = frozenset(f.name for f in fields(Completion))


class SampleLedger:
    """Append-only record of a job's samples with their grades, and of each unit's backend
    metrics.

    A unit's samples count only once the unit's closing line (its name, sample count and
    metrics) is on disk. Without a `grader` (reading another job's ledger) samples are
    recorded and read without grades."""

    def __init__(
        self, job_dir: Path, config_fingerprint: str, grader: SampleGrader | None = None
    ) -> None:
        self.path = job_dir / LEDGER_DIR / f"{config_fingerprint}.jsonl"
        self.grader = grader
        self.samples: dict[SampleKey, Completion] = {}
        self.grades: dict[SampleKey, Grade] = {}
        self.units: dict[str, dict[str, Any]] = {}

    def load(self) -> SampleLedger:
        """Read the samples recorded by earlier runs of this config (if any)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return self
        torn, pending = 0, list[tuple[Completion, dict[str, Any]]]()
        for line in lines:
            try:
                record = json.loads(line)
                if "unit" in record:  # the unit's last line: its samples are complete
                    self.units[str(record["unit"])] = record
                    for completion, sample in pending:
                        self._read_sample(completion, sample)
                    pending = []
                else:
                    pending.append((Completion(**_completion_fields(record)), record))
            except (ValueError, TypeError):
                torn += 1
        if torn or pending:
            log.warning(
                "ledger %s: ignored %d torn line(s) and %d sample(s) of an unfinished unit",
                self.path,
                torn,
                len(pending),
            )
        self._grade_ungraded()
        return self

    def _read_sample(self, completion: Completion, record: dict[str, Any]) -> None:
        key = (completion.problem_id, completion.sample_index)
        self.samples[key] = completion
        if "correct" in record:
            self.grades[key] = Grade.from_record(record)
        else:
            self.grades.pop(key, None)

    def _grade_ungraded(self) -> None:
        """Grade, once, the samples an older evallaunch recorded without their grade."""
        if self.grader is None:
            return
        keys = [key for key in self.samples if key not in self.grades]
        if keys:
            log.info(
                "ledger %s: grading %d sample(s) recorded without a grade", self.path, len(keys)
            )
            grades = self.grader.grade([self.samples[key] for key in keys])
            self.grades.update(zip(keys, grades, strict=True))

    def has(self, unit: str, keys: Iterable[SampleKey]) -> bool:
        """Whether `unit` was recorded complete, with every one of `keys`."""
        return unit in self.units and all(key in self.samples for key in keys)

    def record_unit(
        self, unit: str, completions: list[Completion], metrics: dict[str, float]
    ) -> None:
        """Grade a unit's samples (with the grader's memory of the harness's grades) and
        append them, their grades and the backend's metrics on them, durably."""
        grades = self.grader.grade(completions) if self.grader is not None else []
        records = [asdict(completion) for completion in completions]
        if grades:
            for record, grade in zip(records, grades, strict=True):
                record.update(grade.to_record())
        lines = [json.dumps(record) for record in records]
        lines.append(json.dumps({"unit": unit, "samples": len(completions), "metrics": metrics}))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            if handle.tell() and not self._ends_with_newline():
                handle.write("\n")  # a torn last line from a crash stays on its own line
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        for index, completion in enumerate(completions):
            key = (completion.problem_id, completion.sample_index)
            self.samples[key] = completion
            if grades:
                self.grades[key] = grades[index]
        self.units[unit] = {"unit": unit, "samples": len(completions), "metrics": metrics}

    def check_source(self, facts: dict[str, Any]) -> None:
        """Refuse to add to samples that another model drew: `facts` (what a served model's
        server reports of it) must equal those recorded with the ledger's samples, and are
        recorded for the next run."""
        if not facts:
            return
        path = self.path.with_suffix(".source.json")
        try:
            recorded = json.loads(path.read_text())
        except (OSError, ValueError):
            recorded = None
        if self.samples and recorded is not None and recorded != facts:
            raise EvallaunchError(
                f"the endpoint now reports {facts}, and the {len(self.samples)} samples in "
                f"{self.path} came from {recorded}: the served model changed",
                hint="run again with sampling.resume=false to draw every sample afresh",
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, facts)

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"


def _completion_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key in COMPLETION_FIELDS}
