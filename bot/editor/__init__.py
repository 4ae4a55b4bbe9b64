"""The editors' desk: the Telegram bot editors use to preview, push, approve, retry and pause.

Import ``bot.editor.app`` for the bot itself (python-telegram-bot); ``bot.editor.callbacks`` has
no Telegram dependency and is safe for the CLI and workers.
"""
