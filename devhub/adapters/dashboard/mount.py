"""How the daemon's app mounts the dashboard (composed in devhub.daemon.app)."""

from __future__ import annotations

from devhub.adapters.dashboard.pages import JournalBacklog
from devhub.adapters.dashboard.routes import make_handlers
from devhub.adapters.extension import Extension
from devhub.service.hub import Hub


def extension(hub: Hub) -> Extension:
    """The dashboard's routes: `/`, `/ui/...` pages, the `/ui/events` stream and `/ui/static` assets."""
    return Extension(
        route_handlers=make_handlers(JournalBacklog()), name="dashboard", info={"url": "/", "events": "/ui/events"}
    )
