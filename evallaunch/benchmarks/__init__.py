"""Benchmarks: the local data mirror, prompts built from its rows, and `prepare`."""
