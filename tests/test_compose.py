"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine.

The compose file is validated against the Compose Specification JSON schema (a committed copy, so
the test never depends on ../shared), and every service's command is resolved against the real
command sets: `newsbot` subcommands from the Typer app, `celery` subcommands from Celery's own
click group (Flower registers itself there through an entry point).
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"
SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"

NEWSBOT_SERVICES = ("worker", "beat", "bot")
SINGLETONS = ("beat", "bot")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


# --- Dockerfile parsing ---------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    pairs = []
    for line in logical:
        word, _, rest = line.partition(" ")
        pairs.append((word.upper(), rest.strip()))
    return pairs


def exec_form(instruction: str) -> list[str]:
    values = [json.loads(args) for word, args in dockerfile_instructions() if word == instruction]
    assert values, f"no {instruction} in Dockerfile"
    value = values[-1]
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), (
        f"{instruction} must use the exec (JSON) form so signals reach the process"
    )
    return value


def argv(service: dict[str, Any]) -> list[str]:
    """What the container runs: entrypoint (service's or the image's) followed by command."""
    def as_list(value: str | list[str]) -> list[str]:
        return shlex.split(value) if isinstance(value, str) else list(value)

    entry = as_list(service["entrypoint"]) if "entrypoint" in service else exec_form("ENTRYPOINT")
    command = as_list(service["command"]) if "command" in service else exec_form("CMD")
    return entry + command


# --- schema --------------------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_spec(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert "version" not in compose  # obsolete in the Compose Specification


def test_schema_validation_is_not_vacuous(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(compose))
    broken["services"]["worker"]["depends_on"]["redis"]["condition"] = "when_ready"
    broken["services"]["worker"]["stop_grace_period"] = 60
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


# --- commands ------------------------------------------------------------------------------------


def newsbot_commands() -> set[str]:
    import typer

    import bot.cli

    return set(typer.main.get_command(bot.cli.app).commands)  # type: ignore[attr-defined]


def celery_commands() -> set[str]:
    from celery.bin.celery import celery

    return set(celery.commands)


def test_every_newsbot_command_exists_in_the_cli(services: dict[str, dict[str, Any]]) -> None:
    used = {"run": "Dockerfile CMD"} if exec_form("ENTRYPOINT") == ["newsbot"] else {}
    for name, service in services.items():
        args = argv(service) if "image" not in service or "build" in service else []
        if args and args[0] == "newsbot":
            used[args[1]] = f"service {name}"
    assert {"worker", "beat", "bot", "run"} <= set(used)
    registered = newsbot_commands()
    missing = {cmd: where for cmd, where in used.items() if cmd not in registered}
    assert not missing, f"`newsbot` has no subcommand for {missing}; it has {sorted(registered)}"


def test_every_celery_command_is_real(services: dict[str, dict[str, Any]]) -> None:
    known = celery_commands()
    seen = 0
    for name, service in services.items():
        if "build" not in service:
            continue
        args = argv(service)
        if args[0] != "celery":
            continue
        seen += 1
        rest = args[1:]
        assert "-A" in rest and rest[rest.index("-A") + 1] == "tasks", f"{name}: needs -A tasks"
        sub = next(a for i, a in enumerate(rest) if not a.startswith("-") and rest[i - 1] != "-A")
        assert sub in known, (
            f"{name}: `celery {sub}` is not a celery command here ({sorted(known)}); "
            "Flower must be installed for `celery flower`"
        )
    assert seen >= 1  # flower


def test_celery_app_module_is_loadable() -> None:
    """`celery -A tasks` finds a Celery app in the `tasks` package."""
    from celery import Celery
    from celery.app.utils import find_app

    try:
        app = find_app("tasks")
    except Exception as exc:
        pytest.fail(f"`celery -A tasks` cannot find an app: {type(exc).__name__}: {exc}")
    assert isinstance(app, Celery)


def test_dockerfile_installs_flower_when_compose_runs_it(
    services: dict[str, dict[str, Any]],
) -> None:
    if any("flower" in argv(s) for s in services.values() if "build" in s):
        runs = " ".join(args for word, args in dockerfile_instructions() if word == "RUN")
        assert re.search(r"\bflower\b", runs)


# --- services ------------------------------------------------------------------------------------


def test_redis_is_durable_and_health_checked(services: dict[str, dict[str, Any]]) -> None:
    redis = services["redis"]
    assert re.fullmatch(r"(redis:7[\w.-]*|valkey/valkey:8[\w.-]*)", redis["image"])
    command = redis["command"]
    command = shlex.split(command) if isinstance(command, str) else command
    assert command[0] in ("redis-server", "valkey-server")
    assert command[command.index("--appendonly") + 1] == "yes"
    # a completed send must survive a power cut: every write on disk before it is acknowledged
    assert command[command.index("--appendfsync") + 1] == "always"
    assert any(v.split(":")[1] == "/data" for v in redis["volumes"])
    test = redis["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and "ping" in " ".join(test)
    assert "redis-cli" in " ".join(test) or "valkey-cli" in " ".join(test)
    assert "ports" not in redis  # Redis is never published on the host


@pytest.mark.parametrize("name", [*NEWSBOT_SERVICES, "flower"])
def test_app_services_wait_for_a_healthy_redis(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert service["env_file"] == [{"path": ".env", "required": False}]
    assert service["build"] == "."
    assert "container_name" not in service


@pytest.mark.parametrize("name", NEWSBOT_SERVICES)
def test_site_is_mounted_read_only(services: dict[str, dict[str, Any]], name: str) -> None:
    service = services[name]
    assert service["environment"]["SITE_DIR"] == "/site"
    mounts = [v for v in service["volumes"] if isinstance(v, dict) and v["target"] == "/site"]
    assert len(mounts) == 1 and mounts[0]["read_only"] is True and mounts[0]["type"] == "bind"


def test_worker_can_scale(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert "scale" not in worker


@pytest.mark.parametrize("name", SINGLETONS)
def test_singletons_run_once(services: dict[str, dict[str, Any]], name: str) -> None:
    service = services[name]
    assert service.get("deploy", {}).get("replicas", 1) == 1
    assert service.get("scale", 1) == 1


def test_flower_is_published_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    flower = services["flower"]
    assert argv(flower)[:4] == ["celery", "-A", "tasks", "flower"]
    assert "--port=5555" in argv(flower)
    assert flower["ports"] == ["127.0.0.1:5555:5555"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} publicly"


def env_example_names() -> set[str]:
    assert ENV_EXAMPLE.is_file(), ".env.example must list every setting"
    names = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if match:
            names.add(match.group(1))
    return names


def test_every_interpolated_variable_is_in_env_example() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    text = text.replace("$$", "")  # `$$` is a literal dollar
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    used |= set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used, "expected ${SITE_DIR} at least"
    missing = used - env_example_names()
    assert not missing, f"not in .env.example: {sorted(missing)}"


def test_container_paths_override_host_paths(services: dict[str, dict[str, Any]]) -> None:
    """.env holds host paths (for `newsbot run`); inside the containers the mounts win."""
    env = services["worker"]["environment"]
    assert env["DATA_DIR"] == "/data" and env["TEMPLATES_DIR"] == "/templates"
    assert any(
        isinstance(v, dict) and v["target"] == "/templates" and v["read_only"]
        for v in services["worker"]["volumes"]
    )


# --- Dockerfile / .dockerignore -----------------------------------------------------------------


def test_dockerfile_shape() -> None:
    instructions = dockerfile_instructions()
    words = [w for w, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert exec_form("ENTRYPOINT") == ["newsbot"]
    assert exec_form("CMD") == ["run"]
    assert ("WORKDIR", "/app") in instructions
    assert any(w == "ENV" and re.search(r"\bDATA_DIR=/data\b", a) for w, a in instructions)
    assert any(w == "VOLUME" and "/data" in a for w, a in instructions)
    user = [a for w, a in instructions if w == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")


def copy_sources() -> list[str]:
    sources = []
    for word, args in dockerfile_instructions():
        if word == "COPY":
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            sources.extend(parts[:-1])
    return sources


def test_dockerfile_copies_what_pip_install_needs() -> None:
    sources = [s.rstrip("/") for s in copy_sources()]
    assert "templates" in sources
    for needed in ("pyproject.toml", "bot", "tasks"):
        assert needed in sources
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    readme = pyproject["project"].get("readme")
    if isinstance(readme, str):
        assert readme in sources, "setuptools fails without the readme named in pyproject"
    for source in sources:
        path = REPO / source
        assert path.exists(), f"COPY {source}: not in the repository"
        if path.is_dir():
            assert any(p.is_file() for p in path.rglob("*")), f"{source}/ is empty (git drops it)"
    for template in ("telegram.html.j2", "x.txt.j2"):
        assert (REPO / "templates" / template).is_file()


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a dir covers its files.
    (fnmatch's `*` also crosses `/`, looser than Docker's: fine for this allow-list file.)"""
    result = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip("/")
        if any(fnmatch(prefix, pat) for prefix in prefixes):
            result = not negate
    return result


def test_dockerignore_keeps_secrets_out_and_sources_in() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for secret in (".env", ".git/config", ".venv/bin/python", "var/appendonly.aof"):
        assert ignored(secret, patterns), secret
    for source in copy_sources():
        assert not ignored(source.rstrip("/"), patterns), source
    assert not ignored("bot/teasers/env.py", patterns)
    assert ignored("bot/__pycache__/x.pyc", patterns)
