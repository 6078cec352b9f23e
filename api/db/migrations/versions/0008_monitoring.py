"""Field monitoring: indicator catalogue, monitoring records, observation points, evidence (issue 11).

- ``monitoring_indicators``: the catalogue admins manage (code, names, unit, whether it is
  sensitive, the species it is about, whether negative values are allowed).
- ``monitoring_records``: a value of an indicator at a field site on a day or over a period,
  with a method note, in moderation (submitted, accepted, returned with a reason). Who
  submitted and who reviewed are not readable by the read-only role.
- ``monitoring_points``: observation points of a record. ``accepted`` mirrors the record's
  state (kept by the service in the same transaction) so the published layer shows accepted
  points only; ``indicator_id`` lets it generalise the points of sensitive indicators.
- ``monitoring_evidence``: photos and PDFs of a record, stored like threat evidence under
  ``var_dir/evidence`` by content hash, after the same metadata stripping.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geoalchemy2 import Geometry

from api.db.history import audit_triggers, drop_audit_triggers

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STATES = ("submitted", "accepted", "returned")

#: Columns of monitoring_records the read-only role may read (never who submitted or reviewed).
PUBLIC_RECORD_COLUMNS = (
    "id",
    "site_id",
    "indicator_id",
    "period_start",
    "period_end",
    "value",
    "method_note",
    "state",
    "reviewed_at",
    "source",
    "licence",
    "method",
    "created_at",
    "updated_at",
)


#: The catalogue every installation starts with: code, name, Russian name, unit, sensitive,
#: description. Species are linked once they are loaded (``irbis monitoring link-species``).
SEED = (
    (
        "camera_trap_nights",
        "Camera-trap nights",
        "Фотоловушко-сутки",
        "trap-nights",
        True,
        "Nights a camera trap ran; where traps stand is where snow leopards pass.",
    ),
    (
        "snow_leopard_detections",
        "Independent snow leopard detections",
        "Независимые регистрации снежного барса",
        "detections",
        True,
        "Detections at least 30 minutes apart at a station.",
    ),
    (
        "ibex_count",
        "Siberian ibex count",
        "Численность сибирского горного козла",
        "individuals",
        True,
        "Individuals counted on a survey.",
    ),
    (
        "argali_count",
        "Argali count",
        "Численность архара",
        "individuals",
        True,
        "Individuals counted on a survey.",
    ),
    (
        "goitered_gazelle_count",
        "Goitered gazelle count",
        "Численность джейрана",
        "individuals",
        True,
        "Individuals counted on a survey.",
    ),
    (
        "patrol_km",
        "Patrol distance",
        "Протяжённость патрулей",
        "km",
        False,
        "Kilometres patrolled by rangers.",
    ),
    (
        "poaching_incidents",
        "Poaching incidents",
        "Случаи браконьерства",
        "incidents",
        True,
        "Incidents recorded by patrols or reported.",
    ),
    (
        "restoration_ha",
        "Area under restoration",
        "Площадь восстановления",
        "ha",
        False,
        "Hectares under active restoration.",
    ),
    (
        "community_agreements",
        "Community agreements",
        "Соглашения с местными сообществами",
        "agreements",
        False,
        "Signed agreements with communities or land users in force.",
    ),
)

#: The species of seeded indicators (linked here if already loaded, else later).
SEED_SPECIES = {
    "camera_trap_nights": "Panthera uncia",
    "snow_leopard_detections": "Panthera uncia",
    "goitered_gazelle_count": "Gazella subgutturosa",
}


def _version_trigger(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION irbis_bump_version();
CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table}
  FOR EACH ROW EXECUTE FUNCTION irbis_touch();
INSERT INTO layer_versions (table_name, version, changed_at) VALUES ('{table}', 0, now())
  ON CONFLICT (table_name) DO NOTHING;
"""


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "monitoring_indicators",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("species_id", sa.Integer(), sa.ForeignKey("species.id"), nullable=True),
        sa.Column("allow_negative", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("code ~ '^[a-z][a-z0-9_]*$'", name="ck_monitoring_indicators_code"),
        sa.CheckConstraint(
            "length(btrim(name_en)) > 0 AND length(btrim(unit)) > 0",
            name="ck_monitoring_indicators_names",
        ),
    )

    op.create_table(
        "monitoring_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "site_id",
            sa.Integer(),
            sa.ForeignKey("field_sites.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "indicator_id",
            sa.Integer(),
            sa.ForeignKey("monitoring_indicators.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        ),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("method_note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="submitted"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("submitted_by_name", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_by_name", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False, server_default="observed"),
        *_timestamps(),
        sa.CheckConstraint(
            "state IN ('submitted', 'accepted', 'returned')", name="ck_monitoring_records_state"
        ),
        sa.CheckConstraint("period_end >= period_start", name="ck_monitoring_records_period"),
        sa.CheckConstraint(
            "state <> 'returned' OR length(btrim(coalesce(reason, ''))) > 0",
            name="ck_monitoring_records_reason",
        ),
        sa.CheckConstraint(
            "method IN ('observed', 'modelled', 'example')", name="ck_monitoring_records_method"
        ),
        sa.CheckConstraint("value = value", name="ck_monitoring_records_value_number"),
        sa.UniqueConstraint(
            "site_id",
            "indicator_id",
            "period_start",
            "period_end",
            name="uq_monitoring_records_site_indicator_period",
        ),
    )
    op.create_index("ix_monitoring_records_state", "monitoring_records", ["state"])
    op.create_index(
        "ix_monitoring_records_indicator_period",
        "monitoring_records",
        ["indicator_id", "period_start"],
    )

    op.create_geospatial_table(
        "monitoring_points",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "record_id",
            sa.Integer(),
            sa.ForeignKey("monitoring_records.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "indicator_id",
            sa.Integer(),
            sa.ForeignKey("monitoring_indicators.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False, server_default="observed"),
        sa.Column(
            "geom",
            Geometry(geometry_type="POINT", srid=4326, spatial_index=False, nullable=False),
            nullable=False,
        ),
        *_timestamps(),
        sa.CheckConstraint(
            "method IN ('observed', 'modelled', 'example')", name="ck_monitoring_points_method"
        ),
    )
    op.create_geospatial_index(
        "idx_monitoring_points_geom",
        "monitoring_points",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )

    op.create_table(
        "monitoring_evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "record_id",
            sa.Integer(),
            sa.ForeignKey("monitoring_records.id", ondelete="CASCADE"),
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
        sa.Column("metadata_rules", sa.Integer(), nullable=False, server_default="1"),
        *_timestamps(),
        sa.CheckConstraint(
            "media_type IN ('image/jpeg', 'image/png', 'application/pdf')",
            name="ck_monitoring_evidence_media_type",
        ),
        sa.CheckConstraint("size_bytes > 0", name="ck_monitoring_evidence_size"),
        sa.UniqueConstraint("record_id", "sha256", name="uq_monitoring_evidence_record_sha"),
    )

    op.execute("SELECT set_config('irbis.actor', 'migration 0008', true)")
    for table in ("monitoring_indicators", "monitoring_records"):
        op.execute(audit_triggers(table))
    seed = sa.table(
        "monitoring_indicators",
        sa.column("code"),
        sa.column("name_en"),
        sa.column("name_ru"),
        sa.column("unit"),
        sa.column("sensitive"),
        sa.column("description"),
    )
    op.bulk_insert(
        seed,
        [
            {"code": c, "name_en": n, "name_ru": r, "unit": u, "sensitive": s, "description": d}
            for c, n, r, u, s, d in SEED
        ],
    )
    for code, scientific_name in SEED_SPECIES.items():
        op.execute(
            sa.text(
                "UPDATE monitoring_indicators SET species_id = "
                "(SELECT id FROM species WHERE scientific_name = :sn) WHERE code = :code"
            ).bindparams(sn=scientific_name, code=code)
        )
    for table in ("monitoring_points", "monitoring_evidence"):
        op.execute(_version_trigger(table))

    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'irbis_reader') THEN "
        "REVOKE ALL ON monitoring_records FROM irbis_reader; "
        f"GRANT SELECT ({', '.join(PUBLIC_RECORD_COLUMNS)}) ON monitoring_records "
        "TO irbis_reader; "
        "GRANT SELECT ON monitoring_indicators, monitoring_points, monitoring_evidence "
        "TO irbis_reader; "
        "END IF; END $$;"
    )


def downgrade() -> None:
    for table in ("monitoring_points", "monitoring_evidence"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_version ON {table};")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_touch ON {table};")
        op.execute(f"DELETE FROM layer_versions WHERE table_name = '{table}';")
    for table in ("monitoring_indicators", "monitoring_records"):
        op.execute(drop_audit_triggers(table))
    op.drop_table("monitoring_evidence")
    op.drop_geospatial_index(
        "idx_monitoring_points_geom",
        table_name="monitoring_points",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("monitoring_points")
    op.drop_index("ix_monitoring_records_indicator_period", table_name="monitoring_records")
    op.drop_index("ix_monitoring_records_state", table_name="monitoring_records")
    op.drop_table("monitoring_records")
    op.drop_table("monitoring_indicators")
