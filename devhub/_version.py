"""The version, in a module of its own so that importing it never imports the rest of devhub."""

__version__ = "0.1.0"
