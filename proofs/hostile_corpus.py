"""The hostile corpus: a Jekyll site of hostile post files, images and templates, deterministic.

``generate(work, hosts=..., seed=..., posts=...)`` writes ``work/site`` (``_config.yml``,
``_posts/``, ``assets/``), ``work/outside`` (what symlinks lead to: a canary post and image that
must never be read) and ``work/templates/<name>/`` (hostile teaser templates).  Same arguments,
same bytes: every random choice comes from ``random.Random(seed)``, symlinks are relative (or
name fixed system files), and nothing depends on the clock.  The image URLs name the hostile
server's two ports (``Hosts``), so they are part of the arguments.

Every file belongs to one class of the issue (``CLASSES``); ``posts`` is a floor: the fixed
variants come first (all of them in the long corpus, the first of each in the short one), then
seeded combinations fill up to it.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import hostile_media as media
from .hostile_values import (
    BODY_SHAPES,
    HOSTILE_IMAGE_ROUTES,
    MB,
    REFUSED_IMAGES,
    TEMPLATES,
    TITLES,
    VALUE_FIELDS,
    yq,
)

__all__ = ["CANARY", "CLASSES", "CORPUS_SEED", "Corpus", "Hosts", "Item", "generate",
           "write_config"]

CORPUS_SEED = 20261129
SITE_URL = "https://hostile.example"
#: In the outside folder's post and in nothing of the site: seen in any output, a file outside
#: the site was read.
CANARY = "OUTSIDE-CANARY-9f3b"
DAY = "2024-08-01"
FUTURE = "2999-01-01"
MAX_POST_BYTES = 5 * MB

#: The issue's classes; a corpus that misses one is not the corpus the proof promises.
CLASSES: tuple[str, ...] = (
    "template-sandbox", "gzip-bomb", "header-drip", "yaml-alias-bomb", "quadratic-excerpt",
    "deep-toml", "symlink-out", "rich-markup", "log-injection", "non-global-address",
    "broken-yaml", "yaml-deep-nesting", "yaml-merge-keys", "yaml-huge-scalar", "invalid-utf8",
    "nul-bytes", "utf16", "body-5mb", "html-title", "file-url", "loopback-url", "metadata-url",
    "redirect", "image-bomb", "truncated-image", "text-as-jpg", "hostile-host", "lengths",
    "file-name", "special-file", "permalink", "dates", "duplicate-url", "yaml-tags",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Hosts:
    """The hostile server's ports: ``port`` the hostile image host, ``canary`` where only
    refused URLs lead."""

    port: int
    canary: int


@dataclass(frozen=True, slots=True)
class Item:
    """One post file.  ``image``: ``none``; ``local`` (a site file); ``refuse`` (must be refused
    before any byte is read, in every pass); ``hostile`` (the hostile host: refused with the
    default settings, fetched when that host is trusted); ``redirect`` (the hostile host, whose
    answer redirects to where no fetch may go: refused in every pass, at the first or the second
    hop)."""

    rel: str
    cls: str
    image: str = "none"
    image_value: str | None = None


@dataclass
class Corpus:
    work: Path
    site: Path
    outside: Path
    items: list[Item] = field(default_factory=list)
    templates: list[tuple[str, Path]] = field(default_factory=list)

    def classes(self) -> Counter[str]:
        counts = Counter(i.cls for i in self.items)
        if self.templates:
            counts["template-sandbox"] += len(self.templates)
        return counts

    def missing(self) -> list[str]:
        seen = self.classes()
        return [c for c in CLASSES if not seen.get(c)]


# ------------------------------------------------------------------------------- writing
class _Writer:
    def __init__(self, work: Path, hosts: Hosts, rng: random.Random) -> None:
        self.corpus = Corpus(work, work / "site", work / "outside")
        self.hosts = hosts
        self.rng = rng
        self.count = 0

    @property
    def site(self) -> Path:
        return self.corpus.site

    def name(self, slug: str, ext: str = ".md", day: str = DAY) -> str:
        self.count += 1
        return f"{day}-{self.count:03d}-{slug}{ext}"

    def raw(self, cls: str, rel: str, data: bytes, **image: str | None) -> None:
        path = self.site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.corpus.items.append(Item(rel, cls, **image))  # type: ignore[arg-type]

    def post(self, cls: str, slug: str, front: str, body: str = "A plain first paragraph.",
             *, image: str | None = None, kind: str = "none", ext: str = ".md",
             day: str = DAY, folder: str = "_posts", bare: bool = False) -> str:
        lines = [front] if front else []
        if "title:" not in front and not bare:
            lines.insert(0, f"title: {yq(f'Hostile corpus post {self.count + 1}')}")
        if image is not None and "image:" not in front:
            lines.append(f"image: {yq(image)}")
        text = "---\n" + "\n".join(lines) + "\n---\n\n" + body + "\n"
        rel = f"{folder}/{self.name(slug, ext, day)}"
        self.raw(cls, rel, text.encode("utf-8", "surrogatepass"),
                 image=kind if image is not None else ("local" if "image:" in front else "none"),
                 image_value=image)
        return rel

    def link(self, cls: str, rel: str, target: str, **image: str | None) -> None:
        path = self.site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
        self.corpus.items.append(Item(rel, cls, **image))  # type: ignore[arg-type]

    def image_url(self, template: str) -> str:
        return template.format(p=self.hosts.port, c=self.hosts.canary)


# ------------------------------------------------------------------------------- the site
def write_config(site: Path) -> None:
    """The site folder with its ``_config.yml`` and an empty ``_posts/`` (a first scan's
    baseline is taken on this, before the corpus comes)."""
    (site / "_posts").mkdir(parents=True, exist_ok=True)
    (site / "_config.yml").write_text(f"url: {SITE_URL}\ntimezone: UTC\n", encoding="utf-8")


def _site_files(w: _Writer) -> None:
    write_config(w.site)
    assets = w.site / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    files = {
        "ok.jpg": media.jpeg(800, 420),
        "text.jpg": b"<html><body>This is text, not a JPEG.</body></html>\n",
        "empty.jpg": b"",
        "truncated.jpg": media.truncated(media.jpeg(800, 420)),
        "truncated.png": media.truncated(media.png_flat(640, 480, 2)),
        "bomb-400mp.png": media.png_flat(20_000, 20_000, 0),
        "under-cap.png": media.png_flat(9400, 9400, 6, 255),
        "claims-huge.png": media.png_claiming(65_535, 65_535),
        "claims-under-cap.jpg": media.jpeg_claiming(9400, 9400),
        "frames.gif": media.gif_frames(2000),
    }
    for name, data in files.items():
        (assets / name).write_bytes(data)
    with open(assets / "sparse.jpg", "wb") as fh:  # 25 MB of nothing: over the download cap
        fh.truncate(25 * MB)
    (assets / "dir.jpg").mkdir()
    os.mkfifo(assets / "fifo.jpg")
    os.symlink("../../outside/canary.png", assets / "leak.png")
    os.symlink("/etc/passwd", assets / "passwd.jpg")
    w.corpus.outside.mkdir(parents=True, exist_ok=True)
    (w.corpus.outside / "canary.png").write_bytes(media.canary_png())
    canary_post = f"---\ntitle: {CANARY} title\n---\n\n{CANARY} body.\n"
    (w.corpus.outside / f"{DAY}-canary.md").write_text(canary_post, encoding="utf-8")
    posts = w.corpus.outside / "posts"
    posts.mkdir()
    (posts / f"{DAY}-canary-in-dir.md").write_text(canary_post, encoding="utf-8")
    category = w.corpus.outside / "category" / "_posts"
    category.mkdir(parents=True)
    (category / f"{DAY}-canary-category.md").write_text(canary_post, encoding="utf-8")


# ------------------------------------------------------------------------------- classes
# Each returns the variants of one group as closures; the short corpus takes the first of each
# class, the long one all of them.

Variant = tuple[str, str, Callable[[_Writer], None]]  # (class, key, writer)


def _titles() -> list[Variant]:
    out: list[Variant] = []
    for i, (cls, title) in enumerate(TITLES):
        def make(w: _Writer, title: str = title, cls: str = cls, i: int = i) -> None:
            image = "/assets/ok.jpg" if i % 3 == 0 else None
            w.post(cls, "title", f"title: {yq(title)}", image=image, kind="local")
        out.append((cls, f"title-{i}", make))
    for i, (cls, lines) in enumerate(VALUE_FIELDS):
        out.append((cls, f"value-{i}", lambda w, cls=cls, lines=lines: w.post(cls, "value", lines)))
    return out


def _alias_bomb(key: str, levels: int = 9) -> str:
    rows = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        rows.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    rows.append(f"{key}: *l{levels - 1}")
    return "\n".join(rows)


def _yaml() -> list[Variant]:
    def fm(cls: str, slug: str, front: str, *, bare: bool = False) -> Variant:
        return cls, slug, lambda w: w.post(cls, slug, front, bare=bare)

    deep_list = "[" * 10_000 + "]" * 10_000
    deep_map = "{a: " * 3000 + "1" + "}" * 3000
    merge_base = "base: &b {" + ", ".join(f"k{i}: {i}" for i in range(100)) + "}"
    merge_levels = [merge_base]
    for n in range(1, 6):
        prev = "b" if n == 1 else f"m{n - 1}"
        merge_levels.append(f"m{n}: &m{n} {{<<: [" + ", ".join([f"*{prev}"] * 10) + "]}")
    return [
        fm("yaml-alias-bomb", "alias-date", _alias_bomb("date")),
        fm("yaml-alias-bomb", "alias-categories", _alias_bomb("categories")),
        fm("yaml-alias-bomb", "alias-tags", _alias_bomb("tags")),
        fm("yaml-alias-bomb", "alias-title", _alias_bomb("title")),
        fm("yaml-alias-bomb", "alias-under-cap", _alias_bomb("categories", levels=4)),
        fm("yaml-alias-bomb", "alias-excerpt-string",
           'x: &x "' + "lol " * 2000 + '"\nexcerpt: [' + ", ".join(["*x"] * 3000) + "]"),
        fm("yaml-deep-nesting", "deep-list", f"extra: {deep_list}"),
        fm("yaml-deep-nesting", "deep-map", f"extra: {deep_map}"),
        fm("yaml-deep-nesting", "deep-title", f"title: {deep_list}"),
        fm("yaml-deep-nesting", "deep-block",
           "\n".join("  " * i + f"k{i}:" for i in range(200)) + " x"),
        fm("yaml-merge-keys", "merge-bomb", "\n".join([*merge_levels, "<<: *m5"])),
        fm("yaml-merge-keys", "merge-title", "d: &d {title: merged, date: 2024-08-01}\n<<: *d"),
        fm("yaml-merge-keys", "merge-self", "a: &a {<<: *a}"),
        fm("yaml-merge-keys", "merge-scalar", "s: &s text\n<<: *s"),
        fm("yaml-huge-scalar", "huge-title", f"title: {yq('T' * 60_000)}"),
        fm("yaml-huge-scalar", "huge-front", f"excerpt: {yq('E' * 1_000_000)}"),
        fm("yaml-huge-scalar", "huge-block", "excerpt: |\n" + "  line of text\n" * 5000),
        fm("yaml-huge-scalar", "huge-int", "extra: " + "9" * 60_000),
        fm("yaml-huge-scalar", "huge-float", "title: 1e999999"),
        fm("broken-yaml", "unclosed-quote", 'title: "never closed'),
        fm("broken-yaml", "tabs", "title: x\n\tcategories: [a]"),
        fm("broken-yaml", "colon", "title: A: B: C"),
        fm("broken-yaml", "list-front", "- a\n- b", bare=True),
        fm("broken-yaml", "scalar-front", "just some text", bare=True),
        fm("broken-yaml", "undefined-alias", "title: *nowhere"),
        fm("broken-yaml", "unhashable-key", "? [a, b]\n: value"),
        fm("broken-yaml", "directive", "%YAML 1.1\n---\ntitle: x", bare=True),
        fm("broken-yaml", "raw-escape", "title: x\x1b[31m red"),
        fm("broken-yaml", "nul-escape", 'title: "a\\0b and \\x00 c"'),
        fm("broken-yaml", "surrogate-escape", 'title: "lone \\ud800 surrogate"'),
        fm("broken-yaml", "null-title", "title: ~"),
        fm("broken-yaml", "map-title", "title: {a: 1}"),
        fm("broken-yaml", "list-image", "image: [1, 2]"),
        fm("broken-yaml", "flag-text", "published: maybe\nsocial: [x]"),
        fm("yaml-tags", "python-apply", 'title: !!python/object/apply:os.system ["id"]'),
        fm("yaml-tags", "python-name", "title: !!python/name:os.system"),
        fm("yaml-tags", "binary", "title: !!binary aGVsbG8="),
        fm("yaml-tags", "set", "categories: !!set {a, b}"),
        fm("yaml-tags", "omap", "categories: !!omap [a: 1, b: 2]"),
        fm("yaml-tags", "custom", "title: !custom tag"),
        fm("yaml-tags", "timestamp", "date: !!timestamp 2024-99-99"),
    ]


def _special_frames() -> list[Variant]:
    def raw(cls: str, slug: str, data: bytes, ext: str = ".md") -> Variant:
        return cls, slug, lambda w: w.raw(cls, f"_posts/{w.name(slug, ext)}", data)

    ok = "---\ntitle: Plain post\n---\n\nBody.\n"
    toml_deep = 'title = "deep"\nnested = ' + "[" * 5000 + "]" * 5000 + "\n"
    toml_tables = 'title = "deep tables"\nx = ' + "{a = " * 5000 + "1" + "}" * 5000 + "\n"
    return [
        raw("deep-toml", "toml-deep-arrays", f"+++\n{toml_deep}+++\n\nBody.\n".encode()),
        raw("deep-toml", "toml-deep-tables", f"+++\n{toml_tables}+++\n\nBody.\n".encode()),
        raw("deep-toml", "toml-dotted",
            ("+++\ntitle = \"dotted\"\n[" + ".".join(["a"] * 5000) + "]\nx = 1\n+++\n\n"
             "Body.\n").encode()),
        raw("deep-toml", "toml-huge-int",
            ("+++\ntitle = \"int\"\nn = " + "9" * 5000 + "\n+++\n\nBody.\n").encode()),
        raw("deep-toml", "toml-broken", b'+++\ntitle = "unclosed\n+++\n\nBody.\n'),
        raw("deep-toml", "toml-local-date",
            b'+++\ntitle = "toml"\ndate = 2024-08-01T10:00:00\n+++\n\nBody.\n'),
        raw("invalid-utf8", "random-bytes", b"---\ntitle: caf\xe9 \xff\xfe\x80\n---\n\nBody.\n"),
        raw("invalid-utf8", "overlong", b"---\ntitle: over\xc0\xaflong\n---\n\nBody.\n"),
        raw("invalid-utf8", "surrogate", b"---\ntitle: cesu \xed\xa0\x80\n---\n\nBody.\n"),
        raw("invalid-utf8", "cp949", "---\ntitle: 한국어 제목\n---\n\n본문.\n".encode("cp949")),
        raw("invalid-utf8", "cut-at-end", ok.encode() + "한".encode()[:2]),
        raw("invalid-utf8", "bad-in-body", ok.encode() + b"\xff" * 100 + b"\n"),
        raw("nul-bytes", "nul-title", b"---\ntitle: a\x00b\n---\n\nBody.\n"),
        raw("nul-bytes", "nul-late", ok.encode() + b"x" * 1_000_000 + b"\x00"),
        raw("nul-bytes", "all-nul", bytes(4096)),
        raw("utf16", "utf16-le", b"\xff\xfe" + ok.encode("utf-16-le")),
        raw("utf16", "utf16-be", b"\xfe\xff" + ok.encode("utf-16-be")),
        raw("utf16", "utf16-no-bom", ok.encode("utf-16-le")),
        raw("utf16", "utf32", ok.encode("utf-32")),
        raw("utf16", "utf8-bom", b"\xef\xbb\xbf" + ok.encode()),
        raw("special-file", "empty", b""),
        raw("special-file", "whitespace", b" \n\t\n  \r\n"),
        raw("special-file", "fence-only", b"---\n---\n"),
        raw("special-file", "never-closed", b"---\ntitle: open\n\nBody without a closing fence\n"),
        raw("special-file", "late-fence", b"\n\n---\ntitle: late\n---\nBody.\n"),
        raw("special-file", "fence-junk", b"---junk\ntitle: x\n---\nBody.\n"),
        raw("special-file", "png-as-post", media.jpeg(64, 48)),
        raw("special-file", "html-post", ok.encode(), ext=".html"),
        raw("special-file", "crlf", ok.replace("\n", "\r\n").encode(), ext=".markdown"),
        raw("special-file", "cr-only", ok.replace("\n", "\r").encode()),
    ]


def _specials_on_disk() -> list[Variant]:
    def fifo(w: _Writer) -> None:
        rel = f"_posts/{w.name('fifo')}"
        os.mkfifo(w.site / rel)
        w.corpus.items.append(Item(rel, "special-file"))

    def folder(w: _Writer) -> None:
        rel = f"_posts/{w.name('folder')}"
        (w.site / rel).mkdir()
        w.corpus.items.append(Item(rel, "special-file"))

    def sparse(w: _Writer) -> None:
        rel = f"_posts/{w.name('sparse-6mb')}"
        with open(w.site / rel, "wb") as fh:
            fh.write(b"---\ntitle: sparse\n---\n")
            fh.truncate(6 * MB)
        w.corpus.items.append(Item(rel, "special-file"))

    def link(key: str, rel: Callable[[_Writer], str], target: str) -> Variant:
        return "symlink-out", key, lambda w: w.link("symlink-out", rel(w), target)

    return [
        link("outside", lambda w: f"_posts/{w.name('outside')}", f"../../outside/{DAY}-canary.md"),
        link("outside-dir", lambda w: "_posts/linked", "../../outside/posts"),
        link("outside-category", lambda w: "category", "../outside/category"),
        link("etc-passwd", lambda w: f"_posts/{w.name('etc-passwd')}", "/etc/passwd"),
        link("dev-zero", lambda w: f"_posts/{w.name('dev-zero')}", "/dev/zero"),
        link("loop", lambda w: f"_posts/{DAY}-999-loop.md", f"{DAY}-999-loop.md"),
        link("dangling", lambda w: f"_posts/{w.name('dangling')}", "nowhere.md"),
        ("special-file", "fifo", fifo),
        ("special-file", "folder", folder),
        ("special-file", "sparse", sparse),
        ("body-5mb", "over-cap",
         lambda w: w.post("body-5mb", "over-cap", "", "x" * MAX_POST_BYTES)),
    ]


def _file_names() -> list[Variant]:
    def named(key: str, slug: str) -> Variant:
        return "file-name", key, lambda w: w.post("file-name", slug, "")

    def raw_name(key: str, name: bytes) -> Variant:
        def make(w: _Writer) -> None:
            w.count += 1
            rel = os.fsdecode(b"_posts/" + DAY.encode() + b"-%03d-" % w.count + name)
            w.raw("file-name", rel, b"---\ntitle: raw name\n---\n\nBody.\n")
        return "file-name", key, make

    return [
        named("ansi", "\x1b[31mred\x1b[0m"),
        named("newline", "line\nbreak"),
        named("rich", "[bold]rich[/bold] :fire:"),
        named("template", "{{7*7}} {% x %}"),
        named("html", "<b>tag</b> & amp"),
        named("rtl", "\u202egpj"),
        named("percent", "%2e%2e %0a %00"),
        named("url-chars", "a b#c?d"),
        named("hangul", "한국어-제목"),
        named("hangul-nfd", "\u1112\u1161\u11ab"),
        named("zwsp", "\u200b"),
        named("long", "x" * 200),
        raw_name("not-utf8", b"\xff\xfe-not-utf8.md"),
        raw_name("empty-slug", b"-.md"),
    ]


def _permalinks_dates() -> list[Variant]:
    def fm(cls: str, slug: str, front: str) -> Variant:
        return cls, slug, lambda w: w.post(cls, slug, front)

    def dup(w: _Writer) -> None:
        w.post("duplicate-url", "dup-a", "permalink: /same/url.html")
        w.post("duplicate-url", "dup-b", "permalink: /same/url.html")

    return [
        fm("permalink", "traversal", "permalink: /../../../etc/passwd"),
        fm("permalink", "javascript", "permalink: javascript:alert(1)"),
        fm("permalink", "protocol-relative", "permalink: //evil.example/x"),
        fm("permalink", "absolute", "permalink: https://evil.example/phish"),
        fm("permalink", "too-long", f"permalink: /{'a' * 3000}"),
        fm("permalink", "newline", f"permalink: {yq('/a/' + chr(10) + '/b')}"),
        fm("permalink", "template", "permalink: /{{ 7*7 }}/<b>/"),
        fm("permalink", "many-categories",
           "permalink: /:categories/:title/\ncategories: [" + ", ".join(
               f"cat{i}" for i in range(500)) + "]"),
        fm("permalink", "slug-traversal", "slug: ../../x"),
        fm("permalink", "slug-empty", "slug: ''"),
        fm("permalink", "unicode", "permalink: /뉴스/\u202e/:title"),
        ("duplicate-url", "duplicate", dup),
        fm("dates", "year-10000", "date: 10000-01-01"),
        fm("dates", "year-1", "date: 0001-01-01 00:00:00"),
        fm("dates", "feb-30", "date: 2024-02-30"),
        fm("dates", "words", "date: now"),
        fm("dates", "bad-time", "date: 2024-08-01 25:61:61"),
        fm("dates", "negative", "date: -1"),
        fm("dates", "huge-number", "date: 99999999999999999999999"),
        fm("dates", "float", "date: 1e308"),
        fm("dates", "bad-offset", 'date: "2024-08-01 10:00:00 +99:99"'),
        fm("dates", "list", "date: [2024-08-01, 2024-08-02]"),
        fm("dates", "future", "date: 2999-01-01 00:00:00 +0000"),
        fm("dates", "unpublished", "published: false"),
        fm("dates", "unsocial", "social: false"),
    ]


def _fit(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` UTF-8 bytes (never inside a character)."""
    data = text.encode()
    return text if len(data) <= size else data[:size].decode("utf-8", "ignore")


def _bodies() -> list[Variant]:
    out: list[Variant] = []
    size = MAX_POST_BYTES - 4096
    for name, cls, build in BODY_SHAPES:
        def make(w: _Writer, name: str = name, cls: str = cls, build=build) -> None:
            w.post(cls, f"body-{name}", "", _fit(build(size), size))  # type: ignore[operator]
        out.append((cls, f"body-{name}", make))
        if cls == "quadratic-excerpt":  # the same shapes at 1 MB
            def small(w: _Writer, name: str = name, cls: str = cls, build=build) -> None:
                w.post(cls, f"small-{name}", "", _fit(build(MB), MB))  # type: ignore[operator]
            out.append((cls, f"small-{name}", small))
    return out


def _images() -> list[Variant]:
    from .hostile_server import REDIRECTS

    out: list[Variant] = []
    for cls, template in REFUSED_IMAGES:
        def refused(w: _Writer, cls: str = cls, template: str = template) -> None:
            w.post(cls, "image", "", image=w.image_url(template), kind="refuse")
        out.append((cls, template, refused))
    for name in REDIRECTS:
        def redirect(w: _Writer, name: str = name) -> None:
            url = f"http://127.0.0.1:{w.hosts.port}/redirect/{name}"
            w.post("redirect", "image", "", image=url, kind="redirect")
        out.append(("redirect", f"/redirect/{name}", redirect))
    for cls, route in HOSTILE_IMAGE_ROUTES:
        def hostile(w: _Writer, cls: str = cls, route: str = route) -> None:
            url = f"http://127.0.0.1:{w.hosts.port}{route}"
            w.post(cls, "image", "", image=url, kind="hostile")
        out.append((cls, route, hostile))
    for cls, name in LOCAL_IMAGES:
        def site_image(w: _Writer, name: str = name, cls: str = cls) -> None:
            w.post(cls, "local-image", "", image=f"/assets/{name}", kind="local")
        out.append((cls, f"/assets/{name}", site_image))
    return out


#: Site files as feature images: (class, file under assets/).
LOCAL_IMAGES: tuple[tuple[str, str], ...] = (
    ("image-bomb", "under-cap.png"),
    ("image-bomb", "bomb-400mp.png"),
    ("image-bomb", "claims-huge.png"),
    ("image-bomb", "claims-under-cap.jpg"),
    ("image-bomb", "frames.gif"),
    ("text-as-jpg", "text.jpg"),
    ("truncated-image", "truncated.jpg"),
    ("truncated-image", "truncated.png"),
    ("special-file", "empty.jpg"),
    ("special-file", "sparse.jpg"),
    ("special-file", "dir.jpg"),
    ("special-file", "fifo.jpg"),
    ("lengths", "ok.jpg"),
    ("lengths", "ok.jpg?x=1#frag"),
)

#: Beyond the first variant of each class, what the short corpus keeps (by key): the shapes
#: each promise leans on most.
SHORT_KEYS = frozenset({
    "title-4", "title-19", "title-25", "value-15", "alias-categories", "surrogate-escape",
    "fifo", "not-utf8", "future", "body-unclosed-comment",
    "http://2130706433:{c}/canary.png", "http://[::ffff:127.0.0.1]:{c}/canary.png",
    "http://[::1]:{c}/canary.png", "http://localhost:{p}/ok.jpg", "/assets/leak.png",
    "/redirect/decimal", "/redirect/v6-mapped", "/redirect/metadata",
    "/bomb-under-cap.png", "/drip-headers.jpg", "/assets/ok.jpg",
})  # fmt: skip


def _fill(w: _Writer, posts: int) -> None:
    """Seeded combinations of hostile titles, values, bodies and images up to ``posts``."""
    urls = [(c, t, "refuse") for c, t in REFUSED_IMAGES]
    urls += [(c, f"http://127.0.0.1:{{p}}{r}", "hostile") for c, r in HOSTILE_IMAGE_ROUTES]
    while len(w.corpus.items) < posts:
        cls, title = w.rng.choice(TITLES)
        front = [f"title: {yq(title)}"]
        if w.rng.random() < 0.5:
            _vcls, lines = w.rng.choice(VALUE_FIELDS)
            if "title:" not in lines:
                front.append(lines)
        image, kind = None, "none"
        if w.rng.random() < 0.5:
            _icls, template, kind = w.rng.choice(urls)
            image = w.image_url(template)
        if "image:" in "\n".join(front):
            image, kind = None, "none"
        body = w.rng.choice(["Plain.", "<!--\n" + "p.\n\n" * 2000, "```\n" + "p\n\n" * 2000,
                             "{{ post.path }} {% raw %}", "<b>unclosed", "한국어 본문. " * 100])
        w.post(cls, "mixed", "\n".join(front), body, image=image, kind=kind)


def generate(work: Path, *, hosts: Hosts, seed: int = CORPUS_SEED, posts: int = 320,
             long: bool = True) -> Corpus:
    """Write the corpus under ``work`` (which must not hold one yet) and describe it."""
    w = _Writer(Path(work), hosts, random.Random(seed))
    _site_files(w)
    variants = [*_titles(), *_yaml(), *_special_frames(), *_specials_on_disk(), *_file_names(),
                *_permalinks_dates(), *_bodies(), *_images()]
    seen: set[str] = set()
    for cls, key, make in variants:
        if long or cls not in seen or key in SHORT_KEYS:
            make(w)
        seen.add(cls)
    _fill(w, posts)
    for name, source in TEMPLATES if long else TEMPLATES[::3]:
        folder = w.corpus.work / "templates" / name
        folder.mkdir(parents=True)
        (folder / "telegram.html.j2").write_text(source + "\n", encoding="utf-8")
        w.corpus.templates.append((name, folder))
    return w.corpus
