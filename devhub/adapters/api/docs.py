"""An OpenAPI docs page rendered on the server from the schema: no CDN, no JavaScript, works offline."""

from __future__ import annotations

import html
import json
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

_STYLE = """<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1d2430;background:#fff}
@media (prefers-color-scheme: dark){body{color:#e6e9ef;background:#14171c}code,pre{background:#222832!important}}
h1{margin-bottom:.2rem} .op{border:1px solid #8883;border-radius:6px;margin:.6rem 0;padding:.4rem .8rem}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:monospace}
.GET{color:#2c7a3f}.POST{color:#1f5fbf}.PATCH{color:#a3620a}.DELETE{color:#b3261e}
code,pre{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px} pre{padding:.6rem;overflow:auto}
table{border-collapse:collapse} td,th{padding:.1rem .6rem;text-align:left;border-bottom:1px solid #8883}
</style>"""


def _params(op: dict[str, Any]) -> str:
    rows = []
    for p in op.get("parameters", []):
        schema = p.get("schema", {})
        kind = schema.get("type") or "/".join(s.get("type", "?") for s in schema.get("oneOf", [])) or "string"
        rows.append(
            f"<tr><td><code>{html.escape(p.get('name', ''))}</code></td><td>{html.escape(p.get('in', ''))}</td>"
            f"<td>{html.escape(str(kind))}</td><td>{'required' if p.get('required') else ''}</td></tr>"
        )
    if not rows:
        return ""
    return "<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>" + "".join(rows) + "</table>"


class OfflineDocsPlugin(OpenAPIRenderPlugin):
    """Renders every path and operation as plain HTML, plus the raw JSON document at the bottom."""

    def __init__(self, *, path: str = "/", **kwargs: Any) -> None:
        super().__init__(path=path, favicon="", **kwargs)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        info = openapi_schema.get("info", {})
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width,initial-scale=1'>",
            f"<title>{html.escape(info.get('title', 'API'))} — API docs</title>{_STYLE}</head><body><main>",
            f"<h1>{html.escape(info.get('title', 'API'))}</h1><p>version {html.escape(str(info.get('version', '')))}"
            " · <a href='/schema/openapi.json'>openapi.json</a></p>",
        ]
        for path, item in sorted(openapi_schema.get("paths", {}).items()):
            for method, op in item.items():
                if not isinstance(op, dict) or method.startswith("x-"):
                    continue
                verb = method.upper()
                parts.append(
                    f"<section class='op'><div><span class='m {verb}'>{verb}</span> <code>{html.escape(path)}</code>"
                    f" — {html.escape(op.get('summary', ''))}</div>{_params(op)}</section>"
                )
        raw = json.dumps(openapi_schema, indent=2, default=str)
        parts.append(f"<details><summary>OpenAPI document</summary><pre>{html.escape(raw)}</pre></details>")
        parts.append("</main></body></html>")
        return "".join(parts).encode()
