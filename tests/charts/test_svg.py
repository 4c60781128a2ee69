"""The SVG a chart becomes: it always renders (any series, NaN, empty, one point), its
threshold lines sit where the axis says their values are, missing buckets break the line,
shades cover their span, and every label is escaped."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from mailwatch.charts import Chart, Level, Point, Series, Shade, ShadeKind, Threshold, render_svg

SVG = "{http://www.w3.org/2000/svg}"
END = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
START = END - timedelta(days=30)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def hourly(values: list[float | None]) -> list[Point]:
    return [Point(START + timedelta(hours=i), v) for i, v in enumerate(values)]


def path_points(element: ET.Element) -> list[tuple[float, float]]:
    d = element.attrib["d"].removeprefix("M").removesuffix(" Z")
    return [(float(x), float(y)) for x, y in (pair.split() for pair in d.split(" L"))]


def axis_value_at(root: ET.Element, y: float) -> float:
    """The value the y axis's tick labels put at height ``y`` (linear between two ticks)."""
    labels = root.findall(f".//{SVG}g[@class='y-axis']/{SVG}text")
    (y0, v0), (y1, v1) = [(float(t.attrib["y"]), float(t.attrib["data-value"])) for t in labels][:2]
    return v0 + (y - y0) * (v1 - v0) / (y1 - y0)


def threshold_y(root: ET.Element, level: str) -> float:
    group = root.find(f".//{SVG}g[@class='threshold {level}']")
    assert group is not None, f"no {level} line"
    line = group.find(f"{SVG}line")
    assert line is not None
    assert line.attrib["y1"] == line.attrib["y2"], "a threshold line is horizontal"
    return float(line.attrib["y1"])


def test_threshold_lines_sit_at_their_values_on_the_axis() -> None:
    chart = Chart(
        "Roundtrip latency",
        "s",
        START,
        END,
        (Series("latency", hourly([2.0, 5.0, 30.0, 12.0]), 3600),),
        (Threshold(Level.WARNING, 30.0), Threshold(Level.CRITICAL, 90.0)),
    )
    root = parse(render_svg(chart))
    warning, critical = threshold_y(root, "warning"), threshold_y(root, "critical")
    assert math.isclose(axis_value_at(root, warning), 30.0, abs_tol=0.2)
    assert math.isclose(axis_value_at(root, critical), 90.0, abs_tol=0.2)
    assert critical < warning, "the higher level is drawn higher"
    # The reading that reached the warning level touches the warning line.
    line = root.find(f".//{SVG}g[@class='series']/{SVG}path[@class='line']")
    assert line is not None
    assert path_points(line)[2][1] == warning
    text = "".join(root.itertext())
    assert "warning 30 s" in text and "critical 90 s" in text


def test_a_threshold_far_above_the_data_still_shows() -> None:
    chart = Chart(
        "Days left",
        "days",
        START,
        END,
        (Series("days left", hourly([80.0, 79.0])),),
        (Threshold(Level.WARNING, 21.0), Threshold(Level.CRITICAL, 7.0)),
    )
    root = parse(render_svg(chart))
    # Lower is worse here: the critical line lies below the warning line.
    assert threshold_y(root, "critical") > threshold_y(root, "warning")
    assert math.isclose(axis_value_at(root, threshold_y(root, "critical")), 7.0, abs_tol=0.2)


def test_missing_buckets_and_nan_break_the_line() -> None:
    points = [
        *hourly([1.0, 2.0, 3.0]),
        Point(START + timedelta(hours=6), 4.0),  # hours 3 to 5 had no result
        Point(START + timedelta(hours=7), 5.0),
        Point(START + timedelta(hours=8), math.nan),
        Point(START + timedelta(hours=9), 6.0),
    ]
    root = parse(render_svg(Chart("Queue", "messages", START, END, (Series("q", points, 3600),))))
    lines = root.findall(f".//{SVG}path[@class='line']")
    dots = root.findall(f".//{SVG}circle[@class='dot']")
    assert [len(path_points(line)) for line in lines] == [3, 2]
    assert len(dots) == 1, "the lone reading after the NaN is a dot"


def test_min_max_band_encloses_the_line() -> None:
    points = [Point(START + timedelta(hours=i), 10.0 + i, 5.0 + i, 20.0 + i) for i in range(5)]
    root = parse(render_svg(Chart("Latency", "s", START, END, (Series("l", points, 3600),))))
    band = root.find(f".//{SVG}path[@class='band']")
    line = root.find(f".//{SVG}path[@class='line']")
    assert band is not None and line is not None
    band_ys = [y for _, y in path_points(band)]
    assert all(min(band_ys) <= y <= max(band_ys) for _, y in path_points(line))


def test_shades_cover_their_span() -> None:
    ticket_start, ticket_end = START + timedelta(days=3), START + timedelta(days=4)
    points = [Point(ticket_start, 1.0), Point(ticket_end, 1.0)]
    chart = Chart(
        "Latency",
        "s",
        START,
        END,
        (Series("l", points),),
        shades=(
            Shade(ShadeKind.TICKET, ticket_start, ticket_end, "MW-000007 critical"),
            Shade(ShadeKind.MAINTENANCE, END - timedelta(hours=5), None, "backup window"),
            Shade(ShadeKind.TICKET, START - timedelta(days=9), START - timedelta(days=8), "old"),
        ),
    )
    root = parse(render_svg(chart))
    tickets = root.findall(f".//{SVG}rect[@class='shade ticket']")
    assert len(tickets) == 1, "a ticket outside the range is not drawn"
    line = root.find(f".//{SVG}path[@class='line']")
    assert line is not None
    (x0, _), (x1, _) = path_points(line)
    rect = tickets[0]
    assert float(rect.attrib["x"]) == x0
    assert math.isclose(float(rect.attrib["x"]) + float(rect.attrib["width"]), x1, abs_tol=0.1)
    assert rect.findtext(f"{SVG}title") == "MW-000007 critical"
    assert root.find(f".//{SVG}rect[@class='shade maintenance']") is not None
    legend = "".join(root.find(f".//{SVG}g[@class='legend']").itertext())  # type: ignore[union-attr]
    assert "ticket open" in legend and "maintenance" in legend


def test_labels_are_escaped() -> None:
    nasty = "<script>alert(\"x\")</script> & 'quotes' \x00"
    chart = Chart(
        nasty,
        "s",
        START,
        END,
        (Series(nasty, hourly([1.0])), Series("two", hourly([2.0]))),
        shades=(Shade(ShadeKind.TICKET, START, END, nasty),),
        ident='x" onload="alert(1)',
    )
    svg = render_svg(chart)
    assert "<script" not in svg and "onload=" not in svg
    root = parse(svg)
    assert root.findtext(f"{SVG}title", "").startswith("<script>alert(\"x\")</script> & 'quotes'")


def test_accessible_title_and_description() -> None:
    chart = Chart(
        "Roundtrip latency",
        "s",
        START,
        END,
        (Series("latency", hourly([2.0, 4.0])),),
        (Threshold(Level.WARNING, 30.0),),
        (Shade(ShadeKind.TICKET, START, START + timedelta(hours=1), "MW-1"),),
        zone=UTC,
    )
    root = parse(render_svg(chart))
    title_id, desc_id = root.attrib["aria-labelledby"].split()
    assert root.attrib["role"] == "img"
    assert root.find(f"{SVG}title[@id='{title_id}']") is not None
    desc = root.findtext(f"{SVG}desc[@id='{desc_id}']")
    assert desc == (
        "Roundtrip latency from 2026-11-07 14:00 to 2026-12-07 14:00. latency: lowest 2 s, "
        "highest 4 s, latest 4 s. Warning at 30 s. 1 ticket shaded."
    )


def test_scales_to_the_width_it_is_given() -> None:
    root = parse(render_svg(Chart("Queue", "messages", START, END)))
    assert root.attrib["width"] == "100%"
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert width <= 480 and height < width, "a phone shows it whole at 390 px"
    assert "no data in this range" in "".join(root.itertext())


instants = st.datetimes(timezones=st.just(UTC)) | st.datetimes()
values = st.none() | st.floats(allow_nan=True, allow_infinity=True)
points = st.builds(Point, instants, values, values, values)
series = st.builds(
    Series,
    st.text(max_size=30),
    st.lists(points, max_size=40),
    st.none() | st.floats(min_value=0, max_value=1e7),
)


@settings(max_examples=150, deadline=None)
@given(
    title=st.text(max_size=40),
    unit=st.sampled_from(["s", "%", "B", "B/s", "days", "messages", ""]),
    start=instants,
    end=instants,
    many=st.lists(series, max_size=4),
    thresholds=st.lists(st.builds(Threshold, st.sampled_from(Level), st.floats()), max_size=2),
    shades=st.lists(
        st.builds(Shade, st.sampled_from(ShadeKind), instants, st.none() | instants, st.text()),
        max_size=3,
    ),
    zone=st.sampled_from([None, UTC, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("America/Adak")]),
)
def test_any_chart_renders_as_well_formed_svg(
    title: str,
    unit: str,
    start: datetime,
    end: datetime,
    many: list[Series],
    thresholds: list[Threshold],
    shades: list[Shade],
    zone: tzinfo | None,
) -> None:
    svg = render_svg(Chart(title, unit, start, end, many, thresholds, shades, zone))
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert (
        "nan"
        not in " ".join(
            e.attrib.get(a, "") for e in root.iter() for a in ("x", "y", "x1", "y1", "d", "width")
        ).lower()
    )
