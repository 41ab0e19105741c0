"""Shared test helpers: real git repos from fixtures, real daemon processes, waiting with deadlines."""
