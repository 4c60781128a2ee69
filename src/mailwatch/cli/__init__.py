"""The ``mailwatch`` command: one sub-command per module in this package."""

from mailwatch.cli.main import main

__all__ = ["main"]
