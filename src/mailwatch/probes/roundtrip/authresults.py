"""The receiver's verdict on a canary: its Authentication-Results headers (RFC 8601), read.

Our own small parser rather than PyPI's ``authres``: that one is strict and raises on the
headers real receivers write (Microsoft 365 leaves out the authserv-id; others put free text
where a ``value`` belongs), and a header is whatever the path wrote, so reading one must never
fail. This one reads what it can and drops the rest; a property test feeds it arbitrary text.

Only the receiver's own headers count: those whose authserv-id is configured, and of those
only the topmost group. A receiver adds its headers on top of the ones the message came with
(RFC 8601 section 5 asks it to remove look-alikes, not every one does); a header with the same
authserv-id further down, below a Received header, came from upstream and may be forged.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

HEADER = "Authentication-Results"
MAX_HEADER_CHARS = 8192
"""Longer headers are read this far: a verdict fits many times over."""
MAX_REASON_CHARS = 120
"""A reason is shown in a one-line summary."""

_SPECIALS = frozenset('();="')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One ``method=result`` of a header: ``dkim=fail reason="..." header.d=example.org``.

    ``method`` and ``result`` are lower case; ``reason`` is the ``reason=`` value or else the
    comment that follows the result ("" if neither); ``properties`` are ``ptype.property``
    and value pairs as written.
    """

    method: str
    result: str
    reason: str = ""
    properties: tuple[tuple[str, str], ...] = ()

    def described(self) -> str:
        """``dkim=fail (signature verification failed)``."""
        return f"{self.method}={self.result}" + (f" ({self.reason})" if self.reason else "")

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "result": self.result,
            "reason": self.reason,
            "properties": dict(self.properties),
        }


@dataclass(frozen=True, slots=True)
class AuthResults:
    """One Authentication-Results header. ``authserv_id`` is lower case, "" when the header
    has none (Microsoft 365 writes none)."""

    authserv_id: str
    results: tuple[MethodResult, ...] = ()


@dataclass(frozen=True, slots=True)
class ReceiverVerdict:
    """The results the receiver wrote (``counted``), and the authserv-ids of every header
    seen, counted or not, to tell an operator which ids a message carries."""

    counted: tuple[AuthResults, ...] = ()
    seen_ids: tuple[str, ...] = ()
    ignored: int = 0
    """Headers with a configured authserv-id below the receiver's own: not trusted."""

    def for_method(self, method: str) -> list[MethodResult]:
        return [r for header in self.counted for r in header.results if r.method == method]

    @property
    def authserv_ids(self) -> list[str]:
        return list(dict.fromkeys(header.authserv_id for header in self.counted))


@dataclass(slots=True)
class _Token:
    kind: str
    """``word``, ``comment``, ``;`` or ``=``."""
    text: str
    comments: list[str] = field(default_factory=list)


def parse(value: str) -> AuthResults:
    """One header's value; never raises. What cannot be read is left out."""
    tokens = _tokens(_CONTROL.sub(" ", value[:MAX_HEADER_CHARS]))
    segments: list[list[_Token]] = [[]]
    for token in tokens:
        if token.kind == ";":
            segments.append([])
        else:
            segments[-1].append(token)
    first = segments[0]
    words = [t for t in first if t.kind != "comment"]
    if any(t.kind == "=" for t in words):
        # No authserv-id: the header starts with a result (Microsoft 365).
        authserv_id, rest = "", segments
    else:
        authserv_id = words[0].text.lower() if words and words[0].kind == "word" else ""
        rest = segments[1:]
    results = [r for r in (_resinfo(segment) for segment in rest) if r is not None]
    return AuthResults(authserv_id, tuple(results))


def receiver_verdict(
    headers: Iterable[tuple[str, str]], authserv_ids: Collection[str]
) -> ReceiverVerdict:
    """The receiver's own results among a message's ``headers`` (name, value; top first).

    Counted: headers whose authserv-id is in ``authserv_ids`` (any case), from the topmost one
    down to the first Received header after it. Milters of one receiver (OpenDKIM, OpenDMARC,
    an SPF policy daemon) each add a header of their own, so there may be several.
    """
    wanted = {i.strip().lower() for i in authserv_ids}
    counted: list[AuthResults] = []
    seen: list[str] = []
    ignored = 0
    closed = False
    for name, value in headers:
        lowered = name.strip().lower()
        if lowered == "received" and counted:
            closed = True
        if lowered != HEADER.lower():
            continue
        parsed = parse(str(value))
        if parsed.authserv_id not in seen:
            seen.append(parsed.authserv_id)
        if parsed.authserv_id not in wanted:
            continue
        if closed:
            ignored += 1
        else:
            counted.append(parsed)
    return ReceiverVerdict(tuple(counted), tuple(seen), ignored)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """An expected method the receiver did not pass: its result (``missing`` when it wrote
    none) and the words to say so."""

    method: str
    result: str
    reason: str

    def described(self) -> str:
        return f"{self.method}={self.result}" + (f" ({self.reason})" if self.reason else "")


MISSING = "missing"


def shortfalls(verdict: ReceiverVerdict, expected: Sequence[str]) -> list[Shortfall]:
    """Each method of ``expected`` without a ``pass``. With several results for one method
    (two DKIM signatures), one pass is enough: that is how DMARC reads them too."""
    found: list[Shortfall] = []
    for method in expected:
        results = verdict.for_method(method)
        if any(r.result == "pass" for r in results):
            continue
        if results:
            first = results[0]
            found.append(Shortfall(method, first.result, first.reason))
        else:
            found.append(Shortfall(method, MISSING, "no result written"))
    return found


def _resinfo(segment: list[_Token]) -> MethodResult | None:
    """``method[/version] = result [reason=value] [ptype.prop=value ...]``; None if unreadable."""
    pairs: list[tuple[str, str, list[str]]] = []
    words = [t for t in segment if t.kind != "comment"]
    i = 0
    while i + 2 < len(words):
        first, equals, then = words[i], words[i + 1], words[i + 2]
        if first.kind == "word" and equals.kind == "=" and then.kind == "word":
            # A value's comments ride on its token: "dkim=pass (good signature)".
            pairs.append((first.text, then.text, then.comments))
            i += 3
        else:
            i += 1
    if not pairs:
        # A bare word: "none" (no result at all) or noise.
        return None
    method_key, result, comments = pairs[0]
    method = method_key.split("/", 1)[0].strip().lower()
    if not method or "." in method:
        return None
    reason = ""
    properties: list[tuple[str, str]] = []
    for key, value, _ in pairs[1:]:
        if key.lower() == "reason" and not reason:
            reason = value
        else:
            properties.append((key.lower(), value))
    if not reason and comments:
        reason = comments[0]
    return MethodResult(method, result.lower(), _shown(reason), tuple(properties))


def _shown(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1] + "…"
    return text


def _tokens(text: str) -> list[_Token]:
    """Words (``header.d``, ``dkim/1`` and ``@example.org`` are one word each), quoted strings
    (as words), comments (nested, with escapes), ``;`` and ``=``."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "(":
            comment, i = _comment(text, i)
            if tokens:
                tokens[-1].comments.append(comment)
            tokens.append(_Token("comment", comment))
        elif char == '"':
            quoted, i = _quoted(text, i)
            tokens.append(_Token("word", quoted))
        elif char in ";=":
            tokens.append(_Token(char, char))
            i += 1
        elif char == ")":  # closes nothing: noise
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIALS:
                i += 1
            tokens.append(_Token("word", text[start:i]))
    return tokens


def _comment(text: str, i: int) -> tuple[str, int]:
    """The comment starting at ``text[i] == "("``, without its parentheses; nested ones kept."""
    depth, out = 0, []
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if char == "(":
            depth += 1
            if depth > 1:
                out.append(char)
        elif char == ")":
            depth -= 1
            if depth == 0:
                return "".join(out).strip(), i + 1
            out.append(char)
        else:
            out.append(char)
        i += 1
    return "".join(out).strip(), n


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The quoted string starting at ``text[i] == '"'``, unescaped; an unclosed one runs to
    the end."""
    out = []
    i += 1
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(out), i + 1
        out.append(char)
        i += 1
    return "".join(out), n
