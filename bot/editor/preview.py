"""What an editor is shown for a post: the channel message itself, then the X text and counts.

Shared by ``/preview`` (async bot) and approval notices (sync Notifier in a worker), and built
from the same ``prepare()`` delivery uses, so the first message is the channel post byte for byte:
the same photo bytes and caption, or the same text with the same link preview.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import X_DEFAULT_PRICES
from bot.delivery.content import ContentTools, fingerprint, prepare
from bot.images import ImageVariant
from bot.platforms.outgoing import PlatformTeaser, image_summary
from bot.platforms.x_price import planned_calls, price_usd
from bot.posts import Post

from .i18n import t
from .render import esc, esc_text

__all__ = ["OutMessage", "fingerprint", "prepare_both", "preview_messages"]


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One message to send: a photo with caption, or HTML text (optionally with a link preview)."""

    text: str
    photo: bytes | None = None
    filename: str | None = None
    link_preview_url: str | None = None


def prepare_both(tools: ContentTools, post: Post) -> tuple[PlatformTeaser, PlatformTeaser]:
    return prepare(tools, post, "telegram"), prepare(tools, post, "x")


def channel_message(post: Post, item: PlatformTeaser) -> OutMessage:
    """Exactly what the Telegram publisher sends for this teaser."""
    if isinstance(item.image, ImageVariant):
        return OutMessage(text=item.teaser.text, photo=item.image.read_bytes(),
                          filename=item.image.path.name)
    return OutMessage(text=item.teaser.text, link_preview_url=post.url)


def x_price_line(language: str, post: Post, x: PlatformTeaser,
                 prices: Mapping[str, float] | None = None) -> str:
    """What sending this X post costs at ``prices`` (X_PRICES): a link makes it $0.20."""
    calls = planned_calls(x, alt_text=bool(post.image_alt.strip()))
    price = price_usd(calls, prices if prices is not None else X_DEFAULT_PRICES)
    return t(language, "preview_x_price", price=f"${price:,.3f}",
             calls=", ".join(f"{n}× {k}" for k, n in calls.items()))


def details_text(language: str, post: Post, tg: PlatformTeaser, x: PlatformTeaser,
                 prices: Mapping[str, float] | None = None) -> str:
    tg_line = t(language, "preview_tg", length=tg.teaser.length, limit=tg.teaser.limit,
                image=esc(image_summary(tg.image)))
    if tg.teaser.shortened:
        tg_line += " " + t(language, "preview_shortened")
    x_line = t(language, "preview_x", length=x.teaser.length, limit=x.teaser.limit,
               image=esc(image_summary(x.image)))
    if x.teaser.shortened:
        x_line += " " + t(language, "preview_shortened")
    head = t(language, "preview_head", title=esc(post.title, 200))
    price = esc(x_price_line(language, post, x, prices))
    return (f"{head}\n{tg_line}\n<b>{x_line}</b>\n"
            f"<blockquote>{esc_text(x.teaser.text, 2000)}</blockquote>\n{price}")


def preview_messages(language: str, post: Post, tg: PlatformTeaser, x: PlatformTeaser,
                     prices: Mapping[str, float] | None = None) -> list[OutMessage]:
    return [channel_message(post, tg),
            OutMessage(text=details_text(language, post, tg, x, prices))]
