"""Is the bot still allowed to post in its channel?  ``getMe`` + ``getChatMember`` (PTB).

Why both: ``getMe`` proves the token (a revoked token answers 401); ``getChatMember`` of the bot
itself in the channel says whether it is still an administrator with ``can_post_messages`` (or
the creator).  A demoted, removed or banned bot would have every send refused; checking first
lets the queue wait instead of failing post after post.

``channel_refusal`` tells which answers to a *send* mean the same thing (the destination, not
the post, is at fault), so the sender holds the queue on them too.
"""

from __future__ import annotations

from collections.abc import Callable

from telegram import Bot, ChatMember, ChatMemberAdministrator
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError

from bot.platforms.probes import ProbeResult

__all__ = ["channel_refusal", "judge_member", "probe_channel"]

# Lower-cased fragments of Telegram's answers (platform-contracts A7) meaning the bot may not
# post in the chat at all.
_CHANNEL_REFUSALS = (
    "chat not found",
    "bot is not a member",
    "bot was kicked",
    "need administrator rights",
    "not enough rights to send",
    "have no write access",
)


def channel_refusal(exc: TelegramError) -> bool:
    """True when the answer means the bot cannot post to the chat (whatever the post)."""
    if isinstance(exc, InvalidToken):
        return True
    if isinstance(exc, BadRequest | Forbidden):
        lowered = exc.message.lower()
        return any(fragment in lowered for fragment in _CHANNEL_REFUSALS)
    return False


def judge_member(member: ChatMember, channel: str) -> ProbeResult:
    """The bot's own ChatMember in ``channel`` -> ok, or unhealthy with what to fix."""
    status = member.status
    if status == ChatMemberStatus.OWNER:
        return ProbeResult("ok")
    if status == ChatMemberStatus.ADMINISTRATOR:
        # can_post_messages is set for channels only (None in groups, where admins may post)
        if isinstance(member, ChatMemberAdministrator) and member.can_post_messages is False:
            return ProbeResult("unhealthy", f"the bot is an administrator of {channel} without "
                                            "the right to post messages (can_post_messages is "
                                            "off): give it that right")
        return ProbeResult("ok")
    what = {
        ChatMemberStatus.MEMBER: "is no longer an administrator of",
        ChatMemberStatus.RESTRICTED: "is restricted in",
        ChatMemberStatus.LEFT: "is not in",
        ChatMemberStatus.BANNED: "was banned from",
    }.get(status, f"has status {status} in")
    return ProbeResult("unhealthy", f"the bot {what} {channel} (getChatMember: {status}): make "
                                    "it an administrator allowed to post")


async def probe_channel(bot: Bot, chat_id: int | str, channel: str,
                        error: Callable[[str, TelegramError], tuple[str, bool]]) -> ProbeResult:
    """getMe, then getChatMember of the bot in ``chat_id``.  ``error(method, exc)`` gives a
    token-free reason and whether it is a definite refusal (the publisher's own mapping)."""
    method = "getMe"
    try:
        me = await bot.get_me()
        method = "getChatMember"
        member = await bot.get_chat_member(chat_id, me.id)
    except TelegramError as exc:
        reason, definite = error(method, exc)
        return ProbeResult("unhealthy" if definite else "unreachable", reason)
    result = judge_member(member, channel)
    return ProbeResult(result.outcome, result.reason, account=f"@{me.username}")
