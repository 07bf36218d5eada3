"""Bad input: one clear message naming the key, a non-zero exit, and no results.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Evaluate

CASES = {
    "unknown group option": (["model=gpt-17"], ["model/gpt-17", "smollm2_135m"]),
    "unknown key": (["benchmark.limt=3"], ["benchmark.limt", "Did you mean: 'limit'"]),
    "wrong type": (["benchmark.limit=three"], ["benchmark.limit", "three"]),
    "missing required value": (["model=custom"], ["missing required value", "model.name_or_path"]),
    "bad override syntax": (["benchmark.limit=[1,"], ["benchmark.limit"]),
    "missing data file": (["paths.data_dir=/nonexistent"], ["math500.jsonl", "paths.data_dir"]),
    "missing model dir": (["model.name_or_path=/no/such/model"], ["/no/such/model"]),
    "model not cached offline": (["model.name_or_path=org/not-cached"], ["org/not-cached"]),
    "unknown scorer": (["benchmark.scorer=regex"], ["benchmark.scorer", "math"]),
    "unknown dtype": (["model.dtype=int3"], ["model.dtype", "float32"]),
}


@pytest.mark.parametrize("args, expected", CASES.values(), ids=CASES.keys())
def test_bad_input_fails_cleanly(
    evaluate: Evaluate, tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    smoke = [] if any(a.startswith("benchmark.limit") for a in args) else ["benchmark.limit=1"]
    proc = evaluate(*args, *smoke, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for text in expected:
        assert text in output, f"{text!r} not in:\n{output[-2000:]}"
    assert "Traceback" not in output
    assert not list(tmp_path.rglob("results.json"))


def test_corrupt_model_config_is_reported(evaluate: Evaluate, tmp_path: Path) -> None:
    model = tmp_path / "broken-model"
    model.mkdir()
    (model / "config.json").write_text("{not json")
    proc = evaluate(f"model.name_or_path={model}", check=False)
    assert proc.returncode != 0
    assert "config.json is not valid JSON" in proc.stderr
    assert not list(tmp_path.rglob("results.json"))
