"""The registered repos as the read model knows them, and the error for a slug that is not one."""

from __future__ import annotations

from devhub.errors import NotFound
from devhub.store.lookups import registered_repo_paths
from devhub.store.reader import Reader


class UnknownRepo(NotFound):
    """A repo slug that names no registered repo (a usage error on the command line)."""

    title = "Unknown repo"
    exit_code = 2


async def repo_paths(reader: Reader, repo: str | None = None) -> dict[str, str]:
    """slug -> absolute path of every registered repo (or just `repo`; UnknownRepo when it is not one)."""
    paths = await registered_repo_paths(reader)
    if repo is not None:
        if repo not in paths:
            raise UnknownRepo(
                f"no registered repo with slug {repo!r} (registered: {', '.join(sorted(paths)) or 'none'})"
            )
        return {repo: paths[repo]}
    return paths
