"""The `newsbot` command. Thin: it parses, calls an action, and formats the report.

Terminal output uses rich (tables, colours, a progress bar on long work); `--json` output is
plain, stable JSON for scripts, with no colour codes whatever the terminal.

Exit codes: 0 ok; 1 a problem was found (bad post files, a delivery that failed or was refused);
2 a usage or configuration error (one `error: ...` line on stderr, never a traceback).

Only typer is imported here at start-up: operators and scripts run these commands all day, and
`newsbot --help` must not pay for pydantic, Redis, Celery or the teaser stack. Every command
imports what it needs when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.platforms import PLATFORMS

if TYPE_CHECKING:
    from rich.console import Console

    from bot.config import Settings

app = typer.Typer(
    name="newsbot",
    help="Publish each new post of a Jekyll news blog to Telegram and X, exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain (click) help and error formatting: typer's rich formatter costs 100-150 ms of
    # imports, half of what `newsbot --help` may take.
    rich_markup_mode=None,
)

SiteOption = Annotated[
    Path | None,
    typer.Option("--site", help="Jekyll site folder (default: SITE_DIR).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Plain, stable JSON output.")]

EXIT_PROBLEM = 1
EXIT_USAGE = 2


class UserError(Exception):
    """An expected problem: printed as one line, exit status 2."""


_consoles: dict[str, Console] = {}


def _console(name: str = "console") -> Console:
    """The stdout (``console``) or stderr (``err_console``) console, made on first use: rich
    costs 40 ms to import, more than `newsbot --help` may spend altogether."""
    if name not in _consoles:
        from rich.console import Console

        # No emoji codes: a title holding `:fire:` prints as typed (values go in as Text).
        _consoles[name] = Console(stderr=name == "err_console", emoji=False)
    return _consoles[name]


def __getattr__(name: str) -> Any:
    """`from bot.cli import console, err_console` keeps working for the command modules."""
    if name in ("console", "err_console"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsbot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        from bot import __version__

        return __version__


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"newsbot {_version()}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True,
                     callback=_show_version),
    ] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show INFO log lines (commands log only warnings by default)."
    )] = False,
) -> None:
    """Publish each new post of a Jekyll news blog to Telegram and X, exactly once."""
    from bot.cli_logging import set_verbose

    set_verbose(verbose)


def _settings(site: Path | None, *, reading: bool = False) -> Settings:
    """Load and check the settings (`bot.preflight`), and set up redacted logging before
    anything can log a secret.  ``reading``: the command only reads the site (check, preview),
    so a missing site URL is a warning there, not an error, and the state is not needed."""
    from bot.cli_logging import command_log_level
    from bot.config import load_settings
    from bot.logs import configure_logging
    from bot.preflight import check_data_dir, check_redis, check_settings

    settings = load_settings(site_dir=site)
    configure_logging(command_log_level(settings.log_level), secrets=settings.secret_values())
    for line in check_settings(settings, reading=reading):
        warn(line)
    if reading:
        return settings
    if settings.redis_url:  # within seconds, not the system's minutes for a silent host
        check_redis(settings.redis_url)
    else:  # the embedded Redis keeps its data there
        check_data_dir(settings)
    return settings


def warn(line: str) -> None:
    """One `warning: ...` line on stderr."""
    _stderr_line("warning", line)


def _stderr_line(kind: str, message: object) -> None:
    """`kind: message` on stderr as plain text (rich would add 40 ms to every mistake), with the
    message's control characters escaped: it may quote a file name or a value from outside."""
    from bot.escaping import escape_controls

    sys.stderr.write(f"{kind}: {escape_controls(str(message))}\n")
    sys.stderr.flush()


def _print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command()
def check(site: SiteOption = None, as_json: JsonOption = False) -> None:
    """List every post: publishable or not and why, and every bad file with its reason."""
    from datetime import UTC, datetime

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table
    from rich.text import Text

    from bot.actions.check import check_site
    from bot.actions.content import load_site
    from bot.cli_text import literal

    console, err_console = _console(), _console("err_console")
    settings = _settings(site, reading=True)
    site_cfg = load_site(settings)
    now = datetime.now(UTC)
    show_progress = not as_json and console.is_terminal
    if show_progress:
        with Progress(
            TextColumn("[bold]reading posts"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("read", total=None)

            def tick(done: int, total: int) -> None:
                if done == 1 or done % 200 == 0 or done == total:
                    bar.update(task, completed=done, total=total)

            rows = check_site(site_cfg, now, progress=tick)
    else:
        rows = check_site(site_cfg, now)

    bad = [r for r in rows if not r.ok]
    for r in rows:
        for note in r.warnings:
            warn(f"{r.file}: {note}")
    if as_json:
        _print_json([r.to_json() for r in rows])
    else:
        table = Table(
            title=literal(f"{site_cfg.root}  ({site_cfg.timezone_name})"), show_lines=False
        )
        table.add_column("file", overflow="fold")
        table.add_column("status")
        table.add_column("date", no_wrap=True)
        table.add_column("title / reason", overflow="fold")
        for r in rows:
            if not r.ok:
                status, detail = (
                    Text("bad file", style="bold red"),
                    literal(r.reason or "", "red"),
                )
            elif r.publishable:
                status, detail = Text("publishable", style="green"), literal(r.title or "")
            else:
                status = Text("not now", style="yellow")
                detail = Text.assemble(
                    literal(r.title or ""), "\n", literal(r.reason or "", "yellow")
                )
            date = literal((r.date or "")[:16].replace("T", " "))
            table.add_row(literal(r.file), status, date, detail)
        console.print(table)
        publishable = sum(1 for r in rows if r.publishable)
        console.print(
            f"{len(rows)} files: [green]{publishable} publishable[/], "
            f"[yellow]{len(rows) - publishable - len(bad)} not now[/], "
            f"[{'red' if bad else 'green'}]{len(bad)} bad[/]"
        )
    if bad:
        raise typer.Exit(1)


@app.command()
def preview(
    ref: Annotated[str, typer.Argument(help="Post file, slug or URL.", metavar="REF")],
    site: SiteOption = None,
    platform: Annotated[str, typer.Option("--platform", "-p", help="telegram, x or all.")] = "all",
    as_json: JsonOption = False,
) -> None:
    """Print each teaser exactly as it would be sent, its length against its limit, the image."""
    from datetime import UTC, datetime

    from rich.text import Text

    from bot.actions.content import ContentTools, post_json, prepare, teaser_json
    from bot.actions.lookup import PostLookupError, find_post
    from bot.cli_text import image_line, literal, print_teaser

    if platform not in (*PLATFORMS, "all"):
        raise UserError(f"unknown platform {platform!r}; choose telegram, x or all")
    console = _console()
    settings = _settings(site, reading=True)
    tools = ContentTools.from_settings(settings)
    try:
        post = find_post(tools.site, ref)
    except PostLookupError as exc:
        raise UserError(str(exc)) from None
    wanted = PLATFORMS if platform == "all" else (platform,)
    items = [prepare(tools, post, p) for p in wanted]
    for note in post.warnings:
        warn(note)

    if as_json:
        _print_json(
            {"post": post_json(post), "teasers": {i.platform: teaser_json(i) for i in items}}
        )
        return
    console.print(
        Text.assemble(
            literal(post.title, "bold"), "\n", literal(post.url), "\n",
            literal(f"{post.rel_path} · {post.date.isoformat()}", "dim"),
        ),
        soft_wrap=True,  # the URL whole, whatever the width
    )
    why_not = post.unpublishable_reason(datetime.now(UTC))
    if why_not:
        console.print(literal(f"not publishable now: {why_not}", "yellow"))
    for item in items:
        t = item.teaser
        over = t.length > t.limit
        measure = f"[{'red' if over else 'green'}]{t.platform} {t.length}/{t.limit}[/]"
        shortened = " · shortened" if t.shortened else ""
        print_teaser(console, Text.from_markup(f"{measure}{shortened}"), t.text)
        # Below the panel, not as its subtitle: a border cuts a long image failure reason.
        console.print(image_line(item.image))


def _register_more() -> None:
    """Delivery and operations commands live in their own modules to keep this one small."""
    from bot import cli_ops, cli_run

    cli_run.register(app)
    cli_ops.register(app)


_register_more()


#: Exceptions that are an operator's problem to fix, by module: looked up only in modules that
#: are already loaded (one that raised is), so an error never pays for importing the rest.
_EXPECTED = (
    ("bot.config", "ConfigError"),
    ("bot.sources.site", "SiteError"),
    ("bot.teasers", "TemplateError"),
    ("bot.redis_embedded", "EmbeddedRedisBusyError"),
    ("bot.redis_embedded", "EmbeddedRedisUnavailableError"),
)


def _expected(exc: BaseException) -> bool:
    """A problem the user can act on (one line, exit 2), not a bug (a traceback)."""
    kinds: list[type[BaseException]] = [UserError]
    for module, name in _EXPECTED:
        loaded = sys.modules.get(module)
        if loaded is not None:
            kinds.append(getattr(loaded, name))
    return isinstance(exc, tuple(kinds))


def _error_line(message: object) -> None:
    _stderr_line("error", message)


def _usage_error(exc: Any) -> int:
    """Typer's (click's) usage error as the usage line and one `error:` line, exit 2."""
    ctx = getattr(exc, "ctx", None)
    usage = ctx.get_usage() if ctx is not None else "Usage: newsbot [OPTIONS] COMMAND [ARGS]..."
    if type(exc).__name__ == "NoArgsIsHelpError":  # `newsbot` alone: its message is the help
        names = ", ".join(sorted(ctx.command.list_commands(ctx))) if ctx is not None else ""
        message = f"missing command (one of: {names}); `newsbot --help` says what each does"
    else:
        message = exc.format_message()
        if message[:2].istitle():  # click's "No such option" reads as our other lines
            message = message[0].lower() + message[1:]
        path = ctx.command_path if ctx is not None else "newsbot"
        message = f"{message.rstrip('.')}; see `{path} --help`"
    sys.stderr.write(usage.strip() + "\n")
    _error_line(message)
    return EXIT_USAGE


def _click_exceptions() -> Any:
    """The exceptions module of the click that typer uses: typer >= 0.29 ships its own copy
    (`typer._click`), older typers use click itself."""
    try:
        from typer._click import exceptions
    except ImportError:  # typer < 0.29
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


def main() -> None:
    """Console entry point: usage and configuration errors become the usage line and one
    `error:` line on stderr (exit 2); a problem found exits 1; never a traceback for those."""
    if sys.argv[1:] == ["--version"]:  # answered before typer parses anything (50-100 ms)
        sys.stdout.write(f"newsbot {_version()}\n")
        return
    click_exc = _click_exceptions()
    try:
        code = app(standalone_mode=False)
    except typer.Abort:  # a prompt met the end of its input
        _error_line("aborted")
        raise SystemExit(EXIT_PROBLEM) from None
    except click_exc.UsageError as exc:
        raise SystemExit(_usage_error(exc)) from None
    except click_exc.ClickException as exc:  # e.g. a file argument that cannot be opened
        _error_line(exc.format_message())
        raise SystemExit(exc.exit_code or EXIT_PROBLEM) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        if not _expected(exc):
            raise
        _error_line(exc)
        raise SystemExit(EXIT_USAGE) from None
    if isinstance(code, int) and code:
        raise SystemExit(code)
