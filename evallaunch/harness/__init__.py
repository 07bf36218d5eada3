"""Harness tasks: any lm-eval task or group by name (`benchmark=harness benchmark.task=...`),
run by the harness itself on the job's model, reading only the local data mirror."""
