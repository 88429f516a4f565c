"""Benchmarks and quality reports (not tests): ``make bench``."""
