"""Check kinds: what every check shares (``base``), one declaration module per kind, and the
registry that lists them and builds the ``[checks]`` section from them."""

from mailwatch.config.checks.base import CheckBase, CheckKind, CheckName

__all__ = ["CheckBase", "CheckKind", "CheckName"]
