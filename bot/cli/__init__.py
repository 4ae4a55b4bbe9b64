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
from typing import Annotated, Any

import typer

from bot.cli.common import (
    EXIT_PROBLEM,
    EXIT_USAGE,
    UserError,
    checked_settings,
    get_console,
    print_json,
    stderr_line,
    warn,
)
from bot.platforms import PLATFORMS

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
    from bot.cli.verbosity import set_verbose

    set_verbose(verbose)


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
    from bot.cli.text import literal
    from bot.delivery.content import load_site

    console, err_console = get_console(), get_console("err_console")
    settings = checked_settings(site, reading=True)
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
        print_json([r.to_json() for r in rows])
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

    from bot.actions.lookup import PostLookupError, find_post
    from bot.cli.text import image_line, literal, print_teaser
    from bot.delivery.content import ContentTools, post_json, prepare, teaser_json

    if platform not in (*PLATFORMS, "all"):
        raise UserError(f"unknown platform {platform!r}; choose telegram, x or all")
    console = get_console()
    settings = checked_settings(site, reading=True)
    tools = ContentTools.from_settings(settings)
    try:
        post = find_post(tools.site, ref)
    except PostLookupError as exc:
        raise UserError(str(exc)) from None
    wanted = PLATFORMS if platform == "all" else (platform,)
    items = [prepare(tools, post, p) for p in wanted]
    for note in post.warnings:
        warn(note)

    from bot.platforms.x_price import planned_calls, price_usd

    def priced(item: Any) -> dict[str, Any]:
        """teaser_json, and for X what the post costs at X_PRICES (a link is the $0.20 kind)."""
        data = teaser_json(item)
        if item.platform == "x":
            calls = planned_calls(item, alt_text=bool(post.image_alt.strip()))
            data["billable"] = calls
            data["price_usd"] = price_usd(calls, settings.x_prices)
        return data

    if as_json:
        print_json(
            {"post": post_json(post), "teasers": {i.platform: priced(i) for i in items}}
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
        if item.platform == "x":
            cost = priced(item)
            calls = ", ".join(f"{n}× {k}" for k, n in cost["billable"].items())
            console.print(literal(f"X price ${cost['price_usd']:,.3f} ({calls}; X_PRICES)"))


def _register_more() -> None:
    """Delivery and operations commands live in their own modules to keep this one small."""
    from bot.cli import ops as cli_ops
    from bot.cli import run as cli_run
    from bot.cli import spend as cli_spend

    cli_run.register(app)
    cli_ops.register(app)
    cli_spend.register(app)


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
    stderr_line("error", message)


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
