"""One Settings, built once: environment + CLI overrides + the resolved profile, every DEVHUB_* checked."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from devhub.agents.profiles import ProfileRelay, record_active_profile
from devhub.errors import ConfigError
from devhub.settings import Role, Settings, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"
UPSTREAM = "http://fleet.example:18000"

# A value each DEVHUB_* setting refuses. Variables that take any string are listed in FREE_FORM instead,
# so a variable added to the README's Configuration table must be placed in one or the other.
BAD_VALUES = {
    "DEVHUB_PORT": "eighty",
    "DEVHUB_PROFILE": "no-such-profile",
    "DEVHUB_UPSTREAM": "fleet.example:18000",
    "DEVHUB_JOURNAL_MAX_BYTES": "lots",
    "DEVHUB_LOG_MAX_BYTES": "12",
    "DEVHUB_SEARCH_BUDGET_MS": "0",
    "DEVHUB_MAX_WORKPLAN_BYTES": "-5",
    "DEVHUB_RELAY_BACKOFF_CAP": "soon",
    "DEVHUB_RELAY_TIMEOUT": "-1",
    "DEVHUB_RELAY_SAMPLE_SECONDS": "soon",
    "DEVHUB_TEST_CRASH_AT": "after_lunch:2",
    "DEVHUB_DATABASE_URL": "mysql://db/devhub",
    # -- fleet snapshot --
    "DEVHUB_SNAPSHOT_INTERVAL": "0.05",
    "DEVHUB_SNAPSHOT_STALE_SECONDS": "a while",
    "DEVHUB_SNAPSHOT_MAX_MESSAGES": "0",
    "DEVHUB_RELAY_IN_FLIGHT": "0",
    "DEVHUB_RELAY_BULK": "maybe",
}
FREE_FORM = {"DEVHUB_DATA_DIR", "DEVHUB_CONFIG_DIR", "DEVHUB_HOST", "DEVHUB_TOKEN", "DEVHUB_SNAPSHOT_AGENTS"}


def _documented_variables() -> set[str]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| `--data-dir` / `DEVHUB_DATA_DIR`") :].split("\n\n", 1)[0]
    return set(re.findall(r"`(DEVHUB_[A-Z_]+)`", table))


def _base_env(tmp_path: Path) -> dict[str, str]:
    return {"DEVHUB_DATA_DIR": str(tmp_path / "data"), "DEVHUB_CONFIG_DIR": str(tmp_path / "config")}


def _write_profile(config_dir: Path, name: str, *, relay: bool, upstream: str | None = UPSTREAM) -> None:
    lines = [
        f'name = "{name}"',
        'api_url = "http://127.0.0.1:8000"',
        'token_env = "TEAM_HUB_TOKEN"',
        "[mcp]",
        'transport = "stdio"',
        "[relay]",
        f"enabled = {'true' if relay else 'false'}",
    ]
    if upstream:
        lines.append(f'upstream = "{upstream}"')
    (config_dir / "profiles").mkdir(parents=True, exist_ok=True)
    (config_dir / "profiles" / f"{name}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_every_documented_variable_has_a_bad_value_or_is_free_form() -> None:
    documented = _documented_variables()
    assert len(documented) >= 14
    assert documented == set(BAD_VALUES) | FREE_FORM


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_a_bad_value_is_one_error_naming_the_variable(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**_base_env(tmp_path), name: BAD_VALUES[name]})
    assert caught.value.detail.startswith(f"{name}: "), caught.value.detail
    assert BAD_VALUES[name] in caught.value.detail


def test_settings_combine_environment_overrides_and_the_resolved_profile(tmp_path: Path) -> None:
    env = {
        **_base_env(tmp_path),
        "DEVHUB_PORT": "9001",
        "DEVHUB_PROFILE": "team",
        "DEVHUB_RELAY_BACKOFF_CAP": "2.5",
        "DEVHUB_RELAY_TIMEOUT": "3",
        "DEVHUB_TEST_CRASH_AT": "after_send:2",
        "DEVHUB_SEARCH_BUDGET_MS": "250",
    }
    _write_profile(tmp_path / "config", "team", relay=True)
    settings = load_settings(env, port=9002, data_dir=tmp_path / "elsewhere")
    assert settings.port == 9002  # the CLI's flag beats the environment
    assert settings.data_dir == (tmp_path / "elsewhere").resolve()
    assert settings.config_dir == (tmp_path / "config").resolve()
    assert settings.search_budget_seconds == 0.25
    assert settings.profile == "team" and settings.role == "dev"
    assert settings.profile_relay == ProfileRelay(enabled=True, upstream=UPSTREAM)
    relay = settings.relay
    assert (relay.upstream, relay.token_env) == (UPSTREAM, "TEAM_HUB_TOKEN")
    assert (relay.backoff_cap, relay.request_timeout) == (2.5, 3.0)
    assert relay.enabled and relay.disabled_reason is None
    plan = relay.crash_plan()
    assert plan is not None and (plan.point, plan.at) == ("after_send", 2)
    # The upstream flag overrides the profile's; an explicit profile beats DEVHUB_PROFILE.
    assert load_settings(env, upstream="http://other:1").relay.upstream == "http://other:1"
    assert load_settings(env, profile="dev").profile == "dev"


def test_the_recorded_profile_is_resolved_once_and_fleet_makes_a_fleet_hub(tmp_path: Path) -> None:
    env = _base_env(tmp_path)
    assert load_settings(env).profile == "dev"  # nothing recorded, nothing set
    record_active_profile(load_settings(env), "fleet")
    settings = load_settings(env)
    assert (settings.profile, settings.role) == ("fleet", "fleet")
    assert not settings.relay.enabled
    assert load_settings(env, role="dev").role == "dev"  # an explicit role wins over the profile's


def test_an_unknown_explicit_profile_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'nope'"):
        load_settings(_base_env(tmp_path), profile="nope")


ROLES: tuple[Role, ...] = ("dev", "fleet")


@pytest.mark.parametrize(
    ("role", "no_relay", "profile_relays", "upstream"),
    list(itertools.product(ROLES, (False, True), (False, True), (None, UPSTREAM))),
)
def test_the_relay_runs_only_on_a_relaying_dev_hub_with_an_upstream(
    role: Role, no_relay: bool, profile_relays: bool, upstream: str | None
) -> None:
    settings = Settings(
        data_dir=Path("/d"),
        config_dir=Path("/c"),
        role=role,
        no_relay=no_relay,
        profile_relay=ProfileRelay(enabled=profile_relays, upstream=None),
        upstream=upstream,
    )
    runs = (role, no_relay, profile_relays, upstream) == ("dev", False, True, UPSTREAM)
    assert settings.relay.enabled is runs
    reason = settings.relay.disabled_reason
    if runs:
        assert reason is None
    elif role == "fleet":
        assert reason == "fleet role: this hub is authoritative"
    elif no_relay:
        assert reason == "turned off with --no-relay"
    else:
        assert reason in ("the profile does not relay", "no upstream configured")


def test_the_decision_through_load_settings(tmp_path: Path) -> None:
    env = _base_env(tmp_path)
    _write_profile(tmp_path / "config", "team", relay=True)
    _write_profile(tmp_path / "config", "quiet", relay=False)
    assert load_settings(env, profile="team").relay.enabled
    assert not load_settings(env, profile="team", no_relay=True).relay.enabled
    assert not load_settings(env, profile="team", role="fleet").relay.enabled
    assert not load_settings(env, profile="quiet").relay.enabled
    assert not load_settings(env, profile="quiet", upstream=UPSTREAM).relay.enabled  # an upstream alone is not enough


def test_only_settings_reads_devhub_variables() -> None:
    root = Path(__file__).resolve().parents[1]
    reads = re.compile(r"""(environ|env)\s*(\.get\(|\[)\s*["']DEVHUB_""")
    offenders = [
        str(path.relative_to(root))
        for package in ("devhub", "relay")
        for path in sorted((root / package).rglob("*.py"))
        if path.name != "settings.py" and reads.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_relay_link_gets_what_it_needs_injected_not_the_hub() -> None:
    import ast

    source = (Path(__file__).resolve().parents[1] / "devhub" / "service" / "relay_link.py").read_text()
    imported = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom) and node.module}
    assert "devhub.service.hub" not in imported


# -- relay concurrency --


def test_relay_concurrency_and_bulk_runs_are_read_from_the_environment(tmp_path: Path) -> None:
    default = load_settings(_base_env(tmp_path)).relay
    assert (default.max_in_flight, default.bulk_runs) == (8, True)
    env = {**_base_env(tmp_path), "DEVHUB_RELAY_IN_FLIGHT": "1", "DEVHUB_RELAY_BULK": "off"}
    relay = load_settings(env).relay
    assert (relay.max_in_flight, relay.bulk_runs) == (1, False)
