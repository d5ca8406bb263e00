"""Benchmarks: ``python -m benchmarks`` (see README.md in this folder)."""
