"""One rule decides which paths are posts: the walk, `post_path_problem` and the reader agree.

Regression: a file symlinked into `_posts/` from outside the site was skipped by full scans but
read by file-event scans and by delivery, so an embargoed file outside the site was published.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.sources.errors import PostFileError
from bot.sources.jekyll import iter_post_files, post_path_problem, read_post, scan_site
from bot.sources.postpaths import _open_checked, read_post_bytes

if TYPE_CHECKING:
    from conftest import SiteBuilder

EMBARGO = "---\ntitle: EMBARGOED until Friday\ndate: 2024-01-05 09:00:00 +0900\n---\nSecret.\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the site (not inside it) holding an embargoed post and a `_posts`."""
    folder = tmp_path / "private"
    (folder / "_posts").mkdir(parents=True)
    (folder / "2024-01-05-embargo.md").write_text(EMBARGO, encoding="utf-8")
    (folder / "_posts" / "2024-01-06-embargo-two.md").write_text(EMBARGO, encoding="utf-8")
    return folder


def _symlinks_out(b: SiteBuilder, outside: Path) -> list[Path]:
    """Every way a path of the site can lead outside it."""
    (b.root / "_posts").mkdir(parents=True, exist_ok=True)
    file_link = b.root / "_posts" / "2024-01-05-embargo.md"
    file_link.symlink_to(outside / "2024-01-05-embargo.md")
    dir_link = b.root / "_posts" / "private"
    dir_link.symlink_to(outside / "_posts")
    site_dir_link = b.root / "linked"
    site_dir_link.symlink_to(outside)
    chain = b.root / "_posts" / "2024-01-07-chain.md"  # inside -> inside -> outside
    (b.root / "notes").mkdir()
    (b.root / "notes" / "hop.md").symlink_to(outside / "2024-01-05-embargo.md")
    chain.symlink_to(b.root / "notes" / "hop.md")
    return [
        file_link,
        dir_link / "2024-01-06-embargo-two.md",
        site_dir_link / "_posts" / "2024-01-06-embargo-two.md",
        chain,
    ]


def test_a_symlink_out_of_the_site_is_no_post_by_any_way_in(
    site_builder: SiteBuilder, outside: Path
) -> None:
    good = site_builder.post("2024-01-01-good.md", title="Good")
    links = _symlinks_out(site_builder, outside)
    site = site_builder.site()

    assert list(iter_post_files(site)) == [good]
    assert [p.title for p in scan_site(site).posts] == ["Good"]
    for link in links:
        assert link.is_file()  # the target is there and readable: only the rule refuses it
        assert post_path_problem(site, link) == (
            "a symlink to a file outside the site folder: not read"
        )
        with pytest.raises(PostFileError, match="outside the site folder"):
            read_post(site, link)


def test_a_symlink_inside_the_site_is_read_like_jekyll_does(site_builder: SiteBuilder) -> None:
    target = site_builder.post("_drafts/2024-01-02-draft.md", title="From drafts")
    link = site_builder.root / "_posts" / "2024-01-02-draft.md"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    site = site_builder.site()
    assert post_path_problem(site, link) is None
    post = read_post(site, link)
    assert post.title == "From drafts" and post.rel_path == "_posts/2024-01-02-draft.md"
    assert list(iter_post_files(site)) == [link]


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        ("_posts/2024-01-01-a.md", None),
        ("news/_posts/2024/2024-01-01-a.md", None),
        ("about/2024-01-01-a.md", "not in a _posts folder"),
        ("_drafts/_posts/2024-01-01-a.md", "a folder Jekyll does not read"),
        ("vendor/theme/_posts/2024-01-01-a.md", "a folder Jekyll does not read"),
        ("node_modules/x/_posts/2024-01-01-a.md", "a folder Jekyll does not read"),
        ("old/_posts/2024-01-01-a.md", "excludes"),
        ("_posts/.2024-01-01-a.md", "Jekyll ignores files"),
        ("_posts/2024-01-01-a.md~", "Jekyll ignores files"),
        ("_posts/notes.txt", "not a Markdown or HTML file"),
        ("_posts/../../etc/2024-01-01-a.md", "not a file of the site"),
    ],
)
def test_the_rule_and_the_walk_agree(
    site_builder: SiteBuilder, rel: str, reason: str | None
) -> None:
    site_builder.configure(exclude=["old"])
    front = "---\ntitle: x\n---\n"
    path = site_builder.root / rel if ".." in rel else site_builder.raw(rel, front)
    site = site_builder.site()
    problem = post_path_problem(site, path)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None and reason in problem
    walked = set(iter_post_files(site))
    assert (path in walked) == (problem is None)


def test_a_path_named_relative_or_through_a_linked_site_folder_gets_the_site_name(
    site_builder: SiteBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folder categories and the URL do not depend on how the caller named the file."""
    path = site_builder.post("tech/_posts/2024-01-01-a.md", title="A")
    site = site_builder.site()
    alias = tmp_path / "alias"
    alias.symlink_to(site_builder.root)
    monkeypatch.chdir(site_builder.root)
    for named in (Path("tech/_posts/2024-01-01-a.md"), alias / "tech/_posts/2024-01-01-a.md"):
        post = read_post(site, named)
        assert post.path == path and post.rel_path == "tech/_posts/2024-01-01-a.md"
        assert post.categories == ("tech",)


def test_a_fifo_named_like_a_post_is_a_bad_file_and_never_blocks(
    site_builder: SiteBuilder,
) -> None:
    """Opening a FIFO for reading waits for a writer forever: the scan must not."""
    site_builder.post("2024-01-01-good.md")
    fifo = site_builder.root / "_posts" / "2024-01-02-pipe.md"
    os.mkfifo(fifo)
    site = site_builder.site()
    result: list[object] = []
    reader = threading.Thread(target=lambda: result.append(scan_site(site)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert result, "the scan blocked on a FIFO"
    [bad] = result[0].bad  # type: ignore[attr-defined]
    assert bad.rel_path == "_posts/2024-01-02-pipe.md" and "not a regular file" in bad.reason


def test_a_folder_swapped_for_a_symlink_after_the_check_is_not_followed(
    site_builder: SiteBuilder, outside: Path
) -> None:
    """The reader opens a checked path one folder at a time without following symlinks: a
    symlink that appears between the check and the open (a race) is refused, not followed."""
    site_builder.post("news/_posts/2024-01-06-embargo-two.md")
    site = site_builder.site()
    real_root = os.path.realpath(site.root)
    news = site_builder.root / "news"
    news.rename(site_builder.root / "news-old")
    news.symlink_to(outside)  # now news/_posts/... is the embargoed file
    with pytest.raises(PostFileError, match="replaced by a symlink"):
        _open_checked(real_root, ("news", "_posts", "2024-01-06-embargo-two.md"))
    # The whole reader, run now, refuses it by the rule itself.
    with pytest.raises(PostFileError, match="outside the site folder"):
        read_post_bytes(site, news / "_posts" / "2024-01-06-embargo-two.md")


def test_a_file_swapped_for_a_symlink_is_not_followed(
    site_builder: SiteBuilder, outside: Path
) -> None:
    path = site_builder.post("2024-01-05-embargo.md")
    site = site_builder.site()
    real_root = os.path.realpath(site.root)
    path.unlink()
    path.symlink_to(outside / "2024-01-05-embargo.md")
    with pytest.raises(PostFileError, match="replaced by a symlink"):
        _open_checked(real_root, ("_posts", "2024-01-05-embargo.md"))


def test_a_file_name_that_is_not_utf8_is_a_bad_file_named_in_text(
    site_builder: SiteBuilder,
) -> None:
    """Regression (hostile corpus): such a name came through as a str with surrogate escapes,
    and writing it to Redis, JSON or a chat failed; one badly named file stopped every scan."""
    site_builder.post("2024-01-01-good.md")
    raw = os.fsencode(site_builder.root / "_posts") + b"/2024-01-02-caf\xe9-\xff.md"
    with open(raw, "wb") as fh:
        fh.write(b"---\ntitle: Named in Latin-1\n---\nBody.\n")
    site = site_builder.site()
    [path] = [p for p in iter_post_files(site) if "caf" in p.name]
    with pytest.raises(PostFileError, match="not valid UTF-8") as caught:
        read_post(site, path)
    assert "rename" in caught.value.reason
    result = scan_site(site)
    assert [p.rel_path for p in result.posts] == ["_posts/2024-01-01-good.md"]
    [bad] = result.bad
    assert bad.rel_path == "_posts/2024-01-02-caf\\xe9-\\xff.md"
    bad.rel_path.encode("utf-8")  # text that Redis, JSON and Telegram take
    caught.value.reason.encode("utf-8")
