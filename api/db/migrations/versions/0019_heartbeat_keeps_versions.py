"""a run's heartbeat is not a change of data: it leaves the layers' versions as they are.

Every write to ``analysis_runs``, ``planning_grids`` and ``prioritisation_scenarios`` bumped
the table's row in ``layer_versions`` (a statement trigger, migration 0003) and notified every
process. A run worked in the background writes the time into its record every 15 s
(``heartbeat_at``), and an analysis writes the step it is at (``results.progress``), so while a
run worked the versions of the published result layers (modelled ecosystems, habitat, coverage
gaps: views of the latest successful run, joined to ``analysis_runs``) moved every few
seconds with no change in what they show: their cached tiles and answers were thrown away and
their versioned tile URLs changed, for browsers and a CDN alike.

The version triggers of these tables now fire on inserts, deletes, truncation and updates of
every column but those: ``heartbeat_at`` (the three tables), ``updated_at`` of the grids and
scenarios (which every update sets, a heartbeat's too; a change of data sets other columns
with it) and ``results`` of ``analysis_runs`` (written alone only while a run is ``running``,
which no view shows; a run's end writes its status with it). Inserting an analysis run as
``running`` (before its work starts in the background) does not move the version either; any
other inserted run does. The columns are listed when the migration runs: a later
migration that adds a column to one of these tables makes the trigger again with
:func:`version_trigger` (``tests/core/test_migrations.py`` checks the lists).

The audit log (``irbis_audit``, migration 0011) no longer records an update that changes
nothing in a row but ``heartbeat_at`` (and ``updated_at``): a grid's or a scenario's heartbeat
wrote a copy of the whole record into it every 15 s.

Revision ID: 0019_heartbeat_keeps_versions
Revises: 0018_analysis_heartbeat
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0019_heartbeat_keeps_versions"
down_revision = "0018_analysis_heartbeat"
branch_labels = None
depends_on = None

#: The columns whose writes are not changes of data, by table.
NOT_DATA = {
    "analysis_runs": ("heartbeat_at", "results"),
    # updated_at: set by every update (the ORM's onupdate, the touch trigger), a heartbeat too
    "planning_grids": ("heartbeat_at", "updated_at"),
    "prioritisation_scenarios": ("heartbeat_at", "updated_at"),
}


#: Rows whose insertion is not a change of data either, by table: an analysis recorded as
#: ``running`` before its work starts (no view shows it; its end writes its status).
INSERT_WHEN = {"analysis_runs": "NEW.status <> 'running'"}


def version_trigger(table: str, skip: tuple[str, ...], insert_when: str | None = None) -> str:
    """SQL that makes ``table``'s version trigger again, for updates of every column of the
    table as it stands but ``skip``; with ``insert_when``, an inserted row moves the version
    only when that condition holds for it (a row trigger, ``{table}_version_insert``)."""
    skipped = ", ".join(f"'{c}'" for c in skip)
    inserts = "" if insert_when else "INSERT OR "
    row_trigger = (
        f"CREATE TRIGGER {table}_version_insert AFTER INSERT ON {table} FOR EACH ROW "
        f"WHEN ({insert_when}) EXECUTE FUNCTION irbis_bump_version();"
        if insert_when
        else ""
    )
    return f"""
DO $$
DECLARE
  cols text;
BEGIN
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
  FROM pg_attribute
  WHERE attrelid = 'public.{table}'::regclass AND attnum > 0 AND NOT attisdropped
    AND attname NOT IN ({skipped});
  EXECUTE 'DROP TRIGGER IF EXISTS {table}_version ON {table}';
  EXECUTE format(
    'CREATE TRIGGER {table}_version AFTER {inserts}DELETE OR TRUNCATE OR UPDATE OF %s '
    'ON {table} FOR EACH STATEMENT EXECUTE FUNCTION irbis_bump_version()', cols);
END $$;
DROP TRIGGER IF EXISTS {table}_version_insert ON {table};
{row_trigger}
"""


#: The audit function as migration 0011 left it (the audit log keeps what changed in a row).
AUDIT_BEFORE: str = import_module(
    "api.db.migrations.versions.0011_tile_geometry"
).AUDIT_WITHOUT_DERIVED
#: ... and now: an update that changes nothing but the time of a heartbeat is not audited.
AUDIT = AUDIT_BEFORE.replace(
    "(a - 'updated_at') = (b - 'updated_at')",
    "(a - 'updated_at' - 'heartbeat_at') = (b - 'updated_at' - 'heartbeat_at')",
)


def upgrade() -> None:
    assert AUDIT != AUDIT_BEFORE
    for table, skip in NOT_DATA.items():
        op.execute(version_trigger(table, skip, INSERT_WHEN.get(table)))
    op.execute(AUDIT)


def downgrade() -> None:
    op.execute(AUDIT_BEFORE)
    for table in NOT_DATA:
        op.execute(
            f"DROP TRIGGER IF EXISTS {table}_version_insert ON {table}; "
            f"DROP TRIGGER IF EXISTS {table}_version ON {table}; "
            f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION irbis_bump_version();"
        )
