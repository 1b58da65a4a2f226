"""Benchmark scripts: each prints its own figures (run them through the Makefile)."""
