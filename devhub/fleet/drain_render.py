"""Render a DrainPlan as a rich table, Graphviz DOT or a mermaid flowchart.

In both graph formats an arrow runs from a workload to a dependency that
drains after it: arrows follow time.
"""

from __future__ import annotations

import re
from typing import Any

from devhub.fleet.drain import DrainPlan, PlannedWorkload


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(p: PlannedWorkload) -> str:
    w = p.workload
    marks = [" [stateful]" if w.stateful else "", " [exception]" if w.method == "exception" else ""]
    return f"{w.name}{''.join(marks)}\\n{w.current_host} -> {w.target_host or '?'}"


def to_dot(plan: DrainPlan) -> str:
    """The plan as a DOT digraph: one cluster per wave (plus 'done'), edges from each to what drains after."""
    lines = [
        "digraph drain {",
        "  rankdir=LR;",
        f"  label={_dot_quote('drain plan for ' + ', '.join(plan.hosts) + ' (dry run)')};",
        "  node [shape=box, fontname=Helvetica];",
    ]
    groups: list[tuple[str, str, tuple[PlannedWorkload, ...]]] = [
        (f"cluster_wave_{n}", f"wave {n}", wave) for n, wave in enumerate(plan.waves, start=1)
    ]
    if plan.done:
        groups.append(("cluster_done", "done", plan.done))
    for cluster, label, members in groups:
        lines.append(f"  subgraph {cluster} {{")
        lines.append(f"    label={_dot_quote(label)};")
        for p in members:
            style = ', style="dashed", color="gray50", fontcolor="gray50"' if p.done else ""
            style += ", peripheries=2" if p.workload.stateful and not p.done else ""
            # The label already carries DOT escapes (\n), so only quotes need escaping here.
            label_text = '"' + _label(p).replace('"', '\\"') + '"'
            lines.append(f"    {_dot_quote(p.workload.name)} [label={label_text}{style}];")
        lines.append("  }")
    for earlier, later in plan.edges:
        lines.append(f"  {_dot_quote(earlier)} -> {_dot_quote(later)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_ids(plan: DrainPlan) -> dict[str, str]:
    ids: dict[str, str] = {}
    used: set[str] = set()
    every = [p for wave in plan.waves for p in wave] + list(plan.done)
    for p in every:
        base = "n_" + re.sub(r"[^A-Za-z0-9_]", "_", p.workload.name)
        candidate, suffix = base, 2
        while candidate in used:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        used.add(candidate)
        ids[p.workload.name] = candidate
    return ids


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(plan: DrainPlan) -> str:
    """The plan as a mermaid flowchart: one subgraph per wave (plus 'done')."""
    ids = _mermaid_ids(plan)
    lines = ["flowchart LR"]
    groups: list[tuple[str, str, tuple[PlannedWorkload, ...]]] = [
        (f"wave_{n}", f"wave {n}", wave) for n, wave in enumerate(plan.waves, start=1)
    ]
    if plan.done:
        groups.append(("done", "done", plan.done))
    for group_id, label, members in groups:
        lines.append(f'  subgraph {group_id}["{label}"]')
        for p in members:
            w = p.workload
            text = w.name + (" (stateful)" if w.stateful else "") + f"<br/>{w.current_host} → {w.target_host or '?'}"
            lines.append(f'    {ids[w.name]}["{_mermaid_text(text)}"]')
        lines.append("  end")
    for earlier, later in plan.edges:
        lines.append(f"  {ids[earlier]} --> {ids[later]}")
    stateful = [ids[p.workload.name] for wave in plan.waves for p in wave if p.workload.stateful]
    if stateful:
        lines.append("  classDef stateful stroke-width:3px")
        lines.append(f"  class {','.join(stateful)} stateful")
    if plan.done:
        lines.append("  classDef drained stroke-dasharray:4,color:#777")
        lines.append(f"  class {','.join(ids[p.workload.name] for p in plan.done)} drained")
    return "\n".join(lines) + "\n"


def to_table(plan: DrainPlan) -> Any:
    """The plan as a rich Table for people."""
    from rich.table import Table

    title = f"Drain plan for {', '.join(plan.hosts) or '(no frozen host)'} — dry run, nothing changed"
    table = Table(title=title, show_lines=False)
    for column in ("Wave", "Workload", "To", "Method", "Stateful", "State", "Drains before", "Owner"):
        table.add_column(column, overflow="fold", no_wrap=column != "Drains before")
    rows = [(str(n), p) for n, wave in enumerate(plan.waves, start=1) for p in wave]
    rows += [("done", p) for p in plan.done]
    single_host = len(plan.hosts) == 1
    for wave_label, p in rows:
        w = p.workload
        table.add_row(
            wave_label,
            w.name,
            f"→ {w.target_host or '?'}" if single_host else f"{w.current_host} → {w.target_host or '?'}",
            w.method,
            "yes" if w.stateful else "",
            w.state,
            ", ".join(p.before),
            w.owner or "",
        )
    return table
