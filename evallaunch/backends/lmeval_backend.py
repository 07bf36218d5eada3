"""lm-eval backend: `lm_eval.simple_evaluate` with evallaunch's own task config.

The task comes from `lmeval_tasks/generate.yaml`, filled in with the job's problems file,
the number of samples (`repeats`) and the generation settings; its `process_results` calls
evallaunch's scorer, so lm-eval's reported pass@1 follows evallaunch's rules. Only this task
is indexed (`include_defaults=False`): lm-eval's built-in MATH tasks pin an antlr4 version
that conflicts with math-verify.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import yaml

from evallaunch.backends.base import Backend, BackendOutput, Completion, GenerationRequest
from evallaunch.scoring.registry import Scorer

log = logging.getLogger(__name__)

TASK_TEMPLATE = Path(__file__).with_name("lmeval_tasks") / "generate.yaml"
METRIC = "pass@1"


def build_task_config(request: GenerationRequest, scorer: Scorer) -> dict[str, Any]:
    """lm-eval task config for the job: the YAML template filled in from `request`."""
    config = copy.deepcopy(yaml.safe_load(TASK_TEMPLATE.read_text()))
    config["task"] = f"evallaunch_{request.benchmark}"
    config["dataset_kwargs"]["data_files"]["test"] = str(request.problems_file)
    config["repeats"] = request.n
    config["filter_list"][0]["filter"][0]["k"] = request.n
    config["generation_kwargs"].update(
        do_sample=request.temperature > 0,
        temperature=request.temperature,
        top_p=request.top_p,
        max_gen_toks=request.max_new_tokens,
    )

    def process_results(doc: dict[str, Any], results: list[list[str]]) -> dict[str, float]:
        samples = results[0]
        correct = [scorer(text, doc["answer"]).correct for text in samples]
        return {METRIC: sum(correct) / len(correct)}

    config["process_results"] = process_results
    return config


class LmevalBackend(Backend):
    """Runs lm-eval's `simple_evaluate` on its in-process Hugging Face model (`hf`)."""

    requires = ("lm_eval", "lmeval")
    packages = ("lm_eval", "transformers", "torch")

    def run(self, request: GenerationRequest, scorer: Scorer) -> BackendOutput:
        import lm_eval
        from lm_eval.tasks import TaskManager

        model_args: dict[str, Any] = {
            "pretrained": request.model_path,
            "dtype": request.dtype,
            "device": request.device,
            "trust_remote_code": request.trust_remote_code,
        }
        if request.revision:
            model_args["revision"] = request.revision
        if request.max_model_length:
            model_args["max_length"] = request.max_model_length
        model_args.update(self.model_args)
        results = lm_eval.simple_evaluate(
            model="hf",
            model_args=model_args,
            tasks=[build_task_config(request, scorer)],
            task_manager=TaskManager(include_defaults=False),
            batch_size=self.batch_size,
            log_samples=True,
            apply_chat_template=request.chat_template,
            system_instruction=request.system_prompt,
            random_seed=request.seed,
            numpy_random_seed=request.seed,
            torch_random_seed=request.seed,
            fewshot_random_seed=request.seed,
        )
        if results is None:  # only on non-zero ranks of a distributed run
            return BackendOutput(completions=[])
        task = f"evallaunch_{request.benchmark}"
        raw_dir = request.work_dir / "backend"
        raw_dir.mkdir(parents=True, exist_ok=True)
        samples = results.pop("samples", {}).get(task, [])
        (raw_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        with (raw_dir / "samples.jsonl").open("w") as handle:
            for sample in samples:
                handle.write(json.dumps(sample, default=str) + "\n")
        tokenizer = _tokenizer(request)
        completions = [c for s in samples for c in _completions(s, tokenizer, request)]
        score = results["results"][task][f"{METRIC},all_samples"]
        return BackendOutput(
            completions=completions, metrics={METRIC: float(score)}, raw_dir=raw_dir
        )


def _tokenizer(request: GenerationRequest) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        request.model_path,
        revision=request.revision or "main",
        trust_remote_code=request.trust_remote_code,
    )


def _completions(
    sample: dict[str, Any], tokenizer: Any, request: GenerationRequest
) -> list[Completion]:
    prompt = sample["arguments"][0][0]
    out = []
    for index, text in enumerate(sample["filtered_resps"][0]):
        # lm-eval returns text only: count its tokens to tell a cut-off completion.
        num_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        out.append(
            Completion(
                problem_id=str(sample["doc"]["id"]),
                sample_index=index,
                prompt=prompt,
                completion=text,
                finish_reason="length" if num_tokens >= request.max_new_tokens else "stop",
                num_tokens=num_tokens,
            )
        )
    return out
