"""The sandboxed Jinja2 environment teaser templates run in, and errors that point at the template.

Templates are user-editable files, so they run in `TeaserSandbox` (plain data only, every render
bounded: see `bot.teasers.sandbox`) with `StrictUndefined` (a typo is an error, not an empty
string). Post fields reach templates only as variables, never as template source, so `{{ 7*7 }}`
in a title stays text. A user folder may hold just one of the two templates: the loader falls back
to the repository default for the other.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import jinja2

from bot.teasers.sandbox import TeaserSandbox, render_budget


def _default_templates_dir() -> Path:
    """The source tree's templates/ (editable installs, Docker), else the installed copy."""
    source_tree = Path(__file__).resolve().parents[2] / "templates"
    installed = Path(sys.prefix) / "share" / "newsbot" / "templates"
    return source_tree if source_tree.is_dir() or not installed.is_dir() else installed


DEFAULT_TEMPLATES_DIR: Path = _default_templates_dir()
TELEGRAM_TEMPLATE = "telegram.html.j2"
X_TEMPLATE = "x.txt.j2"


class TemplateError(Exception):
    """A user template that cannot be used; the message names the file (and line when known)."""


def make_environment(templates_dir: Path | None = None) -> TeaserSandbox:
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None and Path(templates_dir).resolve() != DEFAULT_TEMPLATES_DIR:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.FileSystemLoader(str(DEFAULT_TEMPLATES_DIR)))
    return TeaserSandbox(
        loader=jinja2.ChoiceLoader(loaders),
        # Autoescape by file name: values are escaped exactly once in .html.j2, never in .txt.j2.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2", "html"),
            disabled_extensions=("txt.j2",),
            default_for_string=False,
            default=False,
        ),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )


def _where(filename: str | None, lineno: int | None, fallback: str) -> str:
    name = filename or fallback
    return f"{name}:{lineno}" if lineno else name


def load_template(env: jinja2.Environment, name: str) -> jinja2.Template:
    """Compile a template now, so a syntax error or unknown filter surfaces with its location."""
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as exc:  # unknown filters/tests are a subclass of it
        where = _where(exc.filename, exc.lineno, name)
        raise TemplateError(f"{where}: template syntax error: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"{name}: template not found") from exc


def render(template: jinja2.Template, context: dict[str, object]) -> str:
    """Render within the sandbox's limits, turning any failure inside the template (a limit, a
    forbidden attribute, a bug) into a TemplateError naming file and line."""
    try:
        with render_budget():
            return template.render(context)
    except Exception as exc:
        filename = template.filename
        lineno = None
        # Jinja rewrites tracebacks so template frames carry the template's file name and line.
        for frame in traceback.extract_tb(exc.__traceback__):
            if filename and frame.filename == filename:
                lineno = frame.lineno
        where = _where(filename, lineno, template.name or "<template>")
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from exc
