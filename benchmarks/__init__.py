"""devhub's benchmarks: `python -m benchmarks` runs every benchmarks/bench_*.py module and prints JSON."""
