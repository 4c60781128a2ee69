"""Sending one message through one route with apprise, under our own timeout, and saying for
each URL (masked) whether it got through.

apprise's async API runs each service's blocking ``send`` in apprise's own worker threads, so
a slow service never blocks the event loop. Our timeout stops the waiting; a send already
running in a worker thread ends on its own, at the latest at the plugin's socket timeouts
(apprise's defaults: 4 s to connect and 4 s per read, 15 s to connect for e-mail; ``?cto=``
and ``?rto=`` in the URL change them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from mailwatch.alerts.apprise_setup import load_apprise, quiet_apprise
from mailwatch.alerts.idempotency import carries_key, with_idempotency_key
from mailwatch.alerts.masking import install_log_masking, mask_service_url, mask_text, mask_url
from mailwatch.alerts.messages import BodyFormat, NoticeLevel
from mailwatch.alerts.routes import Route

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500


class UrlOutcome(NamedTuple):
    """What happened to one URL: ``masked_url`` is safe to show; ``error`` is None when ok."""

    masked_url: str
    ok: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """``ok`` only when every URL of the route took the message (and there was at least one)."""

    ok: bool
    per_url: list[UrlOutcome]


@dataclass(frozen=True, slots=True)
class _Target:
    masked_url: str
    service: Any = None  # an apprise NotifyBase; None when it could not be loaded
    error: str | None = None


async def deliver(
    route: Route,
    title: str,
    body: str,
    timeout_s: float,
    *,
    body_format: BodyFormat | None = None,
    level: NoticeLevel = "info",
    idempotency_key: str | None = None,
) -> DeliveryOutcome:
    """Send ``title`` and ``body`` to every URL of ``route`` at once, each under ``timeout_s``.

    Only apprise's answer "success" counts as delivered; a failure, a partial result, no
    answer within ``timeout_s`` or an exception is a failure with its reason (masked) in the
    URL's ``error``. Never raises for a delivery problem. ``body_format`` defaults to the
    route's ``format``. Generic webhooks carry ``idempotency_key``, if given, as a header and
    a body field (``mailwatch.alerts.idempotency``).
    """
    install_log_masking(apprise_level=None)
    # Loading plugins and reading an apprise config file are blocking work.
    targets = await asyncio.to_thread(_targets, route, idempotency_key)
    fmt: BodyFormat = body_format or route.config.format
    per_url = list(
        await asyncio.gather(
            *(_send(target, title, body, fmt, level, timeout_s) for target in targets)
        )
    )
    for outcome in per_url:
        if outcome.ok:
            log.info(
                "route %s: delivered to %s",
                route.name,
                outcome.masked_url,
                extra={"route": route.name},
            )
        else:
            log.info(
                "route %s: not delivered to %s: %s",
                route.name,
                outcome.masked_url,
                outcome.error,
                extra={"route": route.name},
            )
    return DeliveryOutcome(bool(per_url) and all(o.ok for o in per_url), per_url)


def _asset() -> Any:
    apprise = load_apprise()
    return apprise.AppriseAsset(
        app_id="mailwatch",
        app_desc="mailwatch alerts",
        async_mode=True,
        secure_logging=True,
    )


def _targets(route: Route, key: str | None = None) -> list[_Target]:
    """One target per URL of the route, then one per service of its config file; generic
    webhooks with ``key`` as their idempotency key."""
    apprise = load_apprise()
    asset = _asset()
    targets = []
    for secret in route.config.urls:
        url = secret.get_secret_value()
        masked = mask_url(url)  # as configured: the key is no secret, but no part of the URL
        if key is not None:
            url = with_idempotency_key(url, key)
        try:
            with quiet_apprise():
                service = apprise.Apprise.instantiate(url, asset=asset, suppress_exceptions=False)
        except Exception as exc:
            targets.append(_Target(masked, error=_loading_error(exc)))
            continue
        if service is None:
            targets.append(_Target(masked, error="apprise cannot use this URL"))
        else:
            targets.append(_Target(masked, service))
    if route.config.config_file is not None:
        targets.extend(_config_file_targets(route, apprise, asset, key))
    return targets


def _config_file_targets(
    route: Route, apprise: Any, asset: Any, key: str | None = None
) -> list[_Target]:
    path = route.config.config_file
    label = f"apprise config file {path}"
    tags = route.config.config_tags or [apprise.common.MATCH_ALL_TAG]
    try:
        with quiet_apprise():
            config = apprise.AppriseConfig(asset=asset)
            if not config.add(str(path)):
                return [_Target(label, error="apprise cannot read this config file")]
            holder = apprise.Apprise(asset=asset)
            holder.add(config)
            services = list(holder.find(tag=tags))
    except Exception as exc:
        return [_Target(label, error=_loading_error(exc))]
    if not services:
        wanted = ", ".join(route.config.config_tags) or "any"
        return [_Target(label, error=f"no service in it is tagged {wanted}")]
    targets = []
    for service in services:
        try:
            url = service.url(privacy=False)
            masked = mask_service_url(service.url(privacy=True), url)
            if key is not None and carries_key(url):
                with quiet_apprise():
                    service = apprise.Apprise.instantiate(
                        with_idempotency_key(url, key), asset=asset, suppress_exceptions=False
                    )
        except Exception as exc:
            shown = f"{label} (a {type(service).__name__} service)"
            targets.append(_Target(shown, error=_loading_error(exc)))
            continue
        if service is None:
            targets.append(_Target(masked, error="apprise cannot use this URL"))
            continue
        targets.append(_Target(masked, service))
    return targets


def _loading_error(exc: BaseException) -> str:
    return _short(mask_text(f"apprise could not load it: {type(exc).__name__}: {exc}"))


async def _send(
    target: _Target,
    title: str,
    body: str,
    body_format: BodyFormat,
    level: NoticeLevel,
    timeout_s: float,
) -> UrlOutcome:
    if target.service is None:
        return UrlOutcome(target.masked_url, False, target.error)
    apprise = load_apprise()
    notifier = apprise.Apprise(asset=target.service.asset)
    notifier.add(target.service)
    try:
        async with asyncio.timeout(timeout_s):
            result = await notifier.async_notify(
                body=body, title=title, body_format=body_format, notify_type=level
            )
    except TimeoutError:
        return UrlOutcome(target.masked_url, False, f"timed out: no answer within {timeout_s:g} s")
    except Exception as exc:  # apprise reports failures as results; this is a bug in a plugin
        error = mask_text(f"apprise raised {type(exc).__name__}: {exc}")
        return UrlOutcome(target.masked_url, False, _short(error))
    try:
        ok = succeeded(result)
        return UrlOutcome(target.masked_url, ok, None if ok else failure_reason(result))
    finally:
        close = getattr(result, "close", None)
        if callable(close):
            close()  # an AppriseResult may keep its captured log lines in a temporary file


def succeeded(result: object) -> bool:
    """apprise 1.x answers True, False or None; 2.x an ``AppriseResult``. Only success counts."""
    if result is None or isinstance(result, bool):
        return result is True
    return getattr(result, "status", None) == 0 and bool(result)


def failure_reason(result: object) -> str:
    """The warnings and errors apprise captured for a failed call, masked, most recent last."""
    if result is None or isinstance(result, bool):
        return "apprise reported a failure without details"
    messages = _unique(_problem_lines(result))
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    if status == "TIMEOUT" and not messages:
        return "apprise gave up waiting for the service"
    if not messages:
        return f"apprise reported {status.lower()} without details"
    return _short(mask_text("; ".join(messages)))


def _problem_lines(result: Any) -> Iterable[str]:
    entries = []
    for service_result in result:
        entries.extend(service_result.logs())
    entries.extend(result.call_logs())
    for entry in entries:
        if entry.level not in {"DEBUG", "INFO", "TRACE"}:
            yield str(entry.message)


def _unique(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(line.strip() for line in lines if line.strip()))


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."
