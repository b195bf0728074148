"""Benchmarks: heavy, not run by CI except at a tiny size (tests/integration/test_benchmarks.py)."""
