"""docker-compose.yml, docker-compose.secrets.yml, Dockerfile and .dockerignore, checked
without a Docker engine.

The compose files are validated against the Compose Specification JSON schema (a committed copy,
so the test never depends on ../shared), and every service's command is resolved against the
real command sets: `newsbot` subcommands from the Typer app, `celery` subcommands from Celery's
own click group.  The health checks are run as commands in tests/e2e/test_health.py.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
SECRETS_OVERRIDE = REPO / "docker-compose.secrets.yml"
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


@pytest.mark.parametrize("path", [COMPOSE, SECRETS_OVERRIDE], ids=lambda p: p.name)
def test_compose_file_is_valid_against_the_compose_spec(path: Path) -> None:
    compose = yaml.safe_load(path.read_text(encoding="utf-8"))
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
    for mistake in ({"intervall": "15s"}, {"test": {"CMD": "python -m bot.health"}}):
        broken = json.loads(json.dumps(compose))
        broken["services"]["beat"]["healthcheck"] |= mistake
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
    for name, service in services.items():
        if "build" not in service:
            continue
        args = argv(service)
        if args[0] != "celery":
            continue
        rest = args[1:]
        assert "-A" in rest and rest[rest.index("-A") + 1] == "tasks", f"{name}: needs -A tasks"
        sub = next(a for i, a in enumerate(rest) if not a.startswith("-") and rest[i - 1] != "-A")
        assert sub in known, f"{name}: `celery {sub}` is not a celery command here"


def test_celery_app_module_is_loadable() -> None:
    """`celery -A tasks` finds a Celery app in the `tasks` package."""
    from celery import Celery
    from celery.app.utils import find_app

    try:
        app = find_app("tasks")
    except Exception as exc:
        pytest.fail(f"`celery -A tasks` cannot find an app: {type(exc).__name__}: {exc}")
    assert isinstance(app, Celery)


def test_no_flower_without_task_events(services: dict[str, dict[str, Any]]) -> None:
    """Flower shows only what workers send as events; newsbot's send none, so it would show
    an empty page: it is not offered."""
    assert "flower" not in services
    assert not any("flower" in " ".join(argv(s)) for s in services.values() if "build" in s)


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


@pytest.mark.parametrize("name", NEWSBOT_SERVICES)
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


def test_ports_are_published_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} publicly"


def test_webhook_port_is_published_where_the_bot_listens(
    services: dict[str, dict[str, Any]],
) -> None:
    bot = services["bot"]
    host, _, port = bot["environment"]["BOT_WEBHOOK_LISTEN"].rpartition(":")
    assert host == "0.0.0.0"  # inside the container; the host side is the loopback only
    assert f"127.0.0.1:{port}:{port}" in bot["ports"]
    assert port in ("443", "80", "88", "8443")  # the ports Telegram calls webhooks on
    assert "BOT_WEBHOOK_URL" in COMPOSE.read_text(encoding="utf-8")
    # the rest of the fixed container settings are the same as every other service's
    for key in ("REDIS_URL", "SITE_DIR", "TEMPLATES_DIR", "DATA_DIR"):
        assert bot["environment"][key] == services["worker"]["environment"][key]


@pytest.mark.parametrize("name", NEWSBOT_SERVICES)
def test_health_checks_use_the_heartbeats(services: dict[str, dict[str, Any]], name: str) -> None:
    from bot.state.health import ROLES

    check = services[name]["healthcheck"]
    assert check["test"][0] == "CMD"
    assert check["test"][1:] == ["python", "-m", "bot.health", name] and name in ROLES
    for key in ("interval", "timeout", "start_period"):
        assert re.fullmatch(r"\d+s", check[key]), key
    assert int(check["timeout"][:-1]) < int(check["interval"][:-1])
    assert check["retries"] >= 2


def test_bot_waits_for_its_profile(services: dict[str, dict[str, Any]]) -> None:
    """Without a token `newsbot bot` can only exit: it starts only when asked for."""
    assert services["bot"]["profiles"] == ["bot"]
    for name in ("redis", "worker", "beat"):
        assert "profiles" not in services[name], f"{name} must start with a plain `up`"
    assert not any("bot" in s.get("depends_on", {}) for s in services.values())
    assert re.search(r"^# COMPOSE_PROFILES=bot$", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M)


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    pulled = [s["image"] for s in compose["services"].values() if "build" not in s]
    froms = [a.split()[0] for w, a in dockerfile_instructions() if w == "FROM"]
    assert pulled and froms
    for image in pulled + froms:
        _name, _, tag = image.partition(":")
        assert tag and tag != "latest", f"{image}: no tag or `latest`"
        # prom/prometheus tags its releases `v3.2.1`
        assert re.match(r"v?\d+\.\d+\.\d+", tag), f"{image}: pin a full version, not {tag}"


def test_secrets_override_feeds_the_file_settings() -> None:
    from bot.config import Settings

    override = yaml.safe_load(SECRETS_OVERRIDE.read_text(encoding="utf-8"))
    defined = override["secrets"]
    assert defined
    for name, spec in defined.items():
        assert spec["file"] == f"./secrets/{name}"
        assert name in Settings.model_fields, f"{name} is no newsbot setting"
    for service_name in NEWSBOT_SERVICES:
        service = override["services"][service_name]
        assert set(service["secrets"]) == set(defined)
        env = service["environment"]
        for name in defined:
            assert env[f"{name.upper()}_FILE"] == f"/run/secrets/{name}"
        assert not set(env) & {n.upper() for n in defined}  # never the value itself
    assert "secrets/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


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
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", instructions[0][1])
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


# --- metrics profile, Prometheus and Grafana (deploy/) ------------------------------------------

DEPLOY = REPO / "deploy"
METRICS_SERVICES = ("prometheus", "grafana")


def test_metrics_services_wait_for_their_profile(services: dict[str, dict[str, Any]]) -> None:
    """A plain `up` starts no Prometheus or Grafana; `--profile metrics` starts both."""
    for name in METRICS_SERVICES:
        assert services[name]["profiles"] == ["metrics"], name
    unprofiled = {name for name, s in services.items() if "profiles" not in s}
    assert unprofiled == {"redis", "worker", "beat"}
    assert not any(set(s.get("depends_on", {})) & set(METRICS_SERVICES) for name, s in
                   services.items() if name not in METRICS_SERVICES)


def _bind_sources(service: dict[str, Any]) -> dict[str, Path]:
    """target -> the host file of each bind mount (relative to the compose file)."""
    return {v["target"]: REPO / v["source"] for v in service.get("volumes", [])
            if isinstance(v, dict) and v.get("type") == "bind"}


def test_every_newsbot_process_serves_metrics_where_prometheus_scrapes(
    services: dict[str, dict[str, Any]],
) -> None:
    from bot.config import Settings

    prom = services["prometheus"]
    mounts = _bind_sources(prom)
    config_path = mounts["/etc/prometheus/prometheus.yml"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    [job] = config["scrape_configs"]
    [dns] = job["dns_sd_configs"]
    assert set(dns["names"]) == set(NEWSBOT_SERVICES) and dns["type"] == "A"
    for name in NEWSBOT_SERVICES:
        listen = services[name]["environment"]["METRICS_LISTEN"]
        host, _, port = listen.rpartition(":")
        assert host == "0.0.0.0" and int(port) == dns["port"]
        Settings(_env_file=None, metrics_listen=listen)  # type: ignore[call-arg]
        # never published on the host: Prometheus reaches it inside the network
        assert not any(str(p).endswith(f":{port}") for p in services[name].get("ports", []))


def test_grafana_is_provisioned_with_the_dashboard_and_prometheus(
    services: dict[str, dict[str, Any]],
) -> None:
    mounts = _bind_sources(services["grafana"])
    provisioning = mounts["/etc/grafana/provisioning"]
    dashboard = mounts["/var/lib/grafana/dashboards/newsbot-dashboard.json"]
    assert dashboard == DEPLOY / "grafana" / "newsbot-dashboard.json" and dashboard.is_file()
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text(
        encoding="utf-8"))["datasources"]
    assert source["url"] == "http://prometheus:9090" and source["uid"] == "prometheus"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "newsbot.yml").read_text(
        encoding="utf-8"))["providers"]
    assert provider["options"]["path"] == str(Path(
        "/var/lib/grafana/dashboards/newsbot-dashboard.json").parent)


def _dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "newsbot-dashboard.json").read_text(encoding="utf-8"))


def test_the_dashboard_has_a_panel_for_every_metric() -> None:
    """Every family bot.metrics defines (and the queue collector's) is queried by a panel, and
    every name a panel queries exists: a renamed metric breaks this, not the dashboard."""
    from bot import metrics

    defined = {m.name for m in metrics.REGISTRY.collect()}
    samples = set()
    for family in metrics.REGISTRY.collect():
        kind = family.type
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(
            kind, [""])
        samples |= {family.name + s for s in suffixes}
    samples |= {"newsbot_queue_depth", "newsbot_broker_queue_length"}
    families = defined | {"newsbot_queue_depth", "newsbot_broker_queue_length"}
    dash = _dashboard()
    assert dash["uid"] == "newsbot" and isinstance(dash["schemaVersion"], int)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    used: set[str] = set()
    for panel in dash["panels"]:
        assert panel["type"] in {"timeseries", "stat", "gauge", "bargauge", "table"}
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "prometheus"
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            used |= set(re.findall(r"newsbot_[a-z_]+", target["expr"]))
    assert used <= samples, used - samples
    queried = {f for f in families if any(u == f or u.startswith(f + "_") for u in used)}
    assert queried == families, families - queried


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Prometheus) not installed")
def test_promtool_accepts_the_config_and_every_dashboard_query(tmp_path: Path) -> None:
    """Prometheus's own checker, where it is installed: the scrape config, and each panel's
    PromQL as a recording rule (Grafana's `$__range` stands in as `1h`)."""
    config = subprocess.run(["promtool", "check", "config",
                             str(DEPLOY / "prometheus" / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert config.returncode == 0, config.stdout + config.stderr
    rules = [{"record": f"newsbot:panel{p['id']}_{t['refId'].lower()}",
              "expr": t["expr"].replace("$__range", "1h")}
             for p in _dashboard()["panels"] for t in p["targets"]]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}),
                    encoding="utf-8")
    checked = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout
