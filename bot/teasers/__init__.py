"""Teasers: Jinja2 templates rendered in a sandbox, measured as each platform counts, fitted."""

from bot.teasers.env import DEFAULT_TEMPLATES_DIR, TemplateError
from bot.teasers.hashtags import hashtags
from bot.teasers.render import Teaser, TeaserRenderer
from bot.teasers.telegram_length import telegram_visible_length
from bot.teasers.x_length import x_weighted_length

__all__ = [
    "DEFAULT_TEMPLATES_DIR",
    "Teaser",
    "TeaserRenderer",
    "TemplateError",
    "hashtags",
    "telegram_visible_length",
    "x_weighted_length",
]
