"""The stable problem codes the parser reports, their severities, and a per-file collector."""

from __future__ import annotations

from collections.abc import Mapping

from devhub.model import Problem, Severity

# code -> (severity, what it means); docs/workplan-format.md lists the same table.
PROBLEM_CODES: Mapping[str, tuple[Severity, str]] = {
    "undecodable": ("error", "bytes that are not UTF-8; read on with U+FFFD replacement characters"),
    "missing-frontmatter": ("error", "the file does not start with a `---` frontmatter block"),
    "unterminated-frontmatter": ("error", "the opening `---` has no closing `---` line"),
    "yaml-error": ("error", "the frontmatter or a task block is not valid YAML"),
    "frontmatter-not-mapping": ("error", "the frontmatter is YAML but not a `key: value` mapping"),
    "missing-id": ("error", "no `id` in the frontmatter and none in the file name; the file is skipped"),
    "id-from-filename": ("warning", "the workplan id was taken from the file name"),
    "id-filename-mismatch": ("warning", "the frontmatter `id` differs from the id in the file name"),
    "id-format": ("warning", "the workplan id is not `<PREFIX>-WP-NNNN` or `ADHOC-YYYY-MM-DD`"),
    "missing-type": ("warning", "no `type` in the frontmatter"),
    "unexpected-type": ("warning", "`type` is not `workplan`"),
    "missing-status": ("warning", "a workplan or task has no `status`"),
    "unknown-status": ("warning", "a status word outside the vocabulary and its aliases"),
    "unknown-priority": ("warning", "a priority outside `critical high medium low`"),
    "invalid-field": ("warning", "a field has the wrong shape (e.g. a list where text is expected)"),
    "invalid-uuid": ("warning", "a `state_hub_*_id` that is not a UUID"),
    "task-without-block": ("warning", "a task-shaped heading with no metadata block under it"),
    "missing-task-id": ("error", "a task block with no `id` and no id in its heading; the task is skipped"),
    "task-id-from-heading": ("warning", "a task block without `id`; the id came from the heading"),
    "short-task-id": ("warning", "a short task id such as `T01` was qualified with the workplan id"),
    "task-id-prefix-mismatch": ("warning", "a qualified task id that names another workplan"),
    "duplicate-task-id": ("error", "a task id seen earlier in the same file; the later task is skipped"),
    "unclosed-fence": ("warning", "a ``` fence that is never closed runs to the end of the file"),
    "sequencing-unparsed": ("warning", "the `## Sequencing` tree could not be read"),
    "parser-error": ("error", "an internal parser failure; the file is reported instead of crashing"),
}


class ProblemSink:
    """Collects the problems of one file; severity comes from the code, never from the caller."""

    __slots__ = ("path", "problems")

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def add(self, code: str, line: int, message: str) -> None:
        severity = PROBLEM_CODES[code][0]
        self.problems.append(Problem(self.path, line, severity, code, message))

    def ordered(self) -> tuple[Problem, ...]:
        """Problems in file order; equal lines keep the order they were found in."""
        return tuple(sorted(self.problems, key=lambda p: p.line))
