"""`devhub fleet drain plan`: the order in which workloads leave a host, as waves; a dry run.

A workload goes in a later wave than every workload that depends on it, so the
things everything depends on (identity, secrets) leave last and nothing is cut
off from a dependency that left before it. Waves are longest-path layers:
wave(w) = 1 + max(wave of its dependents being drained), 1 when none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from devhub.errors import FleetError, RegisterError
from devhub.fleet.register import Register, Workload


class DependencyCycle(FleetError):
    """Workloads depend on each other in a loop, so no drain order exists; `cycle` lists it in order."""

    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = list(cycle)
        super().__init__(
            f"workloads.{self.cycle[0]}.depends_on: cycle {' -> '.join(self.cycle)}; no drain order exists "
            "until one of these stops depending on the next",
            cycle=self.cycle,
        )


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle in `graph` as [a, b, ..., a] (start = its smallest reachable entry), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path: list[str] = [start]
        stack: list[Iterator[str]] = [iter(sorted(graph.get(start, ())))]
        state[start] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            if state.get(step) == 1:
                return [*path[path.index(step) :], step]
            if not state.get(step):
                state[step] = 1
                path.append(step)
                stack.append(iter(sorted(graph.get(step, ()))))
    return None


@dataclass(frozen=True)
class PlannedWorkload:
    """One workload in the plan: its row, its wave (0 when already drained) and what it waits for."""

    workload: Workload
    wave: int
    after: tuple[str, ...]  # workloads in this plan that depend on it (they leave before it)
    before: tuple[str, ...]  # its dependencies in this plan (they leave after it)

    @property
    def done(self) -> bool:
        return self.workload.state == "drained"

    def as_dict(self) -> dict[str, Any]:
        w = self.workload
        return {
            "name": w.name,
            "wave": self.wave,
            "current_host": w.current_host,
            "target_host": w.target_host,
            "method": w.method,
            "reason": w.reason,
            "owner": w.owner,
            "stateful": w.stateful,
            "state": w.state,
            "done": self.done,
            "depends_on": list(w.depends_on),
            "drains_after": list(self.after),
            "drains_before": list(self.before),
        }


@dataclass(frozen=True)
class DrainPlan:
    """The waves of workloads to move off `hosts`, the ones already drained, and notes worth reading."""

    hosts: tuple[str, ...]
    waves: tuple[tuple[PlannedWorkload, ...], ...]
    done: tuple[PlannedWorkload, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(earlier, later) pairs: the dependent drains before its dependency."""
        every = [p for wave in self.waves for p in wave] + list(self.done)
        return sorted((p.workload.name, dep) for p in every for dep in p.before)

    def as_dict(self) -> dict[str, Any]:
        return {
            "hosts": list(self.hosts),
            "dry_run": True,
            "waves": [
                {"wave": n, "workloads": [p.as_dict() for p in wave]} for n, wave in enumerate(self.waves, start=1)
            ],
            "done": [p.as_dict() for p in self.done],
            "notes": list(self.notes),
        }


def plan_drain(register: Register, hosts: Sequence[str] | None = None) -> DrainPlan:
    """Plan the drain of `hosts` (default: every frozen host); raise DependencyCycle on a loop."""
    chosen = tuple(sorted(set(hosts))) if hosts else tuple(register.hosts_with("frozen"))
    for host in chosen:
        if host not in register.hosts:
            known = ", ".join(sorted(register.hosts))
            raise RegisterError("--host", f"unknown host {host!r} (known: {known})")
    on_hosts = {name: w for name, w in register.workloads.items() if w.current_host in chosen}
    pending = {name: w for name, w in on_hosts.items() if w.state != "drained"}
    dependents: dict[str, list[str]] = {name: [] for name in pending}
    for name, workload in pending.items():
        for dependency in workload.depends_on:
            if dependency in pending:
                dependents[dependency].append(name)
    cycle = find_cycle({name: [d for d in w.depends_on if d in pending] for name, w in pending.items()})
    if cycle:
        raise DependencyCycle(cycle)

    # Kahn's order from the workloads nobody depends on; each placement fixes its wave for good
    # because every dependent was placed before it.
    waiting = {name: len(set(dependents[name])) for name in pending}
    ready = sorted(name for name, count in waiting.items() if count == 0)
    wave_of: dict[str, int] = {}
    while ready:
        name = ready.pop()
        wave_of[name] = 1 + max((wave_of[d] for d in dependents[name]), default=0)
        for dependency in set(pending[name].depends_on) & pending.keys():
            waiting[dependency] -= 1
            if waiting[dependency] == 0:
                ready.append(dependency)
    layers: dict[int, list[PlannedWorkload]] = {}
    for name in sorted(pending):
        workload = pending[name]
        before = tuple(sorted(d for d in workload.depends_on if d in pending))
        layers.setdefault(wave_of[name], []).append(
            PlannedWorkload(workload, wave_of[name], tuple(sorted(dependents[name])), before)
        )
    done = tuple(PlannedWorkload(w, 0, (), ()) for name, w in sorted(on_hosts.items()) if w.state == "drained")
    notes = [
        f"{name} is still on {', '.join(chosen)} but its dependency {dep} already drained; "
        f"check that {name} reaches {dep} at {register.workloads[dep].running_on}"
        for name, w in sorted(pending.items())
        for dep in w.depends_on
        if dep in on_hosts and on_hosts[dep].state == "drained"
    ]
    return DrainPlan(
        hosts=chosen,
        waves=tuple(tuple(layers[n]) for n in sorted(layers)),
        done=done,
        notes=tuple(notes),
    )
