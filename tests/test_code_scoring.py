"""LiveCodeBench code scoring: sample parsing, extraction, and the sandbox (real processes)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from evallaunch.scoring import code as code_scoring
from evallaunch.scoring.code import (
    ALLOW_UNSANDBOXED_ENV,
    RunResult,
    SandboxLimits,
    TestCase,
    extract_code,
    outputs_match,
    parse_sample_tests,
    run_program,
    score_code,
    score_code_batch,
)
from evallaunch.scoring.sandbox import sandbox_available

# Aliases: pytest would collect functions named tests_*.
to_json, from_json = code_scoring.tests_to_json, code_scoring.tests_from_json

REPO = Path(__file__).resolve().parents[1]
LCB = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "lcb_v5.jsonl"
REFERENCE = Path(__file__).parent / "data" / "lcb_reference"
DEFAULT = SandboxLimits()
QUICK = SandboxLimits(cpu_seconds=1, wall_seconds=2)

# A plausible bug per reference problem; each fails at least one sample.
WRONG = {
    "abc365_a": "y = int(input())\nprint(366 if y % 4 == 0 else 365)\n",
    "abc365_b": "input()\na = list(map(int, input().split()))\nprint(a.index(max(a)) + 1)\n",
    "abc366_a": "n, t, a = map(int, input().split())\nprint('Yes' if t != a else 'No')\n",
    "abc372_a": "print(input().replace('.', '', 1))\n",
    "abc375_a": "n=int(input())\ns = input()\nprint(sum(s[i:i+3] == '#.#' for i in range(n-3)))\n",
    "abc377_a": "print('Yes' if set(input()) <= set('ABC') else 'No')\n",
    "abc379_a": "a, b, c = input().strip()\nprint(b + c + a, c + b + a)\n",
    "abc380_a": "s = input()\nprint('Yes' if s.count('1') == 1 and s.count('2') == 2 else 'No')\n",
}


@pytest.fixture(scope="module")
def lcb() -> dict[str, dict[str, Any]]:
    """LiveCodeBench v5 rows by question_id (../shared/datasets/lcb_v5.jsonl)."""
    if not LCB.is_file():
        pytest.skip(f"LiveCodeBench data not found at {LCB}")
    rows = [json.loads(line) for line in LCB.read_text(encoding="utf-8").splitlines()]
    return {row["question_id"]: row for row in rows}


@pytest.fixture(scope="module")
def isolated() -> None:
    """Skips tests of the isolation itself where no namespace sandbox is available."""
    if not sandbox_available():
        pytest.skip("no namespace sandbox (unshare) on this machine")


@pytest.fixture
def scorable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets score_code run our own trusted programs even without a sandbox."""
    if not sandbox_available():
        monkeypatch.setenv(ALLOW_UNSANDBOXED_ENV, "1")


def wrap(code: str) -> str:
    """A completion with prose and a decoy block inside <think>, then the real program."""
    decoy = "<think>\nLet me try.\n```python\nprint('decoy')\n```\n</think>\n"
    return f"{decoy}Here is my solution:\n```python\n{code}```\nIt reads standard input."


def run(code: str, *tests: TestCase, limits: SandboxLimits = DEFAULT) -> RunResult:
    """run_program, also where there is no sandbox (for tests of limits, not isolation)."""
    return run_program(code, list(tests), limits, allow_unsandboxed=True)


def references() -> list[str]:
    return sorted(path.stem for path in REFERENCE.glob("*.py"))


def marker_processes(marker: str) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,user,comm,args"], capture_output=True, text=True)
    return [line for line in ps.stdout.splitlines() if marker in line]


# ---------------------------------------------------------------- parsing and extraction


def test_parse_sample_tests_on_lcb_rows(lcb: dict[str, dict[str, Any]]) -> None:
    parsed = {qid: parse_sample_tests(row["prompt"]) for qid, row in lcb.items()}
    with_tests = [qid for qid, tests in parsed.items() if tests]
    print(f"\nlcb_v5: {len(with_tests)} of {len(lcb)} rows yield >= 1 sample test")
    assert len(lcb) == 279
    assert len(with_tests) == 175  # every AtCoder (stdin) problem; none of the LeetCode ones
    assert all(qid.startswith(("abc", "arc")) for qid in with_tests)
    assert sum(len(tests) for tests in parsed.values()) == 474
    assert all(test.input.endswith("\n") for tests in parsed.values() for test in tests)
    assert parsed["abc365_b"][0] == TestCase("4\n8 2 5 1\n", "3\n")
    assert parsed["abc365_a"] == [
        TestCase(f"{year}\n", f"{days}\n")
        for year, days in [(2023, 365), (1992, 366), (1800, 365), (1600, 366)]
    ]
    assert parsed["abc372_a"][2] == TestCase("...\n", "")  # an empty expected output
    assert parsed["abc367_c"][1] == TestCase("1 2\n1\n", "")  # empty, then explanation
    assert parsed["abc371_e"][0] == TestCase("3\n1 2 2\n", "8\n")  # extra blank line
    assert parsed["3517"] == []  # LeetCode "Example 1: Input: ... Output: ..."


def test_parse_sample_tests_formats() -> None:
    statement = (
        "Print A+B.\r\n\r\nSample Input 1\r\n\r\n1 2  \r\n\r\nSample Output 1\r\n\r\n3\r\n\r\n"
        "Explanation.\n\nSample Input 2\n\n5\n7\n\nSample Output 2\n\n12\n"
    )
    assert parse_sample_tests(statement) == [TestCase("1 2\n", "3\n"), TestCase("5\n7\n", "12\n")]
    leetcode = "Example 1:\n\nInput: nums = [1,2]\nOutput: 3\n\nExample 2:\n\nInput: nums = [1]\n"
    assert parse_sample_tests(leetcode) == []
    assert parse_sample_tests("Sample Input 1\n\n1\n") == []  # no matching output


def test_tests_json_roundtrip() -> None:
    tests = [TestCase("1 2\n", "3\n"), TestCase("ü\n", "")]
    gold = to_json(tests)
    assert json.loads(gold)["source"] == "public"
    assert from_json(gold) == tests
    lcb_style = '[{"input": "1\\n", "output": "2\\n", "testtype": "stdin"}, '
    lcb_style += '{"input": "[1]", "output": "2", "testtype": "functional"}]'
    assert from_json(lcb_style) == [TestCase("1\n", "2\n")]
    with pytest.raises(ValueError):
        from_json('{"tests": [{"input": "1"}]}')


def test_extract_code() -> None:
    assert extract_code(wrap("print(1)\n")) == "print(1)\n"
    two = "```python\nprint(1)\n```\nBetter:\n```Python3\nprint(2)\n```\n```text\nout\n```"
    assert extract_code(two) == "print(2)\n"
    assert extract_code("```\nprint(3)\n```\n```cpp\nint main(){}\n```") == "int main(){}\n"
    assert extract_code("```py title='a.py'\nprint(4)\n```\n```js\nx\n```") == "print(4)\n"
    assert extract_code("no code here") is None
    assert extract_code("<think>```python\nprint(1)\n```</think>no code") is None
    assert extract_code("<think>\n```python\nprint(1)\n```\n(truncated") is None
    assert extract_code("```python\nprint(1)\n") is None  # never closed
    assert extract_code("```python\n\n```") is None


def test_outputs_match() -> None:
    assert outputs_match("3\n", "3")
    assert outputs_match("1 2  \r\n3\n\n", "1 2\n3\n")
    assert outputs_match("0.50 2\n", "0.5 2.0\n")
    assert not outputs_match("1 2\n", "1\n2\n")
    assert not outputs_match("Yes\n", "yes\n")
    assert not outputs_match("", "0\n")
    assert outputs_match("\n", "")


# ---------------------------------------------------------------- reference programs


@pytest.mark.usefixtures("scorable")
@pytest.mark.parametrize("qid", references())
def test_reference_program_passes_and_wrong_variant_fails(
    qid: str, lcb: dict[str, dict[str, Any]]
) -> None:
    tests = parse_sample_tests(lcb[qid]["prompt"])
    assert len(tests) >= 2
    gold = to_json(tests)
    code = (REFERENCE / f"{qid}.py").read_text(encoding="utf-8")
    good = score_code(wrap(code), gold)
    assert good.correct, run(code, *tests)
    assert extract_code(wrap(code)) == code
    assert good.extracted is not None and good.extracted.startswith(
        f"<{len(code.splitlines())} lines"
    )
    bad = score_code(wrap(WRONG[qid]), gold)
    assert bad.extracted is not None and not bad.correct
    assert score_code(wrap(code), to_json([])).correct is False
    assert score_code("I could not solve it.", gold).extracted is None


def test_references_cover_enough_problems() -> None:
    assert len(references()) >= 5
    assert set(references()) <= set(WRONG)


# ---------------------------------------------------------------- sandbox limits


def test_infinite_loops_time_out() -> None:
    start = time.monotonic()
    spin = run("while True:\n    pass\n", TestCase("", ""), limits=QUICK)
    assert (spin.passed, spin.status) == (False, "timeout"), spin
    sleep = run("import time\ntime.sleep(60)\n", TestCase("", ""), limits=QUICK)
    assert (sleep.passed, sleep.status) == (False, "timeout"), sleep
    assert time.monotonic() - start < 2 * QUICK.wall_seconds + 2


def test_memory_limit() -> None:
    result = run("x = bytearray(2 * 1024**3)\nprint(len(x))\n", TestCase("", ""))
    assert result.status == "memory", result
    ok = run("x = bytearray(100 * 1024**2)\nprint(len(x))\n", TestCase("", "104857600"))
    assert ok.passed, ok


def test_output_limit() -> None:
    start = time.monotonic()
    code = "import sys\nfor _ in range(50):\n    sys.stdout.write('x' * 1_000_000)\n"
    result = run(code, TestCase("", ""))
    assert result.status == "output_limit", result
    assert time.monotonic() - start < 5
    big_file = run("open('big', 'w').write('x' * 5_000_000)\n", TestCase("", ""))
    assert big_file.status == "output_limit", big_file


def test_runtime_error_and_large_input() -> None:
    crash = run("raise SystemExit(3)\n", TestCase("", ""), limits=QUICK)
    assert crash.status == "runtime_error" and "exit status 3" in crash.detail
    numbers = " ".join(map(str, range(300_000)))
    code = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n"
    result = run(code, TestCase(numbers + "\n", str(sum(range(300_000)))))
    assert result.passed, result


# ---------------------------------------------------------------- sandbox isolation


@pytest.mark.usefixtures("isolated")
def test_no_network() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    connections: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = f"""\
import socket
for host in ("127.0.0.1", "localhost"):
    try:
        socket.create_connection((host, {port}), timeout=2).sendall(b"hi")
        print("connected")
    except OSError:
        print("no connection")
try:
    socket.getaddrinfo("pypi.org", 443)
    print("resolved")
except OSError:
    print("no dns")
"""
    try:
        result = run_program(code, [TestCase("", "no connection\nno connection\nno dns\n")])
    finally:
        stop.set()
        thread.join()
        server.close()
    assert result.passed, result
    assert connections == []


@pytest.mark.usefixtures("isolated")
def test_writes_outside_the_work_dir_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = uuid.uuid4().hex
    targets = [Path(tempfile.gettempdir()) / f"outside-{tag}", REPO / f"outside-{tag}"]
    code = "import os\nopen('scratch', 'w').write('ok')\nprint(open('scratch').read())\n"
    for target in targets:
        code += f"try:\n    open({str(target)!r}, 'w').write('x')\n    print('wrote')\n"
        code += "except OSError:\n    print('refused')\n"
    # This test's work dirs only (other xdist workers run programs too); the sandboxed user
    # must be able to enter it, as it enters the system temp dir.
    parent = Path(tempfile.gettempdir()) / f"sandboxes-{tag}"
    parent.mkdir(mode=0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(parent))
    try:
        result = run_program(code, [TestCase("", "ok\nrefused\nrefused\n")])
        assert result.passed, result
        assert not any(target.exists() for target in targets)
        assert not list(parent.iterdir())  # cleaned
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.usefixtures("isolated")
def test_fork_bomb_is_contained() -> None:
    marker = f"bomb{uuid.uuid4().hex[:8]}"  # process name (prctl) of every bomb process
    code = f"""\
import ctypes, os
ctypes.CDLL(None).prctl(15, b"{marker}", 0, 0, 0)
while True:
    try:
        if os.fork() == 0:
            os.setsid()  # try to leave the process group too
    except OSError:
        pass
"""
    start = time.monotonic()
    result = run_program(code, [TestCase("", "")], SandboxLimits(cpu_seconds=2, wall_seconds=3))
    assert not result.passed and result.status in {"timeout", "runtime_error"}, result
    assert time.monotonic() - start < 10
    deadline = time.monotonic() + 5  # killed ones may wait a moment to be reaped
    while marker_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker_processes(marker) == []
    after = run_program("print(input()[::-1])\n", [TestCase("abc\n", "cba\n")])
    assert after.passed, after


def test_refuses_without_sandbox_unless_opted_in() -> None:
    script = f"""\
import os
from evallaunch.errors import EvallaunchError
from evallaunch.scoring.code import TestCase, run_program, score_code, tests_to_json
tests = [TestCase("2\\n", "4\\n")]
print(run_program("print(int(input()) * 2)", tests).status)
try:
    print(score_code("```python\\nprint(4)\\n```", tests_to_json(tests)))
except EvallaunchError as err:
    print("refused:", err)
os.environ["{ALLOW_UNSANDBOXED_ENV}"] = "1"
print(run_program("print(int(input()) * 2)", tests, allow_unsandboxed=True).status)
print(score_code("```python\\nprint(4)\\n```", tests_to_json(tests)))
"""
    env = {"PATH": "/nonexistent", "HOME": os.environ.get("HOME", "/")}  # no `unshare`
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    lines = run.stdout.splitlines()
    assert lines[0] == "sandbox_unavailable", run.stderr
    assert lines[1].startswith("refused:") and ALLOW_UNSANDBOXED_ENV in run.stdout
    assert lines[-2] == "passed" and "correct=True" in lines[-1], run.stdout + run.stderr


# ---------------------------------------------------------------- batch scoring


@pytest.mark.usefixtures("scorable")
def test_batch_matches_sequential_and_runs_in_parallel(lcb: dict[str, dict[str, Any]]) -> None:
    completions, golds, expected = [], [], []
    for qid in references()[:5]:
        gold = to_json(parse_sample_tests(lcb[qid]["prompt"]))
        code = (REFERENCE / f"{qid}.py").read_text(encoding="utf-8")
        completions += [wrap(code), wrap(WRONG[qid])]
        golds += [gold, gold]
        expected += [True, False]
    marker = f"nap{uuid.uuid4().hex[:8]}"  # process name of the sleeping programs
    nap = f"import ctypes, time\nctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\n"
    nap += "time.sleep(0.5)\nprint(input())\n"
    for i in range(9):
        completions.append(wrap(nap) if i < 4 else wrap("print(int(input()) + 1)\n"))
        golds.append(to_json([TestCase(f"{i}\n", f"{i + i % 2}\n")]))
        expected.append((i % 2 == 0) == (i < 4))  # naps echo; the others add 1
    completions.append("no code")
    golds.append(golds[0])
    expected.append(False)

    sequential = [score_code(c, g) for c, g in zip(completions, golds, strict=True)]
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(len(marker_processes(marker)))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        parallel = score_code_batch(completions, golds, workers=4)
    finally:
        done.set()
        watcher.join()
    assert len(completions) == 20
    assert parallel == sequential
    assert [score.correct for score in sequential] == expected
    assert max(seen) >= 2  # several programs were running at the same time
    assert score_code_batch([], []) == []
    with pytest.raises(ValueError):
        score_code_batch(["x"], [])
