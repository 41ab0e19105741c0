"""Read-only queries over progress, messages, repos, search hits, problems and conflicts."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from devhub.records import MessageView, ProgressView, RepoView
from devhub.store.presence import REPO_MISSING
from devhub.store.queries import fts_query, search_budget, topic_fleet_ids
from devhub.store.reader import Reader

PROGRESS_LIMIT_DEFAULT = 100
PROGRESS_LIMIT_MAX = 10_000


# Progress rows (as `p`) with their `workstream_id`: the fleet UUID of the event's workplan when the files
# record one, else what the event stored.
PROGRESS_SELECT = """SELECT p.*, COALESCE((SELECT w.state_hub_workstream_id FROM workplans w
    WHERE w.id = p.workplan_id AND w.state_hub_workstream_id IS NOT NULL LIMIT 1), p.workplan_id) AS workstream_id
    FROM progress p"""


def progress_dict(row: sqlite3.Row) -> ProgressView:
    return {
        "id": row["id"],
        "event_type": row["event_type"],
        "summary": row["summary"],
        "author": row["author"],
        "topic_id": row["topic_id"],
        "workplan_id": row["workplan_id"],
        # As tasks and decisions answer it: the workplan's fleet UUID when known, else its file id.
        "workstream_id": row["workstream_id"],  # see PROGRESS_SELECT
        "task_id": row["task_id"],
        "session_id": row["session_id"],
        "detail": json.loads(row["detail"] or "{}"),
        "created_at": row["created_at"],
        "seq": row["seq"],
    }


async def list_progress(
    reader: Reader,
    *,
    event_type: str | None = None,
    task_id: str | None = None,
    workplan_id: str | None = None,
    author: str | None = None,
    topic_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = PROGRESS_LIMIT_DEFAULT,
    offset: int = 0,
) -> list[ProgressView]:
    """Progress events, newest first; `since`/`until` are normalised ISO timestamps (inclusive/exclusive).

    A task, workplan or topic is found by any of its names: an event stored with the file id is found by the
    fleet UUID and the other way round (agents following the templates filter by UUID; devhub stores what it
    resolved, and an event relayed or replayed may carry either).
    """
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("event_type", event_type), ("author", author)):
        if value is not None:
            where.append(f"p.{column} = ?")
            params.append(value)
    for column, value, spell in (
        ("task_id", task_id, _task_names),
        ("workplan_id", workplan_id, _workplan_names),
        ("topic_id", topic_id, _topic_names),
    ):
        if value is not None:
            names = sorted(await spell(reader, value))
            where.append(f"p.{column} IN ({', '.join('?' for _ in names)})")
            params.extend(names)
    if since is not None:
        where.append("p.created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("p.created_at < ?")
        params.append(until)
    sql = PROGRESS_SELECT
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY p.created_at DESC, p.seq DESC LIMIT ? OFFSET ?"
    params.extend([min(limit, PROGRESS_LIMIT_MAX), offset])
    return [progress_dict(row) for row in await reader.all(sql, params)]


async def _task_names(reader: Reader, ident: str) -> set[str]:
    """Every spelling of the task(s) `ident` names: the given id, file ids and fleet UUIDs."""
    rows = await reader.all(
        "SELECT id, state_hub_task_id FROM tasks WHERE id = ? OR state_hub_task_id = ?", (ident, ident.lower())
    )
    return {ident, ident.lower()} | {n for row in rows for n in (row["id"], row["state_hub_task_id"]) if n}


async def _workplan_names(reader: Reader, ident: str) -> set[str]:
    """Every spelling of the workplan(s) `ident` names: the given id, file ids and fleet UUIDs."""
    rows = await reader.all(
        "SELECT id, state_hub_workstream_id FROM workplans WHERE id = ? OR state_hub_workstream_id = ?",
        (ident, ident.lower()),
    )
    return {ident, ident.lower()} | {n for row in rows for n in (row["id"], row["state_hub_workstream_id"]) if n}


async def _topic_names(reader: Reader, ident: str) -> set[str]:
    """A topic's slug and the fleet UUID its workplans record, whichever of the two is given."""
    names = {ident, ident.lower()}
    for slug, uuid in (await topic_fleet_ids(reader)).items():
        if ident.lower() in (slug.lower(), uuid):
            names |= {slug, uuid}
    return names


MESSAGES_LIMIT_DEFAULT = 20  # the State Hub's get_messages(limit=20)
MESSAGES_LIMIT_MAX = 10_000


def message_dict(row: sqlite3.Row) -> MessageView:
    return {
        "id": row["id"],
        "from_agent": row["from_agent"],
        "to_agent": row["to_agent"],
        "subject": row["subject"],
        "body": row["body"],
        "thread_id": row["thread_id"],
        "created_at": row["created_at"],
        "read_at": row["read_at"],
        "read": row["read_at"] is not None,
        "archived_at": row["archived_at"],
        "archived": row["archived_at"] is not None,
    }


async def list_messages(
    reader: Reader,
    *,
    to_agent: str | None = None,
    from_agent: str | None = None,
    unread_only: bool = False,
    include_archived: bool = False,
    limit: int = MESSAGES_LIMIT_DEFAULT,
) -> list[MessageView]:
    """Messages, newest first: to / from one agent, only unread ones, archived ones left out unless asked."""
    where, params = message_filter_sql(
        to_agent,
        from_agent,
        unread="read_at IS NULL" if unread_only else None,
        unarchived="archived_at IS NULL" if not include_archived else None,
    )
    sql = "SELECT * FROM messages" + where + " ORDER BY created_at DESC, seq DESC LIMIT ?"
    params.append(min(limit, MESSAGES_LIMIT_MAX))
    return [message_dict(row) for row in await reader.all(sql, params)]


def message_filter_sql(
    to_agent: str | None, from_agent: str | None, *, unread: str | None, unarchived: str | None
) -> tuple[str, list[Any]]:
    """The WHERE clause (" WHERE ..." or "") and its parameters of a GET /messages/ filter.

    Shared by the read model and the fleet snapshot, whose tables say "unread" and "not archived"
    with their own columns: the caller passes each condition's SQL when it applies.
    """
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("to_agent", to_agent), ("from_agent", from_agent)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    where += [condition for condition in (unread, unarchived) if condition]
    return (" WHERE " + " AND ".join(where) if where else ""), params


async def message_thread(reader: Reader, message_id: str) -> list[MessageView] | None:
    """A thread: its root, then every reply in the order written (None when the message is unknown).

    Given a reply, the thread is its root's: replies point at the root (thread_id), never at a reply.
    """
    message = await get_message(reader, message_id)
    if message is None:
        return None
    root_id = message["thread_id"] or message["id"]
    root = await get_message(reader, root_id) or message
    rows = await reader.all("SELECT * FROM messages WHERE thread_id = ? ORDER BY created_at, seq", (root_id,))
    return [root, *(message_dict(row) for row in rows)]


async def get_message(reader: Reader, message_id: str) -> MessageView | None:
    row = await reader.one("SELECT * FROM messages WHERE id = ?", (message_id,))
    return None if row is None else message_dict(row)


async def list_repos(reader: Reader) -> list[RepoView]:
    """Registered repos with their git state and what the read model holds of each."""
    rows = await reader.all(
        """SELECT r.*,
             (SELECT COUNT(*) FROM workplans w WHERE w.repo = r.slug) AS workplans,
             (SELECT COUNT(*) FROM tasks t WHERE t.repo = r.slug) AS tasks,
             (SELECT COUNT(*) FROM files f WHERE f.repo = r.slug) AS files,
             (SELECT COUNT(*) FROM problems p WHERE p.repo = r.slug AND p.severity = 'error') AS errors,
             (SELECT COUNT(*) FROM problems p WHERE p.repo = r.slug AND p.severity = 'warning') AS warnings,
             EXISTS (SELECT 1 FROM problems p WHERE p.repo = r.slug AND p.code = ?) AS missing
           FROM repos r ORDER BY r.slug""",
        (REPO_MISSING,),
    )
    return [
        {
            "slug": row["slug"],
            "path": row["path"],
            "remote": row["remote"],
            "branch": row["branch"],
            "head": row["head"],
            "dirty": bool(row["dirty"]),
            "is_git": bool(row["is_git"]),
            "has_workplans": bool(row["has_workplans"]),
            "workplans": row["workplans"],
            "tasks": row["tasks"],
            "files": row["files"],
            "errors": row["errors"],
            "warnings": row["warnings"],
            "missing": bool(row["missing"]),  # the folder is gone: see the repo-missing problem
        }
        for row in rows
    ]


# Ranking every match by bm25 costs more than the whole query budget for words that occur in
# most documents; past this many matches, hits come in index order (newest rows last) instead.
RANKED_MATCH_LIMIT = 2000

_SEARCH_PARTS = (
    # kind, FTS table, row table, columns selected from the row table
    ("workplan", "workplans_fts", "workplans", "id, repo, title, id AS workplan_id, intro AS text"),
    ("task", "tasks_fts", "tasks", "id, repo, title, workplan_id, body AS text"),
    ("progress", "progress_fts", "progress", "id, NULL AS repo, summary AS title, workplan_id, summary AS text"),
)


async def search(reader: Reader, q: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """Full-text hits across workplans, tasks and progress, best first (bm25 within each kind)."""
    query = fts_query(q)
    words = [w.lower() for w in query.replace('"', " ").replace("*", " ").split()]
    async with search_budget(reader):
        hits = await _ranked_hits(reader, query, words, limit)
    hits.sort(key=lambda item: (item[0], item[1], item[2]))
    return [hit for _, _, _, hit in hits[:limit]]


async def _ranked_hits(
    reader: Reader, query: str, words: list[str], limit: int
) -> list[tuple[float, str, str, dict[str, Any]]]:
    hits: list[tuple[float, str, str, dict[str, Any]]] = []
    for kind, fts, table, columns in _SEARCH_PARTS:
        # One pass over the matches tells both whether there are few enough to rank and, when there
        # are not, which come first in the index: it stops one past the ranking limit, where counting
        # every match of several common words (then fetching the first ones again) cost most of a search.
        first = await reader.one(
            f"WITH m AS MATERIALIZED (SELECT rowid AS r FROM {fts} WHERE {fts} MATCH ? LIMIT ?)"
            " SELECT (SELECT COUNT(*) FROM m) AS n, (SELECT group_concat(r) FROM (SELECT r FROM m ORDER BY r LIMIT ?))"
            " AS ids",
            (query, max(limit, RANKED_MATCH_LIMIT + 1), limit),
        )
        if not first or not first["n"]:
            continue
        if first["n"] <= RANKED_MATCH_LIMIT:
            ranked = await reader.all(
                f"SELECT rowid, rank FROM {fts} WHERE {fts} MATCH ? ORDER BY rank LIMIT ?",
                (query, limit),
            )
            rank_of = {match["rowid"]: match["rank"] for match in ranked}
        else:  # too many to rank within the budget: the first ones in index order
            rank_of = {int(rowid): 0.0 for rowid in first["ids"].split(",")}
        marks = ", ".join("?" for _ in rank_of)
        rows = await reader.all(
            f"SELECT rowid AS row_id, {columns} FROM {table} WHERE rowid IN ({marks})",
            list(rank_of),
        )
        for row in rows:
            text = f"{row['title'] or ''}\n{row['text'] or ''}"
            hit = {
                "kind": kind,
                "id": row["id"],
                "repo": row["repo"],
                "title": row["title"],
                "workplan_id": row["workplan_id"],
                "snippet": snippet(text, words),
            }
            hits.append((rank_of[row["row_id"]], kind, row["id"], hit))
    return hits


def snippet(text: str, words: list[str], *, width: int = 60) -> str:
    """The text around the first word that starts with a query term, with the match in [brackets]."""
    lowered = text.lower()
    best = -1
    for word in words:
        at = lowered.find(word)
        while at > 0 and lowered[at - 1].isalnum():
            at = lowered.find(word, at + 1)
        if at >= 0 and (best < 0 or at < best):
            best = at
    if best < 0:
        return " ".join(text[: width * 2].split())
    end = best
    while end < len(text) and text[end].isalnum():
        end += 1
    start = max(0, best - width)
    before = ("…" if start else "") + text[start:best]
    after = text[end : end + width] + ("…" if end + width < len(text) else "")
    return " ".join(f"{before}[{text[best:end]}]{after}".split())


async def list_problems(reader: Reader, *, repo: str | None = None) -> list[dict[str, Any]]:
    """Parse problems per file, including the cross-repo id collisions (see store.collisions)."""
    params: list[Any] = []
    sql = "SELECT repo, path, line, severity, code, message FROM problems"
    if repo is not None:
        sql += " WHERE repo = ?"
        params.append(repo)
    sql += " ORDER BY repo, path, line, code"
    return [dict(row) | {"location": f"{row['path']}:{row['line']}"} for row in await reader.all(sql, params)]


async def latest_writes(reader: Reader, state: str) -> list[sqlite3.Row]:
    """The latest local write of each (target, field) whose overlay state is `state`."""
    return await reader.all(
        """SELECT lw.* FROM local_writes lw
           JOIN (SELECT target_key, field, MAX(seq) AS seq FROM local_writes GROUP BY target_key, field) latest
             ON latest.target_key = lw.target_key AND latest.field = lw.field AND latest.seq = lw.seq
           WHERE lw.state = ? ORDER BY lw.target_key, lw.field""",
        (state,),
    )


async def list_conflicts(reader: Reader) -> list[dict[str, Any]]:
    """Fields where a local write and a changed file disagree: the hub shows both, chooses neither."""
    rows = await latest_writes(reader, "conflict")
    conflicts = []
    for row in rows:
        kind, repo, ident = row["target_key"].split(":", 2)
        table, column = ("tasks", "file_status") if kind == "task" else ("workplans", "file_status")
        file_row = None
        if row["field"] == "status":
            file_row = await reader.one(f"SELECT {column} AS v FROM {table} WHERE repo = ? AND id = ?", (repo, ident))
        conflicts.append(
            {
                "kind": kind,
                "repo": repo,
                "id": ident,
                "field": row["field"],
                "local_value": json.loads(row["value"]),
                "file_value_then": json.loads(row["observed_file"]),
                "file_value_now": file_row["v"] if file_row else None,
                "seq": row["seq"],
                "ts": row["ts"],
                "agent": row["agent"],
            }
        )
    return conflicts


async def pending_local_writes(reader: Reader, *, repo: str | None = None) -> list[dict[str, Any]]:
    """Latest local writes that still differ from their file (waiting for writeback)."""
    rows = await latest_writes(reader, "pending")
    out = []
    for row in rows:
        kind, row_repo, ident = row["target_key"].split(":", 2)
        if repo is not None and row_repo != repo:
            continue
        out.append(
            {
                "kind": kind,
                "repo": row_repo,
                "id": ident,
                "field": row["field"],
                "value": json.loads(row["value"]),
                "file_value": json.loads(row["observed_file"]),
                "seq": row["seq"],
                "ts": row["ts"],
            }
        )
    return out
