"""Search results are pinned: a faster query shape must return the same hits, in the same order.

The pins were taken from the query shape before multi-word searches were made cheap (issue 18),
on the fixture workspace; the generated corpus is compared against that shape, written out here.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from benchmarks.corpus import SCALES, VOCABULARY, generate
from devhub.registry import inspect_repo
from devhub.store import activity
from devhub.store.queries import fts_query
from devhub.store.reader import Reader
from devhub.store.writer import rebuild
from tests.support.repos import make_workspace

Hit = tuple[str, str, str]

PINNED: dict[str, list[Hit]] = {
    "railiance workstation cluster": [
        ("task", "ops-bridge", "OPS-WP-0012-T03"),
        ("task", "the-custodian", "CUST-WP-0054-T04"),
        ("task", "the-custodian", "CUST-WP-0054-T02"),
        ("workplan", "the-custodian", "CUST-WP-0054"),
    ],
    "production machine core": [
        ("workplan", "the-custodian", "CUST-WP-0054"),
        ("task", "the-custodian", "CUST-WP-0054-T05"),
        ("task", "the-custodian", "CUST-WP-0054-T02"),
    ],
    "state hub relay offline": [
        ("task", "the-custodian", "CUST-WP-0054-T07"),
        ("workplan", "state-hub", "STATE-WP-0068"),
        ("workplan", "the-custodian", "CUST-WP-0054"),
    ],
    "task status priority done high": [],
    "cust depends": [
        ("task", "the-custodian", "ADHOC-2026-07-04-T02"),
        ("workplan", "the-custodian", "CUST-WP-0011"),
        ("workplan", "state-hub", "STATE-WP-0068"),
        ("workplan", "the-custodian", "CUST-WP-0054"),
    ],
    "tunnel mesh fleet": [
        ("task", "the-custodian", "CUST-WP-0054-T02"),
        ("task", "the-custodian", "CUST-WP-0054-T01"),
        ("workplan", "the-custodian", "CUST-WP-0054"),
    ],
}
# "state task": 6 workplans and 3 tasks match; ranked by bm25, then (past the ranking limit) in index order.
STATE_TASK_RANKED: list[Hit] = [
    ("task", "state-hub", "STATE-WP-0068-T04"),
    ("task", "ops-bridge", "OPS-WP-0012-T05"),
    ("task", "the-custodian", "CUST-WP-0054-T07"),
    ("workplan", "state-hub", "STATE-WP-0052"),
    ("workplan", "the-custodian", "ADHOC-2026-07-04"),
    ("workplan", "state-hub", "STATE-WP-0068"),
    ("workplan", "the-custodian", "CUST-WP-0011"),
    ("workplan", "state-hub", "STATE-WP-0071"),
    ("workplan", "the-custodian", "CUST-WP-0054"),
]
STATE_TASK_UNRANKED_WORKPLANS: list[Hit] = [
    ("task", "state-hub", "STATE-WP-0068-T04"),
    ("task", "ops-bridge", "OPS-WP-0012-T05"),
    ("task", "the-custodian", "CUST-WP-0054-T07"),
    ("workplan", "the-custodian", "ADHOC-2026-07-04"),
    ("workplan", "the-custodian", "CUST-WP-0011"),
    ("workplan", "the-custodian", "CUST-WP-0054"),
    ("workplan", "state-hub", "STATE-WP-0052"),
    ("workplan", "state-hub", "STATE-WP-0068"),
    ("workplan", "state-hub", "STATE-WP-0071"),
]


def _search(db: Path, queries: list[str], limit: int) -> dict[str, list[dict[str, Any]]]:
    async def run() -> dict[str, list[dict[str, Any]]]:
        reader = await Reader.open(db)
        try:
            return {q: await activity.search(reader, q, limit=limit) for q in queries}
        finally:
            await reader.close()

    return asyncio.run(run())


def _ids(hits: list[dict[str, Any]]) -> list[Hit]:
    return [(hit["kind"], hit["repo"], hit["id"]) for hit in hits]


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pinned")
    db = root / "rm.sqlite"
    rebuild(db, [inspect_repo(p).repo for p in make_workspace(root / "ws")], [], parse_workers=0)
    return db


def test_multi_word_searches_return_the_pinned_hits(fixture_db: Path) -> None:
    found = _search(fixture_db, [*PINNED, "state task"], limit=10)
    assert {q: _ids(hits) for q, hits in found.items() if q in PINNED} == PINNED
    assert _ids(found["state task"]) == STATE_TASK_RANKED


@pytest.mark.parametrize("ranked_limit", [5, 6])  # 6 workplans match "state task": 5 is one past the limit
def test_past_the_ranking_limit_hits_come_in_index_order(
    fixture_db: Path, monkeypatch: pytest.MonkeyPatch, ranked_limit: int
) -> None:
    monkeypatch.setattr(activity, "RANKED_MATCH_LIMIT", ranked_limit)
    found = _ids(_search(fixture_db, ["state task"], limit=10)["state task"])
    assert found == (STATE_TASK_UNRANKED_WORKPLANS if ranked_limit < 6 else STATE_TASK_RANKED)


def _reference(db: Path, q: str, limit: int, ranked_limit: int) -> list[dict[str, Any]]:
    """The query shape the pins were taken from: count every match, rank by bm25 up to the limit."""
    query = fts_query(q)
    words = [w.lower() for w in query.replace('"', " ").replace("*", " ").split()]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    hits: list[tuple[float, str, str, dict[str, Any]]] = []
    try:
        for kind, fts, table, columns in activity._SEARCH_PARTS:
            count = conn.execute(f"SELECT COUNT(*) FROM {fts} WHERE {fts} MATCH ?", (query,)).fetchone()[0]
            if not count:
                continue
            rank = "rank" if count <= ranked_limit else "0.0 AS rank"
            order = " ORDER BY rank" if count <= ranked_limit else ""
            ranked = conn.execute(f"SELECT rowid, {rank} FROM {fts} WHERE {fts} MATCH ?{order} LIMIT ?", (query, limit))
            rank_of = {row[0]: row[1] for row in ranked}
            marks = ", ".join("?" for _ in rank_of)
            rows = conn.execute(
                f"SELECT rowid AS row_id, {columns} FROM {table} WHERE rowid IN ({marks})", list(rank_of)
            ).fetchall()
            for row in rows:
                text = f"{row['title'] or ''}\n{row['text'] or ''}"
                hit = {
                    "kind": kind,
                    "id": row["id"],
                    "repo": row["repo"],
                    "title": row["title"],
                    "workplan_id": row["workplan_id"],
                    "snippet": activity.snippet(text, words),
                }
                hits.append((rank_of[row["row_id"]], kind, row["id"], hit))
    finally:
        conn.close()
    hits.sort(key=lambda item: (item[0], item[1], item[2]))
    return [hit for _, _, _, hit in hits[:limit]]


@pytest.fixture(scope="module")
def generated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    manifest = generate(SCALES["quick"], root / "corpus")
    db = root / "rm.sqlite"
    rebuild(db, [inspect_repo(root / "corpus" / r["slug"]).repo for r in manifest["repos"]], [], parse_workers=0)
    return db


GENERATED_QUERIES = [
    " ".join(VOCABULARY[:3]),  # three of the commonest words: most tasks match
    " ".join(VOCABULARY[:5]),
    " ".join(VOCABULARY[2:6]),
    " ".join(VOCABULARY[10:13]),
    " ".join(VOCABULARY[20:23]),
    f"{VOCABULARY[0][:3]} {VOCABULARY[1][:3]} {VOCABULARY[2][:3]}",  # prefixes
    f"{VOCABULARY[0]} {VOCABULARY[150]}",
    "zebra unicorn",
]


@pytest.mark.parametrize("ranked_limit", [2000, 300, 60, 1])
def test_generated_corpus_searches_match_the_reference_shape(
    generated_db: Path, monkeypatch: pytest.MonkeyPatch, ranked_limit: int
) -> None:
    monkeypatch.setattr(activity, "RANKED_MATCH_LIMIT", ranked_limit)
    for limit in (50, 7):
        found = _search(generated_db, GENERATED_QUERIES, limit=limit)
        for q in GENERATED_QUERIES:
            assert found[q] == _reference(generated_db, q, limit, ranked_limit), (q, limit)
    assert len(found[GENERATED_QUERIES[0]]) == 7
