"""Drift: every REST route and every environment setting the code reads is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_rest_route_is_in_the_readme() -> None:
    from devhub.adapters.api.create_routes import CREATE_ROUTES
    from devhub.adapters.api.decision_routes import DECISION_ROUTES
    from devhub.adapters.api.message_routes import MESSAGE_ROUTES
    from devhub.adapters.api.read_routes import READ_ROUTES
    from devhub.adapters.api.statehub_routes import STATEHUB_ROUTES
    from devhub.adapters.api.time_routes import TIME_ROUTES
    from devhub.adapters.api.write_routes import WRITE_ROUTES

    documented = README.replace("{ident}", "{id}").replace("{slug}", "{id}")
    missing = []
    for handler in [
        *READ_ROUTES, *WRITE_ROUTES, *STATEHUB_ROUTES, *DECISION_ROUTES, *MESSAGE_ROUTES, *CREATE_ROUTES, *TIME_ROUTES
    ]:
        for path in handler.paths:
            shown = re.sub(r"\{(\w+):\w+\}", "{id}", path)
            if shown.rstrip("/") not in documented:
                missing.append(shown)
    assert missing == []


def test_every_environment_setting_is_in_the_readme() -> None:
    names = set()
    for path in (ROOT / "devhub").rglob("*.py"):
        names |= set(re.findall(r"\"(DEVHUB_[A-Z_]+)\"", path.read_text()))
    assert names, "the scan found the settings"
    assert sorted(n for n in names if n not in README) == []
