"""Harness tasks: any lm-eval or lighteval task or group by name (`benchmark=harness
benchmark.task=...`), run by the harness itself on the job's model, reading only the local
data mirror."""
