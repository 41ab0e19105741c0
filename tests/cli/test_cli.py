"""The CLI on the fixtures, through real processes: registration, listings, rebuild, verify, check, writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import devhub_env, run_cli
from tests.support.repos import make_workspace


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return devhub_env(tmp_path / "data", tmp_path / "config")


def test_help_is_fast_because_heavy_imports_are_lazy() -> None:
    code = (
        "import sys; from devhub.cli.main import cli; from click.testing import CliRunner;"
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output;"
        "heavy = [m for m in ('litestar', 'mcp', 'sqlite_utils', 'git', 'httpx', 'uvicorn', 'aiosqlite', 'yaml')"
        " if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_command_is_listed_in_help_and_documented() -> None:
    from devhub.cli.main import LAZY_COMMANDS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    help_text = subprocess.run([sys.executable, "-m", "devhub", "--help"], capture_output=True, text=True).stdout
    for name in LAZY_COMMANDS:
        assert name in help_text
        assert f"devhub {name}" in readme, f"README does not show `devhub {name}`"


def test_register_a_folder_of_repos_and_a_plain_folder(tmp_path: Path, env: dict[str, str]) -> None:
    make_workspace(tmp_path / "ws")
    plain = tmp_path / "plain"
    (plain / "workplans").mkdir(parents=True)
    done = run_cli("register", str(tmp_path / "ws"), str(plain), env=env, check=True)
    assert "not a git repository" in done.stderr
    repos = json.loads(run_cli("repos", "--json", env=env, check=True).stdout)
    by_slug = {r["slug"]: r for r in repos}
    assert set(by_slug) == {"the-custodian", "state-hub", "ops-bridge", "plain"}
    assert by_slug["the-custodian"]["branch"] == "main" and len(by_slug["the-custodian"]["head"]) == 40
    assert by_slug["plain"]["is_git"] is False
    # The registry lives outside the database: deleting the read model forgets nothing.
    (tmp_path / "data" / "readmodel.sqlite").unlink()
    assert len(json.loads(run_cli("repos", "--json", env=env, check=True).stdout)) == 4
    run_cli("unregister", "plain", env=env, check=True)
    assert {r["slug"] for r in json.loads(run_cli("repos", "--json", env=env, check=True).stdout)} == {
        "the-custodian",
        "state-hub",
        "ops-bridge",
    }


def test_listings_search_orient_and_task_show(tmp_path: Path, env: dict[str, str]) -> None:
    run_cli("register", *map(str, make_workspace(tmp_path / "ws")), env=env, check=True)
    workplans = json.loads(run_cli("workplans", "--json", "--status", "active", env=env, check=True).stdout)
    assert workplans and all(w["status"] == "active" for w in workplans)
    ready = json.loads(run_cli("tasks", "--ready", "--json", env=env, check=True).stdout)
    assert ready and all(t["ready"] for t in ready)
    seed = json.loads(run_cli("tasks", "--workplan", "CUST-WP-0054", "--json", env=env, check=True).stdout)
    assert len(seed) == 10
    shown = run_cli("task", "show", "CUST-WP-0054-T07", env=env, check=True).stdout
    assert "Dev-environment beachhead" in shown and "0eaf1961-a4e7-459e-b710-3e72042cdf50" in shown
    hits = json.loads(run_cli("search", "beachhead", "--json", env=env, check=True).stdout)
    assert any(h["id"] == "CUST-WP-0054-T07" for h in hits)
    orient = json.loads(run_cli("orient", "--json", env=env, check=True).stdout)
    assert any(w["id"] == "CUST-WP-0054" for w in orient["active_workplans"])
    table = run_cli("tasks", "--ready", env=env, check=True).stdout
    assert "Tasks (" in table
    missing = run_cli("task", "show", "NOPE-WP-0001-T01", env=env)
    assert missing.returncode == 1 and "no task with id" in missing.stderr


def test_rebuild_and_verify_report_no_drift(tmp_path: Path, env: dict[str, str]) -> None:
    run_cli("register", *map(str, make_workspace(tmp_path / "ws")), env=env, check=True)
    run_cli("task", "set", "CUST-WP-0054-T05", "progress", "--note", "starting", env=env, check=True)
    run_cli("progress", "hello from the CLI", "--task", "CUST-WP-0054-T05", env=env, check=True)
    verify = run_cli("verify", "--json", env=env)
    assert verify.returncode == 0, verify.stdout
    assert json.loads(verify.stdout)["drift"] == []
    rebuilt = run_cli("rebuild", "--json", env=env, check=True)
    assert json.loads(rebuilt.stdout)["repos"] == 3
    task = json.loads(run_cli("task", "show", "CUST-WP-0054-T05", "--json", env=env, check=True).stdout)
    assert task["status"] == "progress" and task["status_source"] == "local"  # the journal survived the rebuild


def test_verify_lists_drift(tmp_path: Path, env: dict[str, str]) -> None:
    import sqlite3

    run_cli("register", *map(str, make_workspace(tmp_path / "ws", ["the-custodian"])), env=env, check=True)
    run_cli("tasks", env=env, check=True)
    conn = sqlite3.connect(tmp_path / "data" / "readmodel.sqlite")
    conn.execute("UPDATE tasks SET title = 'tampered' WHERE id = 'CUST-WP-0054-T01'")
    conn.commit()
    conn.close()
    verify = run_cli("verify", "--json", env=env)
    assert verify.returncode == 1
    drift = json.loads(verify.stdout)["drift"]
    assert len(drift) == 1 and drift[0]["table"] == "tasks" and "title" in drift[0]["change"]


def test_check_exit_codes(tmp_path: Path, env: dict[str, str]) -> None:
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    run_cli("register", *map(str, make_workspace(tmp_path / "ws")), env=env, check=True)
    clean_but_warned = run_cli("check", "--json", env=env)
    assert clean_but_warned.returncode == 2  # unlinked tasks and legacy words are warnings
    findings = json.loads(clean_but_warned.stdout)["findings"]
    assert all(f["severity"] == "warning" for f in findings) and all(f["fix"] for f in findings)
    broken = tmp_path / "ws" / "the-custodian" / "workplans" / "CUST-WP-0999-broken.md"
    broken.write_text(
        (fixtures / "malformed" / sorted(p.name for p in (fixtures / "malformed").glob("*.md"))[0]).read_text()
    )
    with_error = run_cli("check", "--json", env=env)
    assert with_error.returncode == 1
    assert any(f["rule"] == "parse-error" for f in json.loads(with_error.stdout)["findings"])


def test_relay_status_without_a_daemon_shows_the_waiting_queue(tmp_path: Path, env: dict[str, str]) -> None:
    run_cli("register", *map(str, make_workspace(tmp_path / "ws", ["the-custodian"])), env=env, check=True)
    run_cli("progress", "written with no daemon", env=env, check=True)
    run_cli("task", "set", "CUST-WP-0054-T05", "progress", env=env, check=True)
    status = json.loads(run_cli("relay", "status", "--json", env=env, check=True).stdout)
    assert status["state"] == "stopped" and status["pending"] == 2 and status["dead_letters"] == 0
    assert status["oldest_pending_age_seconds"] >= 0
    text = run_cli("relay", "status", env=env, check=True).stdout
    assert "pending 2" in text and "devhub up" in text


@pytest.mark.parametrize("where", ["before", "after"])
def test_directory_options_work_before_and_after_the_command(tmp_path: Path, where: str) -> None:
    """SPEC §4: `devhub up --data-dir D` is `devhub --data-dir D up`, for commands and subcommands alike."""
    data, config = tmp_path / "data", tmp_path / "config"
    env = devhub_env(tmp_path / "unused-data", tmp_path / "unused-config")  # the options must win
    dirs = ["--data-dir", str(data), "--config-dir", str(config)]

    def cli(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        args = [*dirs, *command] if where == "before" else [*command, *dirs]
        return run_cli(*args, env=env, check=check)

    repo = make_workspace(tmp_path / "ws", ["the-custodian"])[0]
    cli("register", str(repo))
    assert (config / "repos.json").exists()
    assert [r["slug"] for r in json.loads(cli("repos", "--json").stdout)] == ["the-custodian"]
    cli("progress", "written with no daemon")
    assert json.loads(cli("relay", "status", "--json").stdout)["pending"] == 1  # a subcommand of a group
    cli("journal", "verify")
    cli("up", "--port", "0", "--no-relay", "--detach")
    try:
        assert (data / "daemon.json").exists()
        status = json.loads(cli("status", "--json").stdout)
        assert status["running"] and Path(status["daemon"]["data_dir"]) == data.resolve()
        assert status["daemon"]["repos"] == ["the-custodian"]
    finally:
        cli("down", check=False)
    assert json.loads(cli("status", "--json", check=False).stdout)["running"] is False
    assert not (tmp_path / "unused-data").exists() and not (tmp_path / "unused-config").exists()
