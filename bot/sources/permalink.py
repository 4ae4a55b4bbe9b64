"""A Jekyll post's URL path, built exactly as Jekyll 4.3 builds `page.url`.

The canonical URL is a post's identity in newsbot and the link readers click, so it must match the
page Jekyll actually writes, byte for byte. This follows Jekyll 4.3.1's `Jekyll::URL`,
`Drops::UrlDrop` and `Utils.slugify` (checked against real builds in tests/sources/golden/).
Behaviours worth knowing:

* `:categories` lower-cases each category, drops repeats (keeping first positions), joins with
  '/', and percent-encodes non-ASCII and spaces ('기술' -> '%EA%B8%B0%EC%88%A0', 'a b' -> 'a%20b');
  categories are *not* slugified (that is `:slugified_categories`).
* `:title` is the front-matter `slug` if present, else the file-name title, slugified in "pretty"
  mode with case kept; `:slug` is the same source slugified in "default" mode (lower case).
* Placeholder values are percent-encoded; literal text of the pattern is kept as written.
* Afterwards every '..' becomes '/', then every './' is removed (one pass) and runs of '/' are
  squeezed to one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import regex

from bot.sources.errors import shown

__all__ = [
    "PERMALINK_STYLES",
    "canonical_url",
    "jekyll_categories",
    "jekyll_slugify",
    "output_ext",
    "post_path",
    "post_slug",
    "template_for",
]

PERMALINK_STYLES: dict[str, str] = {
    "pretty": "/:categories/:year/:month/:day/:title/",
    "none": "/:categories/:title:output_ext",
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
}

_SLUG_MODES = ("raw", "default", "pretty", "ascii", "latin")
_SLUG_RES = {
    "raw": regex.compile(r"\s+"),
    "default": regex.compile(r"[^\p{M}\p{L}\p{Nd}]+"),
    "latin": regex.compile(r"[^\p{M}\p{L}\p{Nd}]+"),
    "pretty": regex.compile(r"[^\p{M}\p{L}\p{Nd}._~!$&'()+,;=@]+"),
    "ascii": regex.compile(r"[^A-Za-z0-9]+"),
}
_EDGE_HYPHEN = regex.compile(r"^-|-$", regex.MULTILINE)

# Jekyll's default `markdown_ext`; those files are written as .html.
_MARKDOWN_EXTS = {".markdown", ".mkdown", ".mkdn", ".mkd", ".md"}

_PLACEHOLDER = regex.compile(r":([a-z_]+)")
_SAFE_VALUE = regex.compile(r"^[a-zA-Z0-9./-]+$", regex.MULTILINE)

# Addressable::URI::CharacterClasses (addressable 2.8), as sets of characters left unescaped.
_ALPHA_DIGIT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_UNRESERVED = _ALPHA_DIGIT + "-._~"
_SUB_DELIMS = "!$&'()*+,;="
_PCHAR = _UNRESERVED + _SUB_DELIMS + ":@"
_CLASS_SCHEME = frozenset(_ALPHA_DIGIT + "-+.")
_CLASS_AUTHORITY = frozenset(_PCHAR + "[:]")
_CLASS_PATH = frozenset(_PCHAR + "/")
_CLASS_QUERY = frozenset(_PCHAR + "/?")
_CLASS_FRAGMENT = _CLASS_QUERY
_URI_RE = regex.compile(r"^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?$", regex.DOTALL)
_SCHEME_RE = regex.compile(r"^[a-zA-Z][a-zA-Z0-9.+-]*$")
_AMBIGUOUS_PATH = regex.compile(r"^(?!/)[^/:]*:.*$", regex.MULTILINE)  # Addressable NORMPATH

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


_I18N_TABLE = (
    "ÀA ÁA ÂA ÃA ÄA ÅA ÆAE ÇC ÈE ÉE ÊE ËE ÌI ÍI ÎI ÏI ÐD ÑN ÒO ÓO ÔO ÕO ÖO "
    "×x ØO ÙU ÚU ÛU ÜU ÝY ÞTh ßss àa áa âa ãa äa åa æae çc èe ée êe ëe ìi "
    "íi îi ïi ðd ñn òo óo ôo õo öo øo ùu úu ûu üu ýy þth ÿy ĀA āa ĂA ăa ĄA "
    "ąa ĆC ćc ĈC ĉc ĊC ċc ČC čc ĎD ďd ĐD đd ĒE ēe ĔE ĕe ĖE ėe ĘE ęe ĚE ěe "
    "ĜG ĝg ĞG ğg ĠG ġg ĢG ģg ĤH ĥh ĦH ħh ĨI ĩi ĪI īi ĬI ĭi ĮI įi İI ıi ĲIJ "
    "ĳij ĴJ ĵj ĶK ķk ĸk ĹL ĺl ĻL ļl ĽL ľl ĿL ŀl ŁL łl ŃN ńn ŅN ņn ŇN ňn ŉ'n "
    "ŊNG ŋng ŌO ōo ŎO ŏo ŐO őo ŒOE œoe ŔR ŕr ŖR ŗr ŘR řr ŚS śs ŜS ŝs ŞS şs "
    "ŠS šs ŢT ţt ŤT ťt ŦT ŧt ŨU ũu ŪU ūu ŬU ŭu ŮU ůu ŰU űu ŲU ųu ŴW ŵw ŶY "
    "ŷy ŸY ŹZ źz ŻZ żz ŽZ žz "
)
_I18N_APPROXIMATIONS = {pair[0]: pair[1:] for pair in _I18N_TABLE.split()}


def _latin(text: str) -> str:
    """I18n.transliterate with its default table (dumped from ruby-i18n): characters of the
    table become their ASCII approximation, any other non-ASCII character becomes '?'."""
    return "".join(ch if ord(ch) < 128 else _I18N_APPROXIMATIONS.get(ch, "?") for ch in text)


def jekyll_slugify(text: str, mode: str = "default", *, cased: bool = False) -> str:
    """Jekyll::Utils.slugify: runs of characters the mode does not keep become one '-'.

    An unknown mode (Jekyll's "none") returns the text unchanged apart from case. "latin" only
    uses Ruby I18n's default transliteration table (accents dropped, other non-ASCII as '?').
    """
    if mode not in _SLUG_MODES:
        return text if cased else text.lower()
    if mode == "latin":
        text = _latin(text)
    slug = _SLUG_RES[mode].sub("-", text)
    slug = _EDGE_HYPHEN.sub("", slug)
    return slug if cased else slug.lower()


def post_slug(front_slug: object, filename_title: str, title: object = None) -> str:
    """The post's slug for newsbot: front-matter `slug`, else the file-name title, else the
    slugified `title` (for a file whose name has nothing after the date)."""
    if front_slug is not None and str(front_slug) != "":
        return str(front_slug)
    if filename_title:
        return filename_title
    return jekyll_slugify(str(title or ""))


def _ruby_to_s(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _uniq(values: list[object]) -> list[object]:
    """Ruby's Array#uniq / `|`: repeats dropped by value *and* type (2024 and '2024' differ)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for v in values:
        key = (type(v).__name__, repr(v))
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _flatten(values: list[object]) -> list[object]:
    out: list[object] = []
    for v in values:
        out.extend(_flatten(v) if isinstance(v, list) else [v])
    return out


def jekyll_categories(rel_path: str, front: Mapping[str, object]) -> list[str]:
    """A post's `page.categories`, in Jekyll 4.3's order.

    `rel_path` is the source path relative to the site root ('기술/_posts/2024-...md'); folders
    above `_posts` are categories (folders inside `_posts` are not). Then come the front-matter
    `categories` (a string is split on whitespace) merged without repeats, then `category` (one
    value, never split) or, without it, `categories` again; exact repeats are dropped, case is
    kept ('AI' and 'ai' both stay; only the URL lower-cases). An empty `categories:` keeps the
    folder categories. Values are returned as Ruby's `to_s` writes them (2024 -> '2024',
    true -> 'true'); Jekyll's own `page.categories` also keeps the raw YAML values next to
    those strings, but only the strings reach the URL.
    """
    rel = rel_path.replace("\\", "/")
    base = rel.rsplit("/", 1)[-1]
    if rel.startswith("_posts"):
        folder: list[object] = []
    else:
        cut = rel.find("_posts")
        head = rel[:cut] if cut >= 0 else rel
        folder = [c for c in head.split("/") if c not in ("", "_posts", base)]
    cats = _uniq(folder)
    given = front.get("categories")
    if given is not None:
        if isinstance(given, str):
            given = given.split()
        if not isinstance(given, list):
            raise ValueError(f"categories must be a list or a string, not {shown(given)}")
        cats = _uniq([*cats, *given])
    extra: object = front.get("category") if "category" in front else None
    if extra is None and "categories" in front:
        plural = front["categories"]
        if isinstance(plural, str):
            extra = plural.split()
        elif isinstance(plural, list):
            extra = [c for c in plural if c is not None]
    merged = [*cats, *([] if extra is None else [extra])]
    strings = [_ruby_to_s(c) if not isinstance(c, list) else c for c in merged]
    return list(dict.fromkeys(_ruby_to_s(c) for c in _flatten(strings)))


def output_ext(ext: str) -> str:
    """What Jekyll writes a source extension as: Markdown becomes .html, others stay."""
    return ".html" if ext.lower() in _MARKDOWN_EXTS else ext


def template_for(site_permalink: str) -> str:
    """Jekyll's `style_to_permalink`: a style name (exact, lower case) or the pattern itself."""
    return PERMALINK_STYLES.get(site_permalink, site_permalink)


def _encode_component(text: str, allowed: frozenset[str]) -> str:
    out = []
    for ch in text:
        if ch in allowed:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def _escape_path(value: str) -> str:
    """Jekyll::URL.escape_path: Addressable::URI.encode(value), then the first '#' -> '%23'.

    Addressable parses the value as a whole URI, so '?' and '#' inside a category survive as
    delimiters instead of being escaped; that is reproduced here because Jekyll writes it so.
    """
    if value == "" or _SAFE_VALUE.search(value):
        return value
    m = _URI_RE.match(value)
    assert m is not None  # the pattern matches any string
    scheme, authority, path, query, fragment = m.group(2, 4, 5, 7, 9)
    if scheme is not None and not _SCHEME_RE.match(scheme):
        raise ValueError(
            f"Jekyll cannot build a URL from {shown(value)!r}: invalid scheme format"
        )
    if scheme is None and path and _AMBIGUOUS_PATH.search(path):
        raise ValueError(f"Jekyll cannot build a URL from {shown(value)!r}: ambiguous path")
    out = []
    if scheme is not None:
        out.append(_encode_component(scheme, _CLASS_SCHEME) + ":")
    if authority is not None:
        out.append("//" + _encode_component(authority, _CLASS_AUTHORITY))
    out.append(_encode_component(path, _CLASS_PATH))
    if query is not None:
        out.append("?" + _encode_component(query, _CLASS_QUERY))
    if fragment is not None:
        out.append("#" + _encode_component(fragment, _CLASS_FRAGMENT))
    return "".join(out).replace("#", "%23", 1)


def _placeholders(
    *,
    date: datetime,
    title: str,
    slug: str | None,
    categories: Sequence[str],
    ext: str,
    source_path: str | None,
) -> dict[str, str]:
    # Jekyll keeps a front-matter slug as is, and strips trailing '.' from the file-name one.
    slug_source = str(slug) if slug is not None else title.rstrip(".")
    # First occurrences in order (dicts, not list scans: 10,000 categories must stay cheap).
    cats = list(dict.fromkeys(str(cat).lower() for cat in categories))
    slug_cats = list(dict.fromkeys(jekyll_slugify(str(cat)) for cat in categories))
    iso_year, iso_week, iso_day = date.isocalendar()
    values = {
        "collection": "posts",
        "title": jekyll_slugify(slug_source, "pretty", cased=True),
        "slug": jekyll_slugify(slug_source),
        "categories": "/".join(cats),
        "slugified_categories": "/".join(slug_cats),
        "year": f"{date.year:04d}",
        "month": f"{date.month:02d}",
        "day": f"{date.day:02d}",
        "hour": f"{date.hour:02d}",
        "minute": f"{date.minute:02d}",
        "second": f"{date.second:02d}",
        "i_day": str(date.day),
        "i_month": str(date.month),
        "short_month": _MONTHS[date.month - 1][:3],
        "long_month": _MONTHS[date.month - 1],
        "short_year": f"{date.year % 100:02d}",
        "w_year": str(iso_year),
        "week": f"{iso_week:02d}",
        "w_day": str(iso_day),
        "short_day": _DAYS[date.weekday()][:3],
        "long_day": _DAYS[date.weekday()],
        "y_day": f"{date.timetuple().tm_yday:03d}",
        "output_ext": output_ext(ext),
    }
    if source_path is not None:
        rel = source_path.replace("\\", "/")
        base = rel.rsplit("/", 1)[-1]
        stem = base.rsplit(".", 1)[0] if "." in base[1:] else base
        values["name"] = jekyll_slugify(stem)
        no_ext = rel[: len(rel) - len(base) + len(stem)]
        values["path"] = no_ext.replace("_posts", "", 1).rstrip(".")
    return values


def _sanitize(url: str) -> str:
    """Jekyll::URL#sanitize_url."""
    url = ("/" + url).replace("..", "/")
    url = url.replace("./", "")
    return regex.sub(r"/{2,}", "/", url)


def post_path(
    *,
    site_permalink: str,
    front_permalink: str | None,
    date: datetime,
    title: str,
    slug: str | None,
    categories: Sequence[str],
    ext: str,
    source_path: str | None = None,
) -> str:
    """The URL path ('/...') Jekyll 4 gives the post as `page.url`.

    `date` is already in the site zone; `title` is the file-name title (`filename_title`);
    `slug` the front-matter `slug` or None; `categories` the final ordered list (folder
    categories, then front matter); `ext` the source extension. `source_path` (relative to the
    site root) is only needed for the rarely used `:name` and `:path` placeholders.
    A front-matter permalink replaces the site pattern and may use the same placeholders.
    Raises ValueError for a placeholder Jekyll does not know (Jekyll stops the build there).
    """
    template = front_permalink if front_permalink is not None else template_for(site_permalink)
    values = _placeholders(
        date=date,
        title=title,
        slug=slug,
        categories=categories,
        ext=ext,
        source_path=source_path,
    )

    def replace(m: regex.Match[str]) -> str:
        name = m.group(1)
        pool = [name, name[:-1]] if name.endswith("_") else [name]
        winner = next((key for key in pool if key in values), None)
        if winner is None:
            keys = " or ".join(pool)
            raise ValueError(
                f"permalink {shown(template)!r}: unknown placeholder :{shown(keys)} "
                "(Jekyll fails the build)"
            )
        return m.group(0).replace(":" + winner, _escape_path(values[winner]), 1)

    return _sanitize(_PLACEHOLDER.sub(replace, str(template)))


def canonical_url(site_url: str, baseurl: str, path: str) -> str:
    """`site.url + site.baseurl + page.url`, i.e. Jekyll's `absolute_url` for a post.

    Slashes at the joins are normalised so 'https://x/' + '/blog/' + '/a.html' gives one '/'.
    """
    base = "/" + baseurl.strip("/") if baseurl.strip("/") else ""
    if not path.startswith("/"):
        path = "/" + path
    return site_url.rstrip("/") + base + path
