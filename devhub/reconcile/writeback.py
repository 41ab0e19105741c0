"""Writeback: pending local status changes become minimal edits of the workplan files.

The plan re-reads and re-parses every file it touches and only changes a `status:` value when
the file still says what the local write was made against; a file that changed underneath, or
has uncommitted edits in git, is a conflict: reported, never overwritten.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from devhub.errors import FileRefused
from devhub.model import canonical_task_status, canonical_workplan_status
from devhub.reconcile.edit import UneditableLine, edit_lines, status_word_on_line
from devhub.reconcile.repos import repo_paths
from devhub.store import activity
from devhub.store.lookups import status_locations
from devhub.store.reader import Reader
from devhub.store.repofiles import DEFAULT_MAX_WORKPLAN_BYTES, TOO_LARGE, RepoFiles
from devhub.workplans import parse_workplan

SYNC_ENV = {"GIT_CUSTODIAN_SYNC": "1"}


@dataclass(frozen=True, slots=True)
class PendingStatus:
    """A pending local status write and the file it belongs to (per the read model)."""

    kind: str  # task | workplan
    repo: str
    id: str
    value: str
    file_value: str | None
    seq: int
    root: str  # the repo's absolute path
    paths: tuple[str, ...]  # repo-relative files holding that id (normally exactly one)


@dataclass(frozen=True, slots=True)
class Change:
    """One status value changed on one line."""

    kind: str
    repo: str
    id: str
    path: str
    line: int
    old_word: str | None
    new_word: str
    file_value: str | None
    seq: int

    def summary(self) -> str:
        return f"{self.id}: {self.old_word or '(none)'} -> {self.new_word}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A pending write that was not written, and why (a conflict unless `kind` says otherwise)."""

    kind: str
    repo: str
    id: str
    path: str | None
    line: int | None
    value: str
    file_value_then: str | None
    file_value_now: str | None
    reason: str


@dataclass(slots=True)
class FileEdit:
    """The bytes of one file before and after its status changes."""

    repo: str
    root: Path
    path: str
    before: bytes
    after: bytes
    changes: list[Change]

    def diff(self) -> str:
        """A unified diff of the edit (lines shown without their line endings)."""
        label = f"{self.repo}/{self.path}"
        old = self.before.decode("utf-8", errors="replace").split("\n")
        new = self.after.decode("utf-8", errors="replace").split("\n")
        return "".join(
            line + ("\n" if not line.endswith("\n") else "")
            for line in difflib.unified_diff(old, new, f"a/{label}", f"b/{label}", lineterm="")
        )


@dataclass(slots=True)
class Plan:
    """Everything writeback would do: file edits, refusals, and writes it does not handle."""

    edits: list[FileEdit] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changes(self) -> list[Change]:
        return [change for edit in self.edits for change in edit.changes]


@dataclass(frozen=True, slots=True)
class CommitResult:
    """One repo's writeback commit (sha) or why it failed (error)."""

    repo: str
    paths: tuple[str, ...]
    message: str
    sha: str | None = None
    error: str | None = None


# -- what is pending (read model) -------------------------------------------------------------------


@dataclass(slots=True)
class Pending:
    """What the read model holds for writeback: status writes, writes it leaves alone, overlay conflicts."""

    statuses: list[PendingStatus] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[Refusal] = field(default_factory=list)


async def collect_pending(reader: Reader, repo: str | None = None) -> Pending:
    """Everything writeback acts on or reports, for every registered repo (or one; UnknownRepo if not one)."""
    await repo_paths(reader, repo)
    roots = await repo_paths(reader)
    pending = Pending()
    for write in await activity.pending_local_writes(reader, repo=repo):
        if write["field"] != "status":
            reason = f"{write['field']} is not a file field writeback changes (status only)"
            pending.skipped.append(write | {"reason": reason})
            continue
        rows = await status_locations(reader, write["kind"], write["repo"], write["id"])
        pending.statuses.append(
            PendingStatus(
                kind=write["kind"],
                repo=write["repo"],
                id=write["id"],
                value=write["value"],
                file_value=write["file_value"],
                seq=write["seq"],
                root=roots.get(write["repo"], ""),
                paths=tuple(row.path for row in rows),
            )
        )
    for conflict in await activity.list_conflicts(reader):
        if (repo is not None and conflict["repo"] != repo) or conflict["field"] != "status":
            continue
        rows = await status_locations(reader, conflict["kind"], conflict["repo"], conflict["id"])
        now = conflict["file_value_now"]
        pending.conflicts.append(
            Refusal(
                conflict["kind"],
                conflict["repo"],
                conflict["id"],
                rows[0].path if len(rows) == 1 else None,
                rows[0].status_line if len(rows) == 1 else None,
                conflict["local_value"],
                conflict["file_value_then"],
                now,
                f"the file changed after the local write: it says {now!r} now, {conflict['file_value_then']!r} "
                "then; edit the file to the value you want, or write again with `devhub task set`",
            )
        )
    return pending


class PendingJson(TypedDict):
    """What writeback acts on, as JSON (GET /writeback/pending): it crosses the hub port, to a daemon and back.

    `statuses`, `skipped`, `conflicts` are `Pending`; `created` and `dependencies` are the tasks, workplans
    and dependency edits made here that no file holds yet (reconcile/writeback_create.py), and
    `created_uuids` the fleet UUIDs the relay has learnt for them ("task:<repo>:<id>" -> UUID).
    """

    statuses: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    created: list[dict[str, Any]]
    dependencies: list[dict[str, Any]]
    created_uuids: dict[str, str]


def pending_as_json(
    pending: Pending,
    created: list[Any] | None = None,
    dependencies: list[Any] | None = None,
    created_uuids: dict[str, str] | None = None,
) -> PendingJson:
    return {
        "statuses": as_dicts(pending.statuses),
        "skipped": list(pending.skipped),
        "conflicts": as_dicts(pending.conflicts),
        "created": as_dicts(created or []),
        "dependencies": as_dicts(dependencies or []),
        "created_uuids": dict(created_uuids or {}),
    }


def pending_from_json(data: PendingJson) -> Pending:
    """The records back from their JSON (a RemoteHub's answer, or a LocalHub's, alike)."""
    return Pending(
        statuses=[PendingStatus(**(row | {"paths": tuple(row["paths"])})) for row in data["statuses"]],
        skipped=list(data["skipped"]),
        conflicts=[Refusal(**row) for row in data["conflicts"]],
    )


# -- planning (files and git, nothing written) ------------------------------------------------------


def dirty_paths(root: Path, paths: list[str]) -> set[str] | None:
    """Which of `paths` have uncommitted changes or are untracked; None when `root` is not a git repo."""
    import git

    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    with repo:
        out = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
    dirty: set[str] = set()
    entries = out.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        dirty.add(entry[3:])
        if entry[0] in "RC":
            index += 1  # a rename or copy is followed by its source path
    return dirty


def _refuse(write: PendingStatus, reason: str, path: str | None, line: int | None, now: str | None) -> Refusal:
    return Refusal(write.kind, write.repo, write.id, path, line, write.value, write.file_value, now, reason)


def _word_for(write: PendingStatus) -> str | None:
    # The canonical word is always written, even where the file used a legacy alias: the convention
    # (and `devhub check`'s non-canonical-status rule) asks for canonical words and the hubs read both.
    if write.kind == "task":
        return canonical_task_status(write.value)
    return canonical_workplan_status(write.value)


def _statuses(data: bytes, path: str) -> dict[tuple[str, str], list[tuple[str | None, str | None, int | None]]]:
    """(kind, id) -> [(canonical status, raw word, status line)] for every workplan and task in a file."""
    parsed = parse_workplan(data, path)
    found: dict[tuple[str, str], list[tuple[str | None, str | None, int | None]]] = defaultdict(list)
    if parsed.workplan is None:
        return found
    record = parsed.workplan
    found[("workplan", record.id)].append((record.status, record.status_raw, record.status_line))
    for task in record.tasks:
        found[("task", task.id)].append((task.status, task.status_raw, task.status_line))
    return found


def _plan_file(repo: str, files: RepoFiles, path: str, writes: list[PendingStatus], plan: Plan) -> FileEdit | None:
    try:
        before = files.read(path)
    except FileRefused as refused:
        for write in writes:
            plan.refusals.append(_refuse(write, f"{refused.code}: {refused.reason}", path, None, None))
        return None
    except OSError as exc:
        for write in writes:
            plan.refusals.append(_refuse(write, f"cannot read the file: {exc.strerror or exc}", path, None, None))
        return None
    current = _statuses(before, path)
    replacements: dict[int, str] = {}
    changes: list[Change] = []
    for write in sorted(writes, key=lambda w: w.seq):
        entries = current.get((write.kind, write.id), [])
        if not entries:
            plan.refusals.append(_refuse(write, f"{write.kind} {write.id} is no longer in the file", path, None, None))
            continue
        if len(entries) > 1:
            plan.refusals.append(
                _refuse(write, f"{write.kind} id {write.id} appears {len(entries)} times in the file", path, None, None)
            )
            continue
        status, raw, line = entries[0]
        word = _word_for(write)
        if word is None:
            plan.refusals.append(_refuse(write, f"{write.value!r} is not a status word", path, line, status))
            continue
        if status == word:
            continue  # the file already agrees; the next sync marks the write reconciled
        if status != write.file_value:
            plan.refusals.append(
                _refuse(
                    write,
                    f"the file changed underneath: it now says {status!r}, the local write was made when it said "
                    f"{write.file_value!r}",
                    path,
                    line,
                    status,
                )
            )
            continue
        if line is None:
            plan.refusals.append(
                _refuse(
                    write, "no `status:` line to change (writeback edits an existing line only)", path, None, status
                )
            )
            continue
        try:
            on_line = status_word_on_line(before, line)
        except UneditableLine as exc:
            plan.refusals.append(_refuse(write, f"line {line}: {exc}", path, line, status))
            continue
        if (on_line or "").strip() != (raw or "").strip() or line in replacements:
            plan.refusals.append(
                _refuse(write, f"line {line} does not hold the status value the parser read", path, line, status)
            )
            continue
        replacements[line] = word
        changes.append(Change(write.kind, repo, write.id, path, line, raw, word, write.file_value, write.seq))
    if not replacements:
        return None
    after = edit_lines(before, replacements)
    expected = {key: [entry[0] for entry in entries] for key, entries in current.items()}
    for change in changes:
        expected[(change.kind, change.id)] = [change.new_word]
    got = {key: [entry[0] for entry in entries] for key, entries in _statuses(after, path).items()}
    if got != expected:  # a safety net: the edit must change exactly the intended statuses
        for write in writes:
            plan.refusals.append(_refuse(write, "the edited file would not parse as intended", path, None, None))
        return None
    return FileEdit(repo, Path(files.root), path, before, after, changes)


def plan_writeback(pending: Pending, *, max_file_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES) -> Plan:
    """Decide every edit (re-reading and re-parsing the files, checking git); writes nothing.

    A file whose real path leaves its repo, or that is over `max_file_bytes`, is refused unread.
    """
    plan = Plan(refusals=list(pending.conflicts), skipped=list(pending.skipped))
    by_file: dict[tuple[str, str, str], list[PendingStatus]] = defaultdict(list)
    for write in pending.statuses:
        if not write.root:
            plan.refusals.append(_refuse(write, "the repo is not registered any more", None, None, None))
        elif not write.paths:
            plan.refusals.append(_refuse(write, f"{write.kind} {write.id} is in no workplan file", None, None, None))
        elif len(write.paths) > 1:
            plan.refusals.append(
                _refuse(
                    write, f"{write.kind} id {write.id} is in several files: {', '.join(write.paths)}", None, None, None
                )
            )
        else:
            by_file[(write.repo, write.root, write.paths[0])].append(write)
    by_repo: dict[tuple[str, str], list[str]] = defaultdict(list)
    for repo, root, path in sorted(by_file):
        by_repo[(repo, root)].append(path)
    for (repo, root), paths in by_repo.items():
        files = RepoFiles(root, max_bytes=max_file_bytes)
        dirty = dirty_paths(Path(root), paths) or set()
        for path in paths:
            writes = by_file[(repo, root, path)]
            if path in dirty:
                for write in writes:
                    plan.refusals.append(
                        _refuse(
                            write,
                            "the file has uncommitted changes in git; commit or discard them first",
                            path,
                            None,
                            None,
                        )
                    )
                continue
            edit = _plan_file(repo, files, path, writes, plan)
            if edit is not None:
                plan.edits.append(edit)
    return plan


# -- applying -------------------------------------------------------------------------------------


def _refuse_edit(plan: Plan, edit: FileEdit, reason: str) -> None:
    for change in edit.changes:
        plan.refusals.append(
            Refusal(
                change.kind,
                change.repo,
                change.id,
                change.path,
                change.line,
                change.new_word,
                change.file_value,
                None,
                reason,
            )
        )


def apply_plan(plan: Plan) -> list[FileEdit]:
    """Write every planned edit whose file is still byte-identical to what was planned; returns those written.

    Writes go through `RepoFiles.replace`: never through a link (or a linked folder) out of the repo.
    """
    written: list[FileEdit] = []
    for edit in plan.edits:
        files = RepoFiles(edit.root, max_bytes=len(edit.before))  # a file that grew has changed anyway
        try:
            still = files.read(edit.path) == edit.before
        except FileRefused as refused:
            if refused.code != TOO_LARGE:
                _refuse_edit(plan, edit, f"{refused.code}: {refused.reason}")
                continue
            still = False
        except OSError:
            still = False
        if not still:
            _refuse_edit(plan, edit, "the file changed while writeback ran; nothing written")
            continue
        try:
            files.replace(edit.path, edit.after)
        except FileRefused as refused:  # a link swapped in after the re-read
            _refuse_edit(plan, edit, f"{refused.code}: {refused.reason}")
            continue
        written.append(edit)
    return written


def commit_message(changes: list[Change]) -> str:
    """`devhub writeback: N status change(s)` followed by one line per change."""
    count = len(changes)
    head = f"devhub writeback: {count} status change{'s' if count != 1 else ''}"
    return head + "\n\n" + "\n".join(f"- {change.summary()}" for change in changes) + "\n"


def commit_edits(edits: list[FileEdit]) -> list[CommitResult]:
    """One commit per repo of exactly the edited paths, through the git command so hooks run (with SYNC_ENV)."""
    import git

    by_repo: dict[tuple[str, Path], list[FileEdit]] = defaultdict(list)
    for edit in edits:
        by_repo[(edit.repo, edit.root)].append(edit)
    results: list[CommitResult] = []
    for (slug, root), repo_edits in sorted(by_repo.items(), key=lambda item: item[0][0]):
        paths = tuple(sorted(edit.path for edit in repo_edits))
        message = commit_message([change for edit in repo_edits for change in edit.changes])
        try:
            with git.Repo(root) as repo:
                repo.git.add("--", *paths, env=SYNC_ENV)
                repo.git.commit("-q", "-m", message, "--", *paths, env=SYNC_ENV)
                sha = repo.head.commit.hexsha
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            results.append(
                CommitResult(slug, paths, message, error=f"{root} is not a git repo; files written, not committed")
            )
            continue
        except git.GitCommandError as exc:
            detail = (exc.stderr or exc.stdout or str(exc)).strip().replace("stderr: ", "")
            results.append(CommitResult(slug, paths, message, error=f"git commit failed: {detail}"))
            continue
        results.append(CommitResult(slug, paths, message, sha=sha))
    return results


def as_dicts(items: list[Any]) -> list[dict[str, Any]]:
    """Dataclass records as JSON-ready dicts."""
    return [asdict(item) for item in items]
