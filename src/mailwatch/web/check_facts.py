"""What a check's page knows, handed to each of its sections, and the shape of a section.

A section is an async function of ``CheckFacts`` returning its HTML (``section(...)``
wraps it), or ``""`` to be left out; ``check_page.SECTIONS`` lists them in page order, so a
new section is one function plus one line there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from mailwatch.config import MailwatchConfig
from mailwatch.config.checks import CheckBase
from mailwatch.domain.quiet import Quiet
from mailwatch.status.model import CheckView, TicketView
from mailwatch.store.store import Store
from mailwatch.web.html import Viewer, esc


@dataclass(frozen=True, slots=True)
class CheckFacts:
    """One check, as its page shows it at ``now``."""

    name: str
    view: CheckView | None
    """The check in the status model; None for a disabled check (configured, not run)."""
    configured: CheckBase | None
    """Its config entry; None for a check the status still shows but the config dropped."""
    tickets: tuple[TicketView, ...]
    """Its open tickets (one per target; most often none or one)."""
    quiet: Quiet | None
    """The maintenance window or silence covering it now."""
    config: MailwatchConfig
    store: Store
    """For sections reading more (recent results, rollups): read, never write."""
    now: datetime
    zone: tzinfo | None
    viewer: Viewer
    query: Mapping[str, str] = field(default_factory=dict)
    """The page's query string (``?range=30d`` for the graphs)."""
    refetch: bool = False
    """The page's own script fetching it again for its live regions (``Sec-Fetch-Mode`` other
    than ``navigate``): a section that is not live may skip its work (the graphs do)."""


Section = Callable[[CheckFacts], Awaitable[str]]
"""A part of the page: its HTML, or "" when it has nothing to show for this check."""


def section(ident: str, title: str, inner: str, *, live: bool = True) -> str:
    """A section of the page: ``<section id=...>`` with its heading. ``live`` sections are
    swapped for fresh ones by the page's live updates (``static/live.js``)."""
    mark = " data-live-region" if live else ""
    return (
        f'<section id="{esc(ident)}" class="check-section"{mark}>'
        f"<h2>{esc(title)}</h2>\n{inner}\n</section>"
    )
