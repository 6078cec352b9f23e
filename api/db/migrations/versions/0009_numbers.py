"""numbers an analyst can trust: real boundaries, reference layers, run parameters (issue 10).

- ``districts``: Kazakhstan's districts (2024) with their region, names in English, Kazakh
  and Russian, KATO and ISO 3166-2 codes (geokz, CC BY 4.0).
- ``settlements``: Kazakh settlements from OpenStreetMap (ODbL), names in en/kk/ru, the
  ``place`` class and population where tagged, keyed by their OSM id.
- ``protected_area_changes``: land excised from a protected area, or returned to it, on a
  date (the Kok-Zhailau excision of 2014 and its return in 2022), so whether land counts as
  protected depends on the date asked about.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from geoalchemy2 import Geometry

from api.db.history import audit_triggers, drop_audit_triggers

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("districts", "settlements", "protected_area_changes")


def _geom(kind: str) -> sa.Column:
    return sa.Column(
        "geom",
        Geometry(
            geometry_type=kind,
            srid=4326,
            dimension=2,
            spatial_index=False,
            from_text="ST_GeomFromEWKT",
            name="geometry",
            nullable=False,
        ),
        nullable=False,
    )


def _provenance(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "method IN ('observed', 'modelled', 'example')", name=f"ck_{table}_method"
        ),
    ]


def _gist(table: str) -> None:
    op.create_geospatial_index(
        f"idx_{table}_geom", table, ["geom"], unique=False, postgresql_using="gist"
    )


def upgrade() -> None:
    op.create_geospatial_table(
        "districts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kato", sa.Text(), nullable=False),
        sa.Column("pcode", sa.Text(), nullable=True),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("name_kk", sa.Text(), nullable=True),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("region_en", sa.Text(), nullable=True),
        sa.Column("region_kk", sa.Text(), nullable=True),
        sa.Column("region_ru", sa.Text(), nullable=True),
        sa.Column("iso_3166_2", sa.Text(), nullable=True),
        sa.Column("iso_a3", sa.String(length=3), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=True),
        _geom("MULTIPOLYGON"),
        *_provenance("districts"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kato"),
    )
    _gist("districts")
    op.create_geospatial_table(
        "settlements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("osm_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("name_kk", sa.Text(), nullable=True),
        sa.Column("name_ru", sa.Text(), nullable=True),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("population", sa.BigInteger(), nullable=True),
        sa.Column("iso_a3", sa.String(length=3), nullable=False),
        _geom("POINT"),
        *_provenance("settlements"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("osm_id"),
    )
    _gist("settlements")
    op.create_geospatial_table(
        "protected_area_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("protected_area_id", sa.Integer(), nullable=False),
        sa.Column("threat_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("area_ha", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _geom("MULTIPOLYGON"),
        *_provenance("protected_area_changes"),
        sa.CheckConstraint(
            "kind IN ('excised', 'returned')", name="ck_protected_area_changes_kind"
        ),
        sa.ForeignKeyConstraint(["protected_area_id"], ["protected_areas.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["threat_id"], ["threats.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_protected_area_changes_protected_area_id",
        "protected_area_changes",
        ["protected_area_id"],
    )
    op.create_index("ix_protected_area_changes_threat_id", "protected_area_changes", ["threat_id"])
    _gist("protected_area_changes")
    for table in TABLES:
        op.execute(audit_triggers(table))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(drop_audit_triggers(table))
    op.drop_index("ix_protected_area_changes_threat_id", table_name="protected_area_changes")
    op.drop_index(
        "ix_protected_area_changes_protected_area_id", table_name="protected_area_changes"
    )
    for table in reversed(TABLES):
        op.drop_geospatial_index(f"idx_{table}_geom", table_name=table, column_name="geom")
        op.drop_geospatial_table(table)
