"""`newsbot push | status | retry | skip | resolve | pause | resume`: an operator's hands on the
delivery records.

Thin like the rest of the CLI: each command opens a session (settings, Redis, services, the
Celery send), calls one action of ``bot.actions.delivery`` and formats its report.  The editors'
Telegram bot calls the same actions, so both always agree.

Redis: ``REDIS_URL`` when set; otherwise the embedded server under ``DATA_DIR``.  When
``newsbot run`` already owns that server (its lock is held) we connect to it through the port it
recorded in ``embedded.pid`` instead of starting a second one; when nobody runs it we start it for
the length of the command (records written then are picked up by the next ``newsbot run``).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import unquote

import typer

from bot.platforms import PLATFORMS

if TYPE_CHECKING:
    from bot.actions import delivery as actions
    from bot.config import Settings
    from bot.delivery.services import Services
    from bot.redis_embedded import Attachment

# Redis, rich, pydantic and the actions are imported inside the functions that use them:
# registering these commands must cost nothing, or every `newsbot --help` pays for them.

_RESULT_STYLE = {
    "queued": "green", "already_sent": "cyan", "marked_sent": "cyan", "skipped": "yellow",
    "paused": "yellow", "waiting": "yellow", "in_progress": "blue", "in_doubt": "magenta",
    "nothing_to_do": "dim", "refused": "red",
}
_STATE_STYLE = {
    "sent": "green", "queued": "blue", "sending": "blue", "waiting": "yellow",
    "retry_wait": "yellow", "failed": "red", "in_doubt": "magenta", "skipped": "dim", "new": "",
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


def connect_redis(settings: Settings) -> tuple[str, Attachment | None]:
    """(URL, the command's hold on the embedded server, or None with REDIS_URL).

    With ``newsbot run`` up (or starting, or stopping) the command shares its embedded server;
    with nothing running it starts one for its own duration.  Stop the attachment when done.
    """
    from bot.cli import UserError
    from bot.logs import add_secrets
    from bot.redis_embedded import EmbeddedRedisUnavailableError, attach_embedded

    if settings.redis_url:
        return settings.redis_url, None
    try:
        attached = attach_embedded(settings.data_dir)
    except EmbeddedRedisUnavailableError as exc:
        raise UserError(str(exc)) from None
    add_secrets(attached.password)
    return attached.url, attached


def _celery_enqueue(settings: Settings, redis_url: str) -> Callable[[str], None]:
    """A Celery send of newsbot.publish on the broker the workers listen to (the same Redis).

    Celery is imported on the first send only: most commands (status, audit) send nothing.
    """
    ready: list[Callable[[str], None]] = []

    def enqueue(record_key: str) -> None:
        if not ready:
            import tasks

            tasks.configure(settings, redis_url=redis_url)
            ready.append(tasks.enqueue_publish)
        ready[0](record_key)

    return enqueue


@contextmanager
def session(site: Path | None) -> Iterator[OpsSession]:
    import redis

    from bot.cli import UserError, _settings

    settings = _settings(site)  # a wrong setting answers before the delivery code loads
    from bot.delivery.services import Services

    url, embedded = connect_redis(settings)
    services = None
    try:
        try:
            services = Services.from_settings(settings, redis_url=url)
            services.state.client.ping()
        except redis.RedisError as exc:
            raise UserError(f"cannot reach Redis: {exc}") from None
        yield OpsSession(settings=settings, services=services,
                         enqueue=_celery_enqueue(settings, url), who=operator())
    finally:
        if services is not None:
            services.close()
        if embedded is not None:
            embedded.stop()


# ------------------------------------------------------------------------------------- output
def _print_report(report: actions.DeliveryReport, as_json: bool) -> None:
    from rich.text import Text

    from bot.cli import _print_json, console
    from bot.cli_text import literal

    if as_json:
        _print_json(report.to_json())
        return
    if report.post:
        console.print(Text.assemble(literal(report.title or "", "bold"), "\n",
                                    literal(unquote(report.post), "dim")), highlight=False)
    if report.warning:
        console.print(literal(f"note: {report.warning}", "yellow"))
    if report.paused:
        console.print("[yellow]publishing is paused[/]")
    for o in report.outcomes:
        style = _RESULT_STYLE.get(o.result, "")
        line = Text.assemble((f"{o.platform:<9}", "bold"), literal(f"{o.destination}  "),
                             (o.result.replace("_", " "), style), literal(f"  {o.message}"))
        console.print(line, highlight=False, soft_wrap=True)
    if report.error:  # the exit status is 1: every line saying why starts with `error:`
        console.print(Text.assemble(("error:", "bold red"), " ", literal(report.error)),
                      soft_wrap=True)


def _finish(report: actions.DeliveryReport, as_json: bool) -> None:
    _print_report(report, as_json)
    if not report.ok:
        raise typer.Exit(1)


def _platforms(value: str) -> tuple[str, ...]:
    from bot.cli import UserError

    if value == "all":
        return PLATFORMS
    if value not in PLATFORMS:
        raise UserError(f"unknown platform {value!r}; choose telegram, x or all")
    return (value,)


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def _short(iso_text: str | None) -> str:
    return (iso_text or "")[:19].replace("T", " ")


def _print_status(report: actions.StatusReport) -> None:
    from rich.table import Table
    from rich.text import Text

    from bot.cli import console
    from bot.cli_text import literal

    head = Text.assemble("mode ", ("dry-run", "yellow") if report.mode == "dry-run"
                         else ("live", "green"))
    if report.paused:
        who = (report.pause or {}).get("who", "")
        why = (report.pause or {}).get("reason", "")
        head.append_text(Text.assemble("  ", ("PAUSED", "bold yellow"), " by ", literal(who),
                                       literal(f": {why}" if why else "")))
    console.print(head)
    console.print("  ".join(f"[{_STATE_STYLE.get(s, '')}]{s}[/] {n}" if n else f"[dim]{s} 0[/]"
                            for s, n in report.counts.items()), highlight=False)

    shown = len(report.deliveries)
    table = Table(title=f"deliveries ({shown} of {report.total}, newest first; updated UTC)",
                  title_justify="left")
    table.add_column("updated", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("to", no_wrap=True)
    table.add_column("post", overflow="fold", ratio=3)
    table.add_column("receipt / reason", overflow="fold", ratio=2)
    for d in report.deliveries:
        receipt = d["receipt"]
        detail = (receipt.get("url") or receipt.get("id") or "") if receipt else d["reason"]
        for note in d.get("notes") or ():  # what the send decided alone (an image failed ...)
            detail = f"{detail}\n⚠ {note}" if detail else f"⚠ {note}"
        state = literal(d["state"], _STATE_STYLE.get(d["state"], ""))
        table.add_row(literal(_short(d["updated_at"])[5:16]), state,
                      literal(f"{d['platform']} {d['destination']}"),
                      literal(unquote(d["post"])), literal(detail or ""))
    console.print(table)

    if report.pending:
        pending = Table(title="pending", title_justify="left")
        pending.add_column("due (UTC)", no_wrap=True)
        pending.add_column("state", no_wrap=True)
        pending.add_column("to", no_wrap=True)
        pending.add_column("post", overflow="fold", ratio=3)
        pending.add_column("reason", overflow="fold", ratio=2)
        for p in report.pending:
            pending.add_row(literal(_short(p["eta"]) or "now"), literal(p["state"]),
                            literal(f"{p['platform']} {p['destination']}"),
                            literal(unquote(p["post"])), literal(p["reason"] or ""))
        console.print(pending)

    for bucket, entry in report.rate.items():
        parts = [literal(f"{r['remaining']}/{r['limit']} per {r['window']:g}s")
                 for r in entry["rules"]]
        daily = entry.get("daily")
        if daily and daily.get("platform_remaining") is not None:
            parts.append(literal(f"platform says {daily['platform_remaining']} left today"))
        if entry.get("blocked_until"):
            parts.append(literal(f"blocked until {_short(entry['blocked_until'])}", "red"))
        line = Text.assemble("rate ", literal(bucket), ": ")
        line.append_text(Text(", ").join(parts) if parts else Text("no local limit"))
        if not entry.get("enforced", True):
            line.append(" (not enforced in a dry run)", "dim")
        console.print(line)
    if report.workers:
        console.print(literal("workers: " + ", ".join(f"{name} ({_ago(age)})"
                                                      for name, age in report.workers.items())))
    else:
        console.print("[yellow]workers: none has reported a heartbeat[/]")


# ------------------------------------------------------------------------------------- commands
def register(app: typer.Typer) -> None:
    """Add this module's commands to the `newsbot` app."""
    from bot.cli import UserError, _print_json, console

    @app.command()
    def push(
        ref: RefArg,
        platform: Annotated[str, typer.Option("--platform", "-p",
                                              help="telegram, x or all.")] = "all",
        force: Annotated[bool, typer.Option("--force",
                                            help="Send again even where already sent.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y",
                                          help="Queue even while publishing is paused.")] = False,
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Publish a post by hand now (a stale, baseline or skipped one; --force re-posts)."""
        wanted = _platforms(platform)
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions import delivery as actions

            def run(confirm: bool) -> actions.DeliveryReport:
                return actions.push(ops.services, ref, who=ops.who, enqueue=ops.enqueue,
                                    platforms=wanted, force=force, confirm_paused=confirm)

            report = run(yes)
            if (report.needs_confirmation and not as_json and sys.stdin.isatty()
                    and console.is_terminal):
                _print_report(report, as_json=False)
                if typer.confirm("Publishing is paused. Queue it anyway (it goes out on "
                                 "resume)?", default=False):
                    report = run(True)
                else:
                    raise typer.Exit(1)
            elif report.needs_confirmation and not as_json:
                report = _with_hint(report, "publishing is paused: add --yes to queue anyway")
            _finish(report, as_json)

    @app.command()
    def status(
        all_: Annotated[bool, typer.Option("--all", help="Every delivery, not the last 20.")
                        ] = False,
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Counts per state, the latest deliveries, what is pending and when, rate budget left."""
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions import delivery as actions

            report = actions.status(ops.services, limit=None if all_ else 20)
        if as_json:
            _print_json(report.to_json())
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
            from bot.actions import delivery as actions

            report = actions.retry(ops.services, ref, who=ops.who, enqueue=ops.enqueue,
                                   platforms=wanted)
        _finish(report, as_json)

    @app.command()
    def skip(ref: RefArg, site: SiteOption = None, as_json: JsonOption = False) -> None:
        """Never publish this post automatically (push still can)."""
        with session(site) as ops:  # settings checked before the actions load
            from bot.actions import delivery as actions

            report = actions.skip(ops.services, ref, who=ops.who)
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
            from bot.actions import delivery as actions

            report = actions.resolve(ops.services, ref, action="resend" if resend else
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
            from bot.actions import delivery as actions

            report = actions.pause(ops.services, ops.who, reason)
        if as_json:
            _print_json(report.to_json())
        else:
            console.print("[yellow]paused[/]" if report.changed else "already paused")

    @app.command()
    def audit(
        limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Entries to show.")] = 50,
        site: SiteOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Editors' and operators' actions, newest first: who, what, when, result."""
        from rich.table import Table

        from bot.actions.audit import audit_entries
        from bot.cli_text import literal

        with session(site) as ops:
            rows = audit_entries(ops.services, limit)
        if as_json:
            _print_json(rows)
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
            from bot.actions import delivery as actions

            report = actions.resume(ops.services, ops.who, ops.enqueue)
        if as_json:
            _print_json(report.to_json())
        else:
            state = "[green]resumed[/]" if report.changed else "was not paused"
            console.print(f"{state}; {len(report.requeued)} queued deliveries handed to the "
                          "workers")


def _with_hint(report: actions.DeliveryReport, hint: str) -> actions.DeliveryReport:
    from dataclasses import replace

    return replace(report, error=hint)
