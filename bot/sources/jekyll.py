"""Reading a Jekyll site's `_posts/` into `Post`s, the way Jekyll itself would publish them.

A newsroom's folder always holds some broken file: a half-saved draft, a post pasted from a Korean
editor in EUC-KR, a YAML colon in a title. One such file must never stop the other posts from
going out, so every problem becomes a `PostFileError` (a `BadFile` in a scan) whose reason tells
the editor what to fix and where. Files Jekyll would not publish as posts (no date in the name,
no front matter) are reported too: the bot must only announce URLs that exist.

Front matter is split here rather than by python-frontmatter: we need the exact line of a YAML
error, a strict Jekyll-compatible fence, and speed (a 20,000-post site is scanned on `check`);
YAML is parsed with libyaml (CSafeLoader) when available, TOML (`+++`) with the stdlib.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.posts import BadFile, Post, ScanResult
from bot.sources import dates, permalink
from bot.sources.site import SiteConfig
from bot.sources.text import first_paragraph, html_to_text, plain_text

__all__ = [
    "MAX_POST_BYTES",
    "PostFileError",
    "folder_categories",
    "iter_post_files",
    "read_post",
    "scan_site",
]

MAX_POST_BYTES = 5 * 1024 * 1024
"""A news post is a few KB; anything this big is a mistake (a pasted base64 image, a dump)."""

_SKIP_DIRS = frozenset({"_site", "node_modules", "vendor"})
_DEFAULT_MARKDOWN_EXTS = ("markdown", "mkdown", "mkdn", "mkd", "md")
_KNOWN_KEYS = frozenset(
    [
        "title",
        "date",
        "slug",
        "categories",
        "category",
        "tags",
        "tag",
        "excerpt",
        "feature_text",
        "description",
        "image",
        "feature_image",
        "og_image",
        "image_alt",
        "published",
        "social",
        "telegram_text",
        "x_text",
        "permalink",
    ]
)
_FALSE_WORDS = frozenset({"false", "no", "off", "0", "n"})
_YAML_OPEN = re.compile(r"---[ \t]*\n")
_YAML_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_TOML_OPEN = re.compile(r"\+\+\+[ \t]*\n")
_TOML_CLOSE = re.compile(r"^\+\+\+[ \t]*$", re.MULTILINE)
_TOML_LINE = re.compile(r"at line (\d+)")
_BLANK_RUNS = re.compile(r"\n{3,}")

try:  # libyaml is ~10x faster; the pure-Python loader gives the same values.
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader whose impossible dates (`date: 2024-13-45`) carry the line they are on."""


def _timestamp(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> object:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"impossible date {node.value!r} ({exc})", node.start_mark
        ) from exc


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class PostFileError(Exception):
    """This file cannot be a post; `reason` says why in words an editor can act on."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason, line)
        self.reason = reason
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


# --------------------------------------------------------------------------- finding the files


def _post_exts(site: SiteConfig) -> frozenset[str]:
    raw = site.raw.get("markdown_ext")
    names = str(raw).split(",") if raw else list(_DEFAULT_MARKDOWN_EXTS)
    exts = {"." + n.strip().lstrip(".").lower() for n in names if n.strip()}
    return frozenset(exts | {".md", ".markdown", ".html"})


def _jekyll_ignores(name: str) -> bool:
    """Jekyll's EntryFilter: `_x`, `.x`, `#x` and `x~` are never content (editor and OS junk)."""
    return name.startswith(("_", ".", "#")) or name.endswith("~")


def _excluded(site: SiteConfig) -> list[str]:
    raw = site.raw.get("exclude")
    items = raw if isinstance(raw, list) else []
    return [str(i).strip("/") for i in items if isinstance(i, str | int) and str(i).strip("/")]


def iter_post_files(site: SiteConfig) -> Iterator[Path]:
    """Every candidate post file under any `_posts/` folder of the site, in path order.

    Like Jekyll: `<category>/_posts/` counts, subfolders of `_posts/` count, folders starting with
    `_` or `.` (other than `_posts`), `node_modules`, `vendor` and `exclude:` entries are not
    walked, and only Markdown/HTML files are posts (images or notes kept next to posts are not
    reported). Symlinks leading outside the site are not followed.
    """
    root = site.root
    exts = _post_exts(site)
    excluded = _excluded(site)
    collections_dir = str(site.raw.get("collections_dir") or "").strip("/")
    seen: set[tuple[int, int]] = set()  # a symlink back up the tree must not loop forever

    def walk(folder: Path, rel: str, in_posts: bool) -> Iterator[Path]:
        try:
            info = folder.stat()
        except OSError:
            return
        if (info.st_dev, info.st_ino) in seen:
            return
        seen.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            name = entry.name
            child_rel = f"{rel}/{name}" if rel else name
            if excluded and any(child_rel == e or child_rel.startswith(e + "/") for e in excluded):
                continue
            if entry.is_symlink() and not _inside(Path(entry.path), root):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if name == "_posts":
                    yield from walk(Path(entry.path), child_rel, True)
                elif child_rel == collections_dir or (
                    not _jekyll_ignores(name) and name not in _SKIP_DIRS
                ):
                    yield from walk(Path(entry.path), child_rel, in_posts)
            elif in_posts and not _jekyll_ignores(name) and _ext(name) in exts:
                yield Path(entry.path)

    yield from walk(root, "", False)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def folder_categories(site: SiteConfig, path: Path) -> list[str]:
    """Folders above `_posts/` are categories in Jekyll: 'news/tech/_posts/x.md' -> news, tech.

    Folders below `_posts/` (e.g. `_posts/2024/`) are only for tidiness and are not categories.
    A file outside the site folder has none (its folders say nothing about this site).
    """
    try:
        parts = Path(path).relative_to(site.root).parts
    except ValueError:
        return []
    collections_dir = str(site.raw.get("collections_dir") or "").strip("/")
    if collections_dir:
        prefix = tuple(collections_dir.split("/"))
        if parts[: len(prefix)] == prefix:
            parts = parts[len(prefix) :]
    if "_posts" not in parts:
        return []
    return list(parts[: parts.index("_posts")])


# --------------------------------------------------------------------------- reading one file


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PostFileError(f"cannot read the file: {exc.strerror or exc}") from None
    if size > MAX_POST_BYTES:
        raise PostFileError(
            f"file is {size / 1_048_576:.1f} MB, over the {MAX_POST_BYTES // 1_048_576} MB limit "
            "for a post: is an image or a data dump pasted into it?"
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_POST_BYTES + 1)
    except OSError as exc:
        raise PostFileError(f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > MAX_POST_BYTES:
        raise PostFileError(f"file is over the {MAX_POST_BYTES // 1_048_576} MB limit for a post")
    return data


def _decode(data: bytes) -> str:
    if not data.strip():
        raise PostFileError("empty file: write the front matter (--- title: ... ---) and the post")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PostFileError("file is saved as UTF-16: save it as UTF-8 (Jekyll reads UTF-8)")
    nul = data.find(b"\x00")
    if nul != -1:
        line = data.count(b"\n", 0, nul) + 1
        raise PostFileError(f"binary file (NUL byte at byte {nul}), not a text post", line)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 4].hex(" ")
        hint = "save the file as UTF-8"
        try:
            data.decode("cp949")
        except UnicodeDecodeError:
            pass
        else:
            hint = "it looks like EUC-KR/CP949 text: save the file as UTF-8"
        raise PostFileError(
            f"not valid UTF-8 at byte {exc.start} (line {line}, column {column}: bytes {bad}); "
            f"{hint}",
            line,
        ) from None
    return text.replace("\r\n", "\n")


def _split(text: str) -> tuple[dict[Any, Any], str]:
    """(front matter, body)."""
    if m := _YAML_OPEN.match(text):
        close_re, kind = _YAML_CLOSE, "YAML"
    elif m := _TOML_OPEN.match(text):
        close_re, kind = _TOML_CLOSE, "TOML"
    else:
        if text.startswith(("---", "+++")):
            raise PostFileError(
                f"the first line must be exactly '{text[:3]}' (the front matter fence)",
                1,
            )
        stripped = text.lstrip()
        if stripped.startswith(("---", "+++")):
            line = text[: len(text) - len(stripped)].count("\n") + 1
            raise PostFileError(
                "front matter must start on the very first line: remove what comes before '---'",
                line,
            )
        raise PostFileError(
            "no front matter: a post must start with a '---' line, then 'title: ...', then '---' "
            "(without it Jekyll copies the file as is and does not publish a post)"
        )
    fence = text[: m.end() - 1].strip()
    close = close_re.search(text, m.end())
    if close is None:
        raise PostFileError(f"front matter opened with '{fence}' on line 1 is never closed", 1)
    raw = text[m.end() : close.start()]
    body = text[close.end() + 1 :]
    data = _parse_yaml(raw) if kind == "YAML" else _parse_toml(raw)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        found = "a list" if isinstance(data, list) else f"just {str(data)[:40]!r}"
        raise PostFileError(f"front matter must be 'key: value' lines, found {found}", 2)
    return data, body


def _parse_yaml(raw: str) -> object:
    try:
        return yaml.load(raw, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else None
        context = exc.context or ""
        start = exc.context_mark
        if context and start is not None and mark is not None and start.line != mark.line:
            context = f"{context} (from line {start.line + 2})"
        what = ", ".join(p for p in (context, exc.problem) if p)
        hint = ""
        if "mapping values are not allowed" in what:
            hint = " (a value containing ': ' must be quoted, e.g. title: \"A: B\")"
        elif "tab" in what:
            hint = " (use spaces, not tabs)"
        raise PostFileError(f"front matter is not valid YAML: {what}{hint}", line) from None
    except (yaml.YAMLError, ValueError, RecursionError, OverflowError) as exc:
        raise PostFileError(f"front matter is not valid YAML: {exc}") from None


def _parse_toml(raw: str) -> object:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LINE.search(str(exc))
        line = int(m.group(1)) + 1 if m else None
        raise PostFileError(f"front matter is not valid TOML: {exc}", line) from None
    # A TOML local datetime has no zone: read it in the site zone like a quoted YAML date.
    date_value = data.get("date")
    if isinstance(date_value, datetime) and date_value.tzinfo is None:
        data["date"] = date_value.isoformat(sep=" ")
    return data


# --------------------------------------------------------------------------- front-matter values


def _scalar_text(key: str, value: object) -> str | None:
    """A front-matter value as text, or None when absent/empty; lists and mappings are errors."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list | tuple):
        kind = "a list"
    elif isinstance(value, dict):
        kind = "a mapping (key: value pairs)"
    elif isinstance(value, bytes):
        kind = "binary data"
    else:
        kind = type(value).__name__
    raise PostFileError(f"'{key}' must be text, not {kind}")


def _clean_title(value: object) -> str:
    text = _scalar_text("title", value)
    title = html_to_text(text) if text else ""
    if not title:
        raise PostFileError("no title: add 'title: ...' to the front matter")
    return title


def _clean_block(key: str, value: object) -> str | None:
    """Teaser overrides keep their line breaks, minus YAML's trailing newline and blank runs."""
    text = _scalar_text(key, value)
    if text is None:
        return None
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)) or None


def _word_list(key: str, value: object, *, split: bool) -> list[str]:
    """Jekyll accepts a YAML list or (for the plural keys) a space-separated string."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items = [_scalar_text(key, v) for v in value]
        return [" ".join(i.split()) for i in items if i and i.strip()]
    text = _scalar_text(key, value)
    if not text or not text.strip():
        return []
    return text.split() if split else [" ".join(text.split())]


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _plural(front: Mapping[Any, Any], plural: str, singular: str) -> list[str]:
    """Jekyll's pluralized_array_from_hash: the plural key wins; a singular value is one item."""
    if front.get(plural) is not None:
        return _word_list(plural, front[plural], split=True)
    return _word_list(singular, front.get(singular), split=False)


def _flag(key: str, value: object) -> bool:
    """Only an explicit false hides a post; 'false'/'no' as text count too (the safe reading)."""
    if value is None or isinstance(value, bool):
        return value is not False
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_WORDS
    if isinstance(value, int | float):
        return value != 0
    raise PostFileError(f"'{key}' must be true or false")


def _image(front: Mapping[Any, Any]) -> tuple[str | None, str | None]:
    """(image, alt from an image mapping) from the front-matter shapes themes use."""
    candidates: list[object] = [front.get("image")]
    alt: str | None = None
    header = front.get("header")
    for key in ("feature_image", "og_image"):
        candidates.append(front.get(key))
    if isinstance(header, dict):  # minimal-mistakes: header: {og_image, teaser, image}
        candidates += [header.get("og_image"), header.get("teaser"), header.get("image")]
    for value in candidates:
        if isinstance(value, dict):
            if alt is None and isinstance(value.get("alt"), str):
                alt = value["alt"]
            value = value.get("path") or value.get("feature") or value.get("url")
        if isinstance(value, str) and value.strip():
            return value.strip(), alt
    return None, alt


def _excerpt(front: Mapping[Any, Any], body: str, site: SiteConfig) -> str:
    for key in ("excerpt", "feature_text", "description"):
        text = _scalar_text(key, front.get(key))
        if text and text.strip():
            cleaned = plain_text(text)
            if cleaned:
                return cleaned
    separator = front.get("excerpt_separator", site.raw.get("excerpt_separator"))
    if isinstance(separator, str) and separator.strip() and separator in body:
        cleaned = plain_text(body.split(separator, 1)[0])
        if cleaned:
            return cleaned
    return first_paragraph(body)


def read_post(site: SiteConfig, path: Path) -> Post:
    """Read one post file; raises PostFileError(reason, line) when it cannot be a post."""
    path = Path(path)
    rel_path = _rel(site, path)
    name = path.name
    file_date = dates.filename_date(name)
    if file_date is None:
        raise PostFileError(
            "file name must start with the post date, e.g. 2024-08-07-my-title.md "
            "(Jekyll does not publish a file in _posts/ without it)"
        )
    front, body = _split(_decode(_read_bytes(path)))
    try:
        return _build(site, path, rel_path, name, file_date, front, body)
    except PostFileError:
        raise
    except Exception as exc:  # one odd value must not stop a scan; say what broke
        raise PostFileError(
            f"could not read this post ({type(exc).__name__}: {exc}); please report it"
        ) from exc


def _build(
    site: SiteConfig,
    path: Path,
    rel_path: str,
    name: str,
    file_date: date,
    front: dict[Any, Any],
    body: str,
) -> Post:
    title = _clean_title(front.get("title"))
    try:
        when = dates.post_date(front.get("date"), file_date, site.timezone)
    except ValueError as exc:
        raise PostFileError(f"{exc} (write it like 2024-08-07 09:30:00 +0900)") from None
    when = when.astimezone(site.timezone)
    file_title = dates.filename_title(name)
    front_slug = _scalar_text("slug", front.get("slug"))
    front_slug = front_slug.strip() if front_slug and front_slug.strip() else None
    slug = permalink.post_slug(front_slug, file_title, title)
    try:
        # Front-matter categories in Jekyll's own merge order (checked against real builds);
        # the folders are ours, so a folder named like `my_posts/` cannot confuse them.
        from_front = permalink.jekyll_categories(f"_posts/{name}", front)
    except ValueError:
        raise PostFileError("'categories' must be a list or words separated by spaces") from None
    categories = _unique(folder_categories(site, path) + from_front)
    tags = _unique(_plural(front, "tags", "tag"))
    front_permalink = _scalar_text("permalink", front.get("permalink"))
    try:
        url_path = permalink.post_path(
            site_permalink=site.permalink,
            front_permalink=front_permalink.strip() if front_permalink else None,
            date=when,
            title=file_title,
            slug=front_slug,
            categories=categories,
            ext=Path(name).suffix,
            source_path=rel_path,
        )
    except ValueError as exc:
        raise PostFileError(f"cannot build the post URL: {exc}") from None
    image, image_alt_from_image = _image(front)
    alt = _scalar_text("image_alt", front.get("image_alt")) or image_alt_from_image
    return Post(
        url=permalink.canonical_url(site.url, site.baseurl, url_path),
        path=path,
        rel_path=rel_path,
        title=title,
        date=when,
        slug=slug,
        categories=categories,
        tags=tags,
        excerpt=_excerpt(front, body, site),
        image=image,
        image_alt=html_to_text(alt) if alt and alt.strip() else title,
        published=_flag("published", front.get("published")),
        social=_flag("social", front.get("social")),
        telegram_text=_clean_block("telegram_text", front.get("telegram_text")),
        x_text=_clean_block("x_text", front.get("x_text")),
        extra={str(k): v for k, v in front.items() if k not in _KNOWN_KEYS},
    )


def _rel(site: SiteConfig, path: Path) -> str:
    try:
        return path.relative_to(site.root).as_posix()
    except ValueError:
        return path.as_posix()


# --------------------------------------------------------------------------- the whole site


def scan_site(site: SiteConfig) -> ScanResult:
    """All posts and all bad files; never raises for a bad file.

    Two files that would get the same URL cannot both be posts (Jekyll writes one over the
    other, and the URL is a post's identity): the first in path order is kept, the others are
    reported.
    """
    posts: list[Post] = []
    bad: list[BadFile] = []
    by_url: dict[str, Post] = {}
    for path in iter_post_files(site):
        rel = _rel(site, path)
        try:
            post = read_post(site, path)
        except PostFileError as exc:
            bad.append(BadFile(path=path, rel_path=rel, reason=exc.reason, line=exc.line))
            continue
        except Exception as exc:  # defensive: read_post already converts value errors
            bad.append(BadFile(path, rel, f"could not read this post ({type(exc).__name__})"))
            continue
        first = by_url.get(post.url)
        if first is not None:
            bad.append(
                BadFile(
                    path,
                    rel,
                    f"same URL as {first.rel_path} ({post.url}): give it another "
                    "file name, slug or permalink",
                )
            )
            continue
        by_url[post.url] = post
        posts.append(post)
    return ScanResult(posts=posts, bad=bad)
