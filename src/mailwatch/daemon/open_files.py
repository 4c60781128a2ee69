"""The daemon's limit on open files, raised to what it may use.

Every probe opens sockets, the store holds connections, and the web server holds one socket
per browser or client. The usual soft limit (1,024, systemd's default) is low for a monitor
whose web port is reachable: a few hundred idle connections, or a burst of them, would leave
the probes unable to open a socket, and every check would fail at once for a reason that is
not the mail system's. Raising the soft limit up to the hard one (systemd gives 524,288) is
what sd_notify-era daemons do at start; capped at ``TARGET`` so that nothing that scans every
descriptor up to the limit gets slow.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("mailwatch.daemon")

TARGET = 65_536


def raise_open_files_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to ``min(hard, TARGET)`` if it is lower; the soft
    limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = TARGET if hard == resource.RLIM_INFINITY else min(hard, TARGET)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit from %d to %d: %s", soft, wanted, exc)
            return soft
        return wanted
    return soft
