"""`devhub register` refuses what is not a repo checkout, clearly, and writes nothing to the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhub.errors import RegistryError
from tests.support.daemon import devhub_env, run_cli
from tests.support.repos import git, make_workspace

PLAN = "---\nid: ODD-WP-0001\ntype: workplan\ntitle: Odd\nstatus: active\n---\n"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return devhub_env(tmp_path / "data", tmp_path / "config")


@pytest.fixture
def registry_before(tmp_path: Path, env: dict[str, str]) -> bytes:
    """One good repo registered first, so 'nothing written' means the file stays byte for byte the same."""
    make_workspace(tmp_path / "ws", ["state-hub"])
    run_cli("register", str(tmp_path / "ws" / "state-hub"), env=env, check=True)
    return (tmp_path / "config" / "repos.json").read_bytes()


def _repo_with_workplans(path: Path, *, slug: str | None = None) -> Path:
    (path / "workplans").mkdir(parents=True)
    (path / "workplans" / "ODD-WP-0001-odd.md").write_text(PLAN)
    if slug is not None:
        (path / ".repo-classification.yaml").write_text(f"slug: {slug!r}\n")
    git(path, "init", "-q", "-b", "main")
    return path


def _refused(tmp_path: Path, env: dict[str, str], before: bytes, *paths: str) -> str:
    done = run_cli("register", *paths, env=env)
    assert done.returncode == RegistryError.exit_code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == ""
    assert (tmp_path / "config" / "repos.json").read_bytes() == before, "the registry was changed"
    return done.stderr


@pytest.mark.parametrize("path", ["/", "/etc", "/proc", "/proc/self", "/dev"])
def test_system_folders_are_not_repos(tmp_path: Path, env: dict[str, str], registry_before: bytes, path: str) -> None:
    message = _refused(tmp_path, env, registry_before, path)
    assert "not a git repository" in message and "no workplans/ folder" in message


def test_a_plain_folder_without_repos_below_is_refused(
    tmp_path: Path, env: dict[str, str], registry_before: bytes
) -> None:
    plain = tmp_path / "plain"
    (plain / "notes").mkdir(parents=True)
    assert "not a git repository" in _refused(tmp_path, env, registry_before, str(plain))
    # The workplans/ folder of a repo is not a repo itself.
    inner = _repo_with_workplans(tmp_path / "inner") / "workplans"
    assert "not a git repository" in _refused(tmp_path, env, registry_before, str(inner))


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_is_refused(tmp_path: Path, env: dict[str, str], registry_before: bytes, path: str) -> None:
    assert "empty path" in _refused(tmp_path, env, registry_before, path)


def test_files_and_missing_paths_are_refused(tmp_path: Path, env: dict[str, str], registry_before: bytes) -> None:
    a_file = tmp_path / "file.md"
    a_file.write_text(PLAN)
    assert "not a directory" in _refused(tmp_path, env, registry_before, str(a_file))
    assert "not a directory" in _refused(tmp_path, env, registry_before, "/etc/hostname")
    assert "does not exist" in _refused(tmp_path, env, registry_before, str(tmp_path / "nowhere"))


@pytest.mark.parametrize(
    ("folder", "slug"),
    [
        ("a:b", None),  # ':' separates the parts of every row key
        ("ok-name", "x/y"),
        ("ok-name", "has:colon"),
        ("ok-name", "."),
        ("line\nbreak", None),
        ("ok-name", "z" * 101),
    ],
)
def test_no_usable_slug_is_refused(
    tmp_path: Path, env: dict[str, str], registry_before: bytes, folder: str, slug: str | None
) -> None:
    repo = _repo_with_workplans(tmp_path / "repos" / folder, slug=slug)
    message = _refused(tmp_path, env, registry_before, str(repo))
    assert "no usable slug" in message and ".repo-classification.yaml" in message


def test_a_second_repo_with_a_taken_slug_is_refused(
    tmp_path: Path, env: dict[str, str], registry_before: bytes
) -> None:
    twin = _repo_with_workplans(tmp_path / "elsewhere" / "state-hub")
    message = _refused(tmp_path, env, registry_before, str(twin))
    assert "state-hub" in message and "already registered" in message and str(tmp_path / "ws") in message
    # Two new checkouts with one slug in one command: neither is registered.
    one = _repo_with_workplans(tmp_path / "one" / "same")
    two = _repo_with_workplans(tmp_path / "two" / "same")
    assert "same" in _refused(tmp_path, env, registry_before, str(one), str(two))
    # Registering the same checkout again still refreshes it.
    run_cli("register", str(tmp_path / "ws" / "state-hub"), env=env, check=True)


def test_one_bad_path_means_none_is_registered(tmp_path: Path, env: dict[str, str], registry_before: bytes) -> None:
    good = _repo_with_workplans(tmp_path / "good")
    _refused(tmp_path, env, registry_before, str(good), "/etc")


def test_up_refuses_the_same_way(tmp_path: Path, env: dict[str, str], registry_before: bytes) -> None:
    done = run_cli("up", "--port", "0", "--no-relay", "/etc", env=env, timeout=30)
    assert done.returncode == RegistryError.exit_code and "not a git repository" in done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "config" / "repos.json").read_bytes() == registry_before
