"""Benchmarks (bench/README.md): each script runs as a file, `python bench/<group>/<script>.py`,
or as a module from the checkout, `python -m bench.<group>.<script>`."""
