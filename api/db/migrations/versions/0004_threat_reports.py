"""Threat reports: reports with evidence, their moderation history, and evidence files.

A report holds a geometry, what the threat is, and who reported it. The reporter's identity
(``reporter_id``, ``reporter_name``) is not readable by the read-only role: the public reads
through that role, and gets column privileges on everything else only. Moderation keeps every
change of state in ``threat_report_events`` (who and when); that table is the history of a
report, so ``threat_reports`` gets data versions but no row copies in ``audit_log`` (which
would copy the reporter's identity there). Evidence files are stored on disk under
``var_dir/evidence`` by content hash; ``evidence_files`` records them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from geoalchemy2 import Geometry

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

KINDS = (
    "ski_resort",
    "road",
    "railway",
    "pipeline",
    "power_line",
    "mining",
    "dam",
    "urban_expansion",
    "agriculture",
    "overgrazing",
    "poaching",
    "fence",
    "tourism",
    "other",
)
STATUSES = ("proposed", "approved", "under_construction", "active", "halted")
STATES = ("submitted", "under_review", "published", "rejected")

#: Columns of threat_reports the read-only role may read (never the reporter's identity).
PUBLIC_REPORT_COLUMNS = (
    "id",
    "title",
    "kind",
    "threat_status",
    "status_on",
    "observed_on",
    "description",
    "links",
    "anonymous",
    "public_reporter",
    "state",
    "threat_id",
    "source",
    "licence",
    "method",
    "geom",
    "created_at",
    "updated_at",
    "published_at",
)
#: Columns of threat_report_events the read-only role may read (never who acted).
PUBLIC_EVENT_COLUMNS = ("id", "report_id", "from_state", "to_state", "at")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _version_trigger(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION irbis_bump_version();
CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table}
  FOR EACH ROW EXECUTE FUNCTION irbis_touch();
INSERT INTO layer_versions (table_name, version, changed_at) VALUES ('{table}', 0, now())
  ON CONFLICT (table_name) DO NOTHING;
"""


def upgrade() -> None:
    op.create_geospatial_table(
        "threat_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("threat_status", sa.String(32), nullable=False),
        sa.Column("status_on", sa.Date(), nullable=True),
        sa.Column("observed_on", sa.Date(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("links", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("reporter_name", sa.Text(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("public_reporter", sa.Text(), nullable=True),
        sa.Column("keep_location", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("state", sa.String(16), nullable=False, server_default="submitted"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "threat_id",
            sa.Integer(),
            sa.ForeignKey("threats.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False, server_default="observed"),
        sa.Column(
            "geom",
            Geometry(geometry_type="GEOMETRY", srid=4326, spatial_index=False, nullable=False),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"kind IN ({_in(KINDS)})", name="ck_threat_reports_kind"),
        sa.CheckConstraint(
            f"threat_status IN ({_in(STATUSES)})", name="ck_threat_reports_threat_status"
        ),
        sa.CheckConstraint(f"state IN ({_in(STATES)})", name="ck_threat_reports_state"),
        sa.CheckConstraint(
            "method IN ('observed', 'modelled', 'example')", name="ck_threat_reports_method"
        ),
        sa.CheckConstraint("length(btrim(description)) > 0", name="ck_threat_reports_description"),
        sa.CheckConstraint("length(btrim(title)) > 0", name="ck_threat_reports_title"),
        sa.CheckConstraint(
            "state <> 'rejected' OR length(btrim(coalesce(reason, ''))) > 0",
            name="ck_threat_reports_reason",
        ),
        sa.CheckConstraint(
            "state <> 'published' OR threat_id IS NOT NULL", name="ck_threat_reports_published"
        ),
        sa.CheckConstraint(
            "NOT anonymous OR public_reporter IS NULL", name="ck_threat_reports_anonymous"
        ),
    )
    op.create_geospatial_index(
        "idx_threat_reports_geom",
        "threat_reports",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_threat_reports_state", "threat_reports", ["state"])
    op.create_index("ix_threat_reports_reporter_id", "threat_reports", ["reporter_id"])

    op.create_table(
        "threat_report_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("threat_reports.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"to_state IN ({_in(STATES)})", name="ck_tre_to_state"),
    )

    op.create_table(
        "evidence_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("threat_reports.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("location_kept", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("storage_path", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "media_type IN ('image/jpeg', 'image/png', 'application/pdf')",
            name="ck_evidence_files_media_type",
        ),
        sa.CheckConstraint("size_bytes > 0", name="ck_evidence_files_size"),
        sa.UniqueConstraint("report_id", "sha256", name="uq_evidence_files_report_sha"),
    )

    for table in ("threat_reports", "evidence_files"):
        op.execute(_version_trigger(table))

    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        "REVOKE ALL ON threat_reports, threat_report_events FROM irbis_reader; "
        f"GRANT SELECT ({', '.join(PUBLIC_REPORT_COLUMNS)}) ON threat_reports TO irbis_reader; "
        f"GRANT SELECT ({', '.join(PUBLIC_EVENT_COLUMNS)}) ON threat_report_events "
        "TO irbis_reader; "
        "GRANT SELECT ON evidence_files TO irbis_reader; "
        "END IF; END $$;"
    )


def downgrade() -> None:
    for table in ("threat_reports", "evidence_files"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_version ON {table};")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_touch ON {table};")
        op.execute(f"DELETE FROM layer_versions WHERE table_name = '{table}';")
    op.drop_table("evidence_files")
    op.drop_table("threat_report_events")
    op.drop_index("ix_threat_reports_reporter_id", table_name="threat_reports")
    op.drop_index("ix_threat_reports_state", table_name="threat_reports")
    op.drop_geospatial_index(
        "idx_threat_reports_geom",
        table_name="threat_reports",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("threat_reports")
