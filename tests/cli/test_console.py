"""The operator's first hour: the INSTALLED `newsbot` console script, run as a user runs it.

Every usage or configuration mistake answers with its exit status (2), one `error: ...` line on
stderr (a usage error also prints the usage line), and never a traceback; a secret never appears
in what is printed.  These run the console script itself in a subprocess because that is what
users run: the in-process tests (`CliRunner`) never see how `main()` handles typer's exceptions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "site"
TOKEN = "7212345678:" + "AAFake-secret-token-value-for-tests1"
X_SECRET = "xsecret" + "Value0123456789"
PASSWORD = "redis" + "Passw0rdSecret"
SECRETS = (TOKEN, X_SECRET, PASSWORD)
_OURS = ("SITE_", "DATA_DIR", "REDIS_URL", "TELEGRAM_", "X_", "LOG_LEVEL", "TEMPLATES_DIR",
         "TIMEZONE", "BOT_", "APPROVAL_", "NOTIFY_")


def _console_script() -> str:
    beside = Path(sys.executable).parent / "newsbot"
    found = str(beside) if beside.exists() else shutil.which("newsbot")
    assert found, "the newsbot console script is not installed (pip install -e .)"
    return found


NEWSBOT = _console_script()


def newsbot(*args: str, env: dict[str, str] | None = None, cwd: Path,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The console script with none of the caller's newsbot settings; `cwd` has no `.env`."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    full.update(env or {})
    return subprocess.run([NEWSBOT, *args], capture_output=True, text=True, env=full, cwd=cwd,
                          timeout=timeout)


def newsbots(*calls: tuple[list[str], dict[str, str]], cwd: Path,
             timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Several independent commands at once (each process start costs most of a second)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda c: newsbot(*c[0], env=c[1], cwd=cwd, timeout=timeout),
                             calls))


def assert_refused(run: subprocess.CompletedProcess[str], *words: str, usage: bool = False,
                   code: int = 2) -> str:
    """Exit `code`, exactly one `error:` line on stderr naming `words`, no traceback, no secret;
    with ``usage`` the usage line too.  Returns the error line."""
    everything = run.stdout + run.stderr
    assert run.returncode == code, everything
    assert "Traceback" not in everything, everything
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    others = [line for line in run.stderr.splitlines()
              if line.strip() and not line.startswith(("error: ", "warning: "))]
    if usage:
        assert len(others) == 1 and others[0].startswith("Usage: newsbot"), run.stderr
    else:
        assert not others, run.stderr
    for word in words:
        assert word in errors[0], errors[0]
    for secret in SECRETS:
        assert secret not in everything
    return errors[0]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    copy = tmp_path / "site"
    shutil.copytree(DEMO, copy, ignore=shutil.ignore_patterns(".newsbot", "var"))
    return copy


# ------------------------------------------------------------------------------ usage errors
USAGE_ERRORS = [
    ([], ["missing command", "status"]),
    (["preview"], ["missing argument", "REF"]),
    (["frobnicate"], ["no such command", "frobnicate"]),
    (["audit", "-n", "0"], ["--limit", "greater than or equal to 1"]),
    (["scan", "--backfill", "-1"], ["--backfill", "greater than or equal to 0"]),
    (["status", "--bogus"], ["no such option", "--bogus"]),
    (["push"], ["missing argument"]),
    (["run", "--concurrency", "many"], ["--concurrency"]),
    (["run", "--concurrency", "0"], ["--concurrency"]),
    (["worker", "--pool", "fork"], ["--pool", "threads, prefork, solo"]),
]


def test_a_usage_error_is_the_usage_line_and_one_error_line(tmp_path: Path) -> None:
    runs = newsbots(*((argv, {}) for argv, _ in USAGE_ERRORS), cwd=tmp_path)
    for (argv, words), run in zip(USAGE_ERRORS, runs, strict=True):
        line = assert_refused(run, *words, usage=True)
        assert "--help`" in line, (argv, line)  # says where to look


def test_version_and_every_help_answer_at_once_without_a_traceback(tmp_path: Path) -> None:
    version_run, main_help = newsbots((["--version"], {}), (["--help"], {}), cwd=tmp_path)
    assert version_run.returncode == 0, version_run.stderr
    assert version_run.stdout == f"newsbot {version('newsbot')}\n"
    assert main_help.returncode == 0 and "--version" in main_help.stdout
    commands = [line.split()[0] for line in main_help.stdout.split("Commands:", 1)[1].splitlines()
                if line.startswith("  ") and line.split()]
    assert {"run", "status", "check", "preview", "push", "audit", "bot"} <= set(commands)
    runs = newsbots(*(([command, "--help"], {}) for command in commands), cwd=tmp_path)
    for command, run in zip(commands, runs, strict=True):
        assert run.returncode == 0 and "Traceback" not in run.stdout + run.stderr, command
        assert run.stdout.startswith(f"Usage: newsbot {command}"), run.stdout


def test_a_wrong_choice_inside_a_command_is_one_error_line(site: Path, tmp_path: Path) -> None:
    platform, resolve = newsbots((["preview", "x", "--platform", "fax", "--site", str(site)], {}),
                                 (["resolve", "x", "--site", str(site)], {}), cwd=tmp_path)
    assert_refused(platform, "unknown platform")
    assert_refused(resolve, "--resend", "--mark-sent")


def test_a_problem_found_exits_1_a_clean_run_0(site: Path, tmp_path: Path) -> None:
    assert newsbot("check", "--site", str(site), cwd=tmp_path).returncode == 0
    (site / "_posts" / "2024-01-01-broken.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    run = newsbot("check", "--site", str(site), cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr, run.stderr
    assert "1 bad" in run.stdout


# ----------------------------------------------------------------------- settings at start
def test_redis_url_of_the_wrong_kind_is_refused_naming_the_setting(site: Path,
                                                                   tmp_path: Path) -> None:
    cases = (("status", "garbage"), ("run", "http://localhost:6379/0"),
             ("worker", f"https://:{PASSWORD}@localhost:6379/0"))
    runs = newsbots(*(([command, "--site", str(site)], {"REDIS_URL": url})
                      for command, url in cases), cwd=tmp_path)
    for (_, url), run in zip(cases, runs, strict=True):
        assert url not in assert_refused(run, "REDIS_URL", "redis://")


def test_an_unreachable_redis_stops_a_process_at_start_in_one_line(site: Path,
                                                                   tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:9/0"  # the discard port: nothing listens there
    env = {"REDIS_URL": url, "DATA_DIR": str(tmp_path / "data"),
           "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHANNEL": "@newsbot_test"}
    commands = ("run", "worker", "beat", "bot", "scan", "status")
    runs = newsbots(*(([command, "--site", str(site)], env) for command in commands),
                    cwd=tmp_path, timeout=30)
    for command, run in zip(commands, runs, strict=True):
        assert_refused(run, "REDIS_URL", "cannot reach Redis", "127.0.0.1:9")
        assert not run.stdout, command


def test_site_and_data_folders_that_cannot_be_used(site: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["run", "--site", str(tmp_path / "nowhere")], {}, ["SITE_DIR", "not found"]),
        (["run", "--site", str(a_file)], {}, ["SITE_DIR", "is a file"]),
        (["status"], {"SITE_DIR": str(empty)}, ["SITE_DIR", "_config.yml", "_posts"]),
        (["status", "--site", str(site)], {"DATA_DIR": str(a_file)}, ["DATA_DIR", "a file"]),
        (["status", "--site", str(site)], {"DATA_DIR": str(a_file / "under")}, ["DATA_DIR"]),
        # inside the site, a folder Jekyll would publish (with the Redis password in it)
        (["scan", "--site", str(site)], {"DATA_DIR": "var"}, ["DATA_DIR", "Jekyll would publish"]),
    ]
    runs = newsbots(*((argv, env) for argv, env, _ in cases), cwd=tmp_path)
    for (_, _, words), run in zip(cases, runs, strict=True):
        assert_refused(run, *words)
    assert not (site / "var").exists()


def test_a_data_dir_without_write_permission(site: Path, tmp_path: Path) -> None:
    # Root writes into a mode-555 folder anyway; /proc refuses even root a new folder.
    locked = Path("/proc/self/fdinfo") if os.geteuid() == 0 else tmp_path / "locked"
    if locked != Path("/proc/self/fdinfo"):
        locked.mkdir(mode=0o555)
    assert_refused(newsbot("status", "--site", str(site),
                           env={"DATA_DIR": str(locked / "data")}, cwd=tmp_path),
                   "DATA_DIR", "not writable")


def test_a_site_without_a_public_address(site: Path, tmp_path: Path) -> None:
    config = site / "_config.yml"
    config.write_text("\n".join(line for line in config.read_text().splitlines()
                                if not line.startswith("url:")) + "\n")
    live = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHANNEL": "@newsbot_test",
            "DATA_DIR": str(tmp_path / "data")}
    refused, reading, bad_url = newsbots(
        (["run", "--site", str(site)], live),
        (["check", "--site", str(site), "--json"], {}),
        (["check", "--site", str(site)], {"SITE_URL": "example.org"}), cwd=tmp_path)
    assert_refused(refused, "url", "SITE_URL", "relative")
    # reading only (check), or a dry run: a warning, and the command does its work
    assert reading.returncode == 0, reading.stderr
    assert reading.stderr.startswith("warning: ") and "SITE_URL" in reading.stderr
    assert "Traceback" not in reading.stderr and len(reading.stderr.splitlines()) == 1
    assert json.loads(reading.stdout)[0]["url"].startswith("/")
    assert_refused(bad_url, "SITE_URL", "absolute")  # an explicit SITE_URL is checked too


PLATFORM_SETTINGS = [
    ({"TELEGRAM_CHANNEL": "newsdao"}, ["TELEGRAM_CHANNEL", "@name"]),
    ({"TELEGRAM_CHANNEL": "@abc"}, ["TELEGRAM_CHANNEL", "5-32"]),
    ({"TELEGRAM_CHANNEL": "-12345"}, ["TELEGRAM_CHANNEL", "-100"]),
    ({"TELEGRAM_BOT_TOKEN": f"bot{TOKEN}", "TELEGRAM_CHANNEL": "@newsdao"},
     ["TELEGRAM_BOT_TOKEN", "@BotFather"]),
    ({"TELEGRAM_BOT_TOKEN": f"{TOKEN} x", "TELEGRAM_CHANNEL": "@newsdao"},
     ["TELEGRAM_BOT_TOKEN"]),
    ({"X_API_KEY": "k", "X_API_SECRET": f"{X_SECRET} extra", "X_ACCESS_TOKEN": "t",
      "X_ACCESS_TOKEN_SECRET": "s"}, ["X_API_SECRET", "space"]),
    ({"X_API_KEY": "k", "X_API_SECRET": X_SECRET}, ["X_ACCESS_TOKEN", "missing"]),
    ({"TELEGRAM_BOT_TOKEN": TOKEN}, ["TELEGRAM_CHANNEL", "required"]),
]


def test_platform_settings_are_refused_at_start_without_echoing_them(site: Path,
                                                                     tmp_path: Path) -> None:
    data = {"DATA_DIR": str(tmp_path / "data")}
    runs = newsbots(*((["status", "--site", str(site)], {**env, **data})
                      for env, _ in PLATFORM_SETTINGS), cwd=tmp_path)
    for (_, words), run in zip(PLATFORM_SETTINGS, runs, strict=True):
        assert_refused(run, *words)


def test_secrets_from_files(site: Path, tmp_path: Path, redis_url: str) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "token").write_text(TOKEN + "\n")
    for name in ("key", "secret", "access", "access_secret"):
        (secrets / name).write_text(f"{X_SECRET}{name}\n")
    env = {"TELEGRAM_BOT_TOKEN_FILE": str(secrets / "token"), "TELEGRAM_CHANNEL": "@newsdao",
           "X_API_KEY_FILE": str(secrets / "key"), "X_API_SECRET_FILE": str(secrets / "secret"),
           "X_ACCESS_TOKEN_FILE": str(secrets / "access"),
           "X_ACCESS_TOKEN_SECRET_FILE": str(secrets / "access_secret"),
           "REDIS_URL": redis_url}
    run = newsbot("status", "--json", "--site", str(site), env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    status = json.loads(run.stdout)
    assert status["mode"] == "live"
    assert TOKEN not in run.stdout + run.stderr and X_SECRET not in run.stdout + run.stderr

    (secrets / "empty").write_text("\n")
    (secrets / "url").write_text(f"redis://:{PASSWORD}@127.0.0.1:9/0\n")
    status = ["status", "--site", str(site)]
    both, missing, empty, unreachable = newsbots(
        (status, {**env, "TELEGRAM_BOT_TOKEN": TOKEN}),
        (status, {**env, "X_API_KEY_FILE": str(secrets / "missing")}),
        (status, {**env, "X_API_SECRET_FILE": str(secrets / "empty")}),
        (["worker", "--site", str(site)],
         {**env, "REDIS_URL": "", "REDIS_URL_FILE": str(secrets / "url")}), cwd=tmp_path)
    assert_refused(both, "TELEGRAM_BOT_TOKEN_FILE", "both")
    assert_refused(missing, "X_API_KEY_FILE", "cannot read")
    assert_refused(empty, "X_API_SECRET_FILE", "empty")
    assert_refused(unreachable, "REDIS_URL", "cannot reach")


# ------------------------------------------------------------ the state, from any folder
def test_the_state_is_the_sites_whatever_folder_a_command_runs_in(site: Path,
                                                                  tmp_path: Path) -> None:
    """No DATA_DIR: `scan` run in one folder and `status` run in another (with the site given
    relative to each) see the same records, kept in the site's `.newsbot`."""
    here, there = tmp_path / "here", tmp_path / "elsewhere" / "deeper"
    here.mkdir()
    there.mkdir(parents=True)
    scan = newsbot("scan", "--json", "--site", "../site", cwd=here)
    assert scan.returncode == 0, scan.stderr
    baseline = json.loads(scan.stdout)
    assert baseline["baseline"] and baseline["skipped"] > 0
    status = newsbot("status", "--json", "--site", "../../site", cwd=there)
    assert status.returncode == 0, status.stderr
    counts = json.loads(status.stdout)["counts"]
    assert counts.get("skipped") == baseline["skipped"], counts
    from_env = newsbot("status", "--json", env={"SITE_DIR": str(site)}, cwd=tmp_path)
    assert json.loads(from_env.stdout)["counts"] == counts
    data = site / ".newsbot"
    assert (data / "redis").is_dir() and (data / ".gitignore").read_text().strip().endswith("*")
    assert not any(p.name in ("var", ".newsbot") for folder in (here, there, tmp_path)
                   for p in folder.iterdir())
