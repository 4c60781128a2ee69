"""Schema versions: an ordered list of steps, and refusals that never lose data.

``migrate`` runs inside the caller's write transaction, so a step that fails leaves the
database as it was. A database from a newer mailwatch, one that is not mailwatch's, or one
that is damaged is refused with a message naming what was found; it is never recreated. Only
the daemon migrates: every other command checks the version with ``require_latest``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
    update,
)

from mailwatch import __version__
from mailwatch.domain.errors import NewerSchemaError, NotMailwatchDatabaseError, OlderSchemaError
from mailwatch.store.schema import schema_version


@dataclass(frozen=True)
class Migration:
    """One step from ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[Connection], None]


# --------------------------------------------------------------------------------------------
# Version 1, frozen: the tables exactly as mailwatch first created them. Never edit this block
# (databases in the field were made by it); change the schema with a new step instead. Instants
# are ``DateTime(timezone=True)``, the column type ``schema.UtcDateTime`` stores them in.
# --------------------------------------------------------------------------------------------

_v1 = MetaData()

Table(
    "schema_version",
    _v1,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("written_by", String(64), nullable=False),
)
Table(
    "check_results",
    _v1,
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
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("check_results_by_key", "dedup_key", "id"),
)
Table(
    "check_states",
    _v1,
    Column("dedup_key", String(300), primary_key=True),
    Column("check_name", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("state", Text, nullable=False),
    Column("last_result_id", Integer),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
_v1_ticket_counter = Table(
    "ticket_counter",
    _v1,
    Column("id", Integer, primary_key=True),
    Column("last_number", Integer, nullable=False),
)
Table(
    "tickets",
    _v1,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("dedup_key", String(300), nullable=False),
    Column("check_name", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("severity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("plan", String(100)),
    Column("response_due", DateTime(timezone=True)),
    Column("resolution_due", DateTime(timezone=True)),
    Column("response_breached", Boolean, nullable=False),
    Column("resolution_breached", Boolean, nullable=False),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", String(100)),
    Column("mitigated_at", DateTime(timezone=True)),
    Column("mitigated_by", String(100)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", String(100)),
    Column("resolution_note", Text),
    Column("previous_ticket", Integer, ForeignKey("tickets.number")),
    Column("last_stage", String(64)),
    Column("last_summary", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("tickets_by_status", "status", "number"),
    Index("tickets_by_check", "check_name", "status"),
    Index(
        "one_open_ticket_per_key",
        "dedup_key",
        unique=True,
        sqlite_where=text("status != 'resolved'"),
        postgresql_where=text("status != 'resolved'"),
    ),
)
Table(
    "ticket_events",
    _v1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket", Integer, ForeignKey("tickets.number")),
    Column("dedup_key", String(300), nullable=False),
    Column("check_name", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("type", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("note", Text),
    Column("notify", Boolean, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("result_id", Integer),
    Index("ticket_events_by_ticket", "ticket", "id"),
    Index("ticket_events_by_key", "dedup_key", "id"),
)
Table(
    "silences",
    _v1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("check_name", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("ended_by", String(100)),
    Index("silences_by_until", "until"),
)
Table(
    "outbox",
    _v1,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket", Integer, ForeignKey("tickets.number")),
    Column("event", Integer, ForeignKey("ticket_events.id")),
    Column("route", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Index("outbox_due", "status", "next_attempt_at"),
)


def _create_v1(conn: Connection) -> None:
    _v1.create_all(conn, checkfirst=False)
    conn.execute(insert(_v1_ticket_counter).values(id=1, last_number=0))


# --------------------------------------------------------------------------------------------
# Version 2, frozen: the outbox indexed by ticket. The planner, the sender and ``mailwatch
# show`` read a ticket's rows (``ticket_entries``: WHERE ticket = ? ORDER BY id) on every event
# and send, and pruning asks whether a ticket has rows left to send; without the index each of
# those reads scans the whole outbox.
# --------------------------------------------------------------------------------------------


def _index_outbox_by_ticket(conn: Connection) -> None:
    outbox = Table(
        "outbox",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("ticket", Integer),
    )
    Index("outbox_by_ticket", outbox.c.ticket, outbox.c.id).create(conn)


# --------------------------------------------------------------------------------------------
# Version 3, frozen: the outbox counts the resends an interrupted attempt caused. A row found in
# ``sending`` at start-up was cut off mid-attempt; it is sent again at most ``[outbox]
# max_interrupted_resends`` times, and the count has to survive the next crash too. Only an
# attempt handed to apprise (``attempt_started_at``) can have reached anyone, so only those count.
# --------------------------------------------------------------------------------------------


def _count_interrupted_resends(conn: Connection) -> None:
    conn.execute(
        text("ALTER TABLE outbox ADD COLUMN interrupted_resends INTEGER NOT NULL DEFAULT 0")
    )
    instant = DateTime(timezone=True).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE outbox ADD COLUMN attempt_started_at {instant}"))


# --------------------------------------------------------------------------------------------
# Version 4, frozen: maintenance announcements, one row per window occurrence, phase and route
# (the unique index is what makes "once" survive a restart).
# --------------------------------------------------------------------------------------------


def _create_announcements(conn: Connection) -> None:
    table = Table(
        "announcements",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("window", String(100), nullable=False),
        Column("starts_at", DateTime(timezone=True), nullable=False),
        Column("ends_at", DateTime(timezone=True), nullable=False),
        Column("phase", String(16), nullable=False),
        Column("route", String(100), nullable=False),
        Column("payload", JSON, nullable=False),
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("delivered_at", DateTime(timezone=True)),
        Column("last_error", Text),
        Index("announcements_once", "window", "starts_at", "phase", "route", unique=True),
        Index("announcements_due", "status", "next_attempt_at"),
    )
    table.create(conn)


# --------------------------------------------------------------------------------------------
# Version 5, frozen: several nodes on one database. Each node's heartbeat; the node that ran
# each result; one lease per check
# (and site, for a check run from several sites) naming the node that runs it until it
# expires; what a check remembers between runs, so the next owner continues; and the outbox
# row's sender node with its claim lease, so a row another live node is sending is not taken
# for interrupted.
# --------------------------------------------------------------------------------------------


def _add_nodes_and_leases(conn: Connection) -> None:
    meta = MetaData()
    Table(
        "nodes",
        meta,
        Column("name", String(64), primary_key=True),
        Column("site", String(64), nullable=False),
        Column("version", String(64), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("heartbeat_at", DateTime(timezone=True), nullable=False),
        Column("stopped_at", DateTime(timezone=True)),
    )
    Table(
        "leases",
        meta,
        Column("check_name", String(200), primary_key=True),
        Column("site", String(64), primary_key=True),
        Column("owner", String(64), nullable=False),
        Column("acquired_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Index("leases_by_owner", "owner"),
    )
    Table(
        "check_memory",
        meta,
        Column("check_name", String(200), primary_key=True),
        Column("site", String(64), primary_key=True),
        Column("memory", JSON, nullable=False),
        Column("written_by", String(64), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    meta.create_all(conn, checkfirst=False)
    conn.execute(text("ALTER TABLE check_results ADD COLUMN node VARCHAR(64)"))
    conn.execute(text("ALTER TABLE outbox ADD COLUMN claimed_by VARCHAR(64)"))
    instant = DateTime(timezone=True).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE outbox ADD COLUMN claim_expires_at {instant}"))


# --------------------------------------------------------------------------------------------
# Version 6, frozen: vantage points. Every result carries the site that ran it, and a check run
# from several sites (``run_from``) keeps each site's latest result and streaks, which the vote
# counts (``incidents/vote.py``). Results written before have no site (NULL).
# --------------------------------------------------------------------------------------------


def _results_by_site(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE check_results ADD COLUMN site VARCHAR(64)"))
    table = Table(
        "site_states",
        MetaData(),
        Column("dedup_key", String(300), primary_key=True),
        Column("site", String(64), primary_key=True),
        Column("check_name", String(64), nullable=False),
        Column("node", String(64)),
        Column("state", Integer, nullable=False),
        Column("stage", String(64)),
        Column("summary", Text, nullable=False),
        Column("bad_streak", Integer, nullable=False),
        Column("good_streak", Integer, nullable=False),
        Column("failing_since", DateTime(timezone=True)),
        Column("result_at", DateTime(timezone=True), nullable=False),
        Column("result_id", Integer),
        Index("site_states_by_check", "check_name"),
    )
    table.create(conn)


# --------------------------------------------------------------------------------------------
# Version 7, frozen: history. Every result adds to its check's 5-minute and 1-hour buckets, per
# figure and for availability, kept ``[store] history_days`` (``store/history.py``).
# --------------------------------------------------------------------------------------------


def _create_history(conn: Connection) -> None:
    meta = MetaData()
    Table(
        "history_figures",
        meta,
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
    Table(
        "history_availability",
        meta,
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
    meta.create_all(conn, checkfirst=False)


# --------------------------------------------------------------------------------------------
# Version 8, frozen: the evidence recorded when a ticket opens, for its root-cause pack.
# --------------------------------------------------------------------------------------------


def _create_ticket_evidence(conn: Connection) -> None:
    meta = MetaData()
    # The tickets table exists already; this stub only lets the foreign key name it.
    Table("tickets", meta, Column("number", Integer, primary_key=True))
    table = Table(
        "ticket_evidence",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("ticket", Integer, ForeignKey("tickets.number"), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
        Column("kind", String(32), nullable=False),
        Column("check_name", String(64), nullable=False),
        Column("data", JSON, nullable=False),
        Index("ticket_evidence_by_ticket", "ticket", "id"),
    )
    table.create(conn)


# --------------------------------------------------------------------------------------------
# Version 9, frozen: each check state row marks the last result that changed the check's shown
# state or stage, indexed, so a daemon with a browser watching can ask once a second whether
# another process changed anything (``store/changes.py``) with one index lookup.
# --------------------------------------------------------------------------------------------


def _mark_state_changes(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE check_states ADD COLUMN changed_result_id INTEGER"))
    conn.execute(text("CREATE INDEX check_states_by_change ON check_states (changed_result_id)"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "results, check states, tickets, timelines, counter, silences, outbox",
        _create_v1,
    ),
    Migration(2, "outbox indexed by ticket", _index_outbox_by_ticket),
    Migration(
        3,
        "outbox counts interrupted resends and marks attempts started",
        _count_interrupted_resends,
    ),
    Migration(4, "maintenance announcements", _create_announcements),
    Migration(
        5,
        "node heartbeats, check leases, check memory, outbox claims by node",
        _add_nodes_and_leases,
    ),
    Migration(
        6, "results carry their site; each site's latest state of a voting check", _results_by_site
    ),
    Migration(
        7, "history: 5-minute and 1-hour buckets per check, figure and site", _create_history
    ),
    Migration(8, "evidence recorded when a ticket opens", _create_ticket_evidence),
    Migration(9, "check states mark the last result that changed them", _mark_state_changes),
)
LATEST_VERSION = MIGRATIONS[-1].version


def installed_version(conn: Connection, location: str) -> int:
    """The schema version of the database behind ``conn``: 0 for one without tables.

    Reads only. Raises ``NewerSchemaError`` or ``NotMailwatchDatabaseError`` for a database
    mailwatch must not touch.
    """
    tables = set(inspect(conn).get_table_names())
    if "schema_version" not in tables:
        if tables:
            listed = ", ".join(sorted(tables)[:5])
            raise NotMailwatchDatabaseError(
                f"{location} is not a mailwatch database: it has tables ({listed}) but no "
                "schema_version table. mailwatch will not write to it; point [store] url "
                "at another file."
            )
        return 0
    version = conn.execute(select(schema_version.c.version)).scalar_one_or_none()
    if version is None:
        raise NotMailwatchDatabaseError(
            f"{location} has an empty schema_version table: it is damaged or not a "
            "mailwatch database. mailwatch will not write to it; restore it from a backup "
            "or move it away."
        )
    found = int(version)
    if found > LATEST_VERSION:
        raise NewerSchemaError(
            f"{location} was written by a newer mailwatch: its schema version is {found}, "
            f"and this mailwatch ({__version__}) understands versions up to {LATEST_VERSION}. "
            "Upgrade mailwatch, or point [store] url at another file; the database was left "
            "untouched."
        )
    return found


def existing_version(conn: Connection, location: str) -> int:
    """``installed_version`` of a database file that was there before mailwatch opened it:
    one without tables is refused too, since a schema is only ever created in a new file."""
    found = installed_version(conn, location)
    if found == 0:
        raise NotMailwatchDatabaseError(
            f"{location} has no mailwatch tables: it is not a mailwatch database. mailwatch "
            "will not write to it; restore it from a backup or move it away (the daemon "
            "creates a new one where no file exists)."
        )
    return found


def require_latest(conn: Connection, location: str) -> None:
    """Refuse, without writing, a database that is not a complete one at the latest version:
    what every command but ``mailwatch run`` needs, since only the daemon creates or migrates.
    """
    found = existing_version(conn, location)
    if found < LATEST_VERSION:
        raise OlderSchemaError(
            f"{location} has schema version {found}, and this mailwatch ({__version__}) needs "
            f"{LATEST_VERSION}: start the daemon (mailwatch run) of this version once to "
            "upgrade it; no other command changes the schema."
        )


def migrate(
    conn: Connection, location: str, now: datetime, *, to_version: int = LATEST_VERSION
) -> int:
    """Bring the database to ``to_version`` (normally the latest); returns the version it had
    before. Tests pass an older ``to_version`` to make the database an older mailwatch left.

    Raises ``NewerSchemaError`` or ``NotMailwatchDatabaseError`` without writing anything.
    """
    if not 1 <= to_version <= LATEST_VERSION:
        raise ValueError(f"no schema version {to_version}: versions are 1 to {LATEST_VERSION}")
    found = installed_version(conn, location)
    for step in MIGRATIONS:
        if found < step.version <= to_version:
            step.apply(conn)
    if found == 0:
        conn.execute(
            insert(schema_version).values(
                id=1, version=to_version, updated_at=now, written_by=__version__
            )
        )
    elif found < to_version:
        conn.execute(
            update(schema_version)
            .where(schema_version.c.id == 1)
            .values(version=to_version, updated_at=now, written_by=__version__)
        )
    return found
