"""One durable map from the ids devhub gave objects it created offline to the ids the fleet gave them.

Each line records one acknowledged creating envelope's answer:

    {"kind": "message", "local": "<record id>", "fleet": "<the upstream's id>", "envelope": "<id>", "seq": 12}

`kind` is message, decision, task, workplan or dependency; a task's or workplan's `local` is
"<repo>:<id>", a dependency edge's "<repo>:<workplan>-><repo>:<prerequisite>".
The journal cannot hold these: it is written before the envelope is sent and never rewritten,
and the relay cursor keeps positions only. So the answers are stored here, fsynced by the
acknowledgement hook *before* the cursor marks the envelope done: a crash in between means a
resend, and the upstream replays the same answer for the same Idempotency-Key, so the same
line is written again (a no-op). The map in memory is rebuilt from this file at start (the
latest line per kind and local id wins); joined with the journal by `envelope` / `seq`, each
line names the creating write it answers.

It replaces the three files of earlier versions (message_ids.jsonl, decision_ids.jsonl and
created_ids.jsonl): `migrate_legacy` folds them in once and renames them to `*.migrated`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from relay.codec import BadLine, decode_line, encode_line
from relay.fslayer import FileLayer, OsFileLayer
from relay.scan import cut_partial_line, iter_lines

FLEET_IDS_FILE = "fleet_ids.jsonl"
KINDS = ("message", "decision", "task", "workplan", "dependency")
# The files this one replaces, and the kind of their entries (None: the entry's key names it, "task:<repo>:<id>").
LEGACY_FILES: dict[str, str | None] = {
    "message_ids.jsonl": "message",
    "decision_ids.jsonl": "decision",
    "created_ids.jsonl": None,
}
# Two FleetIds of one directory (the relay's and a writeback's lookup) must not migrate at the same time.
_MIGRATION_GUARD = threading.Lock()


class FleetIds:
    """Append-only, fsynced answer lines; `get(kind, local)` is the fleet's id of an object created here."""

    def __init__(self, path: Path, fs: FileLayer | None = None) -> None:
        self.path = Path(path)
        self._fs = fs or OsFileLayer()
        self._guard = threading.Lock()
        self._map: dict[tuple[str, str], str] | None = None
        self._tail_checked = False

    @classmethod
    def open(cls, relay_dir: Path, fs: FileLayer | None = None) -> FleetIds:
        """The map of a relay directory, with any files of earlier versions folded in first."""
        ids = cls(Path(relay_dir) / FLEET_IDS_FILE, fs)
        ids.migrate_legacy()
        return ids

    def _load(self) -> dict[tuple[str, str], str]:
        if self._map is None:
            mapping: dict[tuple[str, str], str] = {}
            if self._fs.exists(self.path):
                for _, line, complete in iter_lines(self._fs.read(self.path)):
                    try:
                        record = decode_line(line) if complete else None
                    except BadLine:
                        record = None
                    if record and all(isinstance(record.get(name), str) for name in ("kind", "local", "fleet")):
                        mapping[(record["kind"], record["local"])] = record["fleet"]
            self._map = mapping
        return self._map

    def get(self, kind: str, local_id: str) -> str | None:
        """The fleet's id for the object of `kind` created here as `local_id`, once its create was acknowledged."""
        with self._guard:
            return self._load().get((kind, local_id))

    def entries(self, kind: str) -> dict[str, str]:
        """Every local id of `kind` with its fleet id."""
        with self._guard:
            return {local: fleet for (k, local), fleet in self._load().items() if k == kind}

    def put(
        self, kind: str, local_id: str, fleet_id: str, *, envelope: str | None = None, seq: int | None = None
    ) -> None:
        """Durably record the fleet's answer to the creating envelope (`envelope`, `seq`) of an object."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
        line: dict[str, Any] = {"kind": kind, "local": local_id, "fleet": fleet_id}
        if envelope is not None:
            line["envelope"] = envelope
        if seq is not None:
            line["seq"] = seq
        with self._guard:
            self._append([line])

    def _append(self, lines: list[dict[str, Any]]) -> None:
        mapping = self._load()
        fresh = [line for line in lines if mapping.get((line["kind"], line["local"])) != line["fleet"]]
        if not fresh:
            return
        self._fs.makedirs(self.path.parent)
        if not self._tail_checked:
            cut_partial_line(self._fs, self.path)  # a crash mid-put must not swallow the next line
            self._tail_checked = True
        self._fs.append(self.path, b"".join(encode_line(line) for line in fresh))
        self._fs.fsync(self.path)
        for line in fresh:
            mapping[(line["kind"], line["local"])] = line["fleet"]

    def migrate_legacy(self) -> int:
        """Fold message_ids / decision_ids / created_ids.jsonl in (durably), then rename them; the count taken."""
        taken = 0
        with _MIGRATION_GUARD, self._guard:
            for name, kind in LEGACY_FILES.items():
                legacy = self.path.parent / name
                if not self._fs.exists(legacy):
                    continue
                entries = _legacy_entries(self._fs.read(legacy))
                lines = [line for local, upstream in entries if (line := _line(kind, local, upstream)) is not None]
                self._append(lines)
                taken += len(lines)
                self._fs.rename(legacy, legacy.with_name(name + ".migrated"))
                self._fs.fsync_dir(self.path.parent)
        return taken


def _legacy_entries(data: bytes) -> list[tuple[str, str]]:
    entries = []
    for _, line, complete in iter_lines(data):
        try:
            record = decode_line(line) if complete else None
        except BadLine:
            record = None
        if record and isinstance(record.get("local"), str) and isinstance(record.get("upstream"), str):
            entries.append((record["local"], record["upstream"]))
    return entries


def _line(kind: str | None, local: str, upstream: str) -> dict[str, Any] | None:
    if kind is None:  # created_ids.jsonl: "task:<repo>:<id>" / "workplan:<repo>:<id>"
        kind, _, local = local.partition(":")
        if kind not in ("task", "workplan") or not local:
            return None
    return {"kind": kind, "local": local, "fleet": upstream, "migrated": True}
