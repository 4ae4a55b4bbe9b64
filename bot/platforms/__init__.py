"""Transports that talk to the publishing platforms (X, Telegram); no teaser logic here."""
