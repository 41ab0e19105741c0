"""Smoke test of the benchmark harness: the real runner in a subprocess, the corpus it promises.

Timing targets are reported by the benchmarks, never asserted here.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_fleetpg
from benchmarks.__main__ import contract_problem, run_one, summarise
from benchmarks.corpus import GENERATOR_VERSION, MANIFEST, SCALES, ensure_corpus, generate
from devhub.workplans import parse_workplan
from tests.support.postgres import SKIP_REASON

REPO = Path(__file__).resolve().parents[2]
QUICK = SCALES["quick"]


def test_quick_readmodel_run_prints_the_combined_json() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "readmodel"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert document["quick"] is True
    assert document["machine"]["cpu_count"] >= 1 and document["machine"]["python"]
    assert list(document["benchmarks"]) == ["readmodel"]
    result = document["benchmarks"]["readmodel"]
    assert "error" not in result, result.get("traceback")
    figures = result["figures"]
    assert len(figures) >= 5
    for fig in figures:
        for key in ("value", "floor", "ratio"):
            assert isinstance(fig[key], float) and fig[key] >= 0, (fig["name"], key, fig[key])
        assert fig["floor"] > 0, fig["name"]
        assert fig["ratio"] == fig["value"] / fig["floor"]
        assert isinstance(fig["met"], bool) and fig["unit"] and fig["floor_name"] and fig["target"]
        assert fig["better"] in ("lower", "higher")
    names = " | ".join(fig["name"] for fig in figures)
    for expected in ("cold build", "warm restart", "list_tasks(ready=True)", "search(q)", "peak RSS"):
        assert expected in names
    assert "growth" not in names  # the 4x/8x curve is not part of a quick run
    summary = document["summary"]
    assert summary["met"] + len(summary["missed"]) == len(figures)
    assert summary["failed_modules"] == []

    corpus = result["corpus"]
    assert corpus["scale"] == "quick" and corpus["generator_version"] == GENERATOR_VERSION
    promised = corpus["promised"]
    assert (promised["repos"], promised["files"], promised["tasks"]) == (QUICK.repos, QUICK.files, QUICK.tasks)
    observed = corpus["read_model"]
    assert observed["repos"] == QUICK.repos
    assert observed["files"] == observed["workplans"] == QUICK.files
    assert observed["tasks"] == QUICK.tasks
    assert observed["problems"] == 0
    assert observed["ready_tasks"] == promised["ready_tasks"] > 0


def test_quick_fleetpg_run_reports_every_figure_or_why_it_was_skipped() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "fleetpg"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    result = document["benchmarks"]["fleetpg"]
    assert "error" not in result, result.get("traceback")
    if result.get("skipped"):  # no PostgreSQL here: a reason, not an error, and no figures
        assert result["figures"] == []
        assert document["summary"]["skipped_modules"] == {"fleetpg": result["skipped"]}
        return
    assert document["summary"]["skipped_modules"] == {}
    figures = {fig["name"]: fig for fig in result["figures"]}
    assert len(figures) == 5
    for fig in figures.values():
        assert fig["better"] == "higher" and fig["unit"] == "writes/s"
        assert fig["value"] > 0 and fig["floor"] > 0 and fig["ratio"] == fig["value"] / fig["floor"]
        assert fig["clients"] >= 2 and fig["writes"] > 0
    balanced = figures["two fleet replicas on one database vs one (round-robin balancer)"]
    assert len(balanced["requests_per_replica"]) == 2 and min(balanced["requests_per_replica"]) > 0  # both wrote
    pair = figures["two fleet replicas on one database vs one (clients spread over the replicas)"]
    assert {"hub a", "hub b", "postgresql", "machine busy"} <= set(pair["cpu_seconds"])
    assert pair["group_commit"]["transactions"] > 0 and pair["group_commit"]["writes_per_transaction"] >= 1
    floor = figures["relayed writes into one fleet hub on PostgreSQL vs bare psycopg INSERTs"]
    assert floor["commit_settings"]["fsync"] == "on" and floor["commit_settings"]["synchronous_commit"] == "on"


def test_fleetpg_without_postgresql_is_skipped_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_fleetpg, "_bin_dir", lambda: None)
    result = run_one_module(bench_fleetpg, tmp_path)
    assert result == {"figures": [], "skipped": SKIP_REASON}
    assert summarise({"fleetpg": result})["skipped_modules"] == {"fleetpg": SKIP_REASON}
    assert summarise({"fleetpg": result})["failed_modules"] == []


def run_one_module(module: Any, workdir: Path) -> dict[str, Any]:
    result: dict[str, Any] = module.run(workdir, True)
    assert contract_problem(result) is None
    return result


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_corpus_is_deterministic_and_parses_to_what_it_promises(tmp_path: Path) -> None:
    first = generate(QUICK, tmp_path / "a")
    second = generate(QUICK, tmp_path / "b")
    assert first == second
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    tasks = 0
    statuses: set[str] = set()
    assert len(first["repos"]) == QUICK.repos
    for repo in first["repos"]:
        assert len(repo["files"]) == QUICK.files_per_repo
        for rel in repo["files"]:
            parsed = parse_workplan((tmp_path / "a" / repo["slug"] / rel).read_bytes(), rel)
            assert parsed.problems == (), (rel, parsed.problems)
            assert parsed.workplan is not None
            tasks += len(parsed.workplan.tasks)
            statuses |= {task.status for task in parsed.workplan.tasks if task.status}
    assert tasks == QUICK.tasks
    assert statuses == {"todo", "progress", "wait", "done", "cancel"}


def test_cached_corpus_is_regenerated_when_the_generator_version_differs(tmp_path: Path) -> None:
    corpus = ensure_corpus(QUICK, tmp_path)
    manifest_path = corpus.root / MANIFEST
    stale = json.loads(manifest_path.read_text())
    stale["generator_version"] = GENERATOR_VERSION - 1
    manifest_path.write_text(json.dumps(stale))
    stray = corpus.root / "stray.txt"
    stray.write_text("left over from an old generator")
    again = ensure_corpus(QUICK, tmp_path)
    assert again.manifest["generator_version"] == GENERATOR_VERSION
    assert not stray.exists()
    assert len(again.files()) == QUICK.files and all(path.is_file() for path in again.files())


def test_a_failing_module_is_reported_not_raised() -> None:
    result = run_one("no_such_module", quick=True)
    assert result["figures"] == []
    assert "ModuleNotFoundError" in result["error"]


def test_contract_problem_names_what_is_wrong() -> None:
    good = {"name": "x", "value": 1.0, "unit": "s", "floor": 0.5, "floor_name": "f", "ratio": 2.0, "target": "t",
            "met": True}  # fmt: skip
    assert contract_problem({"figures": [good]}) is None
    assert contract_problem([]) is not None
    assert "lacks floor" in str(contract_problem({"figures": [{k: v for k, v in good.items() if k != "floor"}]}))
    assert "value is not a number" in str(contract_problem({"figures": [good | {"value": "fast"}]}))
    assert "met is not a boolean" in str(contract_problem({"figures": [good | {"met": 1}]}))
