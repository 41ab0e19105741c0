"""devhub: an offline-first local State Hub."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "open_hub"]


def __getattr__(name: str) -> Any:
    """`devhub.open_hub` on first use, so `import devhub` stays light."""
    if name == "open_hub":
        from devhub.service.open import open_hub

        return open_hub
    raise AttributeError(f"module 'devhub' has no attribute {name!r}")
