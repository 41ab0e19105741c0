"""The daemon lifecycle: run, discovery, lock file and ports; one for CLI, stdio MCP, tests, benchmarks."""
