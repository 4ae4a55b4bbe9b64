"""Find the one post an editor means by a file name, a slug or a URL (or a URL records carry)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from bot.posts import BadFile, Post
from bot.sources.jekyll import PostFileError, post_path_problem, read_post, scan_site
from bot.sources.site import SiteConfig

if TYPE_CHECKING:
    from bot.actions.services import DeliveryServices

MAX_REF_LENGTH = 2048


class PostLookupError(Exception):
    """No post, or more than one, matches what the editor typed; the message says which."""


def _norm_url(url: str) -> str:
    parts = urlsplit(url.strip())
    path = unquote(parts.path).rstrip("/")
    for suffix in ("/index.html", ".html"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return f"{parts.netloc.lower()}{path}"


def find_post(site: SiteConfig, ref: str) -> Post:
    """Resolve `ref` (file path, slug or URL) to one post or raise PostLookupError with a reason.

    Arguments are data: a path is only read when it is a post file of the site by the rule every
    scan follows (`post_path_problem`: inside the site after resolving symlinks, in a `_posts`
    folder), so `../../etc/passwd` typed in Telegram, or a post symlinked from outside the site,
    gets a refusal, not a file read. The local CLI follows the same rule: what it previews or
    pushes is what a scan would publish.
    """
    ref = ref.strip()
    if not ref:
        raise PostLookupError("give a file name, a slug or a URL")
    if len(ref) > MAX_REF_LENGTH or "\x00" in ref:
        raise PostLookupError("that reference is too long or not text")

    if ref.startswith(("http://", "https://")):
        wanted = _norm_url(ref)
        result = scan_site(site)
        matches = [p for p in result.posts if _norm_url(p.url) == wanted]
        return _one(ref, matches, result.bad)

    candidates = [Path(ref), site.root / ref, site.root / "_posts" / ref]
    refusal: str | None = None
    for candidate in candidates:
        try:
            is_file = candidate.is_file()
        except OSError:  # a name too long for the file system is simply not a file
            is_file = False
        if not is_file:
            continue
        problem = post_path_problem(site, candidate)
        if problem is not None:
            refusal = refusal or problem
            continue
        try:
            return read_post(site, candidate)
        except PostFileError as exc:
            raise PostLookupError(f"{ref}: {exc}") from None
    if refusal is not None:
        raise PostLookupError(f"{ref}: {refusal}")
    if "/" in ref or "\\" in ref or ref.startswith("."):
        raise PostLookupError(f"{ref}: no such post file in the site")

    result = scan_site(site)
    stem = ref.rsplit(".", 1)[0] if ref.endswith((".md", ".markdown", ".html")) else ref
    matches = [
        p
        for p in result.posts
        if p.slug == ref or Path(p.rel_path).stem == stem or Path(p.rel_path).name == ref
    ]
    return _one(ref, matches, result.bad)


def _one(ref: str, matches: list[Post], bad: list[BadFile]) -> Post:
    if len(matches) == 1:
        return matches[0]
    if not matches:
        hint = ""
        broken = [b for b in bad if ref in b.rel_path]
        if broken:
            hint = f" (a bad file may be meant: {broken[0]})"
        raise PostLookupError(f"no post matches {ref!r}{hint}")
    listed = ", ".join(p.rel_path for p in matches[:5])
    raise PostLookupError(
        f"{len(matches)} posts match {ref!r}: {listed}; give the file name or URL"
    )


def find_target(
    svc: DeliveryServices, ref: str, *, records_may_do: bool
) -> tuple[Post | None, str | None, str | None]:
    """(post, post URL, error).

    For actions on existing records a URL that no longer matches a site file still works when
    records carry it (a post deleted or renamed after it was published).
    """
    try:
        post = find_post(svc.tools.site, ref)
    except PostLookupError as exc:
        url = ref.strip()
        if url.startswith(("http://", "https://")) and svc.state.records(post_url=url):
            # a post known by its first URL, whose URL changed since: same records
            moved = svc.find_post_by_url(url)
            if moved is not None:
                return moved, url, None
            if records_may_do:
                return None, url, None
        return None, None, str(exc)
    # A post whose URL changed (new slug, category, date, permalink) keeps its records.
    return post, svc.identity_of(post), None
