"""`devhub profile use/show/env/list` through the real CLI, against copies of real client configs."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from tests.agents.conftest import FIXTURES, SECRET, Workspace, WriteProfile

DEV_HEADER = {"Authorization": "Bearer ${STATE_HUB_TOKEN}"}
DEV_ENV_HEADER = {"Authorization": "Bearer ${env:STATE_HUB_TOKEN}"}


def _servers(path: Path) -> dict[str, Any]:
    if path.suffix == ".toml":
        servers: dict[str, Any] = tomllib.loads(path.read_text())["mcp_servers"]
        return servers
    document = json.loads(path.read_text())
    return dict(document["servers" if path.parent.name == ".vscode" else "mcpServers"])


def _expected_dev_entries() -> dict[str, dict[str, Any]]:
    return {
        "claude-code-project": {"type": "http", "url": "http://127.0.0.1:8000/mcp", "headers": DEV_HEADER},
        "claude-code-user": {"type": "http", "url": "http://127.0.0.1:8000/mcp", "headers": DEV_HEADER},
        "claude-desktop": {"command": "devhub", "args": ["mcp", "--profile", "dev"]},
        "cursor-project": {"url": "http://127.0.0.1:8000/mcp", "headers": DEV_ENV_HEADER},
        "cursor-user": {"url": "http://127.0.0.1:8000/mcp", "headers": DEV_ENV_HEADER, "disabled": False},
        "vscode-project": {"type": "http", "url": "http://127.0.0.1:8000/mcp", "headers": DEV_ENV_HEADER},
        "codex": {"url": "http://127.0.0.1:8000/mcp", "bearer_token_env_var": "STATE_HUB_TOKEN"},
    }


def _expected_fleet_entries() -> dict[str, dict[str, Any]]:
    sse = "http://127.0.0.1:18001/sse"
    bridge = {"command": "devhub", "args": ["mcp", "--profile", "fleet"]}
    return {
        "claude-code-project": {"type": "sse", "url": sse},
        "claude-code-user": {"type": "sse", "url": sse},
        "claude-desktop": bridge,
        "cursor-project": {"url": sse},
        "cursor-user": {"url": sse, "disabled": False},  # the user's own key in the entry survives
        "vscode-project": {"type": "sse", "url": sse},
        "codex": bridge,  # Codex has no SSE transport: it goes through devhub's stdio bridge
    }


def _assert_no_secret(workspace: Workspace) -> None:
    for path, content in workspace.snapshot().items():
        assert SECRET.encode() not in content, f"the token value leaked into {path}"


def _others(path: Path) -> dict[str, Any]:
    return {k: v for k, v in _servers(path).items() if k not in ("dev-hub", "state-hub")}


def test_use_dev_then_fleet_rewrites_every_client_in_its_own_shape(seeded: Workspace) -> None:
    files = seeded.files
    before = {key: path.read_bytes() for key, path in files.items()}
    others_before = {key: _others(path) for key, path in files.items()}

    result = seeded.run("profile", "use", "dev")
    assert "active profile: dev" in result.stdout
    for key, expected in _expected_dev_entries().items():
        servers = _servers(files[key])
        assert servers["dev-hub"] == expected, key
        assert "state-hub" not in servers, f"{key}: legacy entry not migrated"
        assert _others(files[key]) == others_before[key], f"{key}: another server entry changed"
        backup = files[key].with_name(files[key].name + ".bak")
        assert backup.read_bytes() == before[key], f"{key}: backup is not the previous content"
    assert (seeded.config_dir / "active-profile").read_text() == "dev\n"

    # The migrated entry takes the legacy entry's place; every other key keeps its order.
    assert list(_servers(files["claude-code-project"])) == ["filesystem", "dev-hub", "docs"]
    claude = json.loads(files["claude-code-user"].read_text())
    assert list(claude) == ["numStartups", "theme", "mcpServers", "projects", "tipsHistory"]
    assert claude["projects"]["/home/dev/the-custodian"]["allowedTools"] == ["Bash(make test)"]
    assert files["claude-code-user"].read_text().startswith('{\n    "numStartups"')  # its 4-space indent kept
    assert files["claude-code-user"].stat().st_mode & 0o777 == 0o600
    vscode = json.loads(files["vscode-project"].read_text())
    assert vscode["inputs"][0]["id"] == "perplexity-key"
    codex = files["codex"].read_text()
    for comment in (
        "# Codex configuration for the custodian workstation.",
        "# fast enough for triage",
        "# Documentation server; keep it first.",
        "# read-only mirror",
        "# slower, for reviews",
    ):
        assert comment in codex
    assert tomllib.loads(codex)["profiles"] == {"review": {"model": "o3"}}
    _assert_no_secret(seeded)

    # Twice changes nothing: no rewrite, no new backup.
    after_first = seeded.snapshot()
    again = seeded.run("profile", "use", "dev")
    assert again.stdout.count("unchanged") == len(files)
    assert seeded.snapshot() == after_first

    seeded.run("profile", "use", "fleet")
    for key, expected in _expected_fleet_entries().items():
        assert _servers(files[key])["dev-hub"] == expected, key
        assert _others(files[key]) == others_before[key], key
    assert "# Documentation server; keep it first." in files["codex"].read_text()
    assert (seeded.config_dir / "active-profile").read_text() == "fleet\n"
    _assert_no_secret(seeded)

    after_fleet = seeded.snapshot()
    seeded.run("profile", "use", "fleet")
    assert seeded.snapshot() == after_fleet


def test_show_reports_the_profile_each_client_points_at(seeded: Workspace) -> None:
    before = json.loads(seeded.run("profile", "show", "--json").stdout)
    states = {(c["client"], c["scope"]): c for c in before["clients"]}
    assert states[("claude-code", "project")]["state"] == "legacy"
    assert states[("cursor", "user")] == {
        **states[("cursor", "user")],
        "state": "custom",
        "detail": "http://old.example:9999/mcp",
    }
    assert before["active"] == "dev"

    seeded.run("profile", "use", "fleet", "--client", "codex", "--client", "claude-desktop")
    seeded.run("profile", "use", "dev", "--client", "cursor", "--client", "vscode", "--client", "claude-code")
    after = json.loads(seeded.run("profile", "show", "--json").stdout)
    pointed = {(c["client"], c["scope"]): (c["state"], c["profiles"]) for c in after["clients"]}
    assert pointed == {
        ("claude-code", "project"): ("profile", ["dev"]),
        ("claude-code", "user"): ("profile", ["dev"]),
        ("claude-desktop", "user"): ("profile", ["fleet"]),
        ("cursor", "project"): ("profile", ["dev"]),
        ("cursor", "user"): ("profile", ["dev"]),
        ("vscode", "project"): ("profile", ["dev"]),
        ("codex", "user"): ("profile", ["fleet"]),
    }
    assert after["active"] == "dev"
    text = seeded.run("profile", "show").stdout
    assert "active profile: dev" in text
    assert "~/.codex/config.toml  fleet" in text


def test_a_malformed_config_is_reported_left_alone_and_the_rest_still_switch(seeded: Workspace) -> None:
    broken_json, broken_toml = seeded.files["claude-code-project"], seeded.files["codex"]
    broken_json.write_bytes((FIXTURES / "malformed" / "broken.json").read_bytes())
    broken_toml.write_bytes((FIXTURES / "malformed" / "broken.toml").read_bytes())
    snapshot = {p: p.read_bytes() for p in (broken_json, broken_toml)}

    result = seeded.run("profile", "use", "dev", check=False)
    assert result.returncode == 2
    assert f"{broken_json}:3:37: invalid JSON" in result.stdout
    assert f"{broken_toml}:5:" in result.stdout and "invalid TOML" in result.stdout
    assert "error: 2 client config(s) left unchanged" in result.stderr
    for path, content in snapshot.items():
        assert path.read_bytes() == content, f"{path} was modified"
        assert not path.with_name(path.name + ".bak").exists()
    for key in ("claude-code-user", "claude-desktop", "cursor-project", "cursor-user", "vscode-project"):
        assert "dev-hub" in _servers(seeded.files[key]), f"{key} was not processed"
    shown = json.loads(seeded.run("profile", "show", "--json").stdout)
    errors = [c for c in shown["clients"] if c["state"] == "error"]
    assert sorted(c["path"] for c in errors) == sorted([str(broken_json), str(broken_toml)])


def test_named_clients_are_created_and_unnamed_absent_ones_are_not(workspace: Workspace) -> None:
    result = workspace.run("profile", "use", "dev")
    assert "no MCP client configs found" in result.stdout
    assert not any(path.exists() for path in workspace.files.values())

    workspace.run("profile", "use", "dev", "--client", "codex", "--client", "vscode", "--client", "claude-code")
    created = {key for key, path in workspace.files.items() if path.exists()}
    assert created == {"codex", "vscode-project", "claude-code-project"}
    assert tomllib.loads(workspace.files["codex"].read_text()) == {
        "mcp_servers": {"dev-hub": _expected_dev_entries()["codex"]}
    }
    assert json.loads(workspace.files["vscode-project"].read_text()) == {
        "servers": {"dev-hub": _expected_dev_entries()["vscode-project"]}
    }
    assert not list(workspace.home.rglob("*.bak"))  # nothing existed, so nothing to back up

    workspace.run("profile", "use", "dev", "--client", "cursor", "--client", "claude-desktop", "--dry-run")
    assert not workspace.files["cursor-project"].exists()
    assert not workspace.files["claude-desktop"].exists()


def test_dry_run_writes_nothing(seeded: Workspace) -> None:
    before = seeded.snapshot()
    result = seeded.run("profile", "use", "fleet", "--dry-run", "--json")
    report = json.loads(result.stdout)
    assert {c["status"] for c in report["clients"]} == {"would-update"}
    assert report["active_profile_file"] is None
    assert seeded.snapshot() == before


def test_env_is_evalable_by_bash(workspace: Workspace) -> None:
    for name, expected in (
        ("fleet", "fleet http://127.0.0.1:18000 http://127.0.0.1:18001/sse"),
        ("", "dev http://127.0.0.1:8000 http://127.0.0.1:8000/mcp"),
    ):
        command = f'eval "$(python -m devhub profile env {name})"; echo $DEVHUB_PROFILE $API_BASE $STATE_HUB_MCP_URL'
        env = {**workspace.env, "PATH": f"{Path(sys.executable).parent}:{workspace.env['PATH']}"}
        out = subprocess.run(
            ["bash", "-c", command],
            env=env,
            cwd=workspace.project,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert out.stdout.strip() == expected
        assert SECRET not in out.stdout


def test_list_shows_user_override_and_addition(workspace: Workspace, user_profile: WriteProfile) -> None:
    user_profile("dev", 'api_url = "http://127.0.0.1:8100"\n[mcp]\nurl = "http://127.0.0.1:8100/mcp"\n')
    user_profile("lab", 'api_url = "http://lab:8000"\n[mcp]\ntransport = "http"\nurl = "http://lab:8000/mcp"\n')
    listed = {p["name"]: p for p in json.loads(workspace.run("profile", "list", "--json").stdout)}
    assert sorted(listed) == ["dev", "fleet", "lab"]
    assert listed["dev"]["api_url"] == "http://127.0.0.1:8100"
    assert listed["dev"]["relay"] == {"enabled": True, "upstream": "http://127.0.0.1:18000"}
    assert (listed["dev"]["origin"], listed["lab"]["origin"]) == ("shipped+user", "user")
    assert listed["dev"]["active"] is True
    table = workspace.run("profile", "list").stdout
    assert "http://127.0.0.1:8100/mcp" in table and "lab" in table

    # A client switched to the overridden dev profile is recognised as dev.
    workspace.run("profile", "use", "dev", "--client", "cursor")
    shown = json.loads(workspace.run("profile", "show", "--json").stdout)
    assert [(c["client"], c["profiles"]) for c in shown["clients"]] == [("cursor", ["dev"])]


def test_a_malformed_profile_file_is_a_clear_cli_error(workspace: Workspace, user_profile: WriteProfile) -> None:
    path = user_profile("lab", "[relay\nenabled = true\n")
    result = workspace.run("profile", "list", "--json", check=False)
    assert result.returncode == 2
    reason = "invalid TOML: Expected ']' at the end of a table declaration"
    assert result.stderr == f"error: {path}:1:7: {reason}\n"
    assert [p["name"] for p in json.loads(result.stdout)] == ["dev", "fleet"]  # the others still list

    workspace.run("profile", "use", "fleet", "--client", "vscode")  # and still work
    broken_use = workspace.run("profile", "use", "lab", check=False)
    assert broken_use.returncode == 2 and str(path) in broken_use.stderr
    unknown = workspace.run("profile", "env", "prod", check=False)
    assert unknown.returncode == 2
    assert unknown.stderr == "error: unknown profile 'prod' (available: dev, fleet)\n"
