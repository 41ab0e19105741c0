"""The replay's own parts: placeholders, entity matching and shape gaps.

So that a failing template step means the hub, not the runner.
"""

from __future__ import annotations

import pytest

from tests.conformance.runner import MissingValue, matches, substitute
from tests.conformance.shapes import missing_keys
from tests.conformance.steps import ANY, SELF
from tests.conformance.world import FLEET_IDS, PLACEHOLDERS


def test_a_whole_placeholder_keeps_its_type_and_a_partial_one_is_text() -> None:
    context = {"FLAG": True, "ID": "abc"}
    assert substitute({"needs_human": "{FLAG}", "path": "/tasks/{ID}/x", "list": ["{ID}"]}, context) == {
        "needs_human": True,
        "path": "/tasks/abc/x",
        "list": ["abc"],
    }
    with pytest.raises(MissingValue):
        substitute("/decisions/{DECISION_ID}/resolve", context)


def test_a_file_id_and_its_fleet_uuid_are_one_entity() -> None:
    uuid = FLEET_IDS["ATLAS-WP-0001-T02"]
    assert matches({"id": "ATLAS-WP-0001-T02"}, {SELF: uuid})
    workplan = FLEET_IDS["ATLAS-WP-0001"]
    assert matches({"id": uuid, "workstream_id": "ATLAS-WP-0001"}, {SELF: uuid, "workstream_id": workplan})
    assert not matches({"id": "ATLAS-WP-0001-T03"}, {SELF: uuid})
    assert not matches({"id": "ATLAS-WP-0001-T02"}, {SELF: uuid, "status": "progress"}), "a missing key never matches"
    assert matches({"slug": "atlas-app", "last_sbom_at": None}, {SELF: "atlas-app", "last_sbom_at": ANY})
    assert not matches({"slug": "atlas-app"}, {SELF: "atlas-app", "last_sbom_at": ANY})


def test_shape_gaps_are_found_in_objects_lists_and_nested_items() -> None:
    task = {
        "id": "t",
        "workstream_id": "w",
        "title": "x",
        "status": "todo",
        "priority": "high",
        "assignee": None,
        "blocking_reason": None,
        "needs_human": False,
        "intervention_note": None,
    }
    assert missing_keys("task", task) == []
    assert missing_keys("task", [task, {k: v for k, v in task.items() if k != "workstream_id"}]) == ["[1]workstream_id"]
    summary = {
        "totals": {"workstreams": 1, "tasks": 2},
        "blocking_decisions": [],
        "blocked_tasks": [{"id": "t"}],
        "open_workstreams": [],
        "recent_events": [],
        "domains": [],
    }
    assert missing_keys("state_summary", summary) == [
        "blocked_tasks[0]blocking_reason",
        "blocked_tasks[0]status",
        "blocked_tasks[0]title",
        "totals.decisions",
    ]


def test_the_placeholders_name_fixture_entities() -> None:
    assert {PLACEHOLDERS[k] for k in ("WORKPLAN_ID", "OTHER_WORKPLAN_ID", "TASK_ID", "FLAG_TASK_ID")} <= set(
        FLEET_IDS.values()
    )
