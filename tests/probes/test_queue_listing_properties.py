"""Properties of the queue listings' parsers: whatever the MTA's tools print, the parser
returns, skips and reports what it cannot read, and still counts what it can."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailwatch.config.checks.levels import Limits
from mailwatch.probes.queue.listing import (
    LATEST_EPOCH_S,
    POSTFIX_QUEUES,
    BadLine,
    judge,
    parse_exim_listing,
    parse_postqueue_json,
    summary,
)

NOW = 1_800_000_000.0
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""What ``str.splitlines`` splits on: a generated line must not hold one."""

good_messages = st.fixed_dictionaries(
    {
        "queue_name": st.sampled_from(POSTFIX_QUEUES),
        "arrival_time": st.one_of(
            st.integers(0, int(NOW)), st.floats(0, NOW, allow_nan=False, allow_infinity=False)
        ),
    },
    optional={"queue_id": st.text(max_size=12), "recipients": st.lists(st.text(), max_size=2)},
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**500), 10**500)
    | st.floats()
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
bad_arrivals = st.one_of(
    st.floats().filter(lambda x: not 0 <= x <= LATEST_EPOCH_S),
    st.integers(-(10**500), -1),
    st.integers(int(LATEST_EPOCH_S) + 1, 10**500),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
bad_queue_names = json_values.filter(lambda v: v not in POSTFIX_QUEUES)


def _dump(value: Any) -> str:
    return json.dumps(
        value
    )  # NaN and ±Infinity come out as JSON's extensions, as Python reads them


bad_lines = st.one_of(
    # Words, never a JSON object, and never blank (a blank line is skipped, not bad).
    st.text(
        alphabet=st.characters(blacklist_characters=LINE_BREAKS + "{"), min_size=1, max_size=40
    ).filter(lambda s: s.strip() != ""),
    # Any JSON that is not an object.
    json_values.filter(lambda v: not isinstance(v, dict)).map(_dump),
    # Objects with a field of the wrong type or out of range.
    st.builds(lambda m, a: {**m, "arrival_time": a}, good_messages, bad_arrivals).map(_dump),
    st.builds(lambda m, q: {**m, "queue_name": q}, good_messages, bad_queue_names).map(_dump),
    good_messages.map(lambda m: {k: v for k, v in m.items() if k != "arrival_time"}).map(_dump),
    # Nesting past json's recursion limit, and numbers Python's JSON reads as infinities.
    st.integers(1, 1500).map(lambda n: "[" * n),
    st.integers(1, 1500).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from(
        [
            '{"queue_name": "hold", "arrival_time": -1e999}',
            '{"queue_name": "hold", "arrival_time": 1e400}',
            '{"queue_name": "hold", "arrival_time": NaN}',
            '{"queue_name": "hold", "arrival_time": ' + "9" * 5000 + "}",
            '{"queue_name": "deferred", "arrival_time": ' + "1" + "0" * 400 + "}",
        ]
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), good_messages, bad_lines), max_size=8))
def test_postqueue_parser_skips_bad_lines_and_counts_the_good(
    lines: list[tuple[bool, dict[str, Any], str]],
) -> None:
    text = "\n".join(_dump(good) if is_good else bad for is_good, good, bad in lines)
    good = [message for is_good, message, _ in lines if is_good]
    bad_numbers = [n for n, (is_good, _, _) in enumerate(lines, start=1) if not is_good]

    snapshot = parse_postqueue_json(text, NOW)

    assert snapshot.total == len(good)
    assert sum(snapshot.parts.values()) == len(good)
    assert [line.number for line in snapshot.bad_lines] == bad_numbers
    if good:
        assert snapshot.oldest_age_s == NOW - min(float(m["arrival_time"]) for m in good)
    else:
        assert snapshot.oldest_age_s is None
    # The verdict and its summary read what the parser returned, without raising either.
    limits = {"total": Limits(warning=1, critical=5), "oldest_s": Limits(warning=60)}
    findings = judge(snapshot, None, limits, "postqueue -j")
    said = summary("Postfix queue", snapshot, None, findings)
    assert said.isprintable()
    assert ("postqueue -j line" in said) == bool(bad_numbers)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_postqueue_parser_returns_for_any_text(text: str) -> None:
    snapshot = parse_postqueue_json(text, NOW)
    assert snapshot.total + len(snapshot.bad_lines) <= len(text.splitlines())
    for line in snapshot.bad_lines:
        assert line.describe("postqueue -j").isprintable()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            '{"queue_name": "hold", "arrival_time": -1e999}',
            "has an arrival_time that is no instant",
        ),
        ('{"queue_name": "hold", "arrival_time": 1e400}', "has an arrival_time that is no instant"),
        ('{"queue_name": "hold", "arrival_time": NaN}', "has an arrival_time that is no instant"),
        ('{"queue_name": "hold", "arrival_time": -5}', "has an arrival_time that is no instant"),
        (
            '{"queue_name": "hold", "arrival_time": 1' + "0" * 400 + "}",
            "has an arrival_time that is no instant",
        ),
        ("[" * 995, "is JSON nested too deeply"),
        ('{"queue_name": "hold", "arrival_time": ' + "9" * 5000 + "}", "is not JSON"),
    ],
)
def test_numbers_and_nesting_the_parser_refuses(line: str, reason: str) -> None:
    text = '{"queue_name": "active", "arrival_time": 100}\n' + line
    snapshot = parse_postqueue_json(text, now=1000)
    assert snapshot.total == 1
    assert snapshot.oldest_age_s == 900
    assert snapshot.bad_lines == (BadLine(2, line, reason),)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=60),
            st.builds(
                lambda age, unit: f" {age}{unit}  412 1tAbCd-000000005W-ABCD <a@example.org>",
                st.integers(0, 10**6) | st.integers(1, 6000).map(lambda n: "9" * n),
                st.sampled_from("smhd"),
            ),
        ),
        max_size=8,
    ).map("\n".join)
)
def test_exim_listing_returns_for_any_text(text: str) -> None:
    snapshot = parse_exim_listing(text)
    assert snapshot.total >= snapshot.parts["frozen"]
    assert snapshot.oldest_age_s is None or snapshot.oldest_age_s >= 0
