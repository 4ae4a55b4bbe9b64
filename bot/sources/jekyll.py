"""Reading a Jekyll site's `_posts/` into `Post`s, the way Jekyll itself would publish them.

A newsroom's folder always holds some broken file: a half-saved draft, a post pasted from a Korean
editor in EUC-KR, a YAML colon in a title. One such file must never stop the other posts from
going out, so every problem becomes a `PostFileError` (a `BadFile` in a scan) whose reason tells
the editor what to fix and where. Files Jekyll would not publish as posts (no date in the name,
no front matter) are reported too: the bot must only announce URLs that exist.

Front matter is split by a python-frontmatter handler, `front_handler.JekyllHandler` (Jekyll's
strict fence, reasons with the file's line, the bounded libyaml loader, TOML between `+++`), but
the reader calls its `split` and `load` itself, not `frontmatter.parse` or `loads`: `parse`
`.strip()`s the whole file and the body, so a post that opens with an indented code block would
get the code as its lead, and a last line `---\\r` would close front matter that is refused here
as never closed; `loads` also hands the keys over as keyword arguments, which a YAML key like
`2024:` cannot be. Speed decides nothing (`benchmarks/bench_front_matter.py`, 2,000 posts, CPU
per post, before and after in one run): the split costs 37.5 µs as the handler, as it did
hand-rolled (1.00x), and a whole `read_post`, ~200 µs, is 1.00x too; `parse` with the handler
would add 4 µs (1.11x the split, 2% of a `read_post`).

The files are hostile too: which paths are posts is one rule (`postpaths`), front matter is
bounded in size and nesting (`front_handler`) and in what its YAML aliases expand to
(`yaml_front`), the excerpt is found in linear time (`text`), a reason quotes a value only in
part (`errors`), and whatever reading one file raises becomes that file's reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.posts import BadFile, Post, ScanResult
from bot.sources import dates, permalink
from bot.sources.errors import PostFileError, clip
from bot.sources.front_handler import (
    MAX_FRONT_MATTER_CHARS,
    MAX_FRONT_MATTER_DEPTH,
    JekyllHandler,
)
from bot.sources.postpaths import (
    MAX_POST_BYTES,
    iter_post_files,
    post_path_problem,
    read_post_bytes,
    text_path,
)
from bot.sources.site import SiteConfig
from bot.sources.text import first_paragraph, html_to_text, plain_text
from bot.sources.title_markup import dropped_markup_note

__all__ = [
    "MAX_FRONT_MATTER_CHARS",
    "MAX_FRONT_MATTER_DEPTH",
    "MAX_POST_BYTES",
    "MAX_URL_CHARS",
    "PostFileError",
    "folder_categories",
    "iter_post_files",
    "post_path_problem",
    "read_post",
    "read_posts",
    "same_url_reason",
    "scan_site",
    "text_path",
]

MAX_URL_CHARS = 2000
"""A post URL longer than this is a mistake (a pasted paragraph as permalink or slug); it would
also be the identity in every log line and Redis key of the post."""

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
        "retracted",
        "breaking",
        "telegram_text",
        "x_text",
        "permalink",
    ]
)
_FALSE_WORDS = frozenset({"false", "no", "off", "0", "n"})
_BLANK_RUNS = re.compile(r"\n{3,}")

# --------------------------------------------------------------------------- folders


def folder_categories(site: SiteConfig, path: Path) -> list[str]:
    """Folders above `_posts/` are categories in Jekyll: 'news/tech/_posts/x.md' -> news, tech.

    Folders below `_posts/` (e.g. `_posts/2024/`) are only for tidiness and are not categories.
    A file outside the site folder has none (its folders say nothing about this site).
    """
    rel = _below(site.root, path)
    if rel is None:
        return []
    parts = tuple(rel.split("/"))
    collections_dir = str(site.raw.get("collections_dir") or "").strip("/")
    if collections_dir:
        prefix = tuple(collections_dir.split("/"))
        if parts[: len(prefix)] == prefix:
            parts = parts[len(prefix) :]
    if "_posts" not in parts:
        return []
    return list(parts[: parts.index("_posts")])


# --------------------------------------------------------------------------- reading one file


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


_FRONT_MATTER = JekyllHandler()


def _split(text: str) -> tuple[dict[Any, Any], str]:
    """(front matter, body): the handler's split and load, not `frontmatter.parse` (see above)."""
    fm, body = _FRONT_MATTER.split(text)
    return _FRONT_MATTER.load(fm), body


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
    """Read one post file; raises PostFileError(reason, line) when it cannot be a post.

    Nothing else escapes: whatever one hostile file makes the parsers raise (a RecursionError
    from 5,000 nested TOML arrays, a MemoryError, a bug of ours) becomes that file's reason, so
    a scan, a `check` or a first-run baseline goes on with the other files.
    """
    path = path if isinstance(path, Path) else Path(path)
    try:
        return _read_post(site, path)
    except PostFileError:
        raise
    except RecursionError:
        raise PostFileError(
            "nested too deeply to read (thousands of levels of lists or tables)"
        ) from None
    except MemoryError:
        raise PostFileError("too large to read in memory") from None
    except Exception as exc:  # one odd value must not stop a scan; say what broke
        try:
            detail = clip(str(exc), 200)
        except Exception:
            detail = "no detail"
        raise PostFileError(
            f"could not read this post ({type(exc).__name__}: {detail}); please report it"
        ) from exc


def _read_post(site: SiteConfig, path: Path) -> Post:
    path, data = read_post_bytes(site, path)  # first: only a file of the site is looked at
    rel_path = _rel(site, path)
    name = path.name
    file_date = dates.filename_date(name)
    if file_date is None:
        raise PostFileError(
            "file name must start with the post date, e.g. 2024-08-07-my-title.md "
            "(Jekyll does not publish a file in _posts/ without it)"
        )
    front, body = _split(_decode(data))
    return _build(site, path, rel_path, name, file_date, front, body)


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
            ext=_suffix(name),
            source_path=rel_path,
        )
    except ValueError as exc:
        raise PostFileError(f"cannot build the post URL: {exc}") from None
    url = permalink.canonical_url(site.url, site.baseurl, url_path)
    if len(url) > MAX_URL_CHARS:
        raise PostFileError(
            f"the post URL would be {len(url):,} characters long, over {MAX_URL_CHARS:,}: "
            "shorten the permalink, slug or file name"
        )
    image, image_alt_from_image = _image(front)
    alt = _scalar_text("image_alt", front.get("image_alt")) or image_alt_from_image
    return Post(
        url=url,
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
        retracted=front.get("retracted") is not None and _flag("retracted",
                                                               front.get("retracted")),
        breaking=front.get("breaking") is not None and _flag("breaking", front.get("breaking")),
        telegram_text=_clean_block("telegram_text", front.get("telegram_text")),
        x_text=_clean_block("x_text", front.get("x_text")),
        extra={str(k): v for k, v in front.items() if k not in _KNOWN_KEYS},
        warnings=_title_warnings(front.get("title"), title),
    )


def _title_warnings(value: object, title: str) -> tuple[str, ...]:
    note = dropped_markup_note(_scalar_text("title", value) or "", title)
    return (note,) if note else ()


def _rel(site: SiteConfig, path: Path) -> str:
    rel = _below(site.root, path)
    return text_path(rel if rel is not None else path.as_posix())


def _below(root: Path, path: Path) -> str | None:
    """``path.relative_to(root).as_posix()``, or None when not below: on strings, since a scan
    asks it of every file twice and pathlib's parsing was a tenth of reading a post."""
    whole, base = str(path), str(root)
    if whole == base:
        return "."
    base = base if base.endswith(os.sep) else base + os.sep
    if not whole.startswith(base):
        return None
    return whole[len(base):].replace(os.sep, "/")


def _suffix(name: str) -> str:
    """``Path(name).suffix`` without building a Path."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


# --------------------------------------------------------------------------- the whole site


def same_url_reason(first_rel: str, url: str) -> str:
    """The reason of a file whose URL an earlier file already has (scan, check and planner)."""
    return (
        f"same URL as {first_rel} ({clip(url, 200)}): give it another file name, slug or "
        "permalink"
    )


def read_posts(site: SiteConfig, paths: Iterable[Path]) -> Iterator[Post | BadFile]:
    """Each of `paths` read, in order: its Post or a BadFile with the reason; never raises.

    Two files that would get the same URL cannot both be posts (Jekyll writes one over the
    other, and the URL is a post's identity): the first in path order is kept, the others are
    bad files. `scan_site` and `newsbot check` both read through here, so they agree.
    """
    by_url: dict[str, Post] = {}
    for path in paths:
        rel = _rel(site, path)
        try:
            post = read_post(site, path)
        except PostFileError as exc:
            yield BadFile(path=path, rel_path=rel, reason=exc.reason, line=exc.line)
            continue
        except Exception as exc:  # defensive: read_post already converts every error
            yield BadFile(path, rel, f"could not read this post ({type(exc).__name__})")
            continue
        first = by_url.get(post.url)
        if first is not None:
            yield BadFile(path, rel, same_url_reason(first.rel_path, post.url))
            continue
        by_url[post.url] = post
        yield post


def scan_site(site: SiteConfig) -> ScanResult:
    """All posts and all bad files (see `read_posts`); never raises for a bad file."""
    posts: list[Post] = []
    bad: list[BadFile] = []
    for item in read_posts(site, iter_post_files(site)):
        if isinstance(item, Post):
            posts.append(item)
        else:
            bad.append(item)
    return ScanResult(posts=posts, bad=bad)
