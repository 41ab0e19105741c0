"""Writeback of work created through the hub: a task block appended to its workplan file, or a new workplan file.

The edits follow docs/workplan-format.md: a task is a `## Task: <title>` heading with a fenced
```` ```task ```` block (`id`, `status`, `priority`, …, `state_hub_task_id` once the fleet gave
one); a workplan is `workplans/<ID>-<slug>.md` with the frontmatter the parser reads. Each
edit is re-parsed before it is written: the file must then hold exactly the old items plus the
new ones. A file with uncommitted changes, or a new file's path already taken, is refused.
Writes go through the same `RepoFiles.replace` (atomic, through the checked folder fd) as
status writeback.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhub.errors import FileRefused
from devhub.reconcile.repos import repo_paths
from devhub.reconcile.writeback import (
    Change,
    FileEdit,
    Pending,
    PendingJson,
    Plan,
    Refusal,
    _refuse_edit,
    _statuses,
    apply_plan,
    collect_pending,
    dirty_paths,
    pending_as_json,
    pending_from_json,
)
from devhub.store.created import created_items, workplan_file_path
from devhub.store.dependency_writes import pending_dependency_writes
from devhub.store.reader import Reader
from devhub.store.repofiles import DEFAULT_MAX_WORKPLAN_BYTES, RepoFiles
from devhub.workplans import parse_workplan

# "task:<repo>:<id>" / "workplan:<repo>:<id>" -> the fleet UUID the relay learnt (relay/fleet_ids.py), or None.
UuidLookup = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class CreatedItem:
    """A created task or workplan no file holds yet, with the values to write."""

    kind: str  # task | workplan
    repo: str
    id: str
    seq: int
    workplan_id: str | None
    path: str | None  # a workplan's planned file; a task's is its workplan's
    fields: dict[str, Any]
    status: str | None  # the effective status now (a later local status write included)
    root: str


async def collect_created(reader: Reader, repo: str | None = None) -> list[CreatedItem]:
    """Every created item of every registered repo (or of one) that no file holds yet, oldest first."""
    roots = await repo_paths(reader, repo)
    items = []
    for row in await created_items(reader, repo):
        path = row["path"]
        if row["kind"] == "task":
            path = await workplan_file_path(reader, row["repo"], row["workplan_id"])
        items.append(
            CreatedItem(
                row["kind"],
                row["repo"],
                row["id"],
                row["seq"],
                row["workplan_id"],
                path,
                row["fields"],
                row["status"] or row["fields"].get("status"),
                roots.get(row["repo"], ""),
            )
        )
    return items


def created_keys(items: Iterable[CreatedItem]) -> set[tuple[str, str, str]]:
    """(kind, repo, id) of the items: their pending status writes are written with them, not on their own."""
    return {(item.kind, item.repo, item.id) for item in items}


# -- rendering ------------------------------------------------------------------------------------


def _quoted(value: Any) -> str:
    """A YAML value that reads back as exactly this text (JSON strings are YAML double-quoted scalars)."""
    return json.dumps(str(value), ensure_ascii=False)


def task_block(item: CreatedItem, uuid: str | None, newline: str = "\n") -> str:
    """The markdown of one created task: heading, fenced task block, description."""
    fields = item.fields
    lines = ["", f"## Task: {fields['title']}", "", "```task", f"id: {item.id}", f"status: {item.status}"]
    if fields.get("priority"):
        lines.append(f"priority: {fields['priority']}")
    for name in ("assignee", "due_date"):
        if fields.get(name):
            lines.append(f"{name}: {_quoted(fields[name])}")
    if uuid:
        lines.append(f"state_hub_task_id: {_quoted(uuid)}")
    lines.append("```")
    if fields.get("description"):
        lines += ["", fields["description"].strip()]
    return newline.join(lines) + newline


def workplan_file(item: CreatedItem, uuid: str | None, tasks: str) -> str:
    """A new workplan file in the convention: frontmatter, `# <ID> - <title>`, description, tasks."""
    fields = item.fields
    front = [
        "---",
        f"id: {item.id}",
        "type: workplan",
        f"title: {_quoted(fields['title'])}",
    ]
    if fields.get("domain"):
        front.append(f"domain: {_quoted(fields['domain'])}")
    front += [f"repo: {item.repo}", f"status: {item.status}"]
    for name in ("owner", "topic_slug", "topic_id", "planning_priority"):
        if fields.get(name):
            front.append(f"{name}: {_quoted(fields[name])}")
    if fields.get("planning_order") is not None:
        front.append(f"planning_order: {int(fields['planning_order'])}")
    if fields.get("due_date"):
        front.append(f"due_date: {_quoted(fields['due_date'])}")
    front += [f"created: {fields['created']}", f"updated: {fields['created']}"]
    if uuid:
        front.append(f"state_hub_workstream_id: {_quoted(uuid)}")
    front.append("---")
    body = ["", f"# {item.id} - {fields['title']}"]
    if fields.get("description"):
        body += ["", fields["description"].strip()]
    return "\n".join(front + body) + "\n" + tasks


# -- planning -------------------------------------------------------------------------------------


def _refusal(item: CreatedItem, reason: str) -> Refusal:
    return Refusal(item.kind, item.repo, item.id, item.path, None, item.status or "", None, None, reason)


def _change(item: CreatedItem, path: str, line: int | None) -> Change:
    return Change(item.kind, item.repo, item.id, path, line or 0, None, item.status or "", None, item.seq)


def _checked(
    repo: str, root: str, path: str, before: bytes, after: bytes, items: list[CreatedItem], plan: Plan
) -> FileEdit | None:
    """The edit when `after` parses as `before` plus exactly the new items (with their statuses)."""
    expected = {key: [entry[0] for entry in entries] for key, entries in _statuses(before, path).items()}
    for item in items:
        expected[(item.kind, item.id)] = [item.status]
    parsed = _statuses(after, path)
    got = {key: [entry[0] for entry in entries] for key, entries in parsed.items()}
    if got != expected:
        for item in items:
            plan.refusals.append(_refusal(item, "the file with the new item would not parse as intended"))
        return None
    changes = [_change(item, path, (parsed[(item.kind, item.id)][0][2])) for item in items]
    return FileEdit(repo, Path(root), path, before, after, changes)


def plan_created(
    items: list[CreatedItem],
    uuid_of: UuidLookup,
    *,
    max_file_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES,
    just_written: Iterable[tuple[str, str]] = (),
) -> Plan:
    """Decide every file edit for the created items (reading files and git); writes nothing.

    `Plan.edits` whose `before` is empty are new files. `just_written` (repo, path) are files this
    writeback run has just edited itself: their uncommitted change is its own, not a person's.
    """
    ours = set(just_written)
    plan = Plan()
    new_plans = {(item.repo, item.id): item for item in items if item.kind == "workplan"}
    tasks_of: dict[tuple[str, str | None], list[CreatedItem]] = defaultdict(list)
    for item in items:
        if item.kind == "task":
            tasks_of[(item.repo, item.workplan_id)].append(item)
    for item in items:
        if not item.root:
            plan.refusals.append(_refusal(item, "the repo is not registered any more"))
        elif item.path is None:
            plan.refusals.append(_refusal(item, f"its workplan {item.workplan_id} is in no file"))
    by_repo: dict[tuple[str, str], list[str]] = defaultdict(list)
    for item in items:
        in_new_plan = item.kind == "task" and (item.repo, item.workplan_id) in new_plans  # written with its plan
        if item.root and item.path and not in_new_plan and item.path not in by_repo[(item.repo, item.root)]:
            by_repo[(item.repo, item.root)].append(item.path)
    for (repo, root), paths in sorted(by_repo.items()):
        files = RepoFiles(root, max_bytes=max_file_bytes)
        dirty = (dirty_paths(Path(root), paths) or set()) - {path for slug, path in ours if slug == repo}
        for path in paths:
            workplan = next((i for i in new_plans.values() if i.repo == repo and i.path == path), None)
            tasks = (
                tasks_of.get((repo, workplan.id if workplan else None), [])
                if workplan
                else [task for task in items if task.kind == "task" and task.repo == repo and task.path == path]
            )
            edit = (
                _plan_new_file(workplan, tasks, files, uuid_of, plan)
                if workplan is not None
                else _plan_append(repo, root, path, tasks, files, dirty, uuid_of, plan)
            )
            if edit is not None:
                plan.edits.append(edit)
    return plan


def _plan_new_file(
    workplan: CreatedItem, tasks: list[CreatedItem], files: RepoFiles, uuid_of: UuidLookup, plan: Plan
) -> FileEdit | None:
    assert workplan.path is not None
    everything = [workplan, *tasks]
    try:
        files.read(workplan.path)
    except FileNotFoundError:
        pass
    except (FileRefused, OSError) as exc:
        for item in everything:
            plan.refusals.append(_refusal(item, f"its file's path cannot be used: {exc}"))
        return None
    else:
        for item in everything:
            plan.refusals.append(_refusal(item, f"a file already exists at {workplan.path}; nothing overwritten"))
        return None
    blocks = "".join(task_block(task, uuid_of(f"task:{task.repo}:{task.id}")) for task in tasks)
    text = workplan_file(workplan, uuid_of(f"workplan:{workplan.repo}:{workplan.id}"), blocks)
    return _checked(workplan.repo, str(files.root), workplan.path, b"", text.encode(), everything, plan)


def _plan_append(
    repo: str,
    root: str,
    path: str,
    tasks: list[CreatedItem],
    files: RepoFiles,
    dirty: set[str],
    uuid_of: UuidLookup,
    plan: Plan,
) -> FileEdit | None:
    if path in dirty:
        for task in tasks:
            reason = "the file has uncommitted changes in git; commit or discard them first"
            plan.refusals.append(_refusal(task, reason))
        return None
    try:
        before = files.read(path)
    except (FileRefused, OSError) as exc:
        for task in tasks:
            plan.refusals.append(_refusal(task, f"cannot read the workplan file: {exc}"))
        return None
    newline = "\r\n" if b"\r\n" in before else "\n"
    text = before.decode("utf-8", errors="strict") if before else ""
    if text and not text.endswith(("\n", "\r")):
        text += newline
    text += "".join(task_block(task, uuid_of(f"task:{task.repo}:{task.id}"), newline) for task in tasks)
    return _checked(repo, root, path, before, text.encode(), tasks, plan)


# -- applying -------------------------------------------------------------------------------------


def apply_created(plan: Plan) -> list[FileEdit]:
    """Write every planned edit: appends only onto unchanged files, new files only where none appeared."""
    appends = [edit for edit in plan.edits if edit.before]
    written = apply_plan(Plan(edits=appends, refusals=plan.refusals))
    for edit in plan.edits:
        if edit.before:
            continue
        files = RepoFiles(edit.root)
        try:
            files.read(edit.path)
        except FileNotFoundError:
            pass
        except (FileRefused, OSError) as exc:
            _refuse_edit(plan, edit, f"its file's path cannot be used: {exc}")
            continue
        else:
            _refuse_edit(plan, edit, "a file appeared at its path while writeback ran; nothing written")
            continue
        try:
            files.replace(edit.path, edit.after)
        except (FileRefused, OSError) as exc:
            _refuse_edit(plan, edit, f"cannot write the new file: {exc}")
            continue
        written.append(edit)
    return written


# -- workplan dependencies ----------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True, slots=True)
class DependencyWrite:
    """A local dependency add or remove its workplan file does not reflect yet."""

    repo: str
    root: str
    path: str
    from_id: str
    to_id: str
    action: str  # add | remove
    description: str | None
    seq: int


async def collect_dependency_writes(reader: Reader, repo: str | None = None) -> list[DependencyWrite]:
    roots = await repo_paths(reader, repo)
    return [
        DependencyWrite(
            row["repo"],
            roots.get(row["repo"], ""),
            row["path"],
            row["from_id"],
            row["to_id"],
            row["action"],
            row["description"],
            row["seq"],
        )
        for row in await pending_dependency_writes(reader, repo)
    ]


def _dependency_section(lines: list[str]) -> tuple[int, int] | None:
    """(heading index, end index) of the file's `## Dependencies` section, outside code fences."""
    fenced = False
    start: tuple[int, int] | None = None
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match is None:
            continue
        level = len(match.group(1))
        if start is not None and level <= start[1]:
            return start[0], index
        if start is None and re.match(r"^dependencies\b", match.group(2), re.IGNORECASE):
            start = (index, level)
    return (start[0], len(lines)) if start is not None else None


def _dependency_pairs(data: bytes, path: str) -> set[str]:
    parsed = parse_workplan(data, path)
    if parsed.workplan is None:
        return set()
    return {ref.target_id for ref in parsed.workplan.references if ref.kind == "dependencies"}


def _edit_dependencies(text: str, newline: str, writes: list[DependencyWrite]) -> str | None:
    """The text with each add as a `- <ID>` item of the section (made when missing) and each remove's item dropped.

    None when a removed dependency is not on an item line of its own (a person's prose: edit it by hand).
    """
    lines = text.split(newline)
    for write in writes:
        section = _dependency_section(lines)
        if write.action == "add":
            item = f"- {write.to_id}" + (f" — {write.description.strip()}" if write.description else "")
            if section is None:
                while lines and lines[-1] == "":
                    lines.pop()
                lines += ["", "## Dependencies", "", item, ""]
                continue
            heading, end = section
            last = max((i for i in range(heading + 1, end) if lines[i].strip()), default=heading)
            lines[last + 1 : last + 1] = ([""] if last == heading else []) + [item]
            continue
        if section is None:
            return None
        heading, end = section
        found = [
            i for i in range(heading + 1, end) if lines[i].lstrip().startswith(("- ", "* ")) and write.to_id in lines[i]
        ]
        if len(found) != 1:
            return None
        stop = found[0] + 1
        while stop < end and lines[stop].startswith((" ", "\t")) and lines[stop].strip():
            stop += 1  # the item's continuation lines go with it
        del lines[found[0] : stop]
    return newline.join(lines)


def plan_dependencies(
    writes: list[DependencyWrite],
    *,
    max_file_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES,
    just_written: Iterable[tuple[str, str]] = (),
) -> Plan:
    """Decide the file edits for local dependency adds and removes (reading files and git); writes nothing."""
    plan = Plan()
    ours = set(just_written)
    by_file: dict[tuple[str, str, str], list[DependencyWrite]] = defaultdict(list)
    for write in writes:
        if write.root:
            by_file[(write.repo, write.root, write.path)].append(write)
    for (repo, root, path), file_writes in sorted(by_file.items()):
        dirty = (dirty_paths(Path(root), [path]) or set()) - ({path} if (repo, path) in ours else set())
        files = RepoFiles(root, max_bytes=max_file_bytes)
        reason = None
        after = None
        try:
            before = files.read(path)
        except (FileRefused, OSError) as exc:
            before, reason = b"", f"cannot read the workplan file: {exc}"
        if reason is None and path in dirty:
            reason = "the file has uncommitted changes in git; commit or discard them first"
        if reason is None:
            newline = "\r\n" if b"\r\n" in before else "\n"
            edited = _edit_dependencies(before.decode("utf-8", errors="replace"), newline, file_writes)
            after = edited.encode() if edited is not None else None
            expected = _dependency_pairs(before, path)
            for write in file_writes:
                (expected.add if write.action == "add" else expected.discard)(write.to_id)
            if after is None:
                reason = "a removed dependency is not on a `- <ID>` item of its own in ## Dependencies; edit by hand"
            elif _dependency_pairs(after, path) != expected or _statuses(after, path) != _statuses(before, path):
                reason = "the file with the dependency edit would not parse as intended"
        if reason is not None or after is None:
            plan.refusals += [_dependency_refusal(write, reason or "not planned") for write in file_writes]
            continue
        changes = [
            Change("dependency", repo, f"{w.from_id}->{w.to_id}", path, 0, None, w.action, None, w.seq)
            for w in file_writes
        ]
        plan.edits.append(FileEdit(repo, Path(root), path, before, after, changes))
    return plan


def _dependency_refusal(write: DependencyWrite, reason: str) -> Refusal:
    return Refusal(
        "dependency", write.repo, f"{write.from_id}->{write.to_id}", write.path, None, write.action, None, None, reason
    )


# -- what crosses the hub port ----------------------------------------------------------------------


@dataclass(slots=True)
class WritebackInputs:
    """Everything `devhub writeback` acts on, rebuilt from the hub port's JSON (a daemon's or in-process)."""

    pending: Pending
    created: list[CreatedItem]
    dependencies: list[DependencyWrite]
    created_uuids: dict[str, str]

    def uuid_of(self, key: str) -> str | None:
        return self.created_uuids.get(key)


async def collect_all(reader: Reader, repo: str | None = None) -> PendingJson:
    """Pending status writes, created items and dependency edits, as the port answers them (no UUIDs yet)."""
    return pending_as_json(
        await collect_pending(reader, repo),
        await collect_created(reader, repo),
        await collect_dependency_writes(reader, repo),
    )


def inputs_from_json(data: PendingJson) -> WritebackInputs:
    """The records back from the port's JSON; a created item's own status is written with its block, so the
    pending status writes of created items are left to it."""
    created = [CreatedItem(**row) for row in data["created"]]
    pending = pending_from_json(data)
    ours = created_keys(created)
    pending.statuses = [s for s in pending.statuses if (s.kind, s.repo, s.id) not in ours]
    return WritebackInputs(
        pending=pending,
        created=created,
        dependencies=[DependencyWrite(**row) for row in data["dependencies"]],
        created_uuids=dict(data["created_uuids"]),
    )
