"""requirements.lock (what the Docker image installs) agrees with pyproject.toml.

Floating versions broke the CLI once (typer 0.29 changed its usage errors under a `>=0.12`
range), so the image installs exact, hash-checked versions; this test fails as soon as
pyproject.toml asks for a package the lock lacks or a version range the lock's pin is outside
of, and the answer is `scripts/lock`.  No network: the files alone.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def lock_entries(text: str) -> dict[str, tuple[Version, list[str], str | None]]:
    """name -> (pinned version, its hashes, environment marker)."""
    entries: dict[str, tuple[Version, list[str], str | None]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            assert current is not None, f"a hash before any package: {raw!r}"
            entries[current][1].append(line.removeprefix("--hash=").rstrip(" \\"))
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin (name==version): {raw!r}"
        name = canonicalize_name(match.group(1))
        assert name not in entries, f"{name} pinned twice"
        entries[name] = (Version(match.group(2)), [], match.group(3))
        current = name
    return entries


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def mismatches(lock_text: str, requirements: list[Requirement]) -> list[str]:
    entries = lock_entries(lock_text)
    problems = []
    for req in requirements:
        name = canonicalize_name(req.name)
        if name not in entries:
            problems.append(f"{req}: not in requirements.lock")
            continue
        version = entries[name][0]
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req}: requirements.lock pins {version}")
    return problems


def test_every_dependency_is_pinned_within_its_range() -> None:
    problems = mismatches(LOCK.read_text(encoding="utf-8"), project_requirements())
    assert not problems, "run scripts/lock: " + "; ".join(problems)


def closure_gaps(lock_text: str, requirements: list[Requirement]) -> list[str]:
    """What the locked packages (and the extras pyproject.toml asks for) need but the lock
    lacks, read from the installed packages' own metadata, on this interpreter (Linux, 3.11:
    what the image runs).  Why: `--no-deps` installs only the lock, and the webhook server
    (tornado, from python-telegram-bot[webhooks]) once came only through a package that was
    later removed."""
    entries = lock_entries(lock_text)
    wanted = [(canonicalize_name(r.name), set(r.extras)) for r in requirements]
    wanted += [(name, set()) for name, (_, _, marker) in entries.items()
               if marker is None or Marker(marker).evaluate()]
    gaps = []
    for name, extras in wanted:
        for spec in metadata.requires(name) or []:
            dep = Requirement(spec)
            if dep.marker is not None and not any(
                    dep.marker.evaluate({"extra": extra}) for extra in (extras or {""})):
                continue
            if canonicalize_name(dep.name) not in entries:
                gaps.append(f"{name}{sorted(extras) if extras else ''} needs {dep}")
    return gaps


def test_the_lock_holds_everything_its_packages_need() -> None:
    gaps = closure_gaps(LOCK.read_text(encoding="utf-8"), project_requirements())
    assert not gaps, "run scripts/lock: " + "; ".join(gaps)


def test_the_closure_check_catches_a_dropped_dependency() -> None:
    text = LOCK.read_text(encoding="utf-8")
    without_tornado = re.sub(r"(?ms)^tornado==.*?(?=^\S)", "", text)
    assert "tornado==" not in without_tornado
    assert any("tornado" in gap
               for gap in closure_gaps(without_tornado, project_requirements()))


def test_every_pin_is_hash_checked() -> None:
    entries = lock_entries(LOCK.read_text(encoding="utf-8"))
    assert len(entries) >= len(project_requirements())
    for name, (_, hashes, _) in entries.items():
        assert hashes, f"{name} has no --hash: pip --require-hashes would refuse the lock"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_the_check_catches_a_stale_lock() -> None:
    """The comparison is not vacuous: a pin outside the range, and a missing package, fail."""
    text = LOCK.read_text(encoding="utf-8")
    typer = lock_entries(text)["typer"][0]
    older = re.sub(r"^typer==\S+", "typer==0.9.0", text, flags=re.MULTILINE)
    assert mismatches(older, project_requirements()) == [
        "typer>=0.12: requirements.lock pins 0.9.0"]
    wanted = [*project_requirements(), Requirement(f"typer>{typer}"), Requirement("leftpad")]
    assert len(mismatches(text, wanted)) == 2


def test_the_image_installs_from_the_lock() -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^COPY requirements\.lock ", dockerfile, flags=re.MULTILINE)
    install = re.search(r"pip install (.*)-r /src/requirements\.lock", dockerfile)
    assert install and "--require-hashes" in install.group(1)
    # the project itself adds nothing unpinned on top
    assert re.search(r"pip install --no-deps /src\b", dockerfile)
    assert "requirements.txt" not in dockerfile
