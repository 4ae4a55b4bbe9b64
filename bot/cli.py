"""The `newsbot` command. Thin: it parses, calls an action, and formats the report.

Terminal output uses rich (tables, colours, a progress bar on long work); `--json` output is
plain, stable JSON for scripts, with no colour codes whatever the terminal.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from bot.cli_logging import command_log_level, set_verbose
from bot.cli_text import literal, warn
from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging
from bot.platforms import PLATFORMS

# Commands import what they need when they run: `newsbot status` answers in a fraction of a
# second while `newsbot run` is up, so it must not load the teaser, image and platform code.

app = typer.Typer(
    name="newsbot",
    help="Publish each new post of a Jekyll news blog to Telegram and X, exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# No emoji codes: a title holding `:fire:` prints as typed (values go in as Text or escaped).
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

SiteOption = Annotated[
    Path | None,
    typer.Option("--site", help="Jekyll site folder (default: SITE_DIR).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Plain, stable JSON output.")]


class UserError(Exception):
    """An expected problem: printed as one line, exit status 2."""


@app.callback()
def _global_options(
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show INFO log lines (commands log only warnings by default)."
    )] = False,
) -> None:
    set_verbose(verbose)


def _settings(site: Path | None) -> Settings:
    """Load settings and set up redacted logging before anything can log a secret."""
    settings = load_settings(site_dir=site)
    configure_logging(command_log_level(settings.log_level), secrets=settings.secret_values())
    return settings


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command()
def check(site: SiteOption = None, as_json: JsonOption = False) -> None:
    """List every post: publishable or not and why, and every bad file with its reason."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    from bot.actions.check import check_site
    from bot.actions.content import load_site

    settings = _settings(site)
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
        warn(err_console, *(f"{r.file}: {w}" for w in r.warnings))
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
    ref: Annotated[str, typer.Argument(help="Post file, slug or URL.")],
    site: SiteOption = None,
    platform: Annotated[str, typer.Option("--platform", "-p", help="telegram, x or all.")] = "all",
    as_json: JsonOption = False,
) -> None:
    """Print each teaser exactly as it would be sent, its length against its limit, the image."""
    from bot.actions.content import ContentTools, post_json, prepare, teaser_json
    from bot.actions.lookup import PostLookupError, find_post
    from bot.cli_text import image_line, print_teaser

    if platform not in (*PLATFORMS, "all"):
        raise UserError(f"unknown platform {platform!r}; choose telegram, x or all")
    settings = _settings(site)
    tools = ContentTools.from_settings(settings)
    try:
        post = find_post(tools.site, ref)
    except PostLookupError as exc:
        raise UserError(str(exc)) from None
    wanted = PLATFORMS if platform == "all" else (platform,)
    items = [prepare(tools, post, p) for p in wanted]
    warn(err_console, *post.warnings)

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


def _expected(exc: BaseException) -> bool:
    """A problem the user can act on (one line, exit 2), not a bug (a traceback)."""
    from bot.redis_embedded import EmbeddedRedisBusyError, EmbeddedRedisUnavailableError
    from bot.sources.site import SiteError
    from bot.teasers import TemplateError

    return isinstance(exc, ConfigError | SiteError | UserError | TemplateError
                      | EmbeddedRedisBusyError | EmbeddedRedisUnavailableError)


def main() -> None:
    """Console entry point: expected problems become one line on stderr, never a traceback."""
    import click

    try:
        code = app(standalone_mode=False)
    except click.exceptions.Abort:
        raise SystemExit(130) from None
    except click.ClickException as exc:  # click's own usage errors
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:
        if not _expected(exc):
            raise
        err_console.print(Text.assemble(("error:", "bold red"), " ", literal(exc)), soft_wrap=True)
        raise SystemExit(2) from None
    if isinstance(code, int) and code:
        raise SystemExit(code)
