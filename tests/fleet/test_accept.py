"""`devhub fleet accept` over JSONL evidence: the T10 fixtures, gap rules, malformed lines, globs, streaming."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
import textwrap
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from devhub.cli.fleet_accept import accept
from devhub.errors import DevhubError
from devhub.fleet.accept import evaluate
from devhub.fleet.accept_spec import load_spec
from devhub.fleet.evidence import EvidenceReader, resolve_sources

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "acceptance"
T10 = FIXTURES / "t10-spec.yaml"

# fixture -> the one check it must fail (None: everything holds)
EXPECTED = [
    ("t10-spec.yaml", "evidence-pass.jsonl", None),
    ("t10-spec.yaml", "evidence-triage-missed.jsonl", "scheduled triage ran and validated"),
    ("t10-spec.yaml", "evidence-sweep-gap.jsonl", "consistency sweeps ran"),
    ("t10-spec.yaml", "evidence-probe-failures.jsonl", "hub API served"),
    ("t10-spec.yaml", "evidence-workstation-heartbeat.jsonl", "workstation offline"),
    ("t10-spec-20h.yaml", "evidence-pass.jsonl", "window covers the minimum duration"),
]


def run(*args: str) -> tuple[int, str, str]:
    """Invoke the accept command; a DevhubError becomes its exit code and `error:` line, as the CLI's main does."""
    result = CliRunner().invoke(accept, list(args))
    if isinstance(result.exception, DevhubError):
        return result.exception.exit_code, result.output, f"error: {result.exception.detail}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output, ""


def journal(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(*args, "--json")
    assert code in (0, 1), err
    return code, json.loads(out)


def checks_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in doc["checks"]}


def tolerance(check: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in check["tolerances"] if t["name"] == name)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("acceptance_generate", FIXTURES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_spec(tmp_path: Path, probes: str, window: str = "end: 2026-08-01T10:00:00Z") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"title: small\nwindow: {{start: 2026-08-01T00:00:00Z, {window}}}\nprobes:\n" + textwrap.dedent(probes),
        encoding="utf-8",
    )
    return path


def jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def ev(ts: str, **fields: Any) -> dict[str, Any]:
    return {"ts": ts, "host": "railiance01", "kind": "sweep", "status": "ok", **fields}


@pytest.mark.parametrize(("spec", "evidence", "failing"), EXPECTED)
def test_each_fixture_gives_its_verdict_and_names_only_its_failing_check(
    spec: str, evidence: str, failing: str | None
) -> None:
    code, doc = journal("--spec", str(FIXTURES / spec), "--evidence", str(FIXTURES / evidence))
    assert doc["failed"] == ([failing] if failing else [])
    assert [c["name"] for c in doc["checks"] if c["verdict"] == "fail"] == doc["failed"]
    assert (code, doc["verdict"]) == ((1, "fail") if failing else (0, "pass"))
    assert len(doc["checks"]) == 10  # window, 1 precondition, 8 probes: all evaluated even after a failure


def test_human_output_shows_observed_next_to_required_and_the_worst_gap() -> None:
    code, out, _ = run("--spec", str(T10), "--evidence", str(FIXTURES / "evidence-sweep-gap.jsonl"))
    assert code == 1
    assert "max_gap 1h59m55s ≤ 30m FAIL" in out
    assert "worst gap from 2026-08-01T09:49:46Z (a match)" in out
    assert "to 2026-08-01T11:49:41Z (the next match)" in out
    assert "min_ok_ratio 0.9936 (155/156 ok) ≥ 0.99" in out
    assert "ACCEPTANCE FAILS: 1 of 10 checks failed: consistency sweeps ran" in out


def test_failure_details_in_the_journal() -> None:
    _, doc = journal("--spec", str(T10), "--evidence", str(FIXTURES / "evidence-triage-missed.jsonl"))
    triage = checks_by_name(doc)["scheduled triage ran and validated"]
    assert tolerance(triage, "min_count") | {"text": None} == {
        "name": "min_count",
        "required": 1,
        "observed": 0,
        "verdict": "fail",
        "text": None,
    }
    assert triage["observed"]["worst_gap"]["from_is"] == "window start"
    assert triage["observed"]["worst_gap"]["to_is"] == "window end"
    assert tolerance(triage, "max_gap")["observed"] == 26 * 3600

    _, doc = journal("--spec", str(T10), "--evidence", str(FIXTURES / "evidence-probe-failures.jsonl"))
    hub = tolerance(checks_by_name(doc)["hub API served"], "min_ok_ratio")
    assert hub["observed"] == pytest.approx(151 / 156) and hub["verdict"] == "fail"

    _, doc = journal("--spec", str(T10), "--evidence", str(FIXTURES / "evidence-workstation-heartbeat.jsonl"))
    offline = checks_by_name(doc)["workstation offline"]
    assert offline["observed"]["count"] == 1
    assert "2026-08-01T05:00:07Z host=workstation kind=heartbeat" in offline["observed"]["examples"][0]
    assert "evidence-workstation-heartbeat.jsonl:" in offline["observed"]["examples"][0]

    _, doc = journal("--spec", str(FIXTURES / "t10-spec-20h.yaml"), "--evidence", str(FIXTURES / "evidence-pass.jsonl"))
    window = tolerance(checks_by_name(doc)["window covers the minimum duration"], "min_duration")
    assert (window["observed"], window["required"], window["text"]) == (72000, 86400, "min_duration 20h ≥ 24h")


def test_malformed_lines_are_counted_with_file_and_line_and_do_not_change_the_verdict() -> None:
    code, doc = journal("--spec", str(T10), "--evidence", str(FIXTURES / "evidence-pass.jsonl"))
    stats = doc["evidence"]
    assert code == 0
    assert stats["malformed"] == 3
    assert [e.split(": ", 1)[0].rsplit("/", 1)[1] for e in stats["malformed_examples"]] == [
        "evidence-pass.jsonl:40",
        "evidence-pass.jsonl:400",
        "evidence-pass.jsonl:800",
    ]
    assert "not JSON" in stats["malformed_examples"][0]
    assert "'yesterday'" in stats["malformed_examples"][1]
    assert "host: must be text, got 7" in stats["malformed_examples"][2]
    assert stats["lines"] == stats["records"] == 1120
    assert stats["events_in_window"] + stats["events_before_window"] + stats["events_after_window"] == 1117
    assert stats["events_before_window"] > 0 and stats["events_after_window"] > 0


def test_committed_fixtures_match_the_generator(tmp_path: Path) -> None:
    generator = load_generator()
    for path in generator.write_all(tmp_path):
        assert path.read_bytes() == (FIXTURES / path.name).read_bytes(), f"regenerate {path.name}"


def test_globs_directories_gzip_and_duplicates_give_the_same_verdict(tmp_path: Path) -> None:
    lines = (FIXTURES / "evidence-sweep-gap.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    by_host: dict[str, list[str]] = {}
    for line in lines:
        by_host.setdefault(json.loads(line)["host"], []).append(line)
    logs = tmp_path / "logs"
    (logs / "nested").mkdir(parents=True)
    (logs / "railiance01.jsonl").write_text("".join(by_host["railiance01"]), encoding="utf-8")
    with gzip.open(logs / "nested" / "coulombcore.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(by_host["coulombcore"]))
    (logs / "notes.txt").write_text("not evidence\n", encoding="utf-8")

    _, whole = journal("--spec", str(T10), "--evidence", str(FIXTURES / "evidence-sweep-gap.jsonl"))
    for args in (
        [str(logs)],
        [f"{logs}/**/*.jsonl*"],
        [f"{logs}/*.jsonl", f"{logs}/nested/*.gz", str(logs / "railiance01.jsonl")],  # the file twice
    ):
        code, doc = journal("--spec", str(T10), *[a for arg in args for a in ("--evidence", arg)])
        assert code == 1 and doc["failed"] == ["consistency sweeps ran"], args
        assert doc["evidence"]["files"] == 2
        assert doc["evidence"]["events_in_window"] == whole["evidence"]["events_in_window"]
        assert [c["observed"] for c in doc["checks"]] == [c["observed"] for c in whole["checks"]]


def test_shuffled_evidence_gives_the_same_gaps(tmp_path: Path) -> None:
    lines = (FIXTURES / "evidence-sweep-gap.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(7).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("".join(lines), encoding="utf-8")
    _, ordered_doc = journal("--spec", str(T10), "--evidence", str(FIXTURES / "evidence-sweep-gap.jsonl"))
    _, shuffled_doc = journal("--spec", str(T10), "--evidence", str(shuffled))
    assert [c["observed"] for c in shuffled_doc["checks"]] == [c["observed"] for c in ordered_doc["checks"]]


def test_gap_rules_count_both_window_edges(tmp_path: Path) -> None:
    spec = small_spec(
        tmp_path,
        """\
        - {name: middle, match: {target: m}, tolerance: {max_gap: 5h}}
        - {name: tail, match: {target: t}, tolerance: {max_gap: 9h}}
        - {name: none, match: {target: z}, tolerance: {max_gap: 10h}}
        - {name: edges, match: {target: e}, tolerance: {max_gap: 10h, max_count: 2}}
    """,
    )
    evidence = jsonl(
        tmp_path / "e.jsonl",
        [
            ev("2026-08-01T03:00:00Z", target="m"),
            ev("2026-08-01T02:00:00Z", target="m"),
            ev("2026-08-01T09:00:00+00:00", target="m"),
            ev("2026-08-01T01:00:00Z", target="t"),
            ev("2026-08-01T00:00:00Z", target="e"),
            ev("2026-08-01T12:00:00+02:00", target="e"),  # both edges
            ev("2026-07-31T23:59:59Z", target="e"),
            ev("2026-08-01T10:00:01Z", target="e"),  # just outside
        ],
    )
    code, doc = journal("--spec", str(spec), "--evidence", str(evidence))
    checks = checks_by_name(doc)
    assert code == 1 and doc["failed"] == ["middle"]
    assert checks["middle"]["observed"]["worst_gap"] | {"seconds": 0} == {
        "from": "2026-08-01T03:00:00Z",
        "to": "2026-08-01T09:00:00Z",
        "from_is": "a match",
        "to_is": "the next match",
        "seconds": 0,
    }
    assert tolerance(checks["middle"], "max_gap")["observed"] == 6 * 3600
    assert checks["tail"]["observed"]["worst_gap"]["to_is"] == "window end"
    assert tolerance(checks["tail"], "max_gap")["observed"] == 9 * 3600  # from 01:00 to the window end
    assert tolerance(checks["tail"], "max_gap")["verdict"] == "pass"  # a gap equal to max_gap holds
    assert tolerance(checks["none"], "max_gap")["observed"] == 10 * 3600  # no match: the whole window
    assert checks["edges"]["observed"]["count"] == 2
    assert tolerance(checks["edges"], "max_gap")["observed"] == 10 * 3600
    assert doc["evidence"]["events_before_window"] == 1 and doc["evidence"]["events_after_window"] == 1


def test_counts_ratios_and_detail_matching(tmp_path: Path) -> None:
    spec = small_spec(
        tmp_path,
        """\
        - {name: ratio, match: {kind: probe}, tolerance: {min_ok_ratio: 0.75}}
        - {name: empty ratio, match: {kind: nothing}, tolerance: {min_ok_ratio: 0.5}}
        - {name: too many, match: {kind: probe}, tolerance: {max_count: 3}}
        - {name: deep detail, match: {detail.repo.name: [a, b]}, tolerance: {min_count: 2, max_count: 2}}
        - {name: booleans, match: {detail.validated: true}, tolerance: {min_count: 1, max_count: 1}}
    """,
    )
    evidence = jsonl(
        tmp_path / "e.jsonl",
        [
            ev("2026-08-01T01:00:00Z", kind="probe"),
            ev("2026-08-01T02:00:00Z", kind="probe"),
            ev("2026-08-01T03:00:00Z", kind="probe"),
            ev("2026-08-01T04:00:00Z", kind="probe", status="fail"),
            ev("2026-08-01T05:00:00Z", detail={"repo": {"name": "a"}, "validated": 1}),
            ev("2026-08-01T06:00:00Z", detail={"repo": {"name": "b"}, "validated": True}),
            ev("2026-08-01T07:00:00Z", detail={"repo": {"name": "c"}}),
            ev("2026-08-01T08:00:00Z", detail={"repo": "a"}),
        ],
    )
    _, doc = journal("--spec", str(spec), "--evidence", str(evidence))
    checks = checks_by_name(doc)
    assert doc["failed"] == ["empty ratio", "too many"]
    assert tolerance(checks["ratio"], "min_ok_ratio")["observed"] == 0.75
    assert tolerance(checks["empty ratio"], "min_ok_ratio")["observed"] is None
    assert "n/a (no matching events)" in tolerance(checks["empty ratio"], "min_ok_ratio")["text"]
    assert tolerance(checks["too many"], "max_count")["text"] == "max_count 4 ≤ 3"
    assert checks["deep detail"]["verdict"] == "pass" and checks["booleans"]["verdict"] == "pass"


def test_bad_records_are_counted_by_kind(tmp_path: Path) -> None:
    spec = small_spec(tmp_path, "- {name: any, match: {kind: sweep}, tolerance: {min_count: 1}}\n")
    path = tmp_path / "e.jsonl"
    path.write_bytes(
        b'{"ts": "2026-08-01T01:00:00Z", "kind": "sweep"}\n'
        b"\n"
        b'{"ts": "2026-08-01T01:00:00", "kind": "sweep"}\n'
        b'{"kind": "sweep"}\n'
        b'["ts"]\n'
        b'{"ts": "2026-08-01T01:00:00Z", "kind": "sweep", "detail": "text"}\n'
        b'{"ts": 1754000000, "kind": "sweep"}\n'
        b"\xff\xfe garbage\n"
    )
    code, doc = journal("--spec", str(spec), "--evidence", str(path))
    stats = doc["evidence"]
    assert code == 0 and stats["events_in_window"] == 1 and stats["lines"] == 8
    assert stats["malformed"] == 6
    reasons = [e.split(": ", 1)[1] for e in stats["malformed_examples"]]
    assert reasons[0].startswith("ts: timestamp has no timezone")
    assert reasons[1:] == [
        "missing ts",
        "not a JSON object: ['ts']",
        "detail: must be an object, got 'text'",
        "ts: not an ISO-8601 timestamp: 1754000000",
    ]
    assert f"{path}:3" in stats["malformed_examples"][0]


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ([], "no evidence given"),
        (["{tmp}/missing.jsonl"], "missing.jsonl: no such file"),
        (["{tmp}/*.nothing"], "the pattern matches no files"),
        (["{tmp}/empty-dir"], "holds no *.jsonl"),
    ],
)
def test_unusable_evidence_exits_2(tmp_path: Path, evidence: list[str], message: str) -> None:
    (tmp_path / "empty-dir").mkdir()
    args = [a for e in evidence for a in ("--evidence", e.format(tmp=tmp_path))]
    code, _, err = run("--spec", str(T10), *args)
    assert code == 2
    assert message in err


def test_streaming_keeps_memory_far_below_the_evidence_size(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    padding = "x" * 120
    kinds = [("heartbeat", None), ("probe.http", "hub-api"), ("consistency_sweep_remote_all", "all-repos")]
    with big.open("w", encoding="utf-8") as handle:
        for index in range(60_000):
            seconds = index * 26 * 3600 // 60_000
            kind, target = kinds[index % 3]
            ts = f"2026-08-01T{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}Z"
            if seconds >= 24 * 3600:
                ts = f"2026-08-02T{seconds // 3600 - 24:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}Z"
            handle.write(json.dumps(ev(ts, kind=kind, target=target, detail={"note": padding})) + "\n")
    size = big.stat().st_size
    assert size > 12_000_000
    spec = load_spec(T10)
    reader = EvidenceReader(resolve_sources([str(big)]), spec.start, spec.end)
    tracemalloc.start()
    try:
        report = evaluate(spec, reader.events(), reader.stats)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reader.stats.in_window == 60_000
    assert {c.name: c.observed.get("count") for c in report.checks}["hub API served"] == 20_000
    assert peak < size / 20, f"peak {peak} bytes for a {size}-byte file"


def test_importing_the_command_stays_light() -> None:
    """`devhub --help` may import accept_cli: it must not pull in yaml, httpx or rich."""
    import subprocess
    import sys

    code = "import sys, devhub.cli.fleet_accept; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert not {"yaml", "httpx", "rich", "litestar"} & set(json.loads(loaded.stdout.replace("'", '"')))


def test_a_corrupt_gzip_file_is_unusable_evidence(tmp_path: Path) -> None:
    broken = tmp_path / "rotated.jsonl.gz"
    broken.write_bytes(b"not gzip at all")
    code, _, err = run(
        "--spec", str(T10), "--evidence", str(FIXTURES / "evidence-pass.jsonl"), "--evidence", str(broken)
    )
    assert code == 2
    assert f"{broken}:1: cannot read further: Not a gzipped file" in err


def test_python_m_devhub_fleet_accept_exit_codes_reach_the_shell(tmp_path: Path) -> None:
    """The real entry point in a real process: 0 holds, 1 fails, 2 unusable with one `error:` line."""
    import subprocess
    import sys

    def devhub(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "devhub", "fleet", "accept", "--spec", str(T10), *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False, timeout=60)

    passing = devhub("--evidence", str(FIXTURES / "evidence-pass.jsonl"))
    assert passing.returncode == 0, passing.stderr
    assert "ACCEPTANCE HOLDS: all 10 checks pass" in passing.stdout
    failing = devhub("--evidence", str(FIXTURES / "evidence-sweep-gap.jsonl"), "--json")
    assert failing.returncode == 1
    assert json.loads(failing.stdout)["failed"] == ["consistency sweeps ran"]
    unusable = devhub("--evidence", str(tmp_path / "none.jsonl"))
    assert unusable.returncode == 2
    assert unusable.stderr.startswith("error: unusable evidence:") and "none.jsonl: no such file" in unusable.stderr
