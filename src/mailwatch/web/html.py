"""HTML of the pages: Python f-strings with every interpolated value passed through ``esc``
(``html.escape``, quotes included). No template engine: the pages are few and small, and
jinja2 is not a dependency."""

from __future__ import annotations

import html
from dataclasses import dataclass

from mailwatch import __version__


def esc(value: object) -> str:
    """``value`` as text safe in an element or a quoted attribute."""
    return html.escape(str(value), quote=True)


def state_badge(label: str) -> str:
    """A check state (``ok``, ``critical``...) as a coloured badge."""
    return f'<span class="state {esc(label)}">{esc(label)}</span>'


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: a logged-in user (with the session's CSRF token) or an anonymous
    visitor of the public overview."""

    user: str | None
    csrf: str | None


def hidden_csrf(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(token)}">'


def page(
    title: str,
    body: str,
    viewer: Viewer | None = None,
    *,
    refresh_s: int | None = None,
    live_version: int | None = None,
    live_refresh_s: int = 60,
) -> str:
    """A whole page: ``body`` is HTML already escaped by its maker.

    With ``live_version`` (the status version it was rendered at) the page updates itself
    (``static/live.js``): it fetches itself again when ``/live`` says the version moved,
    and every ``live_refresh_s`` anyway, and swaps each element marked ``data-live-region`` for
    its fresh copy. Without JavaScript, ``refresh_s`` is a meta refresh instead."""
    who = ""
    if viewer is not None and viewer.user is not None and viewer.csrf is not None:
        who = (
            f'<form class="who" method="post" action="/logout">{esc(viewer.user)} '
            f"{hidden_csrf(viewer.csrf)}<button>Log out</button></form>"
        )
    elif viewer is not None:
        who = '<a class="who" href="/login">Log in</a>'
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    body_attrs = ""
    if live_version is not None:
        refresh = (f"<noscript>{refresh}</noscript>" if refresh else "") + (
            '<script src="/static/live.js" defer></script>\n'
        )
        body_attrs = f' data-live-version="{live_version}" data-live-refresh-s="{live_refresh_s}"'

    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
{refresh}<title>{esc(title)} · mailwatch</title>
<link rel="stylesheet" href="/static/mailwatch.css">
</head>
<body{body_attrs}>
<header><a class="home" href="/">mailwatch</a>{who}</header>
<main>
{body}
</main>
<footer>mailwatch {esc(__version__)}</footer>
</body>
</html>
"""
