"""The one exception tree of devhub; every HTTP-facing error carries its status.

    DevhubError                      base; `status` is the HTTP status, `exit_code` the CLI's
    ├── ConfigError                  a bad config file, profile or environment value
    ├── RegistryError                a repo cannot be registered / found in the registry
    ├── NotFound (404)               an unknown workplan, task, message or repo
    │   └── TasksNotFound            a bulk status sync naming unknown tasks (`detail` is an object)
    ├── Ambiguous (409)              a path id matching several rows; `candidates` lists them
    ├── Conflict (409)               e.g. an Idempotency-Key reused with another body
    │   └── IdTaken                  a fleet-unique created id committed by another replica first
    ├── BadRequest (400)             a malformed request: bad JSON, a bad query value
    │   └── DuplicateTaskIds         a bulk status sync naming a task twice (`detail` is an object)
    ├── ValidationFailed (422)       a body that parses but breaks a rule; `fields` names the offenders
    ├── PayloadTooLarge (413)        a body over the size limit
    ├── Unauthorized (401)           a missing or wrong bearer token
    ├── Forbidden (403)              a refused Host/Origin (DNS-rebinding protection)
    │   └── FileRefused              a repo file devhub will not open; `code` is its problem code
    ├── StorageFull (507)            the journal reached its bound, or the disk is full
    ├── ReadModelUnavailable (503)   the read model is being rebuilt (e.g. its file was deleted); retry
    ├── DaemonRefused                a running daemon answered an HTTP request with an error (its status)
    ├── DaemonError                  lifecycle: lock held, port busy, not running
    │   ├── AlreadyRunning
    │   ├── PortInUse
    │   └── NotRunning
    ├── FleetError                   fleet register / acceptance spec problems
    │   ├── RegisterError            `place` is the dotted path, e.g. workloads.x.target_host
    │   └── SpecError
    └── FleetDatabaseError (503)     the fleet hub's PostgreSQL cannot be reached or used; retry
        └── SchemaTooNew             its schema is newer than this devhub (refuses to start)

Foreign exceptions (yaml, sqlite3, httpx, OSError) are translated where they
enter: the parser turns YAML errors into problems, the relay maps httpx errors,
`from_os_error` turns a failed file operation into one line (StorageFull when the
disk is full).
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from typing import Any


class DevhubError(Exception):
    """Base of every error devhub raises on purpose."""

    status: int = 500
    title: str = "Internal error"
    exit_code: int = 1

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra

    def problem(self) -> dict[str, Any]:
        """This error as an RFC 9457 problem document."""
        doc: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        doc.update(self.extra)
        return doc


class ConfigError(DevhubError):
    status = 500
    title = "Configuration error"
    exit_code = 2


class RegistryError(DevhubError):
    status = 400
    title = "Registry error"
    exit_code = 2


class NotFound(DevhubError):
    status = 404
    title = "Not found"


class Ambiguous(DevhubError):
    status = 409
    title = "Ambiguous identifier"

    def __init__(self, detail: str, candidates: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(detail, candidates=list(candidates))


class Conflict(DevhubError):
    status = 409
    title = "Conflict"


class BadRequest(DevhubError):
    status = 400
    title = "Bad request"
    exit_code = 2

    def __init__(self, detail: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(detail, invalid_params=[{"name": k, "reason": v} for k, v in (fields or {}).items()])
        self.fields = dict(fields or {})


class ValidationFailed(DevhubError):
    status = 422
    title = "Validation failed"
    exit_code = 2

    def __init__(self, detail: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(detail, invalid_params=[{"name": k, "reason": v} for k, v in (fields or {}).items()])
        self.fields = dict(fields or {})


class PayloadTooLarge(DevhubError):
    status = 413
    title = "Payload too large"


class Unauthorized(DevhubError):
    status = 401
    title = "Unauthorized"


class Forbidden(DevhubError):
    status = 403
    title = "Forbidden"


class FileRefused(Forbidden):
    """A repo file devhub will not open: it resolves outside its repo, or is over the size bound."""

    title = "File refused"

    def __init__(self, path: str, code: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}", path=path, code=code)
        self.path = path
        self.code = code
        self.reason = reason


class StorageFull(DevhubError):
    status = 507
    title = "Insufficient storage"


class ReadModelUnavailable(DevhubError):
    status = 503
    title = "Service unavailable"


class DaemonRefused(DevhubError):
    """The daemon answered a request with an error; its status and problem document are kept."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(str(problem.get("detail") or problem.get("title") or f"HTTP {status}"))
        self.status = status
        self.problem_doc = problem
        self.exit_code = 2 if 400 <= status < 500 else 1


class DaemonError(DevhubError):
    title = "Daemon error"


class AlreadyRunning(DaemonError):
    """Another devhub process holds this data directory."""


class PortInUse(DaemonError):
    """The port asked for is taken by something else."""


class NotRunning(DaemonError):
    """No daemon runs for this data directory."""


class FleetError(DevhubError):
    title = "Fleet error"
    exit_code = 2


class RegisterError(FleetError):
    """A register problem; `place` is the dotted path of the offending value."""

    def __init__(self, place: str, reason: str) -> None:
        super().__init__(f"{place}: {reason}", place=place)
        self.place = place
        self.reason = reason


class SpecError(FleetError):
    def __init__(self, place: str, reason: str) -> None:
        super().__init__(f"{place}: {reason}", place=place)
        self.place = place
        self.reason = reason


def from_os_error(exc: OSError, doing: str, *, otherwise: type[DevhubError] = DaemonError) -> DevhubError:
    """`exc`, met while `doing` something, as one clear error: a full disk is StorageFull, anything else `otherwise`."""
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) not in doing else ""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(f"{doing}: the disk is full{where} ({reason}); free some space and try again")
    return otherwise(f"{doing}: {reason}{where}")


# -- bulk status sync: the State Hub's `detail` objects ----------------------------------------------


def _task_ids_problem(error: DevhubError, message: str, task_ids: list[str]) -> dict[str, Any]:
    """The problem document with `detail` as the State Hub's object, which its clients read."""
    doc = DevhubError.problem(error)
    doc["detail"] = {"message": message, "task_ids": task_ids}
    return doc


class DuplicateTaskIds(BadRequest):
    """A bulk status sync naming one task twice (State Hub: 400 before anything is looked up)."""

    MESSAGE = "duplicate task_id values are not allowed"

    def __init__(self, task_ids: Sequence[str]) -> None:
        DevhubError.__init__(self, f"{self.MESSAGE}: {', '.join(task_ids)}", task_ids=list(task_ids))

    def problem(self) -> dict[str, Any]:
        return _task_ids_problem(self, self.MESSAGE, self.extra["task_ids"])


class TasksNotFound(NotFound):
    """A bulk status sync naming tasks the hub does not know (State Hub: 404, nothing applied)."""

    MESSAGE = "one or more tasks were not found"

    def __init__(self, task_ids: Sequence[str]) -> None:
        DevhubError.__init__(
            self, f"{self.MESSAGE}: {', '.join(task_ids)}; nothing was written", task_ids=list(task_ids)
        )

    def problem(self) -> dict[str, Any]:
        return _task_ids_problem(self, self.MESSAGE, self.extra["task_ids"])


# -- fleet database --


class FleetDatabaseError(DevhubError):
    """The fleet hub's PostgreSQL store cannot be reached or used: the write was not saved, retry."""

    status = 503
    title = "Service unavailable"


class SchemaTooNew(FleetDatabaseError):
    """The database was migrated by a newer devhub; this one refuses to run on it."""

    exit_code = 2


class IdTaken(Conflict):
    """A fleet-unique id (a created task's, workplan's, message's or decision's) was committed by another
    replica's write first; this write was not saved (`Writes` rebuilds it with the next free id)."""
