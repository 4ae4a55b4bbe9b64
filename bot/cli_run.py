"""`newsbot run | worker | beat | scan`: the processes and the scan trigger."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `newsbot` app."""
