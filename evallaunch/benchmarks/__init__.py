"""Benchmarks: the local data mirror, its problems and the prompts built from their rows,
and `prepare`."""
