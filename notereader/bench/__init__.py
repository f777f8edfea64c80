"""Benchmarks: `notereader bench`. Commands that measure, never timed tests."""
