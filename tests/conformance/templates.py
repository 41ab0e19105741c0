"""The ecosystem's agent templates, step by step, as data (a new template revision is a change here only).

Sources (search corpus `pages`; /work/wt/research/statehub-reference.md §4):
- session-protocol.template, state-hub ea1fd23 (2026-07-02): the Claude protocol, MCP with a REST fallback;
  the older revisions fdc395a (close with workstream_id) and pre-70c8e3c (get_state_summary + get_next_steps);
- agents-codex.template, state-hub 434c80c/7661146: REST only, legacy /workstreams/ list;
- state-hub's own AGENTS.md, 166aedf (2026-06-04): REST only, /workplans/ list;
- skills/state-hub/SKILL.md, 55e36bd (2026-06-07): the MCP session flow with a bulk status sync.
Steps 3 and 4 of the Claude protocol read files (`ls workplans/`) and present what step 1 answered;
they call nothing, so the keys they read are checked on step 1's answer instead.
"""

from __future__ import annotations

from tests.conformance.steps import ANY, SELF, Check, Fields, Find, Rest, Step, Template, Tool, absent

# -- effects shared by the MCP and REST spellings of one step ---------------------------------

DOMAIN_SUMMARY_EFFECTS = (
    # domain_slug is honoured: both active workplans of the domain, not another domain's, not a proposed one
    Find({SELF: "{WORKPLAN_ID}"}, key="active_workstreams"),
    Find({SELF: "{OTHER_WORKPLAN_ID}"}, key="active_workstreams"),
    absent(where={SELF: "LEDGER-WP-0001"}, key="active_workstreams"),
    absent(where={SELF: "ATLAS-WP-0002"}, key="active_workstreams"),
    # step 4 reads each repo's SBOM state; the repos are the domain's
    Find({SELF: "{REPO_SLUG}", "last_sbom_at": ANY}, key="repos"),
    absent(where={SELF: "{OTHER_DOMAIN_REPO}"}, key="repos"),
)

STATE_SUMMARY_EFFECTS = (
    Find({SELF: "{WORKPLAN_ID}"}, key="open_workstreams"),
    absent(where={SELF: "ATLAS-WP-0002"}, key="open_workstreams"),
    Find({SELF: "{WAIT_TASK_ID}", "status": "wait"}, key="blocked_tasks"),
    Find({SELF: "{DOMAIN}"}, key="domains"),
)

INBOX_EFFECTS = (
    Find({SELF: "{MESSAGE_ID}", "subject": "Handover", "to_agent": "{REPO_SLUG}"}),
    absent(where={SELF: "{OTHER_AGENT_MESSAGE_ID}"}),  # to_agent honoured
    absent(where={SELF: "{READ_MESSAGE_ID}"}),  # unread_only honoured
)

MARK_READ_EFFECTS = (
    absent(where={SELF: "{MESSAGE_ID}"}, path="/messages/", query={"to_agent": "{REPO_SLUG}", "unread_only": "true"}),
    Find({SELF: "{MESSAGE_ID}"}, path="/messages/", query={"to_agent": "{REPO_SLUG}"}),
)

DECISION_TITLE = "Rank search results with bm25"
RECORD_DECISION_EFFECTS = (
    Find(
        {SELF: "{DECISION_ID}", "title": DECISION_TITLE, "status": "open", "workstream_id": "{WORKPLAN_ID}"},
        path="/decisions/",
        query={"decision_type": "pending", "topic_id": "{TOPIC_ID}"},
    ),
    absent(
        where={SELF: "{DECISION_ID}"},
        path="/decisions/",
        query={"decision_type": "pending", "topic_id": "{OTHER_TOPIC}"},
    ),
    absent(where={SELF: "{DECISION_ID}"}, path="/decisions/", query={"decision_type": "made"}),
)

RESOLVE_DECISION_EFFECTS = (
    absent(
        where={SELF: "{DECISION_ID}"}, path="/decisions/", query={"decision_type": "pending", "topic_id": "{TOPIC_ID}"}
    ),
    Find(
        {
            SELF: "{DECISION_ID}",
            "status": "resolved",
            "rationale": "bm25 is good enough for the catalogue",
            "decided_by": "{REPO_SLUG}",
        },
        path="/decisions/",
        query={"topic_id": "{TOPIC_ID}"},
    ),
)


def progress_effects(
    summary: str, *, topic: bool, workplan: bool, task: bool, event_type: str = "note", author: str | None = None
) -> tuple[Check, ...]:
    """The event is found again by each id it was posted with, and not by another value of that filter."""
    where: dict[str, object] = {"summary": summary, "event_type": event_type}
    checks: list[Check] = []
    if topic:
        where["topic_id"] = "{TOPIC_ID}"
        checks += [
            Find({"summary": summary}, path="/progress/", query={"topic_id": "{TOPIC_ID}"}),
            absent(where={"summary": summary}, path="/progress/", query={"topic_id": "{OTHER_TOPIC}"}),
        ]
    if workplan:
        where["workstream_id"] = "{WORKPLAN_ID}"
        checks += [
            Find({"summary": summary}, path="/progress/", query={"workstream_id": "{WORKPLAN_ID}"}),
            absent(where={"summary": summary}, path="/progress/", query={"workstream_id": "{OTHER_WORKPLAN_ID}"}),
        ]
    if task:
        where["task_id"] = "{TASK_ID}"
        checks += [Find({"summary": summary}, path="/progress/", query={"task_id": "{TASK_ID}"})]
    if author:
        where["author"] = author
    return (Find(where, path="/progress/", query={"limit": 50}), *checks)


TASK_PROGRESS_EFFECTS = (Fields({"status": "progress"}, path="/tasks/{TASK_ID}"),)

FLAG_NOTE = "Choose bm25 or the hand-tuned score before T03 starts"
FLAG_EFFECTS = (
    Fields({"needs_human": True, "intervention_note": FLAG_NOTE}, path="/tasks/{FLAG_TASK_ID}"),
    Find({SELF: "{FLAG_TASK_ID}"}, path="/tasks/", query={"needs_human": "true"}),
)

# The MCP tool (not the REST PATCH) also posts this event [code c792ab0].
FLAGGED_EVENT = Find(
    {"event_type": "task_flagged_human", "task_id": "{FLAG_TASK_ID}", "workstream_id": "{WORKPLAN_ID}"},
    path="/progress/",
    query={"limit": 50},
)

WORKPLAN_LIST_EFFECTS = (
    Find({SELF: "{WORKPLAN_ID}", "status": "active"}),
    absent(where={SELF: "{OTHER_WORKPLAN_ID}"}),  # topic_id honoured (same domain, other topic)
    absent(where={SELF: "LEDGER-WP-0001"}),
    absent(where={SELF: "ATLAS-WP-0002"}),  # status honoured (right topic, proposed)
)

# -- the Claude session protocol --------------------------------------------------------------

CLOSE_SUMMARY = "Session close: index builds on start; ranking decided"
MID_SUMMARY = "Index build wired into start-up"

SESSION_PROTOCOL_MCP = Template(
    name="session-protocol ea1fd23 (MCP)",
    source="state-hub scripts/project_rules/session-protocol.template @ ea1fd23",
    surface="mcp",
    steps=(
        Step(
            "1 orient: get_domain_summary",
            Tool("get_domain_summary", {"domain_slug": "{DOMAIN}"}),
            shape="domain_summary",
            checks=DOMAIN_SUMMARY_EFFECTS,
        ),
        Step(
            "2 inbox: get_messages",
            Tool("get_messages", {"to_agent": "{REPO_SLUG}", "unread_only": True}),
            shape="message",
            checks=INBOX_EFFECTS,
        ),
        Step(
            "2 inbox: mark_message_read",
            Tool("mark_message_read", {"message_id": "{MESSAGE_ID}"}),
            shape="message",
            checks=MARK_READ_EFFECTS,
        ),
        Step(
            "work: record_decision",
            Tool(
                "record_decision",
                {
                    "title": DECISION_TITLE,
                    "decision_type": "pending",
                    "topic_id": "{TOPIC_ID}",
                    "workstream_id": "{WORKPLAN_ID}",
                },
            ),
            shape="decision",
            save={"DECISION_ID": "id"},
            checks=RECORD_DECISION_EFFECTS,
        ),
        Step(
            "work: update_task_status",
            Tool("update_task_status", {"task_id": "{TASK_ID}", "status": "progress"}),
            shape="task",
            checks=TASK_PROGRESS_EFFECTS,
        ),
        Step(
            "work: add_progress_event",
            Tool(
                "add_progress_event",
                {
                    "summary": MID_SUMMARY,
                    "event_type": "milestone",
                    "topic_id": "{TOPIC_ID}",
                    "workplan_id": "{WORKPLAN_ID}",
                    "task_id": "{TASK_ID}",
                },
            ),
            shape="progress_event",
            checks=progress_effects(MID_SUMMARY, topic=True, workplan=True, task=True, event_type="milestone"),
        ),
        Step(
            "work: flag_for_human",
            Tool("flag_for_human", {"task_id": "{FLAG_TASK_ID}", "note": FLAG_NOTE}),
            shape="task",
            checks=(*FLAG_EFFECTS, FLAGGED_EVENT),
        ),
        Step(
            "work: resolve_decision",
            Tool(
                "resolve_decision",
                {
                    "decision_id": "{DECISION_ID}",
                    "rationale": "bm25 is good enough for the catalogue",
                    "decided_by": "{REPO_SLUG}",
                },
            ),
            shape="decision",
            checks=RESOLVE_DECISION_EFFECTS,
        ),
        Step(
            "6 close: add_progress_event(topic_id, workplan_id)",
            Tool(
                "add_progress_event",
                {"summary": CLOSE_SUMMARY, "topic_id": "{TOPIC_ID}", "workplan_id": "{WORKPLAN_ID}"},
            ),
            shape="progress_event",
            checks=progress_effects(CLOSE_SUMMARY, topic=True, workplan=True, task=False),
        ),
    ),
)

SESSION_PROTOCOL_REST = Template(
    name="session-protocol ea1fd23 (REST fallback)",
    source='state-hub scripts/project_rules/session-protocol.template @ ea1fd23 ("without MCP" branches)',
    surface="rest",
    steps=(
        Step(
            "1 orient: GET /state/summary",
            Rest("GET", "/state/summary"),
            shape="state_summary",
            checks=STATE_SUMMARY_EFFECTS,
        ),
        Step(
            "2 inbox: GET /messages/",
            Rest("GET", "/messages/", {"to_agent": "{REPO_SLUG}", "unread_only": "true"}),
            shape="message",
            checks=INBOX_EFFECTS,
        ),
        Step(
            "2 inbox: PATCH /messages/<id>/read",
            Rest("PATCH", "/messages/{MESSAGE_ID}/read", body={}),
            shape="message",
            checks=MARK_READ_EFFECTS,
        ),
        Step(
            "work: POST /decisions/",
            Rest(
                "POST",
                "/decisions/",
                body={
                    "title": DECISION_TITLE,
                    "decision_type": "pending",
                    "topic_id": "{TOPIC_ID}",
                    "workstream_id": "{WORKPLAN_ID}",
                },
            ),
            shape="decision",
            save={"DECISION_ID": "id"},
            checks=RECORD_DECISION_EFFECTS,
        ),
        Step(
            "work: PATCH /tasks/<id> status",
            Rest("PATCH", "/tasks/{TASK_ID}", body={"status": "progress"}),
            shape="task",
            checks=TASK_PROGRESS_EFFECTS,
        ),
        Step(
            "work: POST /progress/",
            Rest(
                "POST",
                "/progress/",
                body={
                    "summary": MID_SUMMARY,
                    "event_type": "milestone",
                    "author": "claude",
                    "topic_id": "{TOPIC_ID}",
                    "workplan_id": "{WORKPLAN_ID}",
                    "task_id": "{TASK_ID}",
                },
            ),
            shape="progress_event",
            checks=progress_effects(
                MID_SUMMARY, topic=True, workplan=True, task=True, event_type="milestone", author="claude"
            ),
        ),
        Step(
            "work: PATCH /tasks/<id> flag",
            Rest("PATCH", "/tasks/{FLAG_TASK_ID}", body={"needs_human": True, "intervention_note": FLAG_NOTE}),
            shape="task",
            checks=FLAG_EFFECTS,
        ),
        Step(
            "work: POST /decisions/<id>/resolve",
            Rest(
                "POST",
                "/decisions/{DECISION_ID}/resolve",
                body={"rationale": "bm25 is good enough for the catalogue", "decided_by": "{REPO_SLUG}"},
            ),
            shape="decision",
            checks=RESOLVE_DECISION_EFFECTS,
        ),
        Step(
            "6 close: POST /progress/ (topic_id, workplan_id)",
            Rest(
                "POST",
                "/progress/",
                body={
                    "summary": CLOSE_SUMMARY,
                    "event_type": "note",
                    "author": "claude",
                    "topic_id": "{TOPIC_ID}",
                    "workplan_id": "{WORKPLAN_ID}",
                },
            ),
            shape="progress_event",
            checks=progress_effects(CLOSE_SUMMARY, topic=True, workplan=True, task=False, author="claude"),
        ),
    ),
)

OLD_CLOSE_SUMMARY = "Session close (fdc395a wording)"
SESSION_PROTOCOL_OLDER_MCP = Template(
    name="session-protocol pre-70c8e3c / fdc395a (MCP)",
    source="state-hub session-protocol.template before 70c8e3c (step 1) and fdc395a (close with workstream_id)",
    surface="mcp",
    steps=(
        Step(
            "1 orient: get_state_summary",
            Tool("get_state_summary"),
            shape="state_summary",
            checks=STATE_SUMMARY_EFFECTS,
        ),
        Step("1 orient: get_next_steps", Tool("get_next_steps")),
        Step(
            "close: add_progress_event(topic_id, workstream_id)",
            Tool(
                "add_progress_event",
                {"summary": OLD_CLOSE_SUMMARY, "topic_id": "{TOPIC_ID}", "workstream_id": "{WORKPLAN_ID}"},
            ),
            shape="progress_event",
            checks=progress_effects(OLD_CLOSE_SUMMARY, topic=True, workplan=True, task=False),
        ),
    ),
)

# -- the Codex template and state-hub's own AGENTS.md (REST only) -----------------------------

CODEX_SUMMARY = "what was done (codex)"


def _codex_steps(list_path: str) -> tuple[Step, ...]:
    return (
        Step(
            f"orient: GET {list_path}?topic_id&status=active",
            Rest("GET", list_path, {"topic_id": "{TOPIC_ID}", "status": "active"}),
            shape="workplan",
            checks=WORKPLAN_LIST_EFFECTS,
        ),
        Step(
            "inbox: GET /messages/",
            Rest("GET", "/messages/", {"to_agent": "{REPO_SLUG}", "unread_only": "true"}),
            shape="message",
            checks=INBOX_EFFECTS,
        ),
        Step(
            "inbox: PATCH /messages/<id>/read",
            Rest("PATCH", "/messages/{MESSAGE_ID}/read", body={}),
            shape="message",
            checks=MARK_READ_EFFECTS,
        ),
        Step(
            "task: PATCH /tasks/<id> status",
            Rest("PATCH", "/tasks/{TASK_ID}", body={"status": "progress"}),
            shape="task",
            checks=TASK_PROGRESS_EFFECTS,
        ),
        Step(
            "flag: PATCH /tasks/<id> needs_human",
            Rest("PATCH", "/tasks/{FLAG_TASK_ID}", body={"needs_human": True, "intervention_note": FLAG_NOTE}),
            shape="task",
            checks=FLAG_EFFECTS,
        ),
        Step(
            "close: POST /progress/ (workstream_id, task_id)",
            Rest(
                "POST",
                "/progress/",
                body={
                    "summary": CODEX_SUMMARY,
                    "event_type": "note",
                    "author": "codex",
                    "workstream_id": "{WORKPLAN_ID}",
                    "task_id": "{TASK_ID}",
                },
            ),
            shape="progress_event",
            checks=progress_effects(CODEX_SUMMARY, topic=False, workplan=True, task=True, author="codex"),
        ),
    )


CODEX_TEMPLATE = Template(
    name="agents-codex.template 434c80c (REST)",
    source="state-hub scripts/project_rules/agents-codex.template @ 434c80c / 7661146",
    surface="rest",
    steps=_codex_steps("/workstreams/"),
)

STATE_HUB_AGENTS = Template(
    name="state-hub AGENTS.md 166aedf (REST)",
    source="state-hub AGENTS.md @ 166aedf (workplan terminology)",
    surface="rest",
    steps=_codex_steps("/workplans/"),
)

# -- the state-hub skill (MCP) ---------------------------------------------------------------

SKILL_SUMMARY = "Checkpoint sync: T01 reopened for a review, T02 started"
STATE_HUB_SKILL = Template(
    name="skills/state-hub/SKILL.md 55e36bd (MCP)",
    source="state-hub skills/state-hub/SKILL.md @ 55e36bd (session flow and high-frequency signatures)",
    surface="mcp",
    steps=(
        Step(
            "1 orient: get_domain_summary",
            Tool("get_domain_summary", {"domain_slug": "{DOMAIN}"}),
            shape="domain_summary",
            checks=DOMAIN_SUMMARY_EFFECTS,
        ),
        Step(
            "2 inbox: get_messages",
            Tool("get_messages", {"to_agent": "{REPO_SLUG}", "unread_only": True}),
            shape="message",
            checks=INBOX_EFFECTS,
        ),
        Step(
            "2 inbox: mark_message_read",
            Tool("mark_message_read", {"message_id": "{MESSAGE_ID}"}),
            shape="message",
            checks=MARK_READ_EFFECTS,
        ),
        # The bulk sync writes one progress event per change, by `author` [code 55e36bd].
        Step(
            "4 checkpoint: bulk_update_task_statuses",
            Tool(
                "bulk_update_task_statuses",
                {
                    "updates": [
                        {"task_id": "{TASK_ID}", "status": "progress"},
                        {"task_id": "{WAIT_TASK_ID}", "status": "todo"},
                    ],
                    "author": "{REPO_SLUG}",
                },
            ),
            checks=(
                Fields({"status": "progress"}, path="/tasks/{TASK_ID}"),
                Fields({"status": "todo"}, path="/tasks/{WAIT_TASK_ID}"),
                Find({"author": "{REPO_SLUG}", "task_id": "{TASK_ID}"}, path="/progress/", query={"limit": 50}),
                Find({"author": "{REPO_SLUG}", "task_id": "{WAIT_TASK_ID}"}, path="/progress/", query={"limit": 50}),
            ),
        ),
        Step(
            "4 one-off: update_task_status",
            Tool(
                "update_task_status",
                {"task_id": "{FLAG_TASK_ID}", "status": "wait", "blocking_reason": "waiting on the ranking decision"},
            ),
            shape="task",
            checks=(
                Fields(
                    {"status": "wait", "blocking_reason": "waiting on the ranking decision"},
                    path="/tasks/{FLAG_TASK_ID}",
                ),
            ),
        ),
        Step(
            "5 close: add_progress_event",
            Tool(
                "add_progress_event",
                {"summary": SKILL_SUMMARY, "topic_id": "{TOPIC_ID}", "workplan_id": "{WORKPLAN_ID}"},
            ),
            shape="progress_event",
            checks=progress_effects(SKILL_SUMMARY, topic=True, workplan=True, task=False),
        ),
    ),
)

TEMPLATES = (
    SESSION_PROTOCOL_MCP,
    SESSION_PROTOCOL_REST,
    SESSION_PROTOCOL_OLDER_MCP,
    CODEX_TEMPLATE,
    STATE_HUB_AGENTS,
    STATE_HUB_SKILL,
)
