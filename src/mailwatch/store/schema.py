"""The database tables, as SQLAlchemy Core metadata: portable between SQLite and PostgreSQL.

Instants are stored in UTC (``UtcDateTime``); JSON columns hold payloads and metrics. The
shape changes only through a new step in ``mailwatch.store.migrations``; these tables declare
the result of all the steps (``tests/store/test_migrations.py`` checks that they agree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps.

    SQLite has no time zones: values are stored as naive UTC text, which also sorts by time.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; add a zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("written_by", String(64), nullable=False),
)
"""One row (id 1): the schema version and the mailwatch version that last migrated it."""

check_results = Table(
    "check_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(300), nullable=False),
    Column("check_name", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("state", Integer, nullable=False),
    Column("stage", String(64)),
    Column("summary", Text, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("node", String(64)),
    Index("check_results_by_key", "dedup_key", "id"),
    Column("site", String(64)),
)
"""Recent results, the last ``[incidents] result_retention`` per dedup key; ``node`` is the
node that ran the check (NULL for results stored before version 5, and for route tests run
by hand), ``site`` its ``[node] site`` (NULL before version 6)."""

check_states = Table(
    "check_states",
    metadata,
    Column("dedup_key", String(300), primary_key=True),
    Column("check_name", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("state", Text, nullable=False),
    Column("last_result_id", Integer),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("changed_result_id", Integer),
    Index("check_states_by_change", "changed_result_id"),
)
"""The engine's memory per dedup key (``CheckState.to_json``). ``changed_result_id`` is the
last result that changed the state or stage the pages show (the one at ``last_result_id``
differed from it): its indexed maximum tells a watching daemon cheaply that another process
changed a check (``store/changes.py``); NULL before version 9."""

site_states = Table(
    "site_states",
    metadata,
    Column("dedup_key", String(300), primary_key=True),
    Column("site", String(64), primary_key=True),
    Column("check_name", String(64), nullable=False),
    Column("node", String(64)),
    Column("state", Integer, nullable=False),
    Column("stage", String(64)),
    Column("summary", Text, nullable=False),
    Column("bad_streak", Integer, nullable=False),
    Column("good_streak", Integer, nullable=False),
    Column("failing_since", UtcDateTime),
    Column("result_at", UtcDateTime, nullable=False),
    Column("result_id", Integer),
    Index("site_states_by_check", "check_name"),
)
"""Each site's latest result and streaks of a check run from several sites (``run_from``):
what the vote counts (``domain.sites.SiteState``)."""

ticket_counter = Table(
    "ticket_counter",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_number", Integer, nullable=False),
)
"""One row (id 1): the last ticket number handed out. It only grows, so a number is never
reused, even if tickets are deleted by hand."""

tickets = Table(
    "tickets",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("dedup_key", String(300), nullable=False),
    Column("check_name", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("severity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("plan", String(100)),
    Column("response_due", UtcDateTime),
    Column("resolution_due", UtcDateTime),
    Column("response_breached", Boolean, nullable=False, default=False),
    Column("resolution_breached", Boolean, nullable=False, default=False),
    Column("acknowledged_at", UtcDateTime),
    Column("acknowledged_by", String(100)),
    Column("mitigated_at", UtcDateTime),
    Column("mitigated_by", String(100)),
    Column("resolved_at", UtcDateTime),
    Column("resolved_by", String(100)),
    Column("resolution_note", Text),
    Column("previous_ticket", Integer, ForeignKey("tickets.number")),
    Column("last_stage", String(64)),
    Column("last_summary", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("tickets_by_status", "status", "number"),
    Index("tickets_by_check", "check_name", "status"),
    # The database itself refuses a second open ticket for one dedup key.
    Index(
        "one_open_ticket_per_key",
        "dedup_key",
        unique=True,
        sqlite_where=text("status != 'resolved'"),
        postgresql_where=text("status != 'resolved'"),
    ),
)

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket", Integer, ForeignKey("tickets.number")),
    Column("dedup_key", String(300), nullable=False),
    Column("check_name", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("type", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("note", Text),
    Column("notify", Boolean, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("result_id", Integer),
    Index("ticket_events_by_ticket", "ticket", "id"),
    Index("ticket_events_by_key", "dedup_key", "id"),
)
"""Every transition with its time, actor and note: the timelines. ``ticket`` is NULL for a
check-level event with no ticket open (flapping of a check that never opened one).
``result_id`` names the result that caused it (results are pruned, so no foreign key)."""

silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("check_name", String(64), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("ended_at", UtcDateTime),
    Column("ended_by", String(100)),
    Index("silences_by_until", "until"),
)
"""Ad hoc maintenance from ``mailwatch silence``: one check or ``all``."""

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket", Integer, ForeignKey("tickets.number")),
    Column("event", Integer, ForeignKey("ticket_events.id")),
    Column("route", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("last_error", Text),
    Column("interrupted_resends", Integer, nullable=False, server_default=text("0")),
    Column("attempt_started_at", UtcDateTime),
    Column("claimed_by", String(64)),
    Column("claim_expires_at", UtcDateTime),
    Index("outbox_due", "status", "next_attempt_at"),
    Index("outbox_by_ticket", "ticket", "id"),
)
"""Notices to send, written in the same transaction as the events that cause them.
``status``: scheduled (a later escalation step or reminder), pending, sending, delivered,
failed (will retry), dead (gave up), cancelled (no longer wanted), uncertain (cut off
mid-attempt more than ``[outbox] max_interrupted_resends`` times; ``interrupted_resends``
counts the resends an interruption caused; ``attempt_started_at`` is set once a claimed row
is handed to apprise, so a row claimed but never sent is not counted as interrupted).
``claimed_by`` is the node that claimed the row to send it, and ``claim_expires_at`` when
its claim lapses unless renewed: only a row in ``sending`` whose claim has lapsed (or whose
claimer is the node starting up) counts as interrupted.
Finished rows of resolved tickets are deleted after ``[outbox] retention_days``
(``outbox.prune_finished``). See docs/alerts.md."""

announcements = Table(
    "announcements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("window", String(100), nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("phase", String(16), nullable=False),
    Column("route", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("last_error", Text),
    Index("announcements_once", "window", "starts_at", "phase", "route", unique=True),
    Index("announcements_due", "status", "next_attempt_at"),
)
"""Maintenance notices (``[[maintenance]] announce_before``): one row per occurrence of a
window, phase (``ahead``, ``started``, ``ended``) and route, so each is sent once, whatever
restarts come between; statuses as in the outbox (pending, sending, delivered, failed, dead,
cancelled)."""

nodes = Table(
    "nodes",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("site", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("stopped_at", UtcDateTime),
)
"""One row per node (``[node] name``) that ever ran on this database: its heartbeat, written
every few seconds while it runs, and ``stopped_at`` once it stopped cleanly."""

leases = Table(
    "leases",
    metadata,
    Column("check_name", String(200), primary_key=True),
    Column("site", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("leases_by_owner", "owner"),
)
"""Who runs which check: the ``owner`` node until ``expires_at``, renewed while it runs.
``site`` is ``""`` (``domain.nodes.OWNER_SITE``) for a check run once in the cluster, and a
site's name for each site of a check run from several (``run_from``)."""

check_memory = Table(
    "check_memory",
    metadata,
    Column("check_name", String(200), primary_key=True),
    Column("site", String(64), primary_key=True),
    Column("memory", JSON, nullable=False),
    Column("written_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""What a check remembers between runs (``ProbeContext.memory``: the learned deadline's recent
latencies, canaries still missing, the queue's growth samples), written with each result, so
the node that takes a check over continues where the last one stopped."""

history_figures = Table(
    "history_figures",
    metadata,
    Column("check_name", String(200), primary_key=True),
    Column("figure", String(255), primary_key=True),
    Column("width_s", Integer, primary_key=True),
    Column("start_s", BigInteger, primary_key=True),
    Column("site", String(64), primary_key=True),
    Column("value_count", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("total", Float, nullable=False),
    Column("min_value", Float, nullable=False),
    Column("max_value", Float, nullable=False),
    Column("sketch", Text, nullable=False),
    sqlite_with_rowid=False,
)
"""One figure of one check over one bucket (``domain.history.FigureBucket``): ``width_s`` 300
or 3600, ``start_s`` its start in Unix seconds (an integer: a tenth of the bytes of a stored
instant, and alignment is arithmetic), ``site`` the site of a check run from several sites,
``""`` otherwise. ``sketch`` is compact JSON, bin to count (``domain.history.Sketch``). Rows
are added to by an upsert (``store.history``) and pruned per check and figure through the
primary key: an index by age would add a quarter to the table's size."""

history_availability = Table(
    "history_availability",
    metadata,
    Column("check_name", String(200), primary_key=True),
    Column("width_s", Integer, primary_key=True),
    Column("start_s", BigInteger, primary_key=True),
    Column("site", String(64), primary_key=True),
    Column("ok", Integer, nullable=False),
    Column("warning", Integer, nullable=False),
    Column("critical", Integer, nullable=False),
    Column("unknown", Integer, nullable=False),
    Column("quiet_ok", Integer, nullable=False),
    Column("quiet_warning", Integer, nullable=False),
    Column("quiet_critical", Integer, nullable=False),
    Column("quiet_unknown", Integer, nullable=False),
    Column("stages", Text, nullable=False),
    sqlite_with_rowid=False,
)
"""One check's results over one bucket by state, in quiet periods by state, and failed ones by
stage (compact JSON, stage to count): ``domain.history.AvailabilityBucket``."""

ticket_evidence = Table(
    "ticket_evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket", Integer, ForeignKey("tickets.number"), nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("check_name", String(64), nullable=False),
    Column("data", JSON, nullable=False),
    Index("ticket_evidence_by_ticket", "ticket", "id"),
)
"""What was known when a ticket opened, for its root-cause pack (``domain.evidence``): the
result that opened it and the first failing one, and the latest result of each related check
(``depends_on`` either way, the same host), queue checks' among them. Written in the opening
transaction, bounded in size, kept as long as the ticket; results themselves are pruned."""
