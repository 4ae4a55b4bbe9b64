"""`newsbot push | status | retry | skip | resolve | pause | resume`: an operator's hands on the
delivery records.

Thin like the rest of the CLI: each command opens a session (settings, Redis, services, the
Celery send), calls one action of ``bot.actions`` and formats its report.  The editors'
Telegram bot calls the same actions, so both always agree.

Redis: ``REDIS_URL`` when set; otherwise the embedded server under ``DATA_DIR``.  When
``newsbot run`` already owns that server (its lock is held) we connect to it through the port it
recorded in ``embedded.pid`` instead of starting a second one; when nobody runs it we start it for
the length of the command (records written then are picked up by the next ``newsbot run``).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import unquote

import typer

from bot.platforms import PLATFORMS

if TYPE_CHECKING:
    from bot.actions.reports import DeliveryReport, StatusReport
    from bot.config import Settings
    from bot.delivery.services import Services

# Redis, rich, pydantic and the actions are imported inside the functions that use them:
# registering these commands must cost nothing, or every `newsbot --help` pays for them.

_RESULT_STYLE = {
    "queued": "green", "already_sent": "cyan", "marked_sent": "cyan", "skipped": "yellow",
    "paused": "yellow", "waiting": "yellow", "in_progress": "blue", "in_doubt": "magenta",
    "nothing_to_do": "dim", "refused": "red",
}


# Same as bot.cli's options; defined here because typer resolves these (string) annotations in
# this module's globals, and importing them from bot.cli at import time would be circular.
RefArg = Annotated[str, typer.Argument(help="Post file, slug or URL.", metavar="REF")]
SiteOption = Annotated[
    Path | None,
    typer.Option("--site", help="Jekyll site folder (default: SITE_DIR).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Plain, stable JSON output.")]


@dataclass
class OpsSession:
    settings: Settings
    services: Services
    enqueue: Callable[[str], None]
    who: str


def operator() -> str:
    """The audit name of whoever runs the command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@contextmanager
def session(site: Path | None) -> Iterator[OpsSession]:
    import redis

    from bot.cli.common import UserError, checked_settings

    settings = checked_settings(site)  # a wrong setting answers before the delivery code loads
    from bot.wiring import celery_enqueue, connect_redis, open_services

    url, embedded = connect_redis(settings)
    services = None
    try:
        try:
            services = open_services(settings, url)
            services.state.client.ping()
        except redis.RedisError as exc:
            raise UserError(f"cannot reach Redis: {exc}") from None
        yield OpsSession(settings=settings, services=services,
                         enqueue=celery_enqueue(settings, url), who=operator())
    finally:
        if services is not None:
            services.close()
        if embedded is not None:
            embedded.stop()


# ------------------------------------------------------------------------------------- output
def _print_report(report: DeliveryReport, as_json: bool,
                  names: Mapping[str, str] | None = None) -> None:
    from rich.text import Text

    from bot.cli.common import console, print_json
    from bot.cli.status import destination_label
    from bot.cli.text import literal

    if as_json:
        print_json(report.to_json())
        return
    if report.post:
        console.print(Text.assemble(literal(report.title or "", "bold"), "\n",
                                    literal(unquote(report.post), "dim")), highlight=False,
                      soft_wrap=True)  # the URL whole, whatever the width
    if report.warning:
        console.print(literal(f"note: {report.warning}", "yellow"), soft_wrap=True)
    if report.paused:
        console.print("[yellow]publishing is paused[/]")
    for o in report.outcomes:
        style = _RESULT_STYLE.get(o.result, "")
        where = destination_label(o.platform, o.destination, names or {}).split(" ", 1)[-1]
        line = Text.assemble((f"{o.platform:<9}", "bold"), literal(f"{where}  "),
                             (o.result.replace("_", " "), style), literal(f"  {o.message}"))
        console.print(line, highlight=False, soft_wrap=True)
    if report.error:  # the exit status is 1: every line saying why starts with `error:`
        console.print(Text.assemble(("error:", "bold red"), " ", literal(report.error)),
                      soft_wrap=True)


def _finish(report: DeliveryReport, as_json: bool,
            names: Mapping[str, str] | None = None) -> None:
    _print_report(report, as_json, names)
    if not report.ok:
        raise typer.Exit(1)


def _platforms(value: str) -> tuple[str, ...]:
    from bot.cli.common import UserError

    if value == "all":
        return PLATFORMS
    if value not in PLATFORMS:
        raise UserError(f"unknown platform {value!r}; choose telegram, x or all")
    return (value,)


def _print_status(report: StatusReport) -> None:
    from bot.cli.common import console
    from bot.cli.status import print_status

    print_status(console, report)


def _warn_without_workers(ops: OpsSession, what: str) -> None:
    """Queued work goes nowhere without a worker: say so (on stderr, so --json stays JSON)."""
    from bot.actions.status import HEARTBEAT_FRESH_SECONDS, fresh_workers
    from bot.cli.common import err_console
    from bot.cli.text import warning_line

    if not fresh_workers(ops.services):
        err_console.print(warning_line(
            f"no worker has reported in the last {HEARTBEAT_FRESH_SECONDS:g} s: "
            f"{what} when `newsbot run` or `newsbot worker` runs"), soft_wrap=True)


# ------------------------------------------------------------------------------------- commands
def register(app: typer.Typer) -> None:
    """Add this module's commands to the `newsbot` app."""
    from bot.cli.common import UserError, console, print_json

    @app.command()
    def push(
        ref: RefArg,
        platform: Annotated[str, typer.Option("--platform", "-p",
                                              help="telegram, x or all.")] = "all",
        force: Annotated[bool, typer.Option("--force",
                                            help="Send again even where already sent.")] = False,
        yes: Annotated[bool, typer.Option(
            "--yes", "-y", help="Do not ask: send even while publishing is paused, or a post "
                                "the site does not show yet (published: false, future date).",
        )] = False,
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Publish a post by hand now (a stale, baseline or skipped one; --force re-posts)."""
        wanted = _platforms(platform)
        interactive = not as_json and sys.stdin.isatty() and console.is_terminal
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions import publish

            def run(confirm: bool) -> DeliveryReport:
                return publish.push(ops.services, ref, who=ops.who, enqueue=ops.enqueue,
                                    platforms=wanted, force=force, confirm_paused=confirm)

            why = None if yes else publish.unpublished_reason(ops.services, ref)
            if why and not interactive:
                raise UserError(f"{ref}: the site does not show this post yet ({why}), so its "
                                "link may not exist; add --yes to push it anyway")
            if why and not typer.confirm(f"The site does not show this post yet ({why}): its "
                                         "link may not exist. Push it anyway?", default=False):
                raise typer.Exit(1)
            report = run(yes)
            if report.needs_confirmation and interactive:
                _print_report(report, as_json=False)
                if typer.confirm("Publishing is paused. Send it anyway (it goes out now)?",
                                 default=False):
                    report = run(True)
                else:
                    raise typer.Exit(1)
            elif report.needs_confirmation and not as_json:
                report = _with_hint(report, "publishing is paused: add --yes to send anyway")
            if report.queued:
                _warn_without_workers(ops, "what was queued goes out")
            _finish(report, as_json, ops.services.state.destination_names())

    @app.command()
    def status(
        all_: Annotated[bool, typer.Option("--all", help="Every delivery, not the last 20.")
                        ] = False,
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Counts per state, the latest deliveries, what is pending and when, rate budget left."""
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions.status import status as delivery_status

            report = delivery_status(ops.services, limit=None if all_ else 20)
        if as_json:
            print_json(report.to_json())
        else:
            _print_status(report)

    @app.command()
    def retry(
        ref: RefArg,
        platform: Annotated[str, typer.Option("--platform", "-p",
                                              help="telegram, x or all.")] = "all",
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Queue again a post's failed or backing-off deliveries (in-doubt ones need resolve)."""
        wanted = _platforms(platform)
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions import decide

            report = decide.retry(ops.services, ref, who=ops.who, enqueue=ops.enqueue,
                                  platforms=wanted)
        _finish(report, as_json)

    @app.command()
    def skip(ref: RefArg, site: SiteOption = None, as_json: JsonOption = False) -> None:
        """Never publish this post automatically (push still can)."""
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions import decide

            report = decide.skip(ops.services, ref, who=ops.who)
        _finish(report, as_json)

    @app.command()
    def resolve(
        ref: RefArg,
        resend: Annotated[bool, typer.Option("--resend",
                                             help="It is not on the channel: send it.")] = False,
        mark_sent: Annotated[bool, typer.Option("--mark-sent",
                                                help="It is on the channel: never send.")
                             ] = False,
        platform: Annotated[str, typer.Option("--platform", "-p",
                                              help="telegram, x or all.")] = "all",
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Settle an in-doubt delivery (a send interrupted before its outcome was known)."""
        if resend == mark_sent:
            raise UserError("give exactly one of --resend or --mark-sent")
        wanted = _platforms(platform)
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions import decide

            report = decide.resolve(ops.services, ref, action="resend" if resend else
                                    "mark_sent", who=ops.who, enqueue=ops.enqueue,
                                    platforms=wanted)
        _finish(report, as_json)

    @app.command()
    def pause(
        reason: Annotated[str, typer.Option("--reason", help="Shown in status and audit.")] = "",
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Stop all sending (deliveries wait, nothing is lost) until `newsbot resume`."""
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions import pausing

            report = pausing.pause(ops.services, ops.who, reason)
        if as_json:
            print_json(report.to_json())
            return
        from rich.text import Text

        from bot.cli.text import literal

        line = Text("paused", style="yellow") if report.changed else Text("already paused")
        if report.reason:
            line.append_text(literal(f"; reason: {report.reason}"))
        console.print(line, soft_wrap=True)

    @app.command()
    def audit(
        limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Entries to show.")] = 50,
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Editors' and operators' actions, newest first: who, what, when, result."""
        from rich.table import Table

        from bot.actions.audit import audit_entries
        from bot.cli.text import literal

        with session(site) as ops:
            rows = audit_entries(ops.services, limit)
        if as_json:
            print_json([{**row, "result": result_object(row.get("result"))} for row in rows])
            return
        table = Table(title="audit trail (newest first)")
        for column in ("time", "who", "action", "target", "result"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(literal(row.get(c) or "") for c in ("time", "who", "action", "target",
                                                                 "result")))
        console.print(table)

    @app.command()
    def resume(site: SiteOption = None, as_json: JsonOption = False) -> None:
        """Resume sending; deliveries queued meanwhile go out at the allowed rate."""
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions import pausing

            report = pausing.resume(ops.services, ops.who, ops.enqueue)
            _warn_without_workers(ops, "sending resumes")
        if as_json:
            print_json(report.to_json())
        else:
            state = "[green]resumed[/]" if report.changed else "was not paused"
            console.print(f"{state}; {len(report.requeued)} queued deliveries handed to the "
                          "workers")


def result_object(stored: object) -> dict[str, object]:
    """An audit entry's result as JSON scripts can use: the object it was written as (the
    stream stores it as text), or ``{"text": ...}`` for a result written as plain text."""
    import json

    if isinstance(stored, str):
        try:
            value = json.loads(stored)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    return {"text": "" if stored is None else str(stored)}


def _with_hint(report: DeliveryReport, hint: str) -> DeliveryReport:
    from dataclasses import replace

    return replace(report, error=hint)
