"""`newsbot run | worker | beat | scan`: the processes and the scan trigger.

`scan` runs the scan in this process (it needs only the files and Redis, and prints its report
right away) and hands what it queues to the workers through the broker; when no worker is running
(nothing holds the embedded Redis), the messages wait in Redis for the next `newsbot run`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

SiteOption = Annotated[
    Path | None,
    typer.Option("--site", help="Jekyll site folder (default: SITE_DIR).", show_default=False),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `newsbot` app."""
    app.command("run")(run)
    app.command("worker")(worker)
    app.command("beat")(beat)
    app.command("scan")(scan)
    app.command("bot")(editor_bot)


def _load(site: Path | None, *, serve: bool = False, needs_token: bool = False):  # -> Settings
    """Settings checked before anything starts (`bot.preflight`): a writable DATA_DIR (always
    for a process that serves: run, worker, beat, bot) and a REDIS_URL that answers now.  A
    one-shot command (not ``serve``) logs only warnings: it prints its own report."""
    from bot.cli.common import warn
    from bot.cli.verbosity import quiet_command_logs
    from bot.config import ConfigError, load_settings
    from bot.preflight import check_data_dir, check_redis, check_settings
    from bot.wiring import setup_logging

    settings = load_settings(site_dir=site)
    setup_logging(settings)
    if not serve:
        quiet_command_logs(settings.log_level)
    if needs_token and settings.telegram_bot_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is required for `newsbot bot`")
    for line in check_settings(settings):
        warn(line)
    if serve or not settings.redis_url:
        check_data_dir(settings)
    if settings.redis_url:  # one line now, not Celery's or redis-py's traceback later
        check_redis(settings.redis_url)
    return settings


def run(
    site: SiteOption = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Parallel sends.")] = 4,
) -> None:
    """Everything on one machine: embedded Redis (unless REDIS_URL), worker, beat, file watcher."""
    settings = _load(site, serve=True)  # checked before the runner (and Celery) is imported
    from bot.runner import run_all

    code = run_all(settings, concurrency=concurrency,
                   announce=lambda line: print(line, file=sys.stderr, flush=True))
    raise typer.Exit(code)


def worker(
    site: SiteOption = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Parallel sends.")] = 4,
    pool: Annotated[str, typer.Option(help="Celery pool: threads, prefork or solo.")] = "threads",
) -> None:
    """A publish worker for split deployments (REDIS_URL required; run as many as you like)."""
    if pool not in ("threads", "prefork", "solo"):
        raise typer.BadParameter(f"{pool!r} is not one of threads, prefork, solo",
                                 param_hint="'--pool'")
    settings = _load(site, serve=True)
    from bot.runner import run_worker

    raise typer.Exit(run_worker(settings, concurrency=concurrency, pool=pool))


def beat(site: SiteOption = None) -> None:
    """The scheduler and file watcher for split deployments (REDIS_URL required; exactly one)."""
    settings = _load(site, serve=True)
    from bot.runner import run_beat

    raise typer.Exit(run_beat(settings))


def editor_bot(site: SiteOption = None) -> None:
    """The editors' Telegram bot alone (long polling, or webhook with BOT_WEBHOOK_URL)."""
    settings = _load(site, serve=True, needs_token=True)
    from bot.runner import run_bot_process

    run_bot_process(settings)


def scan(
    site: SiteOption = None,
    backfill: Annotated[
        int, typer.Option("--backfill", min=0, help="Also publish the N newest unsent posts.")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Plain, stable JSON output.")] = False,
) -> None:
    """Scan the site now; new posts are queued for the workers."""
    from rich.text import Text

    from bot import broker
    from bot.cli.common import console
    from bot.cli.text import literal
    from bot.delivery.planner import scan as run_scan
    from bot.wiring import connect_redis, open_services

    settings = _load(site)
    url, embedded = connect_redis(settings)
    no_worker = embedded is not None and embedded.owned  # nothing else runs it: no `run` is up
    try:
        broker.configure(settings, redis_url=url)
        if settings.site_git_url:  # the site lives in Git: pull it first (problems reported)
            import redis

            from bot.delivery.site_sync import SiteSync

            client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=30)
            try:
                SiteSync.from_settings(settings, client).sync()  # type: ignore[union-attr]
            finally:
                client.close()
        svc = open_services(settings, url)
        try:
            report = run_scan(svc, backfill=backfill, enqueue=broker.enqueue_publish)
        finally:
            svc.close()
    finally:
        if embedded is not None:
            embedded.stop()
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
        return
    console.print(
        f"{report.files} files: {report.new} new, {report.changed} changed, "
        f"{report.unchanged} unchanged, {len(report.bad)} bad"
        + (" (first run: existing posts recorded as baseline)" if report.baseline else "")
    )
    console.print(f"queued {report.queued}, waiting {report.waiting}, skipped {report.skipped}"
                  + (f", backfilled {report.backfilled} posts" if backfill else ""))
    for bad in report.bad:
        console.print(Text.assemble(("bad file", "red"), " ", literal(bad)))
    if no_worker and report.queued:
        console.print("[yellow]no worker is running: queued posts go out with the next "
                      "`newsbot run`[/]")
