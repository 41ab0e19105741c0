"""The conformance workspace (fixtures/conformance) and the values the templates' placeholders take.

The real hub names every entity by UUID; devhub names workplans and tasks by their file ids and
also answers to the fleet UUIDs the files carry. An answer may use either form, so comparisons go
through `same_entity`: the file id and its UUID are one entity.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.repos import FIXTURE_REPOS, make_repo_from

CONFORMANCE_FIXTURES = FIXTURE_REPOS.parent / "conformance"
REPOS = ("atlas-app", "beacon-ops", "ledger-core")

# file id -> the fleet UUID in its frontmatter (state_hub_workstream_id / state_hub_task_id)
FLEET_IDS = {
    "ATLAS-WP-0001": "6f1c2a3e-0d4b-4c5e-9a7f-1b2c3d4e5f01",
    "ATLAS-WP-0002": "6f1c2a3e-0d4b-4c5e-9a7f-1b2c3d4e5f02",
    "BEACON-WP-0001": "7a2b3c4d-1e5f-4a6b-8c7d-2e3f4a5b6c01",
    "LEDGER-WP-0001": "8b3c4d5e-2f6a-4b7c-9d8e-3f4a5b6c7d01",
    "ATLAS-WP-0001-T01": "6f1c2a3e-0d4b-4c5e-9a7f-1b2c3d4e5a01",
    "ATLAS-WP-0001-T02": "6f1c2a3e-0d4b-4c5e-9a7f-1b2c3d4e5a02",
    "ATLAS-WP-0001-T03": "6f1c2a3e-0d4b-4c5e-9a7f-1b2c3d4e5a03",
    "ATLAS-WP-0001-T04": "6f1c2a3e-0d4b-4c5e-9a7f-1b2c3d4e5a04",
    "BEACON-WP-0001-T01": "7a2b3c4d-1e5f-4a6b-8c7d-2e3f4a5b6a01",
}

# The template placeholders, and the ids a session works with. An agent following a template
# holds the hub's UUIDs (the templates write `<uuid>`), so the work ids are the fleet UUIDs.
PLACEHOLDERS: dict[str, str] = {
    "DOMAIN": "infotech",
    "REPO_SLUG": "atlas-app",
    "TOPIC_ID": "atlas",  # a topic_id filter accepts the slug or the fleet UUID (issue 15)
    "OTHER_TOPIC": "beacon",  # same domain, another topic: what a topic filter must leave out
    "OTHER_REPO": "beacon-ops",
    "OTHER_DOMAIN_REPO": "ledger-core",
    "WORKPLAN_ID": FLEET_IDS["ATLAS-WP-0001"],
    "OTHER_WORKPLAN_ID": FLEET_IDS["BEACON-WP-0001"],
    "TASK_ID": FLEET_IDS["ATLAS-WP-0001-T02"],
    "FLAG_TASK_ID": FLEET_IDS["ATLAS-WP-0001-T03"],
    "WAIT_TASK_ID": FLEET_IDS["ATLAS-WP-0001-T04"],
}


def make_conformance_workspace(root: Path) -> list[Path]:
    """fixtures/conformance/<repo> as committed git repos under `root`."""
    return [make_repo_from(CONFORMANCE_FIXTURES / name, root / name) for name in REPOS]


def forms(value: object) -> set[object]:
    """Every spelling of one entity: a file id and its fleet UUID name the same thing."""
    spelled = {value}
    for file_id, uuid in FLEET_IDS.items():
        if value in (file_id, uuid):
            spelled |= {file_id, uuid}
    return spelled


def same_entity(actual: object, expected: object) -> bool:
    return actual in forms(expected)


def names_entity(item: object, expected: str) -> bool:
    """Does a listed object (workplan, task, repo, decision, message…) stand for `expected`?"""
    if not isinstance(item, dict):
        return False
    own = [item.get(k) for k in ("id", "slug", "state_hub_workstream_id", "state_hub_task_id")]
    return any(v is not None and same_entity(v, expected) for v in own)
