"""Use cases shared by the CLI and the editors' bot.

Each action returns a report object instead of printing or raising for expected problems, so
the terminal and Telegram show the same facts and can never disagree.
"""
