"""lighteval backend: its Python `Pipeline` with a task registry holding only evallaunch's task.

lighteval's own `Registry` imports every built-in task module (some of which reach the
network at import time), so the pipeline here is given a registry that holds just the one
task built from evallaunch's problems file. Scoring inside lighteval uses evallaunch's
scorer, so lighteval's reported pass@1 is computed with the same rules as evallaunch's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from evallaunch.backends.base import (
    Backend,
    BackendOutput,
    Completion,
    GenerationRequest,
    finish_reason_of,
)
from evallaunch.backends.lighteval_models import transformers_model, vllm_model
from evallaunch.compat.lighteval import offline_pipeline_class
from evallaunch.scoring.registry import Scorer

log = logging.getLogger(__name__)

TASK_NAME = "evallaunch"
METRIC = "pass@1"


def build_task_config(request: GenerationRequest, scorer: Scorer) -> Any:
    """A `LightevalTaskConfig` reading the job's problems file, scored by `scorer`."""
    import numpy as np
    from lighteval.metrics.metrics_sample import AvgAtN
    from lighteval.metrics.utils.metric_utils import SampleLevelMetric
    from lighteval.tasks.lighteval_task import LightevalTaskConfig
    from lighteval.tasks.requests import Doc, SamplingMethod

    def prompt_fn(line: dict[str, Any], task_name: str = "") -> Doc:
        return Doc(
            task_name=task_name,
            query=line["prompt"],
            choices=[line["answer"]],
            gold_index=0,
            specific={"id": line["id"]},
        )

    def score_fn(doc: Doc, model_response: Any) -> float:
        return float(scorer(model_response.text[0], doc.choices[0]).correct)

    metric = SampleLevelMetric(
        metric_name=METRIC,
        sample_level_fn=AvgAtN(n=request.n, sample_scoring_function=score_fn),
        category=SamplingMethod.GENERATIVE,
        corpus_level_fn=np.mean,
        higher_is_better=True,
    )
    return LightevalTaskConfig(
        name=TASK_NAME,
        prompt_function=prompt_fn,
        hf_repo=str(request.data_file.parent),
        hf_subset="default",
        hf_avail_splits=["test"],
        evaluation_splits=["test"],
        metrics=[metric],
        generation_size=request.max_new_tokens,
        stop_sequence=[],
    )


class LightevalBackend(Backend):
    """Runs lighteval's pipeline on an in-process transformers model, or, with
    model_type=server, on the job's inference servers (evallaunch.serving.job_servers)."""

    requires = ("lighteval", "lighteval")
    packages = ("lighteval", "transformers", "torch")
    imports = (
        "transformers.trainer_utils",
        "transformers.models.auto.tokenization_auto",
        "lighteval.pipeline",
        "lighteval.logging.evaluation_tracker",
        "lighteval.metrics.metrics_sample",
        "lighteval.metrics.utils.metric_utils",
        "lighteval.tasks.lighteval_task",
        "lighteval.tasks.registry",
        "lighteval.models.model_input",
        "evallaunch.backends.lighteval_server_model",
    )

    def run(self, request: GenerationRequest, scorer: Scorer) -> BackendOutput:
        from lighteval.logging.evaluation_tracker import EvaluationTracker
        from lighteval.pipeline import ParallelismManager, PipelineParameters
        from transformers.trainer_utils import set_seed

        set_seed(request.seed)
        server = request.base_url is not None
        model = self.job_model(request)
        end_ids = {model.tokenizer.eos_token_id, model.tokenizer.pad_token_id} - {None}
        prompt_manager = model.prompt_manager
        raw_dir = request.work_dir / "backend"
        tracker = EvaluationTracker(output_dir=str(raw_dir), save_details=True)
        pipeline = offline_pipeline_class()(
            task_configs=[build_task_config(request, scorer)],
            pipeline_parameters=PipelineParameters(
                launcher_type=ParallelismManager.NONE, remove_reasoning_tags=False
            ),
            evaluation_tracker=tracker,
            model=model,
        )
        pipeline.evaluate()
        pipeline.save_and_push_results()
        task_key = f"{TASK_NAME}|0"
        # lighteval names the task "evallaunch|0" in details and "evallaunch:0" in results.
        scores = next(v for k, v in pipeline.get_results()["results"].items() if k != "all")
        completions = [
            completion
            for detail in pipeline.get_details()[task_key]
            for completion in _completions(
                detail,
                prompt_manager.prepare_prompt(detail.doc),
                end_ids,
                request,
                model if server else None,
            )
        ]
        return BackendOutput(completions=completions, metrics={METRIC: float(scores[METRIC])})

    def job_model(self, request: GenerationRequest) -> Any:
        """lighteval's model for `request`: a client of the job's servers, or the in-process
        vLLM or transformers model, loaded once per job."""
        if request.base_url is not None:
            return self._server_model(request)
        if self.model_type == "vllm":
            model = self.reuse("vllm", lambda: vllm_model(request, self.model_args))
            # vLLM seeds each request: the unit's seed makes its samples reproducible.
            model.config.generation_parameters.seed = request.seed
            return model
        return self.reuse(
            request.model_path,
            lambda: transformers_model(request, self.batch_size, self.model_args),
        )

    def apply_batch_size(self, model: Any) -> None:
        model.config.batch_size = model.batch_size = self.batch_size

    def _server_model(self, request: GenerationRequest) -> Any:
        """A client of the job's inference servers (model_type=server); backend.model_args
        may set served_model, concurrent_requests and request_timeout_s."""
        from lighteval.models.model_input import GenerationParameters

        from evallaunch.backends.lighteval_server_model import ServerModel, ServerModelConfig

        base_url = self.require_base_url(request)
        extra = dict(self.model_args)
        concurrency = int(extra.pop("concurrent_requests", self.server_concurrency(request)))
        timeout = extra.pop("request_timeout_s", None)
        config = ServerModelConfig(
            model_name=Path(request.model_path).name or "model",
            served_model=str(extra.pop("served_model", request.served_model or request.model_path)),
            chat_template=request.chat_template,
            system_prompt=request.system_prompt,
            max_model_length=request.max_model_length,
            cache_dir=str(request.work_dir / "backend" / "cache"),
            generation_parameters=GenerationParameters(
                temperature=request.temperature,
                top_p=request.top_p,
                max_new_tokens=request.max_new_tokens,
                seed=request.seed,
            ),
            **extra,
        )
        tokenizer = self.tokenizer(request)
        return ServerModel(config, base_url, tokenizer, concurrency, timeout, unit=request.unit)


def _completions(
    detail: Any,
    prompt: str,
    end_ids: set[int],
    request: GenerationRequest,
    server: Any = None,
) -> list[Completion]:
    response = detail.model_response
    out = []
    for index, text in enumerate(response.text):
        # lighteval's transformers model returns tensors of ids: compared as ints.
        tokens = [int(t) for t in response.output_tokens[index]] if response.output_tokens else []
        while tokens and tokens[-1] in end_ids:  # samples are padded to the longest one
            tokens.pop()
        num_tokens, told = len(tokens), None
        if server is not None:  # model_type=server: text only; the server tells the finish
            num_tokens = len(server.tokenizer(text, add_special_tokens=False)["input_ids"])
            told = server.usage.get((detail.doc.query, index), (None, None))[0]
        finish_reason = finish_reason_of(num_tokens, request.max_new_tokens, told)
        out.append(
            Completion(
                problem_id=str(detail.doc.specific["id"]),
                sample_index=index,
                prompt=prompt,
                completion=text,
                finish_reason=finish_reason,
                num_tokens=num_tokens,
            )
        )
    return out
