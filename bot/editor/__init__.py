"""The editors' desk: the Telegram bot editors use to preview, push, approve, retry and pause.

Import ``bot.editor.app`` for the bot itself (python-telegram-bot); ``bot.editor.audit`` and
``bot.editor.callbacks`` have no Telegram dependency and are safe for the CLI and workers.
"""
