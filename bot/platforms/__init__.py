"""Transports that talk to the publishing platforms (X, Telegram); no teaser logic here."""

PLATFORMS: tuple[str, ...] = ("telegram", "x")
"""Every platform newsbot publishes to (a teaser template and a publisher each)."""
