"""Evidence for acceptance: stream events from JSONL files, globs, directories or a hub's progress log.

Files are read line by line and a hub page by page, so memory stays bounded by
one line or one page however large the evidence is. Malformed records are
counted and sampled with their place (file:line), never fatal; a source that
cannot be read at all is (EvidenceError), because a verdict from part of the
evidence could pass what should fail.
"""

from __future__ import annotations

import glob
import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from devhub.errors import FleetError
from devhub.fleet.accept_spec import parse_timestamp

EVENT_TEXT_FIELDS: tuple[str, ...] = ("host", "kind", "status", "target")
HUB_PAGE_SIZE = 1000
MALFORMED_EXAMPLES = 5
_GLOB_CHARS = frozenset("*?[")


class EvidenceError(FleetError):
    """Evidence that cannot be used at all: none given, a missing file, an unreachable hub."""


@dataclass(slots=True)
class Event:
    """One piece of evidence; `ts` is seconds since the epoch, `where` is file:line or url#id."""

    ts: float
    host: str | None
    kind: str | None
    status: str | None
    target: str | None
    detail: dict[str, Any] | None
    where: str


@dataclass
class EvidenceStats:
    """What was read: sources, lines, events inside and outside the window, malformed records."""

    files: int = 0
    urls: int = 0
    pages: int = 0
    lines: int = 0
    records: int = 0
    in_window: int = 0
    before_window: int = 0
    after_window: int = 0
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)

    def note_malformed(self, where: str, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_examples) < MALFORMED_EXAMPLES:
            self.malformed_examples.append(f"{where}: {reason}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "urls": self.urls,
            "pages": self.pages,
            "lines": self.lines,
            "records": self.records,
            "events_in_window": self.in_window,
            "events_before_window": self.before_window,
            "events_after_window": self.after_window,
            "malformed": self.malformed,
            "malformed_examples": list(self.malformed_examples),
        }


@dataclass(frozen=True, slots=True)
class FileSource:
    path: Path


@dataclass(frozen=True, slots=True)
class HubSource:
    url: str


Source = FileSource | HubSource


def resolve_sources(arguments: Iterable[str]) -> list[Source]:
    """Files, directories (their *.jsonl and *.jsonl.gz, recursively), globs and hub URLs, deduplicated."""
    sources: list[Source] = []
    seen: set[Path | str] = set()
    problems: list[str] = []
    given = list(arguments)
    if not given:
        raise EvidenceError("no evidence given: pass --evidence FILE, GLOB, DIRECTORY or hub URL")
    for argument in given:
        if argument.startswith(("http://", "https://")):
            url = argument.rstrip("/")
            if url not in seen:
                seen.add(url)
                sources.append(HubSource(url))
            continue
        paths = _expand_path(argument, problems)
        for path in paths:
            resolved = path.resolve()
            if resolved not in seen:
                seen.add(resolved)
                sources.append(FileSource(path))
    if problems:
        raise EvidenceError("unusable evidence:\n" + "\n".join(f"  {p}" for p in problems))
    return sources


def _expand_path(argument: str, problems: list[str]) -> list[Path]:
    if _GLOB_CHARS & set(argument):
        matches = sorted(Path(m) for m in glob.glob(argument, recursive=True) if Path(m).is_file())
        if not matches:
            problems.append(f"{argument}: the pattern matches no files")
        return matches
    path = Path(argument)
    if path.is_dir():
        matches = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz")))
        if not matches:
            problems.append(f"{argument}: the directory holds no *.jsonl or *.jsonl.gz files")
        return matches
    if not path.is_file():
        problems.append(f"{argument}: no such file")
        return []
    return [path]


class EvidenceReader:
    """Streams well-formed events inside [start, end] from every source, counting the rest in `stats`."""

    def __init__(self, sources: list[Source], start: datetime, end: datetime) -> None:
        self.sources = sources
        self.start = start
        self.end = end
        self.stats = EvidenceStats()

    def events(self) -> Iterator[Event]:
        lo, hi = self.start.timestamp(), self.end.timestamp()
        stats = self.stats
        for source in self.sources:
            stream = self._file_events(source.path) if isinstance(source, FileSource) else self._hub_events(source)
            for event in stream:
                if event.ts < lo:
                    stats.before_window += 1
                elif event.ts > hi:
                    stats.after_window += 1
                else:
                    stats.in_window += 1
                    yield event

    def _file_events(self, path: Path) -> Iterator[Event]:
        stats = self.stats
        stats.files += 1
        try:
            handle = _open_binary(path)
        except OSError as exc:
            raise EvidenceError(f"{path}: cannot read: {exc.strerror or exc}") from None
        with handle:
            lineno = 0
            try:
                for lineno, raw in enumerate(handle, 1):
                    stats.lines += 1
                    if not raw.strip():
                        continue
                    where = f"{path}:{lineno}"
                    stats.records += 1
                    try:
                        record = json.loads(raw.rstrip(b"\r\n"))
                    except json.JSONDecodeError as exc:
                        stats.note_malformed(where, f"not JSON: {exc.msg} at column {exc.colno}")
                        continue
                    except ValueError:  # bytes that are not UTF-8
                        stats.note_malformed(where, "not JSON: not UTF-8 text")
                        continue
                    event = event_from_record(record, where)
                    if isinstance(event, str):
                        stats.note_malformed(where, event)
                    else:
                        yield event
            except (OSError, EOFError) as exc:
                raise EvidenceError(f"{path}:{lineno + 1}: cannot read further: {exc}") from None

    def _hub_events(self, source: HubSource) -> Iterator[Event]:
        yield from read_hub(source.url, self.start, self.end, self.stats)


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def event_from_record(record: object, where: str) -> Event | str:
    """An Event from one decoded JSONL record, or the reason it is malformed."""
    if not isinstance(record, dict):
        return f"not a JSON object: {_short(record)}"
    if "ts" not in record:
        return "missing ts"
    try:
        ts = parse_timestamp(record["ts"]).timestamp()
    except ValueError as exc:
        return f"ts: {exc}"
    texts: dict[str, str | None] = {}
    for name in EVENT_TEXT_FIELDS:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name}: must be text, got {_short(value)}"
        texts[name] = value
    detail = record.get("detail")
    if detail is not None and not isinstance(detail, dict):
        return f"detail: must be an object, got {_short(detail)}"
    return Event(ts, texts["host"], texts["kind"], texts["status"], texts["target"], detail, where)


def event_from_progress(item: object, where: str) -> Event | str:
    """An Event from one hub progress event (event_type -> kind, detail.* fields), or why it is malformed."""
    if not isinstance(item, dict):
        return f"not a JSON object: {_short(item)}"
    detail = item.get("detail")
    if detail is None:
        detail = {}
    if not isinstance(detail, dict):
        return f"detail: must be an object, got {_short(detail)}"
    moment = detail.get("ts") if detail.get("ts") is not None else item.get("created_at")
    field_name = "detail.ts" if detail.get("ts") is not None else "created_at"
    if moment is None:
        return "missing created_at"
    try:
        ts = _hub_timestamp(moment)
    except ValueError as exc:
        return f"{field_name}: {exc}"
    kind = item.get("event_type")
    if kind is not None and not isinstance(kind, str):
        return f"event_type: must be text, got {_short(kind)}"
    texts: dict[str, str | None] = {}
    for name in ("host", "status", "target"):
        value = detail.get(name)
        if value is not None and not isinstance(value, str):
            return f"detail.{name}: must be text, got {_short(value)}"
        texts[name] = value
    return Event(ts, texts["host"], kind, texts["status"], texts["target"], detail, where)


def _hub_timestamp(value: object) -> float:
    # Hubs store UTC; a timestamp without an offset is read as UTC rather than rejected.
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    raise ValueError(f"not an ISO-8601 timestamp: {value!r}")


def iso_z(moment: datetime) -> str:
    """ISO-8601 in UTC with a Z suffix."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_hub(
    url: str, start: datetime, end: datetime, stats: EvidenceStats, page_size: int = HUB_PAGE_SIZE
) -> Iterator[Event]:
    """Page through GET {url}/progress/ for the window; unreachable or broken hubs raise EvidenceError."""
    import httpx

    stats.urls += 1
    endpoint = f"{url}/progress/"
    offset = 0
    # Ask from the window start up to now, not to the window end: an event relayed late is recorded
    # after it happened (its detail.ts says when), and a fixed upper bound keeps the pages stable
    # while new events arrive. Events outside the window are then counted and ignored as usual.
    frozen_at = max(end, datetime.now(UTC))
    with httpx.Client(timeout=30.0, follow_redirects=True) as client:
        while True:
            params: dict[str, str | int] = {
                "since": iso_z(start),
                "until": iso_z(frozen_at),
                "limit": page_size,
                "offset": offset,
            }
            try:
                response = client.get(endpoint, params=params)
            except httpx.HTTPError as exc:
                raise EvidenceError(f"{endpoint}: cannot reach the hub: {exc or type(exc).__name__}") from None
            if response.status_code != 200:
                raise EvidenceError(f"{endpoint}?offset={offset}: HTTP {response.status_code}: {response.text[:200]!r}")
            try:
                page = response.json()
            except ValueError:
                raise EvidenceError(f"{endpoint}?offset={offset}: the answer is not JSON") from None
            if not isinstance(page, list):
                raise EvidenceError(f"{endpoint}?offset={offset}: expected a JSON array of progress events")
            stats.pages += 1
            for index, item in enumerate(page):
                stats.records += 1
                ident = item.get("id") if isinstance(item, dict) else None
                where = f"{endpoint}#{ident}" if ident is not None else f"{endpoint}?offset={offset + index}"
                event = event_from_progress(item, where)
                if isinstance(event, str):
                    stats.note_malformed(where, event)
                else:
                    yield event
            if len(page) < page_size:
                return
            offset += len(page)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
