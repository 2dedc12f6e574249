"""peewee models over the seed's tables plus those added by migrations.

The models describe the schema as the migrations leave it (``tests`` check that the two agree):
column order, types, NOT NULL, database-side defaults and CHECKs are spelled out so that
``Model.create_table`` yields the same table as the frozen migrations. The database is bound at run
time through :data:`db` (a :class:`peewee.DatabaseProxy`).
"""

from __future__ import annotations

from typing import Any, cast

import peewee as pw

db = pw.DatabaseProxy()

NOW = "(datetime('now'))"
NOW_PRECISE = "(strftime('%Y-%m-%d %H:%M:%f', 'now'))"


def _default(sql: str) -> Any:
    return pw.SQL(f"DEFAULT {sql}")


def _text_pk() -> pw.TextField[str]:
    """``id TEXT PRIMARY KEY`` exactly as the seed writes it (no NOT NULL in the DDL); c3desk
    always sets the id, so code may treat it as a ``str``."""
    return cast("pw.TextField[str]", pw.TextField(primary_key=True, null=True))


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False


class Worker(BaseModel):
    id = _text_pk()
    name = pw.TextField()
    type = pw.TextField(constraints=[pw.Check("type IN ('local', 'remote')")])
    ssh_host = pw.TextField(null=True)
    ssh_port = pw.IntegerField(null=True, constraints=[_default("22")])
    ssh_user = pw.TextField(null=True)
    ssh_key_path = pw.TextField(null=True)
    status = pw.TextField(
        constraints=[
            _default("'disconnected'"),
            pw.Check("status IN ('connected', 'disconnected', 'error')"),
        ]
    )
    max_sessions = pw.IntegerField(constraints=[_default("2")])
    last_heartbeat = pw.TextField(null=True)
    created_at = pw.TextField(constraints=[_default(NOW)])

    class Meta:
        table_name = "workers"


class Session(BaseModel):
    id = _text_pk()
    claude_session_id = pw.TextField(null=True)
    worker = pw.ForeignKeyField(
        Worker, column_name="worker_id", null=True, index=False, backref="sessions"
    )
    status = pw.TextField(
        constraints=[
            _default("'queued'"),
            pw.Check("status IN ('queued', 'active', 'completed', 'failed')"),
        ]
    )
    working_directory = pw.TextField()
    title = pw.TextField(constraints=[_default("''")])
    position = pw.IntegerField(null=True)
    pid = pw.IntegerField(null=True)
    needs_input = pw.BooleanField(constraints=[_default("0")])
    lock = pw.BooleanField(constraints=[_default("0")])
    continuation_count = pw.IntegerField(constraints=[_default("0")])
    terminal_scrollback = pw.TextField(null=True)
    created_at = pw.TextField(constraints=[_default(NOW)])
    started_at = pw.TextField(null=True)
    completed_at = pw.TextField(null=True)
    updated_at = pw.TextField(constraints=[_default(NOW)])
    # migration 2
    prompt = pw.TextField(null=True)
    agent = pw.TextField(constraints=[_default("'claude'")])
    exit_code = pw.IntegerField(null=True)
    failure_reason = pw.TextField(null=True)
    # migration 3
    auto_approve = pw.BooleanField(null=True)
    # migration 4: the current run's start; started_at is the first activation (seed)
    activated_at = pw.TextField(null=True)
    # migration 5: the process's handle on its worker (a tmux pane, a PTY's pid...), set while
    # active, so a restarted c3desk can ask the worker's connection for it again
    host_handle = pw.TextField(null=True)
    # migration 8 (git worktree isolation): the branch is chosen when the session is added;
    # the base, repository and worktree are recorded when the worktree is made (activation)
    worktree_branch = pw.TextField(null=True)
    worktree_base = pw.TextField(null=True)
    worktree_repo = pw.TextField(null=True)
    worktree_path = pw.TextField(null=True)

    worker_id: str | None  # the column behind `worker`, set by peewee

    class Meta:
        table_name = "sessions"


class Artifact(BaseModel):
    id = _text_pk()
    session = pw.ForeignKeyField(
        Session, column_name="session_id", on_delete="CASCADE", index=False, backref="artifacts"
    )
    type = pw.TextField(constraints=[pw.Check("type IN ('image', 'pdf', 'diff', 'file')")])
    path = pw.TextField()
    detected_at = pw.TextField(constraints=[_default(NOW)])

    session_id: str

    class Meta:
        table_name = "artifacts"


class Settings(BaseModel):
    id = pw.IntegerField(primary_key=True, null=True, constraints=[pw.Check("id = 1")])
    max_concurrent_sessions = pw.IntegerField(constraints=[_default("4")])
    max_visible_sessions = pw.IntegerField(constraints=[_default("2")])
    auto_approve = pw.BooleanField(constraints=[_default("0")])
    grid_layout = pw.TextField(
        constraints=[_default("'auto'"), pw.Check("grid_layout IN ('auto', '1x1', '2x2', '3x3')")]
    )
    theme = pw.TextField(constraints=[_default("'dark'"), pw.Check("theme IN ('dark', 'light')")])
    # migration 2
    claude_command = pw.TextField(
        constraints=[_default("'claude'"), pw.Check("length(claude_command) > 0")]
    )
    scrollback_limit_mb = pw.IntegerField(
        constraints=[_default("50"), pw.Check("scrollback_limit_mb BETWEEN 1 AND 10000")]
    )
    # migration 3
    queue_paused = pw.BooleanField(constraints=[_default("0")])
    # migration 6
    worker_heartbeat_seconds = pw.IntegerField(
        constraints=[_default("10"), pw.Check("worker_heartbeat_seconds BETWEEN 1 AND 600")]
    )
    # migration 7
    persistent_sessions = pw.TextField(
        constraints=[
            _default("'auto'"),
            pw.Check("persistent_sessions IN ('auto', 'always', 'never')"),
        ]
    )
    reconnect_grace_seconds = pw.IntegerField(
        constraints=[_default("600"), pw.Check("reconnect_grace_seconds BETWEEN 0 AND 86400")]
    )
    # migration 8: where worktrees go ("": beside each repository)
    worktree_root = pw.TextField(constraints=[_default("''")])

    class Meta:
        table_name = "settings"


class SessionEvent(BaseModel):
    """One row per state change, approval, error or other notable thing in a session's life."""

    id = pw.AutoField()
    session = pw.ForeignKeyField(
        Session, column_name="session_id", on_delete="CASCADE", index=False, backref="events"
    )
    at = pw.TextField(constraints=[_default(NOW_PRECISE)])
    kind = pw.TextField()
    detail = pw.TextField(null=True)

    session_id: str

    class Meta:
        table_name = "session_events"


class UsageLimitPause(BaseModel):
    """An account's usage limit (an agent profile on a worker): no new session of that agent
    starts there until ``reset_at`` (UTC) or until a user lifts it; then the sessions it held
    are continued (``continued_at``)."""

    id = pw.AutoField()
    agent = pw.TextField()
    worker = pw.ForeignKeyField(Worker, column_name="worker_id", on_delete="CASCADE", index=False)
    reset_at = pw.TextField()
    reset_text = pw.TextField()  # as the agent wrote it ("3pm (America/New_York)")
    zone = pw.TextField(null=True)  # the zone it named; None: the worker's local time
    detected_at = pw.TextField(constraints=[_default(NOW)])
    lifted_at = pw.TextField(null=True)
    lifted_by = pw.TextField(null=True, constraints=[pw.Check("lifted_by IN ('reset', 'user')")])
    continued_at = pw.TextField(null=True)

    worker_id: str

    class Meta:
        table_name = "usage_limit_pauses"


class UsageLimitSession(BaseModel):
    """A session a usage limit stopped: continued when its pause ends."""

    id = pw.AutoField()
    pause = pw.ForeignKeyField(
        UsageLimitPause, column_name="pause_id", on_delete="CASCADE", index=False
    )
    session = pw.ForeignKeyField(
        Session, column_name="session_id", on_delete="CASCADE", index=False
    )
    auto_continue = pw.BooleanField(constraints=[_default("0")])  # the agent goes on by itself
    continued_at = pw.TextField(null=True)
    how = pw.TextField(null=True)  # how it was continued: typed, resumed, retried...

    pause_id: int
    session_id: str

    class Meta:
        table_name = "usage_limit_sessions"


class SessionUsage(BaseModel):
    """Tokens a session's agent used on one local day with one model, and their estimated
    cost in dollars (None: no price for the model), summed from its transcripts (migration 10)."""

    session = pw.ForeignKeyField(
        Session, column_name="session_id", on_delete="CASCADE", index=False, backref="usage"
    )
    day = pw.TextField()
    model = pw.TextField()
    input_tokens = pw.IntegerField(constraints=[_default("0")])
    output_tokens = pw.IntegerField(constraints=[_default("0")])
    cache_creation_tokens = pw.IntegerField(constraints=[_default("0")])
    cache_read_tokens = pw.IntegerField(constraints=[_default("0")])
    messages = pw.IntegerField(constraints=[_default("0")])
    cost = pw.FloatField(null=True)

    session_id: str

    class Meta:
        table_name = "session_usage"
        primary_key = pw.CompositeKey("session", "day", "model")


class TranscriptRead(BaseModel):
    """How far one transcript of a session has been read for its usage (migration 10)."""

    session = pw.ForeignKeyField(
        Session, column_name="session_id", on_delete="CASCADE", index=False
    )
    path = pw.TextField()
    offset = pw.IntegerField(constraints=[_default("0")])
    recent = pw.TextField(null=True)  # JSON: the last messages counted, against double counts

    session_id: str

    class Meta:
        table_name = "transcript_reads"
        primary_key = pw.CompositeKey("session", "path")


class SearchDoc(BaseModel):
    """A session's indexed text (its scrollback, its transcript) and how far it was read
    (migration "search across history"). The chunks' full-text index (``search_fts``, FTS5)
    has no model: it is written by triggers and read with SQL (c3desk.core.search)."""

    id = pw.IntegerField(primary_key=True, constraints=[pw.SQL("AUTOINCREMENT")])
    session = pw.ForeignKeyField(
        Session, column_name="session_id", on_delete="CASCADE", index=False, backref="search_docs"
    )
    kind = pw.TextField(constraints=[pw.Check("kind IN ('scrollback', 'transcript')")])
    inode = pw.IntegerField(null=True)
    offset = pw.IntegerField(constraints=[_default("0")])
    lines = pw.IntegerField(constraints=[_default("0")])

    session_id: str

    class Meta:
        table_name = "search_docs"


class SearchChunk(BaseModel):
    id = pw.AutoField()
    doc_id = pw.IntegerField()  # no foreign key: rows of a removed doc are purged later
    line = pw.IntegerField()
    text = pw.TextField()

    class Meta:
        table_name = "search_chunks"


class SearchRemoved(BaseModel):
    """Docs removed (with their session) whose rows are still to be purged."""

    doc_id = pw.IntegerField(primary_key=True)

    class Meta:
        table_name = "search_removed"


Session.add_index(Session.status, name="idx_sessions_status")
Session.add_index(Session.worker, name="idx_sessions_worker")
Session.add_index(Session.position, name="idx_sessions_position")
Session.add_index(Session.needs_input, name="idx_sessions_needs_input")
Artifact.add_index(Artifact.session, name="idx_artifacts_session")
SessionEvent.add_index(SessionEvent.session, SessionEvent.id, name="idx_session_events_session")
UsageLimitPause.add_index(UsageLimitPause.continued_at, name="idx_usage_limit_pauses_open")
UsageLimitSession.add_index(
    UsageLimitSession.pause,
    UsageLimitSession.session,
    unique=True,
    name="idx_usage_limit_sessions_pause",
)
UsageLimitSession.add_index(UsageLimitSession.session, name="idx_usage_limit_sessions_session")
SessionUsage.add_index(SessionUsage.day, name="idx_session_usage_day")
SearchDoc.add_index(SearchDoc.session, SearchDoc.kind, unique=True, name="idx_search_docs_session")
SearchChunk.add_index(SearchChunk.doc_id, name="idx_search_chunks_doc")

ALL_MODELS: list[type[BaseModel]] = [
    Worker,
    Session,
    Artifact,
    Settings,
    SessionEvent,
    UsageLimitPause,
    UsageLimitSession,
    SessionUsage,
    TranscriptRead,
    SearchDoc,
    SearchChunk,
    SearchRemoved,
]
