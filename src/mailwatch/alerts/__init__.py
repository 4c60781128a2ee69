"""Alerts: routes that say who hears about a ticket, messages, and delivery through apprise.

See ``docs/alerts.md``. Importing this package does not import apprise.
"""
