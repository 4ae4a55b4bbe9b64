"""Which paths are a site's post files, and how one is opened: one rule for every way in.

Why one rule: a file symlinked into `_posts/` from outside the site was skipped by full scans but
read by file-event scans and by delivery, so an embargoed file elsewhere on the machine went out.
Now the full walk (`iter_post_files`) applies the rule's predicates as it walks, file-event
scans and lookups by reference ask `post_path_problem`, and every read (scan, check, lookup,
delivery, preview) goes through `read_post_bytes`, which applies the rule itself and opens the
file without following a symlink it has not checked, without blocking on a pipe, within a size
cap.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.sources.errors import PostFileError
from bot.sources.site import SiteConfig

__all__ = ["MAX_POST_BYTES", "iter_post_files", "post_path_problem", "read_post_bytes",
           "text_path"]

MAX_POST_BYTES = 5 * 1024 * 1024
"""A news post is a few KB; anything this big is a mistake (a pasted base64 image, a dump)."""

_SKIP_DIRS = frozenset({"_site", "node_modules", "vendor"})
_DEFAULT_MARKDOWN_EXTS = ("markdown", "mkdown", "mkdn", "mkd", "md")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = (
    os.O_RDONLY
    | _NOFOLLOW
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO named like a post must not block the scan
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_OUTSIDE = "a symlink to a file outside the site folder: not read"
_SYMLINK_ERRNOS = (errno.ELOOP, errno.ENOTDIR)
_BENEATH = bool(_NOFOLLOW) and os.open in os.supports_dir_fd


@dataclass(frozen=True, slots=True)
class _Rules:
    """What of `_config.yml` decides which paths are posts."""

    exts: frozenset[str]
    excluded: tuple[str, ...]
    collections_dir: str

    @classmethod
    def of(cls, site: SiteConfig) -> _Rules:
        raw = site.raw.get("markdown_ext")
        names = str(raw).split(",") if raw else list(_DEFAULT_MARKDOWN_EXTS)
        exts = {"." + n.strip().lstrip(".").lower() for n in names if n.strip()}
        items = site.raw.get("exclude")
        excluded = [
            str(i).strip("/")
            for i in (items if isinstance(items, list) else [])
            if isinstance(i, str | int) and str(i).strip("/")
        ]
        collections_dir = str(site.raw.get("collections_dir") or "").strip("/")
        return cls(frozenset(exts | {".md", ".markdown", ".html"}), tuple(excluded),
                   collections_dir)

    def excludes(self, rel: str) -> bool:
        return any(rel == e or rel.startswith(e + "/") for e in self.excluded)

    def folder_problem(self, name: str, rel: str) -> str | None:
        """Why the folder `name` (at `rel`) holds no posts, or None when it may."""
        if self.excludes(rel):
            return f"in {rel}/, which _config.yml excludes"
        if name == "_posts" or rel == self.collections_dir:
            return None
        if _jekyll_ignores(name) or name in _SKIP_DIRS:
            return f"in {rel}/, a folder Jekyll does not read"
        return None

    def file_problem(self, name: str, rel: str) -> str | None:
        """Why the file `name` (at `rel`, inside a `_posts` folder) is no post, or None."""
        if self.excludes(rel):
            return f"{rel} is excluded by _config.yml"
        if _jekyll_ignores(name):
            return "Jekyll ignores files whose names start with _ . # or end with ~"
        if _ext(name) not in self.exts:
            return "not a Markdown or HTML file"
        return None


_RULES: dict[tuple[str, str, str], _Rules] = {}


def _rules(site: SiteConfig) -> _Rules:
    """``_Rules.of(site)``, remembered by the settings it is made of (every file read asks)."""
    raw = site.raw
    key = (repr(raw.get("markdown_ext")), repr(raw.get("exclude")),
           repr(raw.get("collections_dir")))
    rules = _RULES.get(key)
    if rules is None:
        if len(_RULES) >= 32:
            _RULES.clear()
        rules = _RULES[key] = _Rules.of(site)
    return rules


def _jekyll_ignores(name: str) -> bool:
    """Jekyll's EntryFilter: `_x`, `.x`, `#x` and `x~` are never content (editor and OS junk)."""
    return name.startswith(("_", ".", "#")) or name.endswith("~")


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def text_path(rel: str) -> str:
    """``rel`` as text that Redis, JSON and chat messages carry: a name that is not UTF-8 comes
    from the OS as surrogate escapes, which no encoder takes, so its bytes are shown as ``\\xNN``
    (an editor sees which file to rename, and the text stays the same from scan to scan)."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = rel.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return rel.encode("utf-8", "backslashreplace").decode("ascii")
        return raw.decode("utf-8", "backslashreplace")
    return rel


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


# --------------------------------------------------------------------------- the full walk


def iter_post_files(site: SiteConfig) -> Iterator[Path]:
    """Every candidate post file under any `_posts/` folder of the site, in path order.

    Like Jekyll: `<category>/_posts/` counts, subfolders of `_posts/` count, folders starting with
    `_` or `.` (other than `_posts`), `node_modules`, `vendor` and `exclude:` entries are not
    walked, and only Markdown/HTML files are posts (images or notes kept next to posts are not
    reported). Symlinks leading outside the site are not followed. Exactly the paths for which
    `post_path_problem` is None (the walk knows each folder's real place, so it only resolves
    symlinks).
    """
    root = site.root
    real_root = _real_root(root)
    rules = _Rules.of(site)
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
            if entry.is_symlink() and not _inside(os.path.realpath(entry.path), real_root):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if rules.folder_problem(name, child_rel) is None:
                    yield from walk(folder / name, child_rel, in_posts or name == "_posts")
            elif in_posts and rules.file_problem(name, child_rel) is None:
                yield folder / name  # entry.path as a Path, without parsing all of it again

    yield from walk(root, "", False)


# --------------------------------------------------------------------------- one path


@functools.lru_cache(maxsize=16)
def _real_root(root: Path) -> str:
    """The site folder with every symlink resolved (the operator's setting: trusted, cached)."""
    return os.path.realpath(root)


def _site_parts(root: Path, path: Path) -> tuple[str, ...] | None:
    """`path`'s parts below `root` as the site names them (symlinks not resolved), or None."""
    lexical = os.path.abspath(path)
    base = str(root).rstrip(os.sep) + os.sep
    if lexical.startswith(base):
        return tuple(lexical[len(base) :].split(os.sep))
    # Named through another path to the site (a symlinked folder): judge the folders by where
    # they really are and the file by its own name (resolving it would hide a symlink).
    folder, name = os.path.split(lexical)
    try:
        return (Path(os.path.realpath(folder)) / name).relative_to(root).parts
    except (ValueError, OSError):
        return None


def _name_problem(site: SiteConfig, parts: tuple[str, ...] | None) -> str | None:
    """Why a path named `parts` below the site is no post, by its names alone (or None)."""
    if not parts or "" in parts or ".." in parts:
        return "not a file of the site"
    rules = _rules(site)
    in_posts = False
    for depth, name in enumerate(parts[:-1], start=1):
        problem = rules.folder_problem(name, "/".join(parts[:depth]))
        if problem is not None:
            return problem
        in_posts = in_posts or name == "_posts"
    if not in_posts:
        return "not in a _posts folder"
    return rules.file_problem(parts[-1], "/".join(parts))


def _real_parts(site: SiteConfig, parts: tuple[str, ...]) -> tuple[str, ...] | None:
    """The parts, below the site's real folder, of the file `parts` really is; None outside."""
    real_root = _real_root(site.root)
    real = os.path.realpath(os.path.join(real_root, *parts))
    if not _inside(real, real_root) or real == real_root:
        return None
    return tuple(real[len(real_root.rstrip(os.sep)) + 1 :].split(os.sep))


def post_path_problem(site: SiteConfig, path: Path | str) -> str | None:
    """Why `path` may not be read as a post of `site`, or None when it may.

    A post file is inside the site folder (after resolving every symlink on the way), below a
    `_posts` folder Jekyll reads, with a post's extension and name. Whether it is a readable
    regular file of a sane size is decided when it is opened (`read_post_bytes`).
    """
    parts = _site_parts(site.root, Path(path))
    problem = _name_problem(site, parts)
    if problem is None and parts and _real_parts(site, parts) is None:
        return _OUTSIDE
    return problem


def read_post_bytes(site: SiteConfig, path: Path | str) -> tuple[Path, bytes]:
    """(the path as the site names it, the file's bytes), or PostFileError saying why not.

    The path must pass `post_path_problem`. It is opened one folder at a time from the site's
    real folder without following symlinks: when that works there is no symlink on the way and
    the file is inside by construction (the common case, without resolving anything); when a
    symlink is met, the path is resolved, checked, and its real parts opened the same way, so a
    symlink swapped in after the check is refused, not followed. A pipe or device is refused
    without blocking on it. The path returned is absolute and below `site.root` whatever way
    the caller named the file, so folder categories and the URL do not depend on that. A name
    that is not UTF-8 is refused before the file is opened: Jekyll builds the URL from it, and
    the path itself could not be stored or shown.
    """
    parts = _site_parts(site.root, path if isinstance(path, Path) else Path(path))
    problem = _name_problem(site, parts)
    if problem is not None or not parts:
        raise PostFileError(problem or "not a file of the site")
    shown = text_path("/".join(parts))
    if shown != "/".join(parts):
        raise PostFileError(
            f"the file name is not valid UTF-8 ({shown.rsplit('/', 1)[-1][:80]}): rename it, "
            "in UTF-8 (the post's URL is made from it)"
        )
    real_root = _real_root(site.root)
    try:
        fd = _open_beneath(real_root, parts)
    except OSError as exc:
        if exc.errno not in _SYMLINK_ERRNOS:
            raise PostFileError(f"cannot read the file: {exc.strerror or exc}") from None
        real_parts = _real_parts(site, parts)  # a symlink on the way: where does it lead?
        if real_parts is None:
            raise PostFileError(_OUTSIDE) from None
        fd = _open_checked(real_root, real_parts)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PostFileError("not a regular file (a pipe, device or folder cannot be a post)")
        if info.st_size > MAX_POST_BYTES:
            raise PostFileError(
                f"file is {info.st_size / 1_048_576:.1f} MB, over the "
                f"{MAX_POST_BYTES // 1_048_576} MB limit for a post: is an image or a data dump "
                "pasted into it?"
            )
        data = _read_at_most(fd, MAX_POST_BYTES + 1)
    except OSError as exc:
        raise PostFileError(f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_POST_BYTES:
        raise PostFileError(f"file is over the {MAX_POST_BYTES // 1_048_576} MB limit for a post")
    named = os.path.join(site.root, *parts)
    # The caller's own Path when it names the file so already (a walk's always does).
    return (path if isinstance(path, Path) and str(path) == named else Path(named)), data


def _open_checked(real_root: str, real_parts: tuple[str, ...]) -> int:
    """Open the file at parts already resolved and checked; a symlink there now is a race."""
    try:
        return _open_beneath(real_root, real_parts)
    except OSError as exc:
        checked = os.path.join(real_root, *real_parts)
        if exc.errno in _SYMLINK_ERRNOS and os.path.realpath(checked) != checked:
            raise PostFileError(
                "the file or a folder above it was replaced by a symlink while being read: "
                "not read"
            ) from None
        raise PostFileError(f"cannot read the file: {exc.strerror or exc}") from None


def _open_beneath(real_root: str, parts: tuple[str, ...]) -> int:
    """A read-only descriptor of `real_root/parts...`; OSError ELOOP (or ENOTDIR) when a
    symlink is on the way, which is never followed."""
    if not _BENEATH:  # pragma: no cover - not POSIX: resolve, check, then open
        real = os.path.realpath(os.path.join(real_root, *parts))
        if not _inside(real, real_root):
            raise OSError(errno.ELOOP, "symlink out of the site")
        return os.open(real, _FILE_FLAGS)
    fd = os.open(real_root, _DIR_FLAGS)
    try:
        for name in parts[:-1]:
            child = os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
        return os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        chunk = os.read(fd, min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)
