"""A real transformers Trainer small enough for a CPU test, and the smallest evaluation of
each checkpoint it saves (the checkpoint tests, locally and on Slurm)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def eval_overrides(outputs: Path, data: Path) -> list[str]:
    """The smallest evaluation of each checkpoint: one problem, four tokens."""
    return [
        f"paths.output_root={outputs}",
        f"paths.data_dir={data}",
        "experiment_name=train",
        "benchmark.limit=1",
        "benchmark.n=1",
        "generation.max_new_tokens=4",
        "model.max_model_length=256",
    ]


def tiny_trainer(output_dir: Path, max_steps: int, callbacks: list, resume: bool = False) -> Any:
    """A real transformers Trainer on a ~1.6M-parameter Llama with the embedded tokenizer."""
    import torch
    from transformers import (
        AutoTokenizer,
        LlamaConfig,
        LlamaForCausalLM,
        Trainer,
        TrainingArguments,
    )

    from evallaunch.config.compose import compose_config
    from evallaunch.models.embedded import embedded_checkpoint

    cache = compose_config().paths.cache_dir
    tokenizer = AutoTokenizer.from_pretrained(
        embedded_checkpoint("embedded:smollm2-135m-instruct", cache)
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = LlamaForCausalLM(config)
    texts = ["The answer is \\boxed{2}.", "Two plus two is four."] * 8
    encoded = [tokenizer(t, truncation=True, max_length=16, padding="max_length") for t in texts]
    dataset = [
        {
            "input_ids": e["input_ids"],
            "attention_mask": e["attention_mask"],
            "labels": e["input_ids"],
        }
        for e in encoded
    ]
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=max_steps,
        save_steps=1,
        save_strategy="steps",
        per_device_train_batch_size=2,
        gradient_accumulation_steps=1,
        learning_rate=1e-3,
        report_to=[],
        use_cpu=True,
        logging_steps=1,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    # lighteval's transformers model turns autograd off for the whole process when it is
    # imported, and tests before this one may have run lighteval in this process.
    with torch.enable_grad():
        trainer.train(resume_from_checkpoint=str(output_dir / "checkpoint-3") if resume else None)
    return trainer
