"""The two kinds of line a plugin prints: the status line (``MAILWATCH OK - ...``) and a line
of long output; neither may carry a ``|`` (it starts perfdata) or a line break."""

from __future__ import annotations

from mailwatch.domain.results import State

SERVICE = "MAILWATCH"


def status_line(state: State, text: str) -> str:
    """``MAILWATCH UNKNOWN - text``, with what the plugin format reserves made harmless."""
    return f"{SERVICE} {state.label.upper()} - {long_line(text)}"


def long_line(text: str) -> str:
    """``text`` as one line of plugin output."""
    # "|" starts perfdata and a newline starts long output: neither may come from a summary.
    return " ".join(text.replace("|", "/").split())
