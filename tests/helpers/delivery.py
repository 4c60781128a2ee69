"""What tests ask of a delivery outcome beyond what the sender needs."""

from __future__ import annotations

from mailwatch.alerts.delivery import DeliveryOutcome


def any_ok(outcome: DeliveryOutcome) -> bool:
    """At least one URL took the message: someone has probably heard."""
    return any(url.ok for url in outcome.per_url)
