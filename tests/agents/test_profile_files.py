"""Loading profiles: shipped values, user overrides and additions, and clear errors for bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devhub.agents.profiles import (
    active_profile_name,
    get_profile,
    load_profiles,
    record_active_profile,
    shipped_profiles_dir,
)
from devhub.errors import ConfigError
from devhub.settings import Settings, load_settings
from tests.agents.conftest import REPO, Workspace, WriteProfile


def _config(workspace: Workspace, **env: str) -> Settings:
    return load_settings(
        {"DEVHUB_CONFIG_DIR": str(workspace.config_dir), "DEVHUB_DATA_DIR": str(workspace.home / "data"), **env},
        resolve_profile=False,  # these tests resolve (and break) profiles themselves
    )


def test_shipped_profiles_say_what_the_spec_says(workspace: Workspace) -> None:
    profiles = load_profiles(_config(workspace))
    dev, fleet = profiles["dev"], profiles["fleet"]
    assert (dev.api_url, dev.mcp.transport, dev.mcp.url) == (
        "http://127.0.0.1:8000",
        "http",
        "http://127.0.0.1:8000/mcp",
    )
    assert (dev.relay.enabled, dev.relay.upstream, dev.token_env) == (True, "http://127.0.0.1:18000", "STATE_HUB_TOKEN")
    assert (fleet.api_url, fleet.mcp.transport, fleet.mcp.url) == (
        "http://127.0.0.1:18000",
        "sse",
        "http://127.0.0.1:18001/sse",
    )
    assert (fleet.relay.enabled, fleet.token_env) == (False, "STATE_HUB_TOKEN")
    assert dev.origin == fleet.origin == "shipped"
    assert shipped_profiles_dir() == REPO / "profiles"


def test_an_installed_package_reads_the_one_copy_of_the_profiles(tmp_path: Path) -> None:
    """The installed layout (setup.py's build_py, what the wheel holds) carries profiles/ as devhub/profiles_data."""
    lib = tmp_path / "lib"
    build = [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)]
    subprocess.run(build, cwd=REPO, check=True, capture_output=True)
    installed = lib / "devhub" / "profiles_data"
    shipped = sorted((REPO / "profiles").glob("*.toml"))
    assert [p.name for p in shipped] == ["dev.toml", "fleet.toml"]
    for source in shipped:
        assert (installed / source.name).read_bytes() == source.read_bytes()
    assert not (REPO / "devhub" / "profiles_data").exists()  # one copy in the tree
    probe = (
        "import json, devhub; from devhub.agents.profiles import load_profiles, shipped_profiles_dir; "
        "from devhub.settings import load_settings; profiles = load_profiles(load_settings()); "
        "print(json.dumps([devhub.__file__, str(shipped_profiles_dir()), sorted(profiles), profiles['dev'].api_url]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVHUB_")}
    env.update(PYTHONPATH=str(lib), DEVHUB_CONFIG_DIR=str(tmp_path / "config"), DEVHUB_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    module_file, profiles_dir, names, dev_api = json.loads(done.stdout)
    assert Path(module_file).is_relative_to(lib)  # the built copy ran, not the checkout
    assert (Path(profiles_dir), names, dev_api) == (installed, ["dev", "fleet"], "http://127.0.0.1:8000")


def test_user_file_overrides_a_shipped_profile_field_by_field(workspace: Workspace, user_profile: WriteProfile) -> None:
    user_profile("fleet", '[relay]\nenabled = true\nupstream = "http://10.1.2.3:18000"\n')
    fleet = get_profile(_config(workspace), "fleet")
    assert (fleet.relay.enabled, fleet.relay.upstream) == (True, "http://10.1.2.3:18000")
    assert fleet.api_url == "http://127.0.0.1:18000"  # untouched fields come from the shipped file
    assert fleet.mcp.url == "http://127.0.0.1:18001/sse"
    assert fleet.origin == "shipped+user"
    assert fleet.sources[-1] == workspace.config_dir / "profiles" / "fleet.toml"


def test_user_file_adds_a_profile(workspace: Workspace, user_profile: WriteProfile) -> None:
    user_profile(
        "staging", 'description = "staging hub"\napi_url = "http://127.0.0.1:28000/"\n[mcp]\ntransport = "stdio"\n'
    )
    profiles = load_profiles(_config(workspace))
    assert sorted(profiles) == ["dev", "fleet", "staging"]
    staging = profiles["staging"]
    assert (staging.api_url, staging.mcp.transport, staging.mcp.url) == ("http://127.0.0.1:28000", "stdio", None)
    assert (staging.relay.enabled, staging.token_env, staging.origin) == (False, None, "user")


HEAD = 'api_url = "http://x:1"\n'
STDIO = '[mcp]\ntransport = "stdio"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'{HEAD}[mcp]\ntransport = "http"\nurl = "http://x:1/m"\n[mcp\n', r"bad\.toml:5:\d+: invalid TOML:"),
        (f'{HEAD}\n[mcp]\ntransprt = "http"\n', r"bad\.toml:4: unknown key 'mcp\.transprt'"),
        (f'{HEAD}token_evn = "T"\n{STDIO}', r"bad\.toml:2: unknown key 'token_evn'"),
        (f'{HEAD}[mcp]\ntransport = "websocket"\n', r"bad\.toml: 'mcp\.transport' must be one of"),
        (f'{HEAD}[mcp]\ntransport = "http"\n', r"bad\.toml: missing required field 'mcp\.url'"),
        (STDIO, r"bad\.toml: missing required field 'api_url'"),
        (f'api_url = "x:1"\n{STDIO}', r"'api_url' must be an http\(s\) URL"),
        (f'name = "other"\n{HEAD}{STDIO}', r"does not match the file name"),
        (f'{HEAD}{STDIO}[relay]\nenabled = "yes"\n', r"'relay\.enabled' must be a non-empty bool"),
    ],
)
def test_a_bad_user_profile_is_an_error_naming_file_and_place(
    workspace: Workspace, user_profile: WriteProfile, text: str, expected: str
) -> None:
    path = user_profile("bad", text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_profiles(_config(workspace))
    assert str(path) in caught.value.detail


def test_unknown_profile_lists_the_available_names(workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'prod' \(available: dev, fleet\)"):
        get_profile(_config(workspace), "prod")


def test_active_profile_precedence(workspace: Workspace) -> None:
    config = _config(workspace)
    assert active_profile_name(config) == "dev"  # nothing recorded, nothing set
    record_active_profile(config, "fleet")
    assert (workspace.config_dir / "active-profile").read_text() == "fleet\n"
    assert active_profile_name(config) == "fleet"  # the recorded choice beats the default
    assert active_profile_name(_config(workspace, DEVHUB_PROFILE="dev")) == "dev"  # the environment beats it
    assert active_profile_name(config, explicit="dev") == "dev"  # and an explicit flag beats everything
    assert active_profile_name(config.with_overrides(profile="staging")) == "staging"
