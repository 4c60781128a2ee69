"""Keeping the tokens inside apprise URLs out of everything people read: output, logs, errors.

``mask_url`` is the only way a URL is shown: apprise's own privacy mode first (each plugin
knows which parts of its URL are private), then a pass of our own on top that hides passwords
and query values apprise leaves visible, and long path segments unless the plugin is one whose
privacy URL is known to hide its keys. Every part a masked URL hides is remembered;
``install_log_masking`` makes every log record, from any logger, replace them.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from mailwatch.alerts.apprise_setup import APPRISE_LOGGER, load_apprise, quiet_apprise

MASK = "****"

MIN_SECRET_CHARS = 4
"""Shorter hidden parts are not searched for in log text: replacing every ``ab`` would wreck
the logs and protect nothing worth a token."""

MIN_PATH_TOKEN_CHARS = 8
"""Outside ``PRIVACY_VERIFIED_SCHEMES``, a path segment this long (and not an e-mail address)
is taken for a token: webhook keys, ntfy topics, bot tokens."""

PRIVACY_VERIFIED_SCHEMES = frozenset(
    {
        "tgram", "discord", "slack", "matrix", "matrixs", "gotify", "gotifys", "mmost", "mmosts",
        "pover", "rocket", "rockets", "hassio", "hassios", "apprise", "apprises", "mastodon",
        "mastodons", "mailto", "mailtos",
    }
)  # fmt: skip
"""Plugins whose privacy URL (``url(privacy=True)``) shows its path as it is: each hides every
part its ``template_tokens`` mark ``private`` (bot and webhook tokens, access tokens, keys), and
``tests/alerts/test_masking.py`` checks a URL of each. Every other plugin keeps our mask on
long path segments, because apprise's rendering cannot be relied on there: a generic webhook
(``json``, ``xml``, ``form``) shows its whole path, often a key (``/hooks/catch/123/abcdef``);
an ntfy topic is "essentially a password" on a public server (docs.ntfy.sh/publish) yet is not
private to apprise; GoAlert shows the integration keys it marks private. The scheme is that of
the privacy URL, the plugin's own (``toots://`` renders as ``mastodons://``)."""

SAFE_QUERY_KEYS = frozenset(
    {
        "to", "from", "cc", "bcc", "reply", "name", "smtp", "mode", "method", "format",
        "priority", "verify", "cto", "rto", "retry", "wait", "overflow", "optional",
        "image", "sound",
    }
)  # fmt: skip
"""Query keys whose values are shown: addresses, modes and timeouts, never keys or tokens."""

_PLAIN_VALUE = re.compile(r"(?i)true|false|yes|no|on|off|none|[0-9]{1,6}")
"""Query values too common to hunt for in log text (``?batch=true``): masked in URLs only."""

_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s'\"<>]+")


def mask_url(url: str) -> str:
    """How ``url`` may be shown anywhere; its hidden parts are remembered for the logs.

    The query keeps only the keys written in ``url`` (apprise's privacy URL lists every
    default too), with the values of keys outside ``SAFE_QUERY_KEYS`` masked.
    """
    shown = _privacy_url(url)
    if shown is None:
        # apprise cannot read it, so we cannot know where its key is: mask more.
        masked = _mask_structure(url, keep_keys=None, strict=True)
    else:
        masked = _mask_structure(
            shown, keep_keys=_query_keys(url), strict=False, path_tokens=not _verified(shown)
        )
    _REGISTRY.add(_replacements(url, masked))
    return masked


def mask_service_url(privacy_url: str, raw_url: str) -> str:
    """How a service loaded from an apprise config file is shown, given its privacy URL.

    The query is left out: it holds apprise's defaults, not what the file says.
    """
    masked = _mask_structure(
        privacy_url,
        keep_keys=frozenset(),
        strict=False,
        path_tokens=not _verified(privacy_url),
    )
    _REGISTRY.add(_replacements(raw_url, masked))
    return masked


def mask_text(text: str) -> str:
    """``text`` with every remembered secret and every URL's secret-looking parts masked."""
    return _REGISTRY.mask(text)


def remember_secrets(parts: Iterable[str]) -> None:
    """Mask these strings in every later log record and ``mask_text`` call."""
    _REGISTRY.add({part: MASK for part in parts if len(part) >= MIN_SECRET_CHARS})


# --------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------


def _privacy_url(url: str) -> str | None:
    apprise = load_apprise()
    try:
        with quiet_apprise():
            service = apprise.Apprise.instantiate(url, suppress_exceptions=True)
            return None if service is None else str(service.url(privacy=True))
    except Exception:  # a plugin that cannot even describe itself: mask it ourselves
        return None


def _verified(privacy_url: str) -> bool:
    """Whether apprise's privacy URL is of a plugin in ``PRIVACY_VERIFIED_SCHEMES``."""
    return privacy_url.partition("://")[0].lower() in PRIVACY_VERIFIED_SCHEMES


def _query_keys(url: str) -> frozenset[str]:
    _, _, query = url.partition("?")
    query = query.split("#", 1)[0]
    return frozenset(unquote(piece.partition("=")[0]) for piece in query.split("&") if piece)


def _mask_structure(
    url: str, *, keep_keys: frozenset[str] | None, strict: bool, path_tokens: bool = True
) -> str:
    """Mask a URL by its shape: password, token-like path segments, query values, fragment.

    ``strict`` also masks a user or host that looks like a key (no dot, 8+ characters), for
    URLs apprise could not read. ``keep_keys`` limits the query to those keys (None: all).
    ``path_tokens=False`` shows the path as it is (apprise's privacy URL of a plugin that
    knows its keys).
    """
    scheme, sep, _ = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,30}", scheme):
        return MASK
    if not path_tokens:
        # Such a plugin writes a channel as it is (``rocket://...@host/#alerts/?...``): a path
        # segment, not a fragment that would swallow the query.
        url = url.replace("#", "%23")
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"{scheme}://{MASK}"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    shown_netloc = _mask_host(hostport, strict)
    if at:
        user, colon, password = userinfo.partition(":")
        shown_user = MASK if strict and _keyish(user) else user
        if colon:
            shown_user += ":" + (password if _masked_already(password) else MASK)
        shown_netloc = f"{shown_user}@{shown_netloc}"
    path = "/".join(
        MASK if path_tokens and _path_token(seg) else seg for seg in parts.path.split("/")
    )
    query = []
    for piece in parts.query.split("&") if parts.query else []:
        raw_key, eq, value = piece.partition("=")
        key = unquote(raw_key)
        if keep_keys is not None and key not in keep_keys:
            continue
        if eq and value and key.lower() not in SAFE_QUERY_KEYS and not _masked_already(value):
            value = MASK
        query.append(f"{raw_key}{eq}{value}")
    shown = f"{scheme}://{shown_netloc}{path}"
    if query:
        shown += "?" + "&".join(query)
    if parts.fragment:
        shown += "#" + MASK
    return shown


def _mask_host(hostport: str, strict: bool) -> str:
    if not strict:
        return hostport
    host, colon, port = hostport.rpartition(":")
    if not colon or not port.isdigit() or hostport.endswith("]"):
        host, colon, port = hostport, "", ""
    return f"{MASK if _keyish(host) else host}{colon}{port}"


def _keyish(text: str) -> bool:
    plain = unquote(text)
    return len(plain) >= MIN_PATH_TOKEN_CHARS and "." not in plain and not _masked_already(plain)


def _path_token(segment: str) -> bool:
    plain = unquote(segment)
    return len(plain) >= MIN_PATH_TOKEN_CHARS and "@" not in plain and not _masked_already(plain)


def _masked_already(text: str) -> bool:
    # apprise shows a key as its first and last character around "..." and a password as ****.
    return text == MASK or (len(text) <= 7 and "..." in text)


def _components(url: str) -> set[str]:
    """The user, password, host, path segments, query values (of keys outside
    ``SAFE_QUERY_KEYS``) and fragment of ``url``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    # Some services put a key where a port would be (tgram://BOT_ID:TOKEN/CHAT).
    found = {user, password, hostport, *hostport.split(":"), parts.fragment}
    found.update(parts.path.split("/"))
    for piece in parts.query.split("&"):
        key, _, value = piece.partition("=")
        if unquote(key).lower() not in SAFE_QUERY_KEYS:
            found.add(value)
    found |= {unquote(item) for item in found}
    found |= {item.lstrip("#") for item in found}  # a channel: a fragment, or %23 in a path
    # A key before an "@" in the path (rocket://WEBHOOK/KEY@host: the netloc ends at "/").
    found |= {piece for item in found for piece in item.split("@")}
    found.discard("")
    return found


def _replacements(raw: str, masked: str) -> dict[str, str]:
    """The raw URL (shown as ``masked``) and every part ``masked`` no longer shows (``MASK``):
    what log text must not show either."""
    hidden = _components(raw) - _components(masked)
    try:
        password = urlsplit(raw).password
    except ValueError:
        password = None
    if password:
        hidden |= {password, unquote(password)}
    found = {
        part: MASK
        for part in hidden
        if len(part) >= MIN_SECRET_CHARS and part != MASK and not _PLAIN_VALUE.fullmatch(part)
    }
    found[raw] = masked
    return found


# --------------------------------------------------------------------------------------------
# Log records
# --------------------------------------------------------------------------------------------


class _SecretRegistry:
    """What to replace in log text: each masked URL in full by its masked form, and each part
    it hides by ``MASK``. Longest first, so a token is masked whole before a shorter secret
    inside it could be; in one pass, so a masked URL put in is not masked again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replacements: dict[str, str] = {}
        # Swapped whole, so that ``mask`` (without the lock) sees one consistent state.
        self._state: tuple[re.Pattern[str] | None, dict[str, str], frozenset[str]] = (
            None,
            {},
            frozenset(),
        )

    def add(self, replacements: dict[str, str]) -> None:
        if all(self._replacements.get(k) == v for k, v in replacements.items()):
            return
        with self._lock:
            self._replacements.update(replacements)
            table = dict(self._replacements)
            order = sorted(table, key=lambda secret: (-len(secret), secret))
            shown = frozenset(v for v in table.values() if v != MASK)
            self._state = (re.compile("|".join(map(re.escape, order))), table, shown)

    def mask(self, text: str) -> str:
        pattern, table, shown = self._state
        if pattern is not None:
            text = pattern.sub(lambda m: table[m.group(0)], text)
        if "://" in text:
            # A masked URL put in above keeps the parts apprise showed; any other URL is
            # masked by its shape.
            text = _URL_IN_TEXT.sub(
                lambda m: (
                    m.group(0)
                    if m.group(0) in shown
                    else _mask_structure(m.group(0), keep_keys=None, strict=False)
                ),
                text,
            )
        return text


_REGISTRY = _SecretRegistry()
_install_lock = threading.Lock()
_installed = False


def mask_record(record: logging.LogRecord) -> None:
    """Rewrite a log record in place so that its message, traceback and stack are masked."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it when the record is emitted
        return
    masked = mask_text(message)
    if masked != message:
        record.msg = masked
        record.args = None
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = mask_text(text)
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)


def install_log_masking(
    apprise_level: int | None = logging.WARNING, *, apprise_propagate: bool | None = None
) -> None:
    """Mask every log record from now on, whatever logger or handler it goes to.

    A record factory (not a handler filter) is used so that handlers added later, such as
    pytest's, get masked records too. Idempotent.

    ``apprise_level`` sets the ``apprise`` logger's level (None: leave it). Its effective level
    is never left above WARNING, because apprise collects each call's warnings through that
    logger and delivery reports them as the reason a URL failed. ``apprise_propagate=False``
    keeps apprise's lines away from our handlers (they still reach those reasons).
    """
    global _installed
    apprise_logger = logging.getLogger(APPRISE_LOGGER)
    if apprise_level is not None:
        apprise_logger.setLevel(min(apprise_level, logging.WARNING))
    elif apprise_logger.getEffectiveLevel() > logging.WARNING:
        apprise_logger.setLevel(logging.WARNING)
    if apprise_propagate is not None:
        apprise_logger.propagate = apprise_propagate
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def masking_factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            mask_record(record)
            return record

        logging.setLogRecordFactory(masking_factory)
        _installed = True
