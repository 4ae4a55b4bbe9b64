"""`newsbot push | status | retry`: an operator's hands on the delivery records."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `newsbot` app."""
