"""devhub: an offline-first local State Hub."""

from __future__ import annotations

from typing import Any

from devhub._version import __version__

__all__ = ["__version__", "open_hub"]


def __getattr__(name: str) -> Any:
    """`devhub.open_hub` on first use, so `import devhub` stays light."""
    if name == "open_hub":
        from devhub.service.open import open_hub

        return open_hub
    raise AttributeError(f"module 'devhub' has no attribute {name!r}")
