"""Config lines that switch every level of the resources check off.

A test about one figure of the resources check (a hung mount, say) must not fail because the
machine running it is busy: with every other level off, only what the test is about can
change the verdict. Built from the kind's own defaults, so a new figure is covered too.
"""

from __future__ import annotations

from mailwatch.config.checks.resources import DEFAULT_LEVELS

LEVELS_OFF_TOML = "\n".join(
    f'{key} = {{ warning = "off", critical = "off" }}' for key in DEFAULT_LEVELS
)
"""One ``KEY = { warning = "off", critical = "off" }`` line per level, for a
``[[checks.resources]]`` table."""
