"""``mailwatch demo``: the daemon against a mail system of its own on loopback, with an outage
on purpose. Needs the ``demo`` extra (aiosmtpd and pymap); see docs/demo.md."""
