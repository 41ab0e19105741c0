"""Rewrite details checked in-process: the user's own keys in dev-hub, symlinked dotfiles, file modes."""

from __future__ import annotations

import tomllib

from devhub.agents.clients import apply_profile, client_configs
from devhub.agents.profiles import get_profile
from devhub.settings import load_settings
from tests.agents.conftest import Workspace


def test_codex_dev_hub_keeps_the_users_own_keys_and_comments(workspace: Workspace) -> None:
    config = load_settings({"DEVHUB_CONFIG_DIR": str(workspace.config_dir)})
    path = workspace.files["codex"]
    path.parent.mkdir(parents=True)
    path.write_text(
        "[mcp_servers.dev-hub]\n# raised for the slow tunnel\nstartup_timeout_sec = 30\n"
        'url = "http://old:1/mcp"\nenv = { A = "b" }\n'
    )
    target = next(t for t in client_configs(workspace.home, workspace.project, {}) if t.client == "codex")
    outcome = apply_profile(target, get_profile(config, "fleet"), create=False, dry_run=False)
    assert outcome.status == "updated"
    text = path.read_text()
    assert "# raised for the slow tunnel" in text
    assert tomllib.loads(text)["mcp_servers"]["dev-hub"] == {
        "startup_timeout_sec": 30,
        "command": "devhub",
        "args": ["mcp", "--profile", "fleet"],
    }


def test_a_symlinked_config_keeps_its_link_and_its_mode(workspace: Workspace) -> None:
    config = load_settings({"DEVHUB_CONFIG_DIR": str(workspace.config_dir)})
    dotfiles = workspace.home / "dotfiles" / "claude.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text('{"mcpServers": {}}\n')
    dotfiles.chmod(0o640)
    link = workspace.home / ".claude.json"
    link.symlink_to(dotfiles)
    target = next(t for t in client_configs(workspace.home, workspace.project, {}) if t.path == link)
    assert apply_profile(target, get_profile(config, "dev"), create=False, dry_run=False).status == "updated"
    assert link.is_symlink() and link.resolve() == dotfiles
    assert '"dev-hub"' in dotfiles.read_text()
    assert dotfiles.stat().st_mode & 0o777 == 0o640
    assert (dotfiles.parent / "claude.json.bak").read_text() == '{"mcpServers": {}}\n'
