"""The `devhub` command line: `main` plus one module per command group."""
