"""The SPEC §12 benchmark corpus: seeded, deterministic workplan files in plain repo folders.

1x is 50 repos x 40 files x 12 tasks (2,000 files, 24,000 tasks); 4x and 8x add repos of the
same shape. Generated corpora are cached under benchmarks/.corpus/<scale>/ and reused while
the manifest's generator version and seed match.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhub.registry import Repo

GENERATOR_VERSION = 1
SEED = 20260703
CORPUS_ROOT = Path(__file__).resolve().parent / ".corpus"
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Scale:
    """How big a corpus is: repos x files per repo x tasks per file."""

    name: str
    repos: int
    files_per_repo: int
    tasks_per_file: int = 12

    @property
    def files(self) -> int:
        return self.repos * self.files_per_repo

    @property
    def tasks(self) -> int:
        return self.files * self.tasks_per_file


SCALES: dict[str, Scale] = {
    "quick": Scale("quick", repos=5, files_per_repo=20),
    "1x": Scale("1x", repos=50, files_per_repo=40),
    "4x": Scale("4x", repos=200, files_per_repo=40),
    "8x": Scale("8x", repos=400, files_per_repo=40),
}

# Canonical meaning of every status word the generator writes (legacy words included on purpose).
_TASK_WORDS = {
    "done": "done", "completed": "done", "todo": "todo", "pending": "todo", "progress": "progress",
    "in_progress": "progress", "wait": "wait", "blocked": "wait", "cancel": "cancel", "cancelled": "cancel",
}  # fmt: skip
_READY_WP = {"active", "ready"}
_SETTLED = {"done", "cancel"}

_WORDS = """
deploy cluster tunnel railiance coulombcore workstation relay journal hub registry overlay
migration promotion rollback overlay staging production canary image runner pipeline forge
mirror remote checkout sweep triage evidence heartbeat probe acceptance drain placement
freeze policy identity openbao secret rotation certificate actor bridge mesh wireguard
postgres replica backup restore snapshot storage longhorn volume claim namespace ingress
gateway proxy loopback endpoint schema index query cache fingerprint hash manifest bundle
release tag version changelog contract adapter dashboard metrics latency throughput budget
quota alert pager incident runbook playbook drill phoenix rebuild bootstrap unseal vault
operator controller reconcile sidecar daemon service socket port firewall route dns resolver
token session agent client server upstream downstream envelope idempotency cursor offset
batch queue worker scheduler temporal workflow activity emission sink buffer flush fsync
durable write read model sqlite wal checkpoint vacuum compaction retention archive export
import parser frontmatter heading block sequencing dependency reference collision prefix
slug topic domain owner priority planning order status ready active blocked backlog finished
audit review approval sign-off handover onboarding documentation canon architecture decision
record template lint format test fixture coverage regression benchmark profile flamegraph
memory leak thread lock contention deadlock timeout retry backoff jitter circuit breaker
health readiness liveness probe restart crash recovery failover quorum leader election
consensus lease heartbeat monitor exporter grafana prometheus loki tempo trace span log
rotation compression encryption signing keypair fingerprint trust anchor chain revocation
inventory register spreadsheet estimate milestone deadline stakeholder customer tenant
billing invoice ledger report summary digest newsletter notification webhook callback
"""
VOCABULARY: tuple[str, ...] = tuple(dict.fromkeys(_WORDS.split()))

# Zipf-like: a few words are everywhere (broad search hits), most are rare (narrow hits).
_WEIGHTS = [1.0 / (rank + 1) ** 0.8 for rank in range(len(VOCABULARY))]
_CUM_WEIGHTS = [sum(_WEIGHTS[: i + 1]) for i in range(len(_WEIGHTS))]


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_VERBS = _split("Migrate Retire Document Automate Harden Measure Rebuild Split Verify Replace Move Add Remove Audit")
_NOUNS = _split("atlas beacon cinder delta ember fjord granite harbor iris juniper kestrel lumen meridian nova onyx")
_KINDS = ["forge", "hub", "relay", "vault", "mesh", "ledger", "probe", "sweep", "canon", "bridge"]
_DOMAINS = ["infotech", "operations", "finance", "platform", "research", "security"]
_OWNERS = ["codex", "claude", "worsch", "ops-bot", "triage-agent"]
_PRIORITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True, slots=True)
class Corpus:
    """A generated corpus on disk and what its generator promises about it."""

    scale: Scale
    root: Path
    manifest: dict[str, Any]

    def repos(self) -> list[Repo]:
        """The corpus repos as registry records (plain folders, not git checkouts)."""
        return [
            Repo(slug=r["slug"], path=str(self.root / r["slug"]), remote=None, branch=None, head=None,
                 dirty=False, is_git=False)
            for r in self.manifest["repos"]
        ]  # fmt: skip

    def files(self) -> list[Path]:
        """Absolute path of every workplan file, in repo then path order."""
        return [self.root / r["slug"] / rel for r in self.manifest["repos"] for rel in r["files"]]


def ensure_corpus(scale: Scale, base: Path = CORPUS_ROOT) -> Corpus:
    """The cached corpus for `scale`, generating it first when missing or from another generator."""
    root = base / scale.name
    manifest = _read_manifest(root)
    if manifest is None or not _manifest_matches(manifest, scale):
        staging = base / f".{scale.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        manifest = generate(scale, staging)
        shutil.rmtree(root, ignore_errors=True)
        os.replace(staging, root)  # a half-written corpus is never mistaken for a cached one
    return Corpus(scale, root, manifest)


def _read_manifest(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _manifest_matches(manifest: dict[str, Any], scale: Scale) -> bool:
    wanted = {"generator_version": GENERATOR_VERSION, "seed": SEED, "repos_count": scale.repos,
              "files_count": scale.files, "tasks_count": scale.tasks}  # fmt: skip
    return all(manifest.get(key) == value for key, value in wanted.items())


def generate(scale: Scale, dest: Path) -> dict[str, Any]:
    """Write the corpus for `scale` under dest/<repo>/workplans/ and return its manifest."""
    rng = random.Random(f"{SEED}:{scale.repos}:{scale.files_per_repo}:{scale.tasks_per_file}")
    repos: list[dict[str, Any]] = []
    ready = 0
    for index in range(scale.repos):
        slug, prefix = _repo_identity(index)
        plans = _plan_repo(rng, prefix, slug, scale)
        (dest / slug / "workplans" / "archived").mkdir(parents=True, exist_ok=True)
        files = []
        for plan in plans:
            (dest / slug / plan.path).write_text(_render(rng, plan, slug), encoding="utf-8")
            files.append(plan.path)
        ready += _ready_count(plans)
        repos.append({"slug": slug, "prefix": prefix, "files": files})
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": SEED,
        "scale": scale.name,
        "repos_count": scale.repos,
        "files_count": scale.files,
        "tasks_count": scale.tasks,
        "ready_tasks": ready,
        "repos": repos,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _repo_identity(index: int) -> tuple[str, str]:
    noun = _NOUNS[index % len(_NOUNS)]
    kind = _KINDS[(index // len(_NOUNS)) % len(_KINDS)]
    letters = chr(ord("A") + index // 26 % 26) + chr(ord("A") + index % 26)
    return f"{noun}-{kind}-{index:03d}", f"{noun[:4].upper()}-{letters}"


@dataclass(slots=True)
class _TaskPlan:
    id: str
    short: str
    word: str  # status word as written
    priority: str
    depends_on: list[str]  # as written (short or qualified)
    deps_qualified: list[str]


@dataclass(slots=True)
class _FilePlan:
    id: str
    path: str
    status: str
    title: str
    tasks: list[_TaskPlan]


def _plan_repo(rng: random.Random, prefix: str, slug: str, scale: Scale) -> list[_FilePlan]:
    """Statuses, tasks and dependencies of one repo's files (decided before any text is written)."""
    counts = _task_counts(rng, scale.files_per_repo, scale.tasks_per_file)
    plans: list[_FilePlan] = []
    for number, count in enumerate(counts, start=1):
        wp_id = f"{prefix}-WP-{number:04d}"
        status = rng.choices(["active", "ready", "proposed", "backlog", "blocked", "finished"],
                             weights=[34, 6, 10, 10, 5, 35])[0]  # fmt: skip
        title = f"{rng.choice(_VERBS)} {' '.join(rng.choices(VOCABULARY[:120], k=rng.randint(2, 4)))}"
        slug_part = "-".join(title.lower().split()[:4])
        folder = "workplans/archived" if status == "finished" and rng.random() < 0.5 else "workplans"
        tasks = [_plan_task(rng, wp_id, status, position, count, plans) for position in range(count)]
        plans.append(_FilePlan(wp_id, f"{folder}/{wp_id}-{slug_part}.md", status, title.title(), tasks))
    return plans


def _task_counts(rng: random.Random, files: int, per_file: int) -> list[int]:
    """Tasks per file: varied (per_file +/- up to half) but summing to exactly files * per_file."""
    counts = [per_file] * files
    for i in range(0, files - 1, 2):
        delta = rng.randint(-(per_file // 2), per_file // 2)
        counts[i] += delta
        counts[i + 1] -= delta
    return counts


def _plan_task(
    rng: random.Random, wp_id: str, wp_status: str, position: int, count: int, earlier: list[_FilePlan]
) -> _TaskPlan:
    short = f"T{position + 1:02d}"
    if wp_status == "finished":
        word = rng.choices(["done", "completed", "cancel", "cancelled"], weights=[85, 5, 8, 2])[0]
    elif wp_status == "active":
        # Active plans progress front to back: early tasks done, one in flight, the rest open.
        share = position / max(count - 1, 1)
        word = rng.choices(
            ["done", "completed", "progress", "in_progress", "todo", "pending", "wait", "blocked", "cancel"],
            weights=[60 * (1 - share), 3, 8, 2, 30 * share + 4, 4, 4, 2, 2],
        )[0]
    else:
        word = rng.choices(["todo", "pending", "wait", "blocked"], weights=[80, 8, 8, 4])[0]
    deps_short: list[str] = []
    if position > 0 and rng.random() < 0.3:
        deps_short = sorted({f"T{rng.randint(1, position):02d}" for _ in range(rng.randint(1, 2))})
    written = [d if rng.random() < 0.7 else f"{wp_id}-{d}" for d in deps_short]
    qualified = [f"{wp_id}-{d}" for d in deps_short]
    if earlier and rng.random() < 0.05:  # a dependency on another workplan of the same repo
        other = rng.choice(earlier)
        target = rng.choice(other.tasks).id
        written.append(target)
        qualified.append(target)
    return _TaskPlan(f"{wp_id}-{short}", short, word, rng.choice(_PRIORITIES), written, qualified)


def _ready_count(plans: list[_FilePlan]) -> int:
    """Ready tasks by the SPEC rule: todo, workplan active or ready, every dependency done or cancel."""
    status = {t.id: _TASK_WORDS[t.word] for p in plans for t in p.tasks}
    return sum(
        1
        for p in plans
        if p.status in _READY_WP
        for t in p.tasks
        if status[t.id] == "todo" and all(status.get(d) in _SETTLED for d in t.deps_qualified)
    )


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(VOCABULARY, cum_weights=_CUM_WEIGHTS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, sentences: int) -> str:
    text = " ".join(_sentence(rng, 6, 16) for _ in range(sentences))
    return _wrap(text)


def _wrap(text: str, width: int = 78) -> str:
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\n".join(lines)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _date(rng: random.Random) -> str:
    return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _render(rng: random.Random, plan: _FilePlan, slug: str) -> str:
    """One workplan file in the ecosystem's convention (ADR-001)."""
    number = int(plan.id.rsplit("-", 1)[1])
    out = ["---", f"id: {plan.id}", "type: workplan", f'title: "{plan.title}"', f"domain: {rng.choice(_DOMAINS)}",
           f"repo: {slug}", f"status: {plan.status}", f"owner: {rng.choice(_OWNERS)}",
           f"topic_slug: {slug.split('-')[0]}", f"planning_priority: {rng.choice(_PRIORITIES)}",
           f"planning_order: {number}", f'created: "{_date(rng)}"', f"updated: {_date(rng)}"]  # fmt: skip
    if plan.status == "finished":
        out.append(f'finished: "{_date(rng)}"')
    if rng.random() < 0.85:
        out.append(f'state_hub_workstream_id: "{_uuid(rng)}"')
    out += ["---", "", f"# {plan.id} - {plan.title}", "", "## Goal", "", _paragraph(rng, rng.randint(2, 4)), ""]
    out += ["## Context", ""]
    for _ in range(rng.randint(2, 4)):
        out.append(f"- {_sentence(rng, 5, 12)}")
    if number > 1 and rng.random() < 0.4:
        out.append(f"- Builds on `{plan.id.rsplit('-', 1)[0]}-{rng.randint(1, number - 1):04d}`.")
    out.append("")
    for position, task in enumerate(plan.tasks):
        out += _render_task(rng, task, position)
    if rng.random() < 0.4:
        out += _render_sequencing(plan.tasks)
    return "\n".join(out) + "\n"


def _render_task(rng: random.Random, task: _TaskPlan, position: int) -> list[str]:
    title = f"{rng.choice(_VERBS)} {' '.join(rng.choices(VOCABULARY, cum_weights=_CUM_WEIGHTS, k=3))}"
    form = rng.random()
    if form < 0.85:
        heading = f"## Task: {title}"
    elif form < 0.92:
        heading = f"## {task.short} - {title}"
    else:
        heading = f"## Task {task.short}: {title}"
    fields = [f"id: {task.id}", f"status: {task.word}", f"priority: {task.priority}"]
    if rng.random() < 0.8:
        fields.append(f'state_hub_task_id: "{_uuid(rng)}"')
    if rng.random() < 0.2:
        fields.append(f"assignee: {rng.choice(_OWNERS)}")
    if task.depends_on:
        fields.append(f"depends_on: [{', '.join(task.depends_on)}]")
    fence = "yaml" if position % 11 == 5 else "task"
    body = [_paragraph(rng, rng.randint(2, 4))]
    if rng.random() < 0.3:
        body.append("\n".join(f"- {_sentence(rng, 4, 9)}" for _ in range(rng.randint(2, 4))))
    body.append(f"Done when {_sentence(rng, 5, 10).lower()}")
    return [heading, "", f"```{fence}", *fields, "```", "", "\n\n".join(body), ""]


def _render_sequencing(tasks: list[_TaskPlan]) -> list[str]:
    """A small box-drawing tree: the first task, then the rest hanging below it."""
    rows = [f"{tasks[0].short} (start)"]
    rest = tasks[1:]
    for i, task in enumerate(rest):
        rows.append(f"{'└─' if i == len(rest) - 1 else '├─'} {task.short}")
    return ["## Sequencing", "", "```", *rows, "```", ""]
