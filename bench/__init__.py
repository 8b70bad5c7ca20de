"""Benchmarks run by `make bench`; each prints figures and adds keys to bench/results/latest.json."""
