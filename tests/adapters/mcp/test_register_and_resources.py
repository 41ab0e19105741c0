"""register_repo serves and watches a new checkout at once; workplan:// and brief:// serve markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devhub.cli.demo import make_git_repo
from tests.adapters.mcp.helpers import connect, error_text, payload, run
from tests.support.daemon import RunningDaemon
from tests.support.waiting import wait_for

EXTRA_WORKPLAN = """---
id: EXTRA-WP-0001
type: workplan
title: "Extra repo registered by an agent"
status: active
---

## Task: Wire the extra repo

```task
id: EXTRA-WP-0001-T01
status: todo
priority: high
```

Body of the first task.
"""


def _extra_repo(root: Path) -> Path:
    source = root / "extra-src"
    (source / "workplans").mkdir(parents=True)
    (source / "workplans" / "EXTRA-WP-0001-extra.md").write_text(EXTRA_WORKPLAN, encoding="utf-8")
    return make_git_repo(source, root / "extra-repo", remote="https://example.invalid/extra-repo.git")


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_register_repo_serves_and_watches_the_new_checkout(
    daemon: RunningDaemon, tmp_path: Path, transport: str
) -> None:
    repo = _extra_repo(tmp_path)

    async def scenario() -> tuple[object, str]:
        async with connect(daemon, transport) as client:
            registered = payload(await client.call_tool("register_repo", {"path": str(repo)}))
            refused = [
                error_text(await client.call_tool("register_repo", {"path": path}))
                for path in (str(tmp_path / "missing"), "", "/etc")
            ]
            return registered, refused

    registered, refused = run(scenario())
    assert registered == json.loads(daemon.cli("register", "--json", str(repo), check=True).stdout)
    assert registered[0]["repo"]["slug"] == "extra-repo"  # type: ignore[index]
    assert "missing: does not exist" in refused[0]
    assert "empty path" in refused[1] and "not a git repository" in refused[2]
    assert {r["slug"] for r in daemon.get("/repos/").json()} == {
        "the-custodian",
        "state-hub",
        "ops-bridge",
        "extra-repo",
    }
    assert "extra-repo" in [r["slug"] for r in daemon.get("/repos/").json()]
    assert daemon.get("/tasks/EXTRA-WP-0001-T01").json()["status"] == "todo"
    # The watcher now covers the new repo: a saved file shows through the API without a restart.
    path = repo / "workplans" / "EXTRA-WP-0001-extra.md"
    path.write_text(EXTRA_WORKPLAN.replace("status: todo", "status: progress"), encoding="utf-8")
    wait_for(
        lambda: daemon.get("/tasks/EXTRA-WP-0001-T01").json()["status"] == "progress",
        timeout=10,
        what="the edit in the newly registered repo to be served",
    )


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_workplan_and_brief_resources(shared_daemon: RunningDaemon, transport: str) -> None:
    daemon = shared_daemon
    custodian = next(r for r in daemon.get("/repos/").json() if r["slug"] == "the-custodian")
    on_disk = (Path(custodian["path"]) / "workplans" / "CUST-WP-0054-workstation-independence.md").read_text(
        encoding="utf-8"
    )

    async def scenario() -> dict[str, object]:
        async with connect(daemon, transport) as client:
            templates = await client.list_resource_templates()
            workplan = await client.read_resource("workplan://CUST-WP-0054")
            brief = await client.read_resource("brief://the-custodian")
            with pytest.raises(Exception) as unknown:
                await client.read_resource("brief://no-such-repo")
            return {
                "templates": sorted(t.uri_template for t in templates.resource_templates),
                "workplan": workplan.contents[0],
                "brief": brief.contents[0],
                "unknown": str(unknown.value),
            }

    got = run(scenario())
    assert got["templates"] == ["brief://{repo}", "workplan://{workplan_id}"]
    workplan = got["workplan"]
    assert workplan.text == on_disk and workplan.mime_type == "text/markdown"  # type: ignore[attr-defined]
    brief = got["brief"].text  # type: ignore[attr-defined]
    assert brief == daemon.cli("brief", "--repo", "the-custodian", check=True).stdout  # what `devhub brief` prints
    assert "CUST-WP-0054" in brief
    assert "no-such-repo" in str(got["unknown"])
