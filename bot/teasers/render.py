"""Teasers: a post rendered through its platform template and fitted to the platform's limit.

Flow per teaser: render once with placeholder characters in place of the fitted variables to
learn the template's own weight and how often it prints each variable; pick cuts by arithmetic
(`cut.fit`); render for real; measure exactly as the platform does (TDLib-style HTML parse for
Telegram, `parse_tweet` for X). If the exact count disagrees with the estimate (text twitter-text
sees as a URL, a template that transforms values), the budget shrinks by the overshoot and the
fit is redone: for X that costs one more `parse_tweet`, which is rare.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import jinja2

from bot.posts import Post
from bot.teasers import cut
from bot.teasers.env import (
    TELEGRAM_TEMPLATE,
    X_TEMPLATE,
    TemplateError,
    load_template,
    make_environment,
    render,
)
from bot.teasers.hashtags import hashtags as make_hashtags
from bot.teasers.links import LinkMode, UtmTagger
from bot.teasers.sandbox import time_limit
from bot.teasers.telegram_length import REMOVED_CHARS, TelegramHTMLError, parse_telegram_html
from bot.teasers.view import FrontMatterTooLarge, post_view
from bot.teasers.x_length import X_LIMIT, cluster_weights, x_estimate, x_parse, x_sanitize

TELEGRAM_CAPTION_LIMIT = 1024
TELEGRAM_TEXT_LIMIT = 4096
_MAX_CONFIRMS = 4
# Private-use characters stand in for fitted values while learning the template's shape: they are
# not escaped, not emoji, not URL characters, weigh 2 on X and 1 UTF-16 unit on Telegram.
_SENTINELS = {"body": "\ue000", "excerpt": "\ue001", "title": "\ue002"}


@dataclass(frozen=True, slots=True)
class Teaser:
    platform: str
    """"telegram" | "x"."""
    text: str
    """Exactly what is sent (Telegram: HTML for parse_mode=HTML)."""
    parse_mode: str | None
    length: int
    """As the platform counts: Telegram code points of visible text, X weighted length."""
    limit: int
    shortened: bool


@lru_cache(maxsize=65536)
def _tg_cluster_weight(cluster: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in cluster if c not in REMOVED_CHARS)


def _tg_weights(parts: Sequence[str], _text: str) -> list[int]:
    return [_tg_cluster_weight(c) for c in parts]


def _tg_mark(mark: str) -> int:
    return len(mark)


def _x_mark(mark: str) -> int:
    return x_estimate(mark)


def _mostly_hangul(*texts: str) -> bool:
    hangul = letters = 0
    for text in texts:
        for ch in text:
            if ch.isalpha():
                letters += 1
                if "HANGUL" in unicodedata.name(ch, ""):
                    hangul += 1
    return letters > 0 and hangul * 2 >= letters


@dataclass(frozen=True, slots=True)
class _Platform:
    name: str
    template: str
    parse_mode: str | None
    weights: cut.WeightFn
    mark: Callable[[str], int]
    sanitize: Callable[[str], str]


_TELEGRAM = _Platform("telegram", TELEGRAM_TEMPLATE, "HTML", _tg_weights, _tg_mark, lambda s: s)
_X = _Platform("x", X_TEMPLATE, None, cluster_weights, _x_mark, x_sanitize)


def _clean(p: _Platform, value: str) -> str:
    """Surrounding whitespace of a field means nothing to a reader and would be trimmed anyway."""
    return p.sanitize(value).strip()


class TeaserRenderer:
    """Renders and fits teasers; templates compile once, at construction, so errors show early."""

    def __init__(self, templates_dir: Path | None = None, *, hashtag_max: int = 3,
                 x_link_mode: str | LinkMode = "url", utm_template: str | None = None,
                 site_name: str | None = None) -> None:
        self._env = make_environment(templates_dir)
        self._hashtag_max = hashtag_max
        self._link_mode = (x_link_mode if isinstance(x_link_mode, LinkMode)
                           else LinkMode.parse(x_link_mode))
        self._utm = UtmTagger(utm_template)
        self._site_name = (site_name or "").strip()
        self._templates = {
            TELEGRAM_TEMPLATE: load_template(self._env, TELEGRAM_TEMPLATE),
            X_TEMPLATE: load_template(self._env, X_TEMPLATE),
        }

    def telegram(self, post: Post, *, photo: bool) -> Teaser:
        limit = TELEGRAM_CAPTION_LIMIT if photo else TELEGRAM_TEXT_LIMIT
        extra: dict[str, object] = {
            "photo": photo, "link": True, "link_mode": "url", "site_name": self._site_name,
            "url": self.link(post, "telegram"),
        }
        with time_limit():
            return self._teaser(_TELEGRAM, post, post.telegram_text, limit, extra)

    def x(self, post: Post) -> Teaser:
        """Without the link (X_LINK_MODE) ``url`` is empty and ``link`` false: the template
        decides what stands in its place (the bundled one names the site)."""
        link = self._link_mode.includes(post)
        extra: dict[str, object] = {
            "photo": False, "link": link, "link_mode": self._link_mode.kind,
            "site_name": self._site_name, "url": self.link(post, "x") if link else "",
        }
        with time_limit():
            return self._teaser(_X, post, post.x_text, X_LIMIT, extra)

    def link(self, post: Post, platform: str) -> str:
        """The link as it goes out on ``platform``: the canonical URL with its UTM tags."""
        return self._utm.tag(post.url, post, platform)

    def x_has_link(self, post: Post) -> bool:
        """Whether the X teaser of this post carries its link (X_LINK_MODE)."""
        return self._link_mode.includes(post)

    # -- internals ------------------------------------------------------------------------------

    def _teaser(
        self, p: _Platform, post: Post, override: str | None, limit: int, extra: dict[str, object]
    ) -> Teaser:
        template = self._templates[p.template]
        title = _clean(p, post.title)
        if override is not None:
            body: str | None = _clean(p, override)
            fields = [cut.Field("body", body, 1), cut.Field("title", title, 1)]
            excerpt = ""
        else:
            body = None
            excerpt = _clean(p, post.excerpt)
            fields = [cut.Field("excerpt", excerpt, 0), cut.Field("title", title, 1)]
        try:
            view = post_view(post)  # plain data: the Post object never reaches a template
        except FrontMatterTooLarge as exc:
            raise TemplateError(
                f"{post.rel_path}: cannot hand the post to templates: {exc}"
            ) from None
        base: dict[str, object] = {
            "post": view,
            "url": post.url,
            "platform": p.name,
            "limit": limit,
            "lang": "ko" if _mostly_hangul(title, excerpt, body or "") else "en",
            **extra,
        }
        base["read_more"] = "자세히 보기" if base["lang"] == "ko" else "Read more"
        measured = [cut.measure(f, p.weights) for f in fields]
        tags = make_hashtags([*post.categories, *post.tags], self._hashtag_max)
        all_tags = len(tags)
        while True:
            try:
                teaser = self._fit(p, template, base, tags, body, excerpt, measured, limit)
            except cut.NoFit:
                if not tags:
                    raise TemplateError(
                        f"{template.filename}: the template's own text leaves no room within "
                        f"{limit} even for an empty excerpt and a one-character title"
                    ) from None
                tags = tags[:-1]  # very long tags: dropping one is better than failing
            else:
                if len(tags) < all_tags and not teaser.shortened:
                    teaser = replace(teaser, shortened=True)
                return teaser

    def _context(
        self, base: dict[str, object], tags: list[str], values: dict[str, str | None]
    ) -> dict[str, object]:
        return {**base, "hashtags": tags, **values}

    def _measure(self, p: _Platform, template: jinja2.Template, text: str) -> tuple[int, int, bool]:
        """(length as the platform reports it, length checked against the limit, valid)."""
        if p is _TELEGRAM:
            try:
                parsed = parse_telegram_html(text)
            except TelegramHTMLError as exc:
                raise TemplateError(
                    f"{template.filename}: Telegram would reject the rendered HTML: "
                    f"can't parse entities: {exc}"
                ) from exc
            return parsed.length, parsed.utf16_length, bool(parsed.text)
        result = x_parse(text)
        return result.weightedLength, result.weightedLength, result.valid

    def _static_weight(
        self,
        p: _Platform,
        template: jinja2.Template,
        context: dict[str, object],
        names: list[str],
    ) -> tuple[int, dict[str, int]]:
        skeleton = render(template, context).strip(" \n")
        counts = {name: skeleton.count(_SENTINELS[name]) for name in names}
        if p is _TELEGRAM:
            _, units, _ = self._measure(p, template, skeleton)
            return units - sum(counts.values()), counts
        return x_estimate(skeleton) - 2 * sum(counts.values()), counts

    def _fit(
        self,
        p: _Platform,
        template: jinja2.Template,
        base: dict[str, object],
        tags: list[str],
        body: str | None,
        excerpt: str,
        measured: list[cut.Measured],
        limit: int,
    ) -> Teaser:
        fixed: dict[str, str | None] = {"body": body, "excerpt": excerpt}
        for m in measured:
            fixed[m.field.name] = m.field.text
        placeholders = dict(fixed)
        live = [m.field.name for m in measured if m.field.text]
        for name in live:
            placeholders[name] = _SENTINELS[name]
        static, counts = self._static_weight(
            p, template, self._context(base, tags, placeholders), live
        )
        budget = limit
        for _ in range(_MAX_CONFIRMS):
            values, shortened = cut.fit(measured, counts, static, budget, p.mark)
            text = render(template, self._context(base, tags, {**fixed, **values})).strip(" \n")
            length, checked, valid = self._measure(p, template, text)
            if valid and checked <= limit:
                return Teaser(p.name, text, p.parse_mode, length, limit, shortened)
            if not valid and checked <= limit:
                break  # invalid for another reason than length: shrinking cannot help
            budget -= checked - limit
        raise TemplateError(
            f"{template.filename}: cannot fit the {p.name} teaser within {limit} "
            f"(rendered text is {'invalid' if checked <= limit else f'{checked} long'})"
        )
