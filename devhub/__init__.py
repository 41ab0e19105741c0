"""devhub: an offline-first local State Hub."""

__version__ = "0.1.0"
__all__ = ["__version__"]
