"""`python -m benchmarks [--quick] [--only NAME...] [--out FILE]`: run every bench module, print one JSON.

Each benchmarks/bench_<name>.py exposes `run(workdir, quick) -> {"figures": [...]}` and runs in its
own temporary workdir; a module that fails is reported with its error and the rest still run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.common import log

BENCH_DIR = Path(__file__).resolve().parent
FIGURE_KEYS = ("name", "value", "unit", "floor", "floor_name", "ratio", "target", "met")


def discover() -> list[str]:
    """Names of every benchmarks/bench_<name>.py module, sorted."""
    return sorted(path.stem.removeprefix("bench_") for path in BENCH_DIR.glob("bench_*.py"))


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def run_one(name: str, quick: bool) -> dict[str, Any]:
    """One module's result, or {"figures": [], "error": ...} when it cannot run or breaks the contract."""
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        with tempfile.TemporaryDirectory(prefix=f"devhub-bench-{name}-") as workdir:
            result = module.run(Path(workdir), quick)
        problem = contract_problem(result)
        if problem is not None:
            raise TypeError(f"bench_{name}.run broke the figure contract: {problem}")
    except Exception as exc:  # one broken module must not hide the others' figures
        log(f"{name}: FAILED: {exc!r}")
        return {
            "figures": [],
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
            "seconds": time.perf_counter() - started,
        }
    result = dict(result)
    result["seconds"] = time.perf_counter() - started
    return result


def contract_problem(result: object) -> str | None:
    """What is wrong with a run() result, or None when every figure has the contract's keys and types."""
    if not isinstance(result, dict) or not isinstance(result.get("figures"), list):
        return 'run() must return a dict with a "figures" list'
    for index, fig in enumerate(result["figures"]):
        if not isinstance(fig, dict):
            return f"figures[{index}] is not an object"
        missing = [key for key in FIGURE_KEYS if key not in fig]
        if missing:
            return f"figures[{index}] ({fig.get('name')!r}) lacks {', '.join(missing)}"
        for key in ("value", "floor", "ratio"):
            if isinstance(fig[key], bool) or not isinstance(fig[key], int | float):
                return f"figures[{index}].{key} is not a number: {fig[key]!r}"
        if not isinstance(fig["met"], bool):
            return f"figures[{index}].met is not a boolean"
    return None


def summarise(benchmarks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    met = 0
    missed: list[str] = []
    for name, result in benchmarks.items():
        for fig in result["figures"]:
            if fig["met"]:
                met += 1
            else:
                missed.append(f"{name}: {fig['name']}")
    failed = sorted(name for name, result in benchmarks.items() if "error" in result)
    # A module that cannot run here (e.g. no PostgreSQL binaries) returns {"figures": [], "skipped": reason}.
    skipped = {name: result["skipped"] for name, result in benchmarks.items() if result.get("skipped")}
    return {"met": met, "missed": missed, "failed_modules": failed, "skipped_modules": skipped}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small scales only (seconds; used by the smoke test)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run just these modules (bench_NAME.py)")
    parser.add_argument("--out", type=Path, metavar="FILE", help="also write the JSON document to FILE")
    args = parser.parse_args(argv)
    available = discover()
    names = args.only or available
    unknown = [name for name in names if name not in available]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}")
    benchmarks = {}
    for name in names:
        log(f"{name}: running{' (quick)' if args.quick else ''}")
        benchmarks[name] = run_one(name, args.quick)
        log(f"{name}: done in {benchmarks[name]['seconds']:.1f} s")
    document = {"machine": machine(), "quick": args.quick, "benchmarks": benchmarks, "summary": summarise(benchmarks)}
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 1 if document["summary"]["failed_modules"] else 0


if __name__ == "__main__":
    sys.exit(main())
