"""Grading a job's samples, each once: grades, details rows and metrics."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evallaunch.backends.base import Completion
from evallaunch.backends.details import GradedSample, detail_rows
from evallaunch.benchmarks.problem import Problem
from evallaunch.scoring.math_answers import MathScore
from evallaunch.scoring.metrics import summarize
from evallaunch.scoring.registry import get_scorer, score_batch

log = logging.getLogger(__name__)

SampleKey = tuple[str, int]


@dataclass(frozen=True)
class Grade:
    """evallaunch's verdict on one sample: the answer extracted from it and whether it is
    correct (a sample cut off at max_new_tokens never is); `error`: the traceback when the
    scorer itself failed on it (it then counts as wrong)."""

    correct: bool
    extracted: str | None
    error: str | None = None

    @classmethod
    def of(cls, completion: Completion, score: MathScore) -> Grade:
        correct = bool(score.correct and not completion.cut_off)
        return cls(correct, score.extracted, score.error)

    def to_record(self) -> dict[str, Any]:
        """The grade as fields of a ledger record (named as in details.parquet)."""
        record = {"correct": self.correct, "extracted_answer": self.extracted}
        return {**record, "scorer_error": self.error} if self.error else record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Grade:
        extracted, error = record.get("extracted_answer"), record.get("scorer_error")
        return cls(bool(record["correct"]), extracted, error)


class SampleGrader:
    """Grades one job's samples with evallaunch's scorer, each (completion, gold) once.

    The harness grades the samples for its own metrics with `score`, which remembers each
    verdict (by a hash of scorer, completion and gold); `grade` reuses them and scores only
    what the harness did not, in one batch (code runs its programs in parallel)."""

    def __init__(self, scorer: str, problems: list[Problem]) -> None:
        get_scorer(scorer)  # a scorer name that does not exist fails here
        self.scorer = scorer
        self.gold = {problem.id: problem.answer for problem in problems}
        self._scores: dict[bytes, MathScore] = {}
        self._lock = threading.Lock()

    def _key(self, completion: str, gold: str) -> bytes:
        digest = hashlib.blake2b(digest_size=16)
        for part in (self.scorer, completion, gold):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "big") + data)
        return digest.digest()

    def score(self, completion: str, gold: str) -> MathScore:
        """evallaunch's scorer on one completion, its verdict remembered (the harness's)."""
        key = self._key(completion, gold)
        with self._lock:
            known = self._scores.get(key)
        if known is None:
            known = get_scorer(self.scorer)(completion, gold)
            with self._lock:
                self._scores[key] = known
        return known

    def grade(self, completions: list[Completion]) -> list[Grade]:
        """The grades of `completions`: the harness's verdicts where it gave them, the
        others scored now."""
        golds = [self.gold[c.problem_id] for c in completions]
        keys = [self._key(c.completion, gold) for c, gold in zip(completions, golds, strict=True)]
        with self._lock:
            todo = {key: index for index, key in enumerate(keys) if key not in self._scores}
        if todo:
            texts = [completions[index].completion for index in todo.values()]
            scores = score_batch(self.scorer, texts, [golds[index] for index in todo.values()])
            with self._lock:
                self._scores.update(zip(todo, scores, strict=True))
        with self._lock:
            scored = [self._scores[key] for key in keys]
        return [Grade.of(c, score) for c, score in zip(completions, scored, strict=True)]


def score_completions(
    completions: list[Completion], problems: list[Problem], scorer: str
) -> list[dict[str, Any]]:
    """One details row per completion, graded by evallaunch's scorer."""
    grades = SampleGrader(scorer, problems).grade(completions)
    keys = [(c.problem_id, c.sample_index) for c in completions]
    return detail_rows(graded_samples(completions, problems, dict(zip(keys, grades, strict=True))))


def graded_samples(
    completions: list[Completion], problems: list[Problem], grades: Mapping[SampleKey, Grade]
) -> list[GradedSample]:
    """evallaunch's graded samples, in the problems' order (`scorer_error`: the scorer
    itself failed on it, logged once with the first traceback)."""
    gold = {problem.id: problem.answer for problem in problems}
    order = {problem.id: index for index, problem in enumerate(problems)}
    items = sorted(completions, key=lambda c: (order[c.problem_id], c.sample_index))
    errors = [g.error for c in items if (g := grades[(c.problem_id, c.sample_index)]).error]
    if errors:
        log.warning(
            "the scorer failed on %d of %d completion(s), scored as wrong; the first failure:\n%s",
            len(errors),
            len(items),
            errors[0].rstrip(),
        )
    samples = []
    for item in items:
        grade = grades[(item.problem_id, item.sample_index)]
        samples.append(
            GradedSample(item, gold[item.problem_id], grade.correct, grade.extracted, grade.error)
        )
    return samples


def metrics_from_details(
    rows: list[dict[str, Any]], n: int, seed: int, adaptive: bool = False
) -> dict[str, Any]:
    """pass@k / maj@k with stderr and bootstrap CI, computed from the details rows.

    Every problem has n samples, or, with adaptive sampling, between 1 and n."""
    by_problem: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_problem.setdefault(row["problem_id"], []).append(row)
    incomplete = {
        pid: len(samples)
        for pid, samples in by_problem.items()
        if len(samples) != n and not (adaptive and 1 <= len(samples) <= n)
    }
    if not by_problem or incomplete:
        raise RuntimeError(f"backend returned the wrong number of samples: {incomplete or 'none'}")
    correct = [[bool(r["correct"]) for r in samples] for samples in by_problem.values()]
    answers = [[r["extracted_answer"] for r in samples] for samples in by_problem.values()]
    summary = summarize(correct, answers, seed=seed, ragged=adaptive)
    return {name: value.to_dict() for name, value in summary.items()}
