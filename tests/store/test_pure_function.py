"""The read model is a pure function of files + journal: whatever order writes, file edits and
restarts came in, `devhub verify` (a scratch rebuild compared row by row) finds no drift.

Runs the real Hub in-process (its writer, journal and `Writes`) on a real git repo; the file
watcher's callback is called directly after each edit, as the watcher would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhub.errors import Conflict, ValidationFailed
from devhub.registry import Registry
from devhub.service.hub import Hub
from devhub.service.verify import verify_read_model
from devhub.service.writes import WriteContext
from devhub.settings import Settings
from devhub.store import queries
from tests.support.repos import git

WP = "PROP-WP-0001"
TASKS = [f"{WP}-T0{n}" for n in range(1, 5)]
# T02 waits on T01, T03 on T02 and on an id no repo defines, T04 on nothing.
DEPENDS = {TASKS[1]: [TASKS[0]], TASKS[2]: [TASKS[1], "PROP-WP-9999-T01"]}
TASK_STATUSES = ["todo", "progress", "done", "blocked", "wait"]
WORKPLAN_STATUSES = ["active", "ready", "blocked", "done"]
PATH = f"workplans/{WP}-property.md"


@dataclass
class Files:
    """What the workplan file says now; `render` writes it."""

    workplan_status: str = "active"
    tasks: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(TASKS, "todo"))

    def render(self) -> str:
        head = f"---\nid: {WP}\ntype: workplan\ntitle: Property\nstatus: {self.workplan_status}\n---\n\n# {WP}\n"
        blocks = []
        for task_id, status in self.tasks.items():
            if status is None:
                continue  # the task left the file
            deps = f"depends_on: [{', '.join(DEPENDS[task_id])}]\n" if task_id in DEPENDS else ""
            blocks.append(f"## Task: {task_id}\n\n```task\nid: {task_id}\nstatus: {status}\n{deps}```\n\nBody.\n")
        return head + "\n" + "\n".join(blocks)


def _make_repo(root: Path, files: Files) -> Path:
    repo = root / "prop-repo"
    (repo / "workplans").mkdir(parents=True)
    (repo / PATH).write_text(files.render())
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "workplan")
    return repo


task_index = st.integers(0, len(TASKS) - 1)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("patch"), task_index, st.sampled_from(TASK_STATUSES)),
        st.tuples(st.just("flag"), task_index, st.booleans()),
        st.tuples(st.just("patch_workplan"), st.sampled_from(WORKPLAN_STATUSES)),
        st.tuples(st.just("edit"), task_index, st.sampled_from([*TASK_STATUSES, None])),
        st.tuples(st.just("edit_workplan"), st.sampled_from(WORKPLAN_STATUSES)),
        st.tuples(st.just("progress")),
        st.tuples(st.just("restart")),
        st.tuples(st.just("edit_while_stopped"), task_index, st.sampled_from(TASK_STATUSES)),
    ),
    min_size=1,
    max_size=14,
)


class Session:
    """One data directory, one repo, and the hub currently serving them."""

    def __init__(self, root: Path) -> None:
        self.files = Files()
        self.repo = _make_repo(root, self.files)
        self.config = Settings(data_dir=root / "data", config_dir=root / "config", no_relay=True)
        Registry(self.config.registry_path).register([self.repo])
        self.hub: Hub | None = None

    async def start(self) -> Hub:
        self.hub = Hub(self.config)
        await self.hub.start(serve=False)
        return self.hub

    async def step(self, step: tuple[Any, ...]) -> None:
        hub = self.hub
        assert hub is not None
        kind, ctx = step[0], WriteContext(agent="prop")
        if kind == "patch" and self.files.tasks[TASKS[step[1]]] is not None:
            # A move the status canon forbids (leaving cancel or done, wait without a reason) is refused and
            # writes nothing: a step of the history that changes nothing, live or rebuilt.
            with contextlib.suppress(Conflict, ValidationFailed):
                await hub.writes.patch_task(TASKS[step[1]], None, {"status": step[2]}, ctx)
        elif kind == "flag" and self.files.tasks[TASKS[step[1]]] is not None:
            body = {"needs_human": True, "intervention_note": "look"} if step[2] else {"needs_human": False}
            await hub.writes.patch_task(TASKS[step[1]], None, body, ctx)
        elif kind == "patch_workplan":
            await hub.writes.patch_workplan(WP, None, {"status": step[1]}, ctx)
        elif kind == "progress" and self.files.tasks[TASKS[0]] is not None:  # a removed task cannot be named
            await hub.writes.add_progress({"summary": "step", "task_id": TASKS[0]}, ctx)
        elif kind in ("edit", "edit_workplan"):
            self._edit(step)
            repo = next(r for r in hub.repos if r.path == str(self.repo))
            await hub._files_changed(repo, {PATH})  # what the watcher does on the change
        elif kind == "delete_file":
            (self.repo / PATH).unlink()
            repo = next(r for r in hub.repos if r.path == str(self.repo))
            await hub._files_changed(repo, {PATH})
        elif kind == "edit_while_stopped":
            await hub.stop()
            self._edit(("edit", step[1], step[2]))
            await self.start()
        elif kind == "restart":
            await hub.stop()
            await self.start()

    def _edit(self, step: tuple[Any, ...]) -> None:
        if step[0] == "edit":
            self.files.tasks[TASKS[step[1]]] = step[2]
        else:
            self.files.workplan_status = step[1]
        (self.repo / PATH).write_text(self.files.render())


def _run(root: Path, steps: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    session = Session(root)

    async def scenario() -> None:
        await session.start()
        try:
            for step in steps:
                await session.step(step)
        finally:
            assert session.hub is not None
            await session.hub.stop()

    asyncio.run(scenario())
    drift: list[dict[str, Any]] = verify_read_model(session.config)["drift"]
    return drift


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_any_history_of_writes_edits_and_restarts_leaves_no_drift(tmp_path_factory: Any, steps: Any) -> None:
    root = tmp_path_factory.mktemp("prop")
    assert _run(root, steps) == [], steps


def test_status_back_and_forth_leaves_no_drift(tmp_path: Path) -> None:
    """The issue's example: todo -> progress -> todo -> progress, live vs rebuilt write states."""
    steps = [("patch", 0, "progress"), ("patch", 0, "todo"), ("patch", 0, "progress")]
    assert _run(tmp_path, steps) == []


def test_a_write_whose_task_left_its_file_leaves_no_drift(tmp_path: Path) -> None:
    """The file agreed (reconciled), then the task went: the write waits for it, live and rebuilt alike."""
    steps = [("patch", 1, "done"), ("edit", 1, "done"), ("edit", 1, None)]
    assert _run(tmp_path, steps) == []


def test_a_workplan_write_whose_file_lost_the_workplan_leaves_no_drift(tmp_path: Path) -> None:
    steps = [("patch_workplan", "done"), ("edit_workplan", "done"), ("delete_file",)]
    assert _run(tmp_path, steps) == []


def test_a_same_size_edit_within_one_clock_tick_is_seen(tmp_path: Path) -> None:
    """`todo` -> `done` keeps the size; a coarse file clock can keep the mtime too (the racy-git case)."""
    session = Session(tmp_path)
    path = session.repo / PATH

    async def scenario() -> str:
        hub = await session.start()
        try:
            before = path.stat()
            session._edit(("edit", 0, "done"))
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same tick
            assert path.stat().st_size == before.st_size
            await hub._files_changed(hub.repos[0], {PATH})
            task = await hub.read(lambda r: queries.get_task(r, TASKS[0], None))
            return str(task["status"])
        finally:
            await hub.stop()

    assert asyncio.run(scenario()) == "done"
