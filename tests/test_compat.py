"""Each patch in evallaunch.compat still does what it claims on the pinned versions.

The vLLM patches need vLLM: they run in `.venv-vllm` (make setup-vllm) and skip without it.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from evallaunch import compat
from evallaunch.compat import hydra as hydra_compat
from evallaunch.compat import lighteval as lighteval_compat
from evallaunch.compat import lm_eval as lm_eval_compat
from evallaunch.compat import math_verify as math_verify_compat
from evallaunch.compat import submitit as submitit_compat
from evallaunch.compat.signatures import model_keywords
from evallaunch.errors import EvallaunchError
from evallaunch.scoring.code_eval import SandboxedCodeEval, run_checker
from tests.helpers import REPO, make_request

EMBEDDED = "embedded:smollm2-135m-instruct"
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


# --- the version check ---------------------------------------------------------------------


def test_the_installed_libraries_are_the_pinned_versions() -> None:
    for package in compat.PINNED:
        compat.check_version(package)


def test_a_version_other_than_the_pinned_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(compat.PINNED, "lighteval", "0.0.1")
    with pytest.raises(EvallaunchError, match=r"lighteval 0\.13\.0 is installed.*==0\.0\.1"):
        compat.check_version("lighteval")
    monkeypatch.setitem(compat.PINNED, "tqdm", "3.*")  # a series: any 3.x
    with pytest.raises(EvallaunchError, match=r"tqdm 4\.\S+ is installed.*tqdm==3\.\*"):
        compat.check_version("tqdm")


PATCHES: dict[str, tuple[str, Callable[[], Any]]] = {
    "lighteval vLLM module": ("lighteval", lighteval_compat.lighteval_vllm_module),
    "lighteval pipeline": ("lighteval", lighteval_compat.offline_pipeline_class),
    "lighteval job model": ("lighteval", lambda: lighteval_compat.model_for_the_whole_job(object)),
    "lighteval task modules": ("lighteval", lighteval_compat.task_modules),
    "lighteval lcb checks": (
        "lighteval",
        lambda: lighteval_compat.sandboxed_codegen_checks(run_checker).__enter__(),
    ),
    "lm-eval server client": ("lm-eval", lambda: lm_eval_compat.server_client_class(True, {}, 0)),
    "lm-eval seeded vLLM": ("lm-eval", lm_eval_compat.vllm_with_seeded_repeats_class),
    "lm-eval git probe": ("lm-eval", lm_eval_compat.quiet_git_probe),
    "lm-eval code_eval": (
        "lm-eval",
        lambda: lm_eval_compat.sandboxed_code_eval(SandboxedCodeEval).__enter__(),
    ),
    "lm-eval model arguments": ("lm-eval", lambda: model_keywords("lm_eval", "transformers")),
    "lighteval model fields": ("lighteval", lambda: model_keywords("lighteval", "vllm")),
    "math-verify parse": ("math-verify", lambda: math_verify_compat.parse_untimed("1", [])),
    "math-verify verify": ("math-verify", lambda: math_verify_compat.verify_untimed([1], [1])),
    "hydra sweep": ("hydra-core", lambda: hydra_compat.expand_overrides(["a=1"])),
    "submitit renderer": ("submitit", lambda: submitit_compat.sbatch_renderer("x", {}, {}, {})),
    "submitit script": ("submitit", lambda: submitit_compat.render_sbatch(None, 1)),
    "tqdm": ("tqdm", compat.silence_progress_bars),
}


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_each_patch_checks_its_library_where_it_is_used(
    patch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On another version a patch stops with the clear error, before any internal is used."""
    package, use = PATCHES[patch]
    monkeypatch.setitem(compat.PINNED, package, "0.0.1")
    with pytest.raises(EvallaunchError, match=f"{package} .* is installed"):
        use()


# --- tqdm ----------------------------------------------------------------------------------


def test_progress_bars_draw_nowhere_but_still_keep_time() -> None:
    """lm-eval asks for its bar explicitly (disable=False); vLLM divides by a bar's elapsed
    time, which a disabled bar leaves at 0."""
    from tqdm import tqdm

    compat.silence_progress_bars()
    compat.silence_progress_bars()  # idempotent
    stream = io.StringIO()
    bar = tqdm(total=3, disable=False, file=stream, mininterval=0)
    bar.update(3)
    assert not bar.disable and bar.format_dict["elapsed"] > 0
    bar.close()
    assert stream.getvalue() == ""


# --- math_verify ---------------------------------------------------------------------------


def in_a_thread(work: Callable[[], Any]) -> Any:
    found: list[Any] = []
    worker = threading.Thread(target=lambda: found.append(work()))
    worker.start()
    worker.join()
    return found[0]


def test_evallaunch_parses_and_verifies_without_time_limits_on_any_thread() -> None:
    """math_verify's own time limit is an alarm that fails off the main thread (a correct
    answer then scores wrong); evallaunch's parse and verify set none, and leave
    math_verify's modules as they are."""
    import math_verify.grader
    import math_verify.parser
    import math_verify.utils
    from math_verify import LatexExtractionConfig, parse, verify

    configs = [LatexExtractionConfig()]

    def own() -> bool:
        return bool(verify(parse("$\\frac{1}{2}$", configs), parse("$0.5$", configs)))

    def evallaunch() -> bool:
        gold = math_verify_compat.parse_untimed("$\\frac{1}{2}$", configs)
        return math_verify_compat.verify_untimed(
            gold, math_verify_compat.parse_untimed("$0.5$", configs)
        )

    assert own() and not in_a_thread(own)  # why the patch exists
    assert evallaunch() and in_a_thread(evallaunch)
    assert math_verify.parser.timeout is math_verify.utils.timeout
    assert math_verify.grader.timeout is math_verify.utils.timeout


HARNESS_METRICS = r"""
import json
import sys
import threading

from lighteval.metrics.dynamic_metrics import MultilingualExtractiveMatchMetric
from lighteval.metrics.utils.extractive_match_utils import (
    ExprExtractionConfig,
    LatexExtractionConfig,
)
from lighteval.models.model_output import ModelResponse
from lighteval.tasks.requests import Doc
from lm_eval.tasks.leaderboard.math.utils import process_results

CASES = [("\\frac{1}{2}", "The answer is $\\boxed{0.5}$."), ("x^2", "$\\boxed{x \\cdot x}$")]
metric = MultilingualExtractiveMatchMetric(
    gold_extraction_target=(LatexExtractionConfig(),),
    pred_extraction_target=(ExprExtractionConfig(), LatexExtractionConfig()),
)


def outcome(score, *args):
    try:
        return score(*args)
    except Exception as error:
        return f"raised {type(error).__name__}"


def scores():
    out = []
    for gold, pred in CASES:
        doc = {"solution": f"$\\boxed{{{gold}}}$", "answer": gold}
        out.append(outcome(process_results, doc, [pred]))
        doc = Doc(query="", choices=[f"${gold}$"], gold_index=0)
        out.append(outcome(metric.compute, doc, ModelResponse(text=[pred])))
    return out


def both_threads():
    found = {"main thread": scores()}
    worker = threading.Thread(target=lambda: found.update({"other thread": scores()}))
    worker.start()
    worker.join()
    return found


own = both_threads()
theirs = {name: module for name, module in sys.modules.items() if name.startswith("math_verify")}
from evallaunch.scoring.math_answers import score_math

assert score_math("so \\boxed{\\frac{1}{2}}", "0.5").correct
assert all(sys.modules[name] is module for name, module in theirs.items())  # not replaced
print(json.dumps({"own": own, "after evallaunch": both_threads()}))
"""


def test_the_harnesses_math_metrics_keep_their_own_behaviour() -> None:
    """lm-eval's MATH metric (math_verify's parse and verify) and lighteval's (its own copy
    of math_verify) score the same, on the main thread and off it, before evallaunch has
    scored an answer in their process and after."""
    proc = subprocess.run(
        [sys.executable, "-c", HARNESS_METRICS],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    own = found["own"]
    # math_verify's alarm fails off the main thread: a patch of its modules would show.
    assert own["main thread"] != own["other thread"]
    assert found["after evallaunch"] == own


# --- Hydra ---------------------------------------------------------------------------------


def test_sweeps_expand_as_hydra_s_basic_sweeper_expands_them() -> None:
    jobs = [
        ["a=1", "b=0", "c=x"],
        ["a=1", "b=1", "c=x"],
        ["a=2", "b=0", "c=x"],
        ["a=2", "b=1", "c=x"],
    ]
    assert hydra_compat.expand_overrides(["a=1,2", "b=range(2)", "c=x"]) == [jobs]
    assert hydra_compat.expand_overrides(["a=1,2", "b=range(2)", "c=x"], 3) == [jobs[:3], jobs[3:]]


def test_job_returns_carry_their_value_or_raise_their_error() -> None:
    from hydra.core.utils import JobStatus

    assert hydra_compat.job_return(JobStatus.COMPLETED, 5).return_value == 5
    failed = hydra_compat.job_return(JobStatus.FAILED, ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        _ = failed.return_value


# --- submitit ------------------------------------------------------------------------------


def test_the_dry_run_renders_the_script_submitit_submits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """submitit's own AutoExecutor submits a job array through an `sbatch` that keeps the
    script; the dry run's renderer, given the same parameters, renders that very script and
    submits nothing."""
    import submitit

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kept = tmp_path / "submitted.sh"
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {kept}\necho Submitted batch job 42\n')
    (bin_dir / "srun").write_text("#!/bin/sh\n")  # submitit looks for it, never runs it
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    folder = str(tmp_path / "logs")
    generic = {"timeout_min": 90, "gpus_per_node": 8, "nodes": 1, "name": "eval"}
    specific = {"partition": "hopper", "setup": ["export A=1"]}

    executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=2)
    executor.update_parameters(**generic, **{f"slurm_{k}": v for k, v in specific.items()})
    executor.map_array(abs, [1, 2, 3])
    renderer = submitit_compat.sbatch_renderer(folder, {"max_num_timeout": 2}, generic, specific)
    script = submitit_compat.render_sbatch(renderer, 3)
    assert script == kept.read_text()
    assert "#SBATCH --array=0-2" in script and "#SBATCH --partition=hopper" in script
    assert submitit_compat.render_sbatch(executor, 3) == script

    kept.unlink()
    for submit in (lambda: renderer.submit(abs, 1), lambda: renderer.map_array(abs, [1, 2])):
        with pytest.raises(RuntimeError, match="submits nothing"):
            submit()
    assert not kept.exists()


# --- lm-eval -------------------------------------------------------------------------------


@pytest.fixture
def chat_server() -> Iterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]]]]:
    """An OpenAI-compatible chat endpoint that answers "2" and keeps (headers, body)."""
    seen: list[tuple[dict[str, str], dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((dict(self.headers), body))
            answer = {"choices": [{"index": 0, "message": {"content": "2"}}]}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions", seen
    finally:
        server.shutdown()
        server.server_close()


def test_lm_eval_s_own_requests_carry_a_seed_per_repeat_the_unit_and_no_empty_stop(
    chat_server: tuple[str, list[tuple[dict[str, str], dict[str, Any]]]],
) -> None:
    """Through lm-eval's generate_until (its request path, not the hooks called directly):
    the k-th repeat of a prompt is seeded seed + k, every request names its unit, and no
    `"stop": []` is sent."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.api_models import JsonChatStr

    url, seen = chat_server
    client = lm_eval_compat.server_client_class(True, {"X-Unit": "b0001"}, 7)
    lm = client(model="m", base_url=url, tokenized_requests=False, num_concurrent=1, seed=7)
    prompt = JsonChatStr(json.dumps([{"role": "user", "content": "1+1?"}]))
    requests = [
        Instance("generate_until", {}, (prompt, {"until": [], "max_gen_toks": 8}), index)
        for index in range(3)
    ]
    assert lm.generate_until(requests, disable_tqdm=True) == ["2", "2", "2"]
    assert sorted(body["seed"] for _, body in seen) == [7, 8, 9]
    assert all(headers["X-Unit"] == "b0001" and "stop" not in body for headers, body in seen)


def test_lm_eval_s_git_probe_records_the_same_commit_and_writes_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """lm-eval records the commit of the working directory: inside a checkout the quiet
    probe gives what lm-eval's own gives; outside one, None, and no "fatal:" on stderr."""
    import lm_eval.evaluator
    from lm_eval.loggers.utils import get_git_commit_hash as own

    monkeypatch.setattr(lm_eval.evaluator, "get_git_commit_hash", own)
    lm_eval_compat.quiet_git_probe()
    quiet = lm_eval.evaluator.get_git_commit_hash
    assert quiet is not own
    monkeypatch.chdir(REPO)
    assert quiet() == own()
    capfd.readouterr()
    monkeypatch.chdir(tmp_path)
    assert quiet() is None
    assert capfd.readouterr().err == ""
    own()
    assert "fatal" in capfd.readouterr().err  # what the probe keeps off the terminal


def test_lm_eval_s_code_tasks_get_the_sandboxed_code_eval_while_the_patch_is_open() -> None:
    """lm-eval's humaneval YAML, loaded by lm-eval's own loader with the patch open, gets a
    metric whose code_eval is evallaunch's (its module's check ran in the sandbox, offline);
    once closed, `evaluate.load` is the library's again."""
    import evaluate
    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    from evallaunch.scoring.code_eval import SandboxedCodeEval

    original = evaluate.load
    yaml_path = Path(lm_eval.__file__).parent / "tasks"
    with lm_eval_compat.sandboxed_code_eval(SandboxedCodeEval):
        assert isinstance(evaluate.load("code_eval"), SandboxedCodeEval)
        config = load_yaml(yaml_path / "humaneval" / "humaneval.yaml")
    metric = config["metric_list"][0]["metric"]
    assert isinstance(sys.modules[metric.__module__].compute_, SandboxedCodeEval)
    assert evaluate.load is original


# --- lighteval -----------------------------------------------------------------------------


def test_lighteval_still_builds_vllm_in_eager_mode() -> None:
    """Why the engine-arguments patch exists: lighteval 0.13 hard-codes eager mode."""
    spec = importlib.util.find_spec("lighteval.models.vllm.vllm_model")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text()  # without vLLM the class is a placeholder
    body = source[source.index("def _create_auto_model") :]
    assert '"enforce_eager": True' in body and "LLM(**self.model_args)" in body


@pytest.fixture(scope="module")
def embedded_model() -> Path:
    from evallaunch.models.embedded import embedded_checkpoint

    cache = os.environ.get("EVALLAUNCH_CACHE", str(Path.home() / ".cache" / "evallaunch"))
    return embedded_checkpoint(EMBEDDED, cache)


@pytest.mark.slow
def test_lighteval_runs_only_evallaunch_s_task_on_a_model_that_outlives_the_pipeline(
    embedded_model: Path, tmp_path: Path
) -> None:
    """The pipeline loads the one task it is given (none of lighteval's built-in task
    modules); the job's model draws every sample anew (lighteval's per-document sample
    cache would write them into its cache folder) and serves a second pipeline after the
    first one's cleanup."""
    from lighteval.logging.evaluation_tracker import EvaluationTracker
    from lighteval.models.model_input import GenerationParameters
    from lighteval.models.transformers.transformers_model import (
        TransformersModel,
        TransformersModelConfig,
    )
    from lighteval.pipeline import ParallelismManager, PipelineParameters

    from evallaunch.backends.lighteval_backend import build_task_config
    from evallaunch.benchmarks.mirror import write_problems
    from evallaunch.benchmarks.problem import Problem
    from evallaunch.scoring.math_answers import score_math

    problems = [Problem("p0", "Say a number.", "7")]
    request = make_request(
        tmp_path,
        benchmark="compat",
        problems=problems,
        problems_file=write_problems(problems, tmp_path / "data" / "test.jsonl"),
        model_path=str(embedded_model),
        n=2,
        temperature=1.0,
        top_p=1.0,
        seed=1,
    )
    model_class: Any = lighteval_compat.model_for_the_whole_job(TransformersModel)
    assert model_class.greedy_until is TransformersModel.greedy_until.__wrapped__
    config = TransformersModelConfig(
        model_name=str(embedded_model),
        dtype="float32",
        device="cpu",
        batch_size=2,
        generation_parameters=GenerationParameters(temperature=1.0, seed=1),
    )
    model = model_class(config=config)
    model.generation_config_dict["do_sample"] = True
    built_in = {name for name in sys.modules if name.startswith("lighteval.tasks.tasks.")}

    def run() -> list[str]:
        pipeline = lighteval_compat.offline_pipeline_class()(
            task_configs=[build_task_config(request, score_math)],
            pipeline_parameters=PipelineParameters(launcher_type=ParallelismManager.NONE),
            evaluation_tracker=EvaluationTracker(output_dir=str(tmp_path / "out")),
            model=model,
        )
        pipeline.evaluate()  # ends with model.cleanup()
        assert list(pipeline.tasks_dict) == ["evallaunch|0"]
        (detail,) = pipeline.get_details()["evallaunch|0"]
        return list(detail.model_response.text)

    assert len(run()) == 2 and len(run()) == 2
    assert not Path(model._cache.cache_dir).exists()  # nothing cached, the empty dir removed
    assert {n for n in sys.modules if n.startswith("lighteval.tasks.tasks.")} == built_in


def test_lighteval_s_task_modules_are_those_its_registry_imports() -> None:
    """The modules of lighteval's built-in tasks, found where its Registry looks (files and
    packages' main.py), each importable by name, without importing any."""
    import importlib.util

    modules = lighteval_compat.task_modules()
    assert {"lighteval.tasks.tasks.gsm8k", "lighteval.tasks.tasks.ifeval.main"} <= set(modules)
    assert all(importlib.util.find_spec(name) is not None for name in modules)
    assert len(modules) > 90


# --- vLLM ----------------------------------------------------------------------------------


def in_vllm_env(script: str) -> str:
    if not VLLM_PYTHON.is_file():
        pytest.skip("vLLM is not set up (make setup-vllm builds .venv-vllm)")
    proc = subprocess.run(
        [str(VLLM_PYTHON), "-c", textwrap.dedent(script)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
@pytest.mark.vllm
def test_lighteval_vllm_model_is_usable_on_the_installed_vllm() -> None:
    """With vLLM newer than lighteval's pin, lighteval's VLLMModel is a placeholder; the
    adapted module has the real class, an LLM taking lighteval's old arguments, and the
    engine arguments evallaunch overrides reach that LLM."""
    out = in_vllm_env(
        """
        import inspect
        from evallaunch.compat.lighteval import lighteval_vllm_engine_args, lighteval_vllm_module

        module = lighteval_vllm_module()
        assert not getattr(module.VLLMModel, "is_dummy", False), "still the placeholder"
        assert "prompt_token_ids" in inspect.signature(module.LLM.generate).parameters
        calls = []
        module.LLM = lambda *a, **k: calls.append(k)
        with lighteval_vllm_engine_args(enforce_eager=False):
            module.LLM(model="m", enforce_eager=True, swap_space=4)
        print(calls)
        """
    )
    assert "'enforce_eager': False" in out and "'model': 'm'" in out


@pytest.mark.slow
@pytest.mark.vllm
def test_lm_eval_s_vllm_model_seeds_each_repeat_of_a_prompt(embedded_model: Path) -> None:
    """lm-eval's own generate_until on the real vLLM engine: the k-th repeat of a prompt
    reaches vLLM's SamplingParams with seed unit_seed + k, so repeats differ and a rerun
    draws the same samples."""
    out = in_vllm_env(
        f"""
        import json
        import os
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # else most of the memory
        from lm_eval.api.instance import Instance
        from evallaunch.compat.lm_eval import vllm_with_seeded_repeats_class

        lm = vllm_with_seeded_repeats_class()(
            pretrained={str(embedded_model)!r}, max_model_len=512, max_num_seqs=4,
            max_gen_toks=12, batch_size="auto", enforce_eager=True,
        )
        seeds = []
        generate = lm.model.generate
        def spy(*args, sampling_params=None, **kwargs):
            seeds.extend(p.seed for p in sampling_params)
            return generate(*args, sampling_params=sampling_params, **kwargs)
        lm.model.generate = spy
        gen = {{"until": [], "do_sample": True, "temperature": 1.0, "max_gen_toks": 12}}
        def draw():
            arguments = ("Say a word.", dict(gen))
            requests = [Instance("generate_until", {{}}, arguments, i) for i in range(2)]
            return lm.generate_until(requests, disable_tqdm=True)
        lm.unit_seed = 5
        first, again = draw(), draw()
        print("FOUND", json.dumps({{"seeds": seeds, "first": first, "again": again}}))
        """
    )
    # vLLM's engine shutdown may print after the script's own line.
    found = json.loads(next(line[6:] for line in out.splitlines() if line.startswith("FOUND ")))
    assert sorted(found["seeds"]) == [5, 5, 6, 6]
    assert found["first"] == found["again"] and found["first"][0] != found["first"][1]
