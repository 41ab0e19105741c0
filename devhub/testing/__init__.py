"""Harnesses shared by tests, benchmarks and `devhub fleet accept --dev-roundtrip`."""
