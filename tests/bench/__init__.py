"""Benchmarks (``make bench``): figures and ratios against a peer measured in the same run.

Never timed asserts in tests: targets are printed beside the figures, and the run exits non-zero
only when a benchmark could not run at all.
"""
