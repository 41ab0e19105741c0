"""Pure parsing of workplan files: bytes in, records and problems out (no I/O, no database)."""

from devhub.workplans._problems import PROBLEM_CODES
from devhub.workplans.parser import is_workplan_path, parse_workplan

__all__ = ["PROBLEM_CODES", "is_workplan_path", "parse_workplan"]
