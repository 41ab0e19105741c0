"""A repo's classification (CUST-WP-0050: category, domain, capability tags, business stake and mechanics),
read from its `.repo-classification.yaml`; the fleet keeps the same fields on its repo rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CLASSIFICATION_FILE = ".repo-classification.yaml"
MAX_CLASSIFICATION_BYTES = 64 * 1024


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None


def read_classification(root: str | Path) -> dict[str, Any]:
    """The classification keys of the repo at `root` (each None/[] when the file or the key is absent)."""
    import yaml

    data: Any = None
    marker = Path(root) / CLASSIFICATION_FILE
    try:
        if marker.is_file() and not marker.is_symlink() and marker.stat().st_size <= MAX_CLASSIFICATION_BYTES:
            data = yaml.load(marker.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    found = data if isinstance(data, dict) else {}
    tags = found.get("capability_tags")
    return {
        "category": _text(found.get("category")),
        "classified_domain": _text(found.get("domain")),
        "capability_tags": [str(t) for t in tags] if isinstance(tags, list) else ([str(tags)] if tags else []),
        "business_stake": _text(found.get("business_stake")),
        "business_mechanics": _text(found.get("business_mechanics")),
        "classification_source": CLASSIFICATION_FILE if found else None,
    }
