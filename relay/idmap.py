"""A durable map from local record ids to the ids the upstream gave them (e.g. messages created offline)."""

from __future__ import annotations

import threading
from pathlib import Path

from relay.codec import BadLine, decode_line, encode_line
from relay.fslayer import FileLayer, OsFileLayer
from relay.scan import cut_partial_line, iter_lines


class IdMap:
    """Append-only, fsynced `{"local", "upstream"}` lines; the latest line for a local id wins."""

    def __init__(self, path: Path, fs: FileLayer | None = None) -> None:
        self.path = Path(path)
        self._fs = fs or OsFileLayer()
        self._guard = threading.Lock()
        self._map: dict[str, str] | None = None
        self._tail_checked = False

    def _load(self) -> dict[str, str]:
        if self._map is None:
            mapping: dict[str, str] = {}
            if self._fs.exists(self.path):
                for _, line, complete in iter_lines(self._fs.read(self.path)):
                    try:
                        record = decode_line(line) if complete else None
                    except BadLine:
                        record = None
                    if record and isinstance(record.get("local"), str) and isinstance(record.get("upstream"), str):
                        mapping[record["local"]] = record["upstream"]
            self._map = mapping
        return self._map

    def get(self, local_id: str) -> str | None:
        """The upstream id recorded for a local id, if any."""
        with self._guard:
            return self._load().get(local_id)

    def put(self, local_id: str, upstream_id: str) -> None:
        """Durably record that the upstream knows `local_id` as `upstream_id`."""
        with self._guard:
            mapping = self._load()
            if mapping.get(local_id) == upstream_id:
                return
            self._fs.makedirs(self.path.parent)
            if not self._tail_checked:
                cut_partial_line(self._fs, self.path)  # a crash mid-put must not swallow the next line
                self._tail_checked = True
            self._fs.append(self.path, encode_line({"local": local_id, "upstream": upstream_id}))
            self._fs.fsync(self.path)
            mapping[local_id] = upstream_id
