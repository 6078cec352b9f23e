"""hardening: privacy of the reader role, public sources without usernames, login throttling.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _privacy_upgrade()
    _sources_upgrade()
    _throttle_upgrade()
    _evidence_upgrade()


def downgrade() -> None:
    _evidence_downgrade()
    _throttle_downgrade()
    _sources_downgrade()
    _privacy_downgrade()


# --- the read-only role sees no table or log holding identities --------------------------
#: Tables the read-only role may not read at all: the audit log copies whole rows (users,
#: token hashes, reporters) and the site history view shows it.
_READER_NO_TABLES = ("audit_log", "field_site_versions")
#: Columns naming people, taken from the read-only role; logged-in callers read them through
#: the writer (``api.deps.get_reader_engine``).
_READER_NO_COLUMNS = {
    "analysis_runs": ("created_by",),
    "field_sites": ("uploaded_by",),
    "occurrences": ("recorded_by",),
    "planning_grids": ("created_by",),
    "prioritisation_scenarios": ("created_by",),
}


_UNEXPECTED_FAILURE = (
    "The analysis failed on an unexpected error; nothing of its results was stored. "
    "The error was logged: an analyst or administrator can see it on this run."
)


def _reader_columns_sql(table: str, hidden: tuple[str, ...]) -> str:
    """PL/pgSQL granting the reader SELECT on every column of ``table`` but ``hidden``."""
    names = ", ".join(f"'{c}'" for c in hidden)
    return (
        f"REVOKE ALL ON {table} FROM irbis_reader; "
        "EXECUTE (SELECT 'GRANT SELECT (' || string_agg(quote_ident(column_name), ', ') || ')"
        f" ON {table} TO irbis_reader' FROM information_schema.columns"
        f" WHERE table_schema = current_schema() AND table_name = '{table}'"
        f" AND column_name NOT IN ({names})); "
    )


def _privacy_upgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        + " ".join(f"REVOKE ALL ON {t} FROM irbis_reader;" for t in _READER_NO_TABLES)
        + " "
        + "".join(_reader_columns_sql(t, cols) for t, cols in _READER_NO_COLUMNS.items())
        + "END IF; END $$;"
    )
    # failed analyses published their exception text: keep it for analysts (api.services.analyses)
    op.execute(
        "UPDATE analysis_runs SET results = jsonb_build_object('error_detail', error),"
        f" error = '{_UNEXPECTED_FAILURE}' WHERE status = 'failed' AND results IS NULL"
        " AND error ~ '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Interrupt|Exit): '"
    )


def _privacy_downgrade() -> None:
    tables = (*_READER_NO_TABLES, *_READER_NO_COLUMNS)
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        + "".join(f"REVOKE ALL ON {t} FROM irbis_reader; " for t in _READER_NO_COLUMNS)
        + " ".join(f"GRANT SELECT ON {t} TO irbis_reader;" for t in tables)
        + " END IF; END $$;"
    )


# --- public `source` of uploaded field sites names no user --------------------------------
def _sources_upgrade() -> None:
    # "uploaded by <username>: <file>" -> "uploaded by a grantee of <grant code>: <file>";
    # who uploaded stays in field_sites.uploaded_by and the audit log (not public)
    op.execute(
        "SELECT set_config('irbis.actor', 'migration 0006', true);"
        " UPDATE field_sites s SET source = regexp_replace(s.source, '^uploaded by [^:]*: ',"
        " 'uploaded by a grantee of ' || g.code || ': ') FROM grants g"
        " WHERE g.id = s.grant_id AND s.source ~ '^uploaded by [^:]*: '"
        " AND s.source NOT LIKE 'uploaded by a grantee of %'"
    )


def _sources_downgrade() -> None:
    op.execute(
        "SELECT set_config('irbis.actor', 'migration 0006 downgrade', true);"
        " UPDATE field_sites s SET source = left('uploaded by ' || s.uploaded_by || ': '"
        " || substr(s.source, length('uploaded by a grantee of ' || g.code || ': ') + 1), 500)"
        " FROM grants g WHERE g.id = s.grant_id"
        " AND left(s.source, length('uploaded by a grantee of ' || g.code || ': '))"
        " = 'uploaded by a grantee of ' || g.code || ': '"
    )


# --- login throttling state --------------------------------------------------------------
def _throttle_upgrade() -> None:
    # Failed logins are counted by the login back-off (api/ratelimit.py), per account and
    # client address, no longer in the users table: the lock-out they fed is gone.
    op.drop_column("users", "locked_until")
    op.drop_column("users", "failed_logins")


def _throttle_downgrade() -> None:
    import sqlalchemy as sa

    op.add_column(
        "users",
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))


# --- which version of the metadata rules cleaned each stored evidence file ---------------
def _evidence_upgrade() -> None:
    import sqlalchemy as sa

    # Files stored so far went through the first rules (GPS and a few identity tags removed):
    # `irbis threats clean-evidence` passes them through the current ones.
    op.add_column(
        "evidence_files",
        sa.Column("metadata_rules", sa.Integer(), nullable=False, server_default="1"),
    )


def _evidence_downgrade() -> None:
    op.drop_column("evidence_files", "metadata_rules")


# Keep `op` imported for the sections above.
_ = op
