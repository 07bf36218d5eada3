"""The sample ledger: every generated sample of a job, recorded durably as it is produced.

One JSON-lines file per config fingerprint (`<job_dir>/ledger/<fingerprint>.jsonl`), so a
changed setting never reuses samples drawn under another. A record is keyed by problem id
and sample index, which do not depend on the GPU count or the parallelism: a job requeued
onto a different allocation reuses them. Each unit of work is appended with one write and
fsync'd before the next unit starts; a line torn by a crash is ignored on reading.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evallaunch.backends.base import Completion

log = logging.getLogger(__name__)

LEDGER_DIR = "ledger"
SampleKey = tuple[str, int]


class SampleLedger:
    """Append-only record of a job's samples, and of each unit's backend metrics.

    A unit's samples count only once the unit's closing line (its name, sample count and
    metrics) is on disk."""

    def __init__(self, job_dir: Path, config_fingerprint: str) -> None:
        self.path = job_dir / LEDGER_DIR / f"{config_fingerprint}.jsonl"
        self.samples: dict[SampleKey, Completion] = {}
        self.units: dict[str, dict[str, Any]] = {}

    def load(self) -> SampleLedger:
        """Read the samples recorded by earlier runs of this config (if any)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return self
        torn, pending = 0, list[Completion]()
        for line in lines:
            try:
                record = json.loads(line)
                if "unit" in record:  # the unit's last line: its samples are complete
                    self.units[str(record["unit"])] = record
                    for completion in pending:
                        self.samples[(completion.problem_id, completion.sample_index)] = completion
                    pending = []
                else:
                    pending.append(Completion(**record))
            except (ValueError, TypeError):
                torn += 1
        if torn or pending:
            log.warning(
                "ledger %s: ignored %d torn line(s) and %d sample(s) of an unfinished unit",
                self.path,
                torn,
                len(pending),
            )
        return self

    def has(self, unit: str, keys: Iterable[SampleKey]) -> bool:
        """Whether `unit` was recorded complete, with every one of `keys`."""
        return unit in self.units and all(key in self.samples for key in keys)

    def record_unit(
        self, unit: str, completions: list[Completion], metrics: dict[str, float]
    ) -> None:
        """Append a unit's samples and the backend's metrics on them, durably."""
        lines = [json.dumps(asdict(completion)) for completion in completions]
        lines.append(json.dumps({"unit": unit, "samples": len(completions), "metrics": metrics}))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            if handle.tell() and not self._ends_with_newline():
                handle.write("\n")  # a torn last line from a crash stays on its own line
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        for completion in completions:
            self.samples[(completion.problem_id, completion.sample_index)] = completion
        self.units[unit] = {"unit": unit, "samples": len(completions), "metrics": metrics}

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"
