"""How CLI commands print: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a rich table (columns as given, cells stringified, None shown as '-')."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*("-" if cell is None else escape(str(cell)) for cell in row))
    Console().print(out)


def echo(text: str = "") -> None:
    from rich.console import Console

    Console(highlight=False).print(text)
