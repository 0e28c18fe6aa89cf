"""Benchmarks: each prints a table (python -m benchmarks.<name>)."""
