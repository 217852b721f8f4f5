"""Benchmarks: `make bench` (python -m bench) measures cost, speed, cold start and size,
beside the tools users would pick instead, and writes BENCHMARKS.md."""
