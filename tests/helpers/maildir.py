"""Counting what the demo's SMTP server delivered, straight from its Maildir."""

from __future__ import annotations

import mailbox

from mailwatch.demo.servers import DemoServers


def maildir_count(servers: DemoServers) -> int:
    """Messages in the demo mailbox's Maildir (new and cur)."""
    return len(mailbox.Maildir(servers.mailbox.maildir, create=False))
