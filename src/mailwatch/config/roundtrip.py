"""Where ``mailwatch.protocols`` still imports the SMTP and IMAP endpoint settings from; they
live in the roundtrip kind's declaration (``mailwatch.config.checks.roundtrip``)."""

from mailwatch.config.checks.roundtrip import ImapEndpoint, SmtpEndpoint

__all__ = ["ImapEndpoint", "SmtpEndpoint"]
