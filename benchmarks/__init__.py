"""Benchmarks (not tests): lowranklab against the hardware floor, as ratios measured in the
same run. Run `python -m benchmarks.run --help`."""
