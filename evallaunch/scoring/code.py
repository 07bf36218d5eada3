"""LiveCodeBench code generation scoring: sample tests from statements, code extraction, grading.

Only stdin/stdout problems (AtCoder) are scorable: their "Sample Input N" / "Sample Output N"
blocks become the tests (``tests: public-only``; the hidden tests are not available). LeetCode
problems ("Example 1: Input: ... Output: ...") need a function-call harness and yield no tests,
so they score as incorrect. Programs run in the sandbox of `evallaunch.scoring.sandbox`; set
``EVALLAUNCH_ALLOW_UNSANDBOXED=1`` to run them with resource limits only where no namespace
isolation is available (otherwise scoring refuses).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from evallaunch.scoring.code_eval import (
    ALLOW_UNSANDBOXED_ENV,
    no_sandbox_error,
    unsandboxed_allowed,
)
from evallaunch.scoring.math_answers import MathScore, strip_think
from evallaunch.scoring.sandbox import SandboxLimits, execute

__all__ = [
    "ALLOW_UNSANDBOXED_ENV",
    "RunResult",
    "SandboxLimits",
    "TestCase",
    "extract_code",
    "outputs_match",
]
__all__ += ["parse_sample_tests", "run_program", "score_code", "score_code_batch"]
__all__ += ["tests_from_json", "tests_to_json"]

_HEADER_RE = re.compile(r"^Sample (Input|Output) (\d+)[ \t]*\n\n", re.MULTILINE)
# An explanation right after an empty sample output ("There may be no sequences to print.").
_PROSE_RE = re.compile(r"[A-Z]\S*(?: \S+){3,}\.$")
_PYTHON_FENCES = {"python", "python3", "py", "py3"}
_DEFAULT_LIMITS = SandboxLimits()


@dataclass(frozen=True)
class TestCase:
    """One stdin/stdout test: what the program reads and what it must print."""

    __test__ = False  # not a pytest test class

    input: str
    output: str


@dataclass(frozen=True)
class RunResult:
    """Outcome of running a program on its tests.

    Attributes:
        passed: Whether every test passed.
        status: "passed", "wrong_answer", "runtime_error", "timeout", "memory",
            "output_limit" or "sandbox_unavailable" (for the first test that failed).
        detail: A short explanation.
    """

    passed: bool
    status: str
    detail: str


def parse_sample_tests(statement: str) -> list[TestCase]:
    """Parses the AtCoder-style sample tests of a problem statement.

    Each "Sample Input N" / "Sample Output N" header is followed by a blank line and the
    sample, which runs to the next blank line. Lines lose trailing whitespace and the
    sample ends with one newline (an empty sample output stays empty).

    Args:
        statement: Problem statement or full LiveCodeBench prompt (``\\r\\n`` allowed).

    Returns:
        The samples in order of N; empty for LeetCode-style problems ("Example 1: ...").
    """
    text = statement.replace("\r\n", "\n").replace("\r", "\n")
    blocks: dict[tuple[int, str], str] = {}
    for match in _HEADER_RE.finditer(text):
        kind, start = match.group(1), match.end()
        extra = len(text) - start - len(text[start:].lstrip("\n"))  # more blank lines
        start += extra
        end = text.find("\n\n", start)
        block = text[start : end if end >= 0 else len(text)]
        first_line = block.split("\n", 1)[0].rstrip()
        if kind == "Output" and (extra >= 2 or (extra == 1 and _PROSE_RE.match(first_line))):
            block = ""  # the sample output is empty lines; what follows is explanation
        blocks.setdefault((int(match.group(2)), kind), block)
    numbers = sorted({number for number, _ in blocks})
    return [
        TestCase(_clean(blocks[n, "Input"]), _clean(blocks[n, "Output"]))
        for n in numbers
        if (n, "Input") in blocks and (n, "Output") in blocks
    ]


def _clean(block: str) -> str:
    text = "\n".join(line.rstrip() for line in block.split("\n")).rstrip("\n")
    return f"{text}\n" if text else ""


def tests_to_json(tests: list[TestCase]) -> str:
    """Serializes tests as the gold string of a problem (marked ``"source": "public"``).

    Args:
        tests: The problem's tests.

    Returns:
        JSON ``{"source": "public", "tests": [{"input": ..., "output": ...}, ...]}``.
    """
    cases = [{"input": test.input, "output": test.output} for test in tests]
    return json.dumps({"source": "public", "tests": cases}, ensure_ascii=False)


def tests_from_json(text: str) -> list[TestCase]:
    """Reads tests back from `tests_to_json` output.

    Args:
        text: A gold string, or a bare JSON list of ``{"input", "output"}`` objects
            (LiveCodeBench's own format: ``"testtype": "functional"`` entries are skipped).

    Returns:
        The stdin/stdout tests.

    Raises:
        ValueError: If the text is not such JSON.
    """
    data = json.loads(text)
    cases = data.get("tests") if isinstance(data, dict) else data
    if not isinstance(cases, list):
        raise ValueError("code tests must be a JSON list or an object with a 'tests' list")
    tests = []
    for case in cases:
        if not isinstance(case, dict) or not {"input", "output"} <= case.keys():
            raise ValueError(f"not a test case (needs 'input' and 'output'): {case!r:.100}")
        if case.get("testtype", "stdin") == "stdin":
            tests.append(TestCase(str(case["input"]), str(case["output"])))
    return tests


def extract_code(completion: str) -> str | None:
    """Extracts the program from a model completion.

    Args:
        completion: Raw model output; ``<think>...</think>`` reasoning is dropped first.

    Returns:
        The last ```` ```python ```` fenced block (else the last closed fenced block of any
        language), or None if there is no non-empty one.
    """
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    body: list[str] = []
    for line in strip_think(completion).splitlines():
        stripped = line.strip()
        if not stripped.startswith("```"):
            if fence is not None:
                body.append(line)
        elif fence is None:
            fence, body = (stripped[3:].split() or [""])[0].lower(), []  # "```python3 x"
        else:
            blocks.append((fence, "\n".join(body)))
            fence = None
    blocks = [(lang, code) for lang, code in blocks if code.strip()]
    python = [code for lang, code in blocks if lang in _PYTHON_FENCES]
    chosen = python or [code for _, code in blocks]
    return f"{chosen[-1]}\n" if chosen else None


def outputs_match(actual: str, expected: str) -> bool:
    """LiveCodeBench's comparison: same stripped lines, or lines equal as lists of decimals."""
    got = [line.strip() for line in actual.replace("\r\n", "\n").strip().split("\n")]
    want = [line.strip() for line in expected.replace("\r\n", "\n").strip().split("\n")]
    if len(got) != len(want):
        return False
    try:
        return all(a == b or _decimals(a) == _decimals(b) for a, b in zip(got, want, strict=True))
    except InvalidOperation:
        return False


def _decimals(line: str) -> list[Decimal]:
    return [Decimal(token) for token in line.split()]


def run_program(
    code: str,
    tests: list[TestCase],
    limits: SandboxLimits = _DEFAULT_LIMITS,
    *,
    allow_unsandboxed: bool = False,
) -> RunResult:
    """Runs a program on each test in a fresh sandboxed process; stops at the first failure.

    Args:
        code: Python source that reads a test's input on stdin and prints the answer.
        tests: The tests, in order.
        limits: Resource limits for each run.
        allow_unsandboxed: Where no namespace isolation works, run with rlimits only
            instead of refusing (status "sandbox_unavailable").

    Returns:
        passed only if every test passed, else the first failure's status and detail.
    """
    if not tests:
        return RunResult(False, "wrong_answer", "no tests to run")
    for number, test in enumerate(tests, 1):
        run = execute(code, test.input, limits, allow_unsandboxed=allow_unsandboxed)
        if run is None:
            return RunResult(False, "sandbox_unavailable", "no namespace isolation here")
        status, detail = run.status, run.detail
        if status == "exited" and outputs_match(run.stdout, test.output):
            continue
        if status == "exited":
            status = "wrong_answer"
            detail = f"expected {test.output[:100]!r}, got {run.stdout[:100]!r}"
        return RunResult(False, status, f"test {number}/{len(tests)}: {detail}")
    return RunResult(True, "passed", f"{len(tests)} tests passed")


def _summary(code: str) -> str:
    digest = hashlib.sha1(code.encode("utf-8")).hexdigest()[:10]
    return f"<{len(code.splitlines())} lines sha1:{digest}>"


def score_code(completion: str, gold: str) -> MathScore:
    """Scores a code completion by running its program on the problem's tests.

    Args:
        completion: Raw model output containing a fenced Python program.
        gold: The problem's tests as written by `tests_to_json`.

    Returns:
        extracted: a summary of the program (``"<N lines sha1:...>"``), None if no code was
        found; correct: whether it passed every test (False when there are no tests).

    Raises:
        EvallaunchError: If no sandbox is available and ``EVALLAUNCH_ALLOW_UNSANDBOXED=1``
            is not set.
    """
    tests = tests_from_json(gold)
    code = extract_code(completion)
    if code is None:
        return MathScore(None, False)
    if not tests:
        return MathScore(_summary(code), False)
    result = run_program(code, tests, allow_unsandboxed=unsandboxed_allowed())
    if result.status == "sandbox_unavailable":
        raise no_sandbox_error("score code")
    return MathScore(_summary(code), result.passed)


def score_code_batch(
    completions: list[str], golds: list[str], workers: int | None = None
) -> list[MathScore]:
    """Scores many completions, running their programs in parallel.

    Args:
        completions: Raw model outputs.
        golds: The matching problems' tests (`tests_to_json` strings).
        workers: Programs run at once; defaults to the number of CPUs.

    Returns:
        One score per completion, in order (the same as calling `score_code` on each).

    Raises:
        ValueError: If the two lists differ in length.
        EvallaunchError: As `score_code`.
    """
    if len(completions) != len(golds):
        raise ValueError(f"{len(completions)} completions but {len(golds)} golds")
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(score_code, completions, golds))
