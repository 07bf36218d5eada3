"""Math scoring on a peer's suite: evallaunch's `score_batch("math")` and plain math-verify
on the 270 (gold, prediction, expected) cases of Math-Verify's own tests
(tests/data/math_verify_cases.json, written by tests/data/make_math_verify_cases.py).

evallaunch grades each prediction as a model would write it (the case's `completion`);
plain math-verify is `verify(parse(gold), parse(prediction))` with its defaults: the
installed version is run here, other versions' verdicts were recorded by the generator in
a virtual environment of their own. A disagreement on a case whose (gold, prediction)
appears in the suite with the opposite expected outcome under another setting of its test
(strict, allow_set_relation_comp) is counted as "setting-dependent", not as a false accept
or reject: no grader with fixed settings can agree with both.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: runs as a file

from bench import common

CASES = common.REPO / "tests" / "data" / "math_verify_cases.json"
TARGET = 263  # plain math-verify 0.8.0's agreement, the best of the plain rows
FORMS = ("boxed", "bare", "prose")


@dataclass
class Tally:
    """One grader's agreement with the suite's expected outcomes."""

    grader: str
    agrees: int = 0
    false_accepts: list[str] = field(default_factory=list)
    false_rejects: list[str] = field(default_factory=list)
    setting_dependent: list[str] = field(default_factory=list)
    by_form: dict[str, list[int]] = field(default_factory=dict)  # form -> [agrees, cases]

    @classmethod
    def of(cls, grader: str, cases: Sequence[dict[str, Any]], verdicts: Sequence[bool]) -> Tally:
        tally, twins = cls(grader), setting_twins(cases)
        for case, verdict in zip(cases, verdicts, strict=True):
            agree = verdict == case["expected"]
            form = tally.by_form.setdefault(case["form"], [0, 0])
            form[0] += agree
            form[1] += 1
            if agree:
                tally.agrees += 1
            elif case["id"] in twins:
                tally.setting_dependent.append(case["id"])
            else:
                (tally.false_accepts if verdict else tally.false_rejects).append(case["id"])
        return tally

    def row(self, total: int) -> list[str]:
        forms = [
            f"{self.by_form.get(f, [0, 0])[0]}/{self.by_form.get(f, [0, 0])[1]}" for f in FORMS
        ]
        return [
            self.grader,
            f"{self.agrees}/{total}",
            str(len(self.false_accepts)),
            str(len(self.false_rejects)),
            str(len(self.setting_dependent)),
            *forms,
        ]


def load_cases(path: Path = CASES) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(source: repository and commit, cases) of the committed peer cases."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return document["source"], document["cases"]


def setting_twins(cases: Sequence[dict[str, Any]]) -> set[str]:
    """Ids of the cases whose (gold, prediction) has opposite expected outcomes under two
    settings of its test (test_strict, test_set_rel_assymetry)."""
    outcomes: dict[tuple[str, str], set[bool]] = {}
    for case in cases:
        outcomes.setdefault((case["gold"], case["prediction"]), set()).add(case["expected"])
    return {c["id"] for c in cases if len(outcomes[(c["gold"], c["prediction"])]) == 2}


def evallaunch_verdicts(cases: Sequence[dict[str, Any]]) -> list[bool]:
    """evallaunch's math scorer on each case's completion, one `score_batch` call each."""
    from evallaunch.scoring.registry import score_batch

    return [score_batch("math", [c["completion"]], [c["gold"]])[0].correct for c in cases]


def plain_verdicts(cases: Sequence[dict[str, Any]]) -> list[bool]:
    """The installed math-verify, plain: `verify(parse(gold), parse(prediction))`."""
    from math_verify import parse, verify

    return [bool(verify(parse(c["gold"]), parse(c["prediction"]))) for c in cases]


def tallies(cases: Sequence[dict[str, Any]]) -> list[Tally]:
    """Recorded plain math-verify versions (newest first), the installed one run here,
    then evallaunch."""
    installed = version("math-verify")
    recorded = sorted({v for c in cases for v in c.get("plain", {})} - {installed}, reverse=True)
    rows = [
        Tally.of(f"math-verify {v}, plain (recorded)", cases, [c["plain"][v] for c in cases])
        for v in recorded
    ]
    rows.append(Tally.of(f"math-verify {installed}, plain", cases, plain_verdicts(cases)))
    rows.append(Tally.of("evallaunch", cases, evallaunch_verdicts(cases)))
    return rows


def table(rows: Sequence[Tally], total: int) -> str:
    """The peer table, in markdown."""
    head = ["grader", "agrees with the test", "false accepts", "false rejects"]
    head += ["setting-dependent", *(f"{form} predictions" for form in FORMS)]
    return common.table(head, [row.row(total) for row in rows])


def main() -> None:
    args = common.parser(__doc__.split("\n")[0]).parse_args()
    source, cases = load_cases()
    print(f"Math-Verify's test cases: {source['repository']} @ {source['commit'][:12]}")
    start = time.perf_counter()
    rows = tallies(cases)
    seconds = time.perf_counter() - start
    print(table(rows, len(cases)))
    ours = rows[-1]
    for label, ids in (
        ("false accepts", ours.false_accepts),
        ("false rejects", ours.false_rejects),
    ):
        print(f"evallaunch {label}: {', '.join(ids) or 'none'}")
    verdict = "ok" if ours.agrees >= TARGET and not ours.false_accepts else "MISSED"
    print(
        f"RATIO evallaunch agreement with Math-Verify's tests: {ours.agrees}/{len(cases)}, "
        f"{len(ours.false_accepts)} false accepts ({verdict}: target >= {TARGET}, none)"
    )
    print(f"graded in {seconds:.1f} s")
    common.emit(
        "math_verify_peer",
        {"source": source, "rows": [vars(row) for row in rows], "seconds": seconds},
        args.json,
    )


if __name__ == "__main__":
    main()
