"""The Irbis domain model: typed SQLAlchemy 2 models over PostGIS (GeoAlchemy2).

Every spatial table carries ``source``, ``licence`` and ``method`` (observed, modelled,
example) and timestamps. Geometries are stored in EPSG:4326 with GiST indexes. Inserts,
updates and deletes of the tables in :data:`AUDITED_TABLES` are copied by a trigger into
``audit_log`` (before and after, who and when), and each write bumps the table's row in
``layer_versions``, which feeds cache validators and analysis provenance.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from geoalchemy2 import Geometry, WKBElement

from geo.crs import STORAGE_EPSG
from geo.names import latin_names


class Method(enum.StrEnum):
    """How a record came to be."""

    observed = "observed"
    modelled = "modelled"
    example = "example"


class EcosystemKind(enum.StrEnum):
    mountain = "mountain"
    arid_lowland = "arid_lowland"
    other = "other"


class ThreatKind(enum.StrEnum):
    ski_resort = "ski_resort"
    road = "road"
    railway = "railway"
    pipeline = "pipeline"
    power_line = "power_line"
    mining = "mining"
    dam = "dam"
    urban_expansion = "urban_expansion"
    agriculture = "agriculture"
    overgrazing = "overgrazing"
    poaching = "poaching"
    fence = "fence"
    tourism = "tourism"
    other = "other"


class ThreatStatus(enum.StrEnum):
    proposed = "proposed"
    approved = "approved"
    under_construction = "under_construction"
    active = "active"
    halted = "halted"


class GrantStatus(enum.StrEnum):
    proposed = "proposed"
    active = "active"
    closed = "closed"
    terminated = "terminated"


class PAStatus(enum.StrEnum):
    """Protected-area status, as in the WDPA."""

    designated = "Designated"
    inscribed = "Inscribed"
    adopted = "Adopted"
    established = "Established"
    proposed = "Proposed"
    not_reported = "Not Reported"


def _values(e: type[enum.Enum]) -> str:
    return ", ".join(f"'{m.value}'" for m in e)


def _geom(kind: str) -> Any:
    return Geometry(geometry_type=kind, srid=STORAGE_EPSG, spatial_index=True)


class Base(DeclarativeBase):
    pass


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class Provenance(Timestamped):
    """Where a record came from: every spatial table has these columns."""

    source: Mapped[str] = mapped_column(Text, nullable=False)
    licence: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)


def method_check(table: str) -> CheckConstraint:
    return CheckConstraint(f"method IN ({_values(Method)})", name=f"ck_{table}_method")


# --------------------------------------------------------------------------------------------
# Species and occurrences
# --------------------------------------------------------------------------------------------


class Species(Timestamped, Base):
    __tablename__ = "species"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scientific_name: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    common_name_en: Mapped[str | None] = mapped_column(Text)
    common_name_ru: Mapped[str | None] = mapped_column(Text)
    common_name_kk: Mapped[str | None] = mapped_column(Text)
    iucn_category: Mapped[str] = mapped_column(String(2), nullable=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    iucn_taxon_id: Mapped[int | None] = mapped_column(Integer)
    gbif_taxon_key: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (
        CheckConstraint(
            "iucn_category IN ('EX','EW','CR','EN','VU','NT','LC','DD','NE')",
            name="ck_species_iucn_category",
        ),
    )


class SpeciesRange(Provenance, Base):
    """A species range polygon, coded as in IUCN Red List spatial data."""

    __tablename__ = "species_ranges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    species_id: Mapped[int] = mapped_column(ForeignKey("species.id"), nullable=False, index=True)
    presence: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    origin: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    seasonal: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=1)
    compiler: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(SmallInteger)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    species: Mapped[Species] = relationship()

    __table_args__ = (
        method_check("species_ranges"),
        CheckConstraint("presence BETWEEN 1 AND 7", name="ck_species_ranges_presence"),
        CheckConstraint("origin BETWEEN 1 AND 6", name="ck_species_ranges_origin"),
        CheckConstraint("seasonal BETWEEN 1 AND 5", name="ck_species_ranges_seasonal"),
    )


class Occurrence(Provenance, Base):
    """A species occurrence (GBIF / Darwin Core). Precise for sensitive species: never public."""

    __tablename__ = "occurrences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    species_id: Mapped[int] = mapped_column(ForeignKey("species.id"), nullable=False, index=True)
    gbif_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    occurrence_id: Mapped[str | None] = mapped_column(Text)
    event_date: Mapped[dt.date | None] = mapped_column(Date)
    basis_of_record: Mapped[str | None] = mapped_column(Text)
    coordinate_uncertainty_m: Mapped[float | None] = mapped_column(Float)
    country_code: Mapped[str | None] = mapped_column(String(2))
    recorded_by: Mapped[str | None] = mapped_column(Text, deferred=True)
    dataset_key: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(_geom("POINT"), nullable=False)

    species: Mapped[Species] = relationship()

    __table_args__ = (method_check("occurrences"),)


# --------------------------------------------------------------------------------------------
# Protected areas, ecosystems, threats
# --------------------------------------------------------------------------------------------


class ProtectedArea(Provenance, Base):
    """A protected area as in the WDPA: polygon, or point with a reported area."""

    __tablename__ = "protected_areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wdpa_id: Mapped[int | None] = mapped_column(BigInteger)
    wdpa_pid: Mapped[str | None] = mapped_column(Text, unique=True)
    osm_id: Mapped[str | None] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    original_name: Mapped[str | None] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    name_kk: Mapped[str | None] = mapped_column(Text)
    designation: Mapped[str | None] = mapped_column(Text)
    designation_type: Mapped[str | None] = mapped_column(Text)
    iucn_category: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, default=PAStatus.designated.value)
    status_year: Mapped[int | None] = mapped_column(SmallInteger)
    reported_area_km2: Mapped[float | None] = mapped_column(Float)
    iso3: Mapped[str | None] = mapped_column(Text)
    is_oecm: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    geom: Mapped[WKBElement] = mapped_column(_geom("GEOMETRY"), nullable=False)

    __table_args__ = (
        method_check("protected_areas"),
        CheckConstraint(
            "GeometryType(geom) IN ('MULTIPOLYGON', 'POLYGON', 'POINT', 'MULTIPOINT')",
            name="ck_protected_areas_geom_type",
        ),
        CheckConstraint(f"status IN ({_values(PAStatus)})", name="ck_protected_areas_status"),
    )


class Ecosystem(Provenance, Base):
    __tablename__ = "ecosystems"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    iso3: Mapped[str | None] = mapped_column(String(3))
    analysis_run_id: Mapped[int | None] = mapped_column(Integer)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    __table_args__ = (
        method_check("ecosystems"),
        CheckConstraint(f"kind IN ({_values(EcosystemKind)})", name="ck_ecosystems_kind"),
    )


class Threat(Provenance, Base):
    """A threat to habitat: any geometry type (footprint, line, point)."""

    __tablename__ = "threats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    proposed_on: Mapped[dt.date | None] = mapped_column(Date)
    started_on: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    links: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    published: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    geom: Mapped[WKBElement] = mapped_column(_geom("GEOMETRY"), nullable=False)

    status_changes: Mapped[list[ThreatStatusChange]] = relationship(
        back_populates="threat", order_by="ThreatStatusChange.changed_on"
    )

    __table_args__ = (
        method_check("threats"),
        CheckConstraint(f"kind IN ({_values(ThreatKind)})", name="ck_threats_kind"),
        CheckConstraint(f"status IN ({_values(ThreatStatus)})", name="ck_threats_status"),
    )


class ThreatStatusChange(Timestamped, Base):
    """One step in a threat's life: a status from a date, with its source."""

    __tablename__ = "threat_status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    threat_id: Mapped[int] = mapped_column(
        ForeignKey("threats.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    changed_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, nullable=False)

    threat: Mapped[Threat] = relationship(back_populates="status_changes")

    __table_args__ = (
        CheckConstraint(f"status IN ({_values(ThreatStatus)})", name="ck_tsc_status"),
        UniqueConstraint("threat_id", "changed_on", "status", name="uq_tsc_threat_date_status"),
    )


# --------------------------------------------------------------------------------------------
# Grants and field sites
# --------------------------------------------------------------------------------------------

grant_species = Table(
    "grant_species",
    Base.metadata,
    Column("grant_id", ForeignKey("grants.id", ondelete="CASCADE"), primary_key=True),
    Column("species_id", ForeignKey("species.id"), primary_key=True),
)


class Grant(Timestamped, Base):
    __tablename__ = "grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    grantee_organisation: Mapped[str] = mapped_column(Text, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD")
    start_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    end_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    countries: Mapped[list[str]] = mapped_column(ARRAY(String(3)), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    # programme fields (migration 0007)
    partners: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, default=list, server_default=text("'{}'::text[]")
    )
    ecosystem_focus: Mapped[list[str]] = mapped_column(
        ARRAY(String(16)), nullable=False, default=list, server_default=text("'{}'::varchar[]")
    )
    #: Units of ``currency`` per USD on ``rate_date`` (amounts in a local currency).
    rate: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    rate_date: Mapped[dt.date | None] = mapped_column(Date)
    call: Mapped[str | None] = mapped_column(Text)
    objectives: Mapped[str | None] = mapped_column(Text)
    #: Links to documents: ``[{"title": ..., "url": ...}]``.
    documents: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    #: The union of the grant's field sites, kept by statement triggers on ``field_sites`` (0013).
    geom: Mapped[WKBElement | None] = mapped_column(_geom("MULTIPOLYGON"), deferred=True)

    species: Mapped[list[Species]] = relationship(secondary=grant_species)
    field_sites: Mapped[list[FieldSite]] = relationship(back_populates="grant")

    __table_args__ = (
        method_check("grants"),
        CheckConstraint("amount > 0", name="ck_grants_amount"),
        CheckConstraint("end_date >= start_date", name="ck_grants_dates"),
        CheckConstraint(f"status IN ({_values(GrantStatus)})", name="ck_grants_status"),
        CheckConstraint(
            "ecosystem_focus <@ ARRAY['mountain', 'arid_lowland', 'other']::varchar[]",
            name="ck_grants_ecosystem_focus",
        ),
        CheckConstraint(
            "currency = 'USD' OR (rate IS NOT NULL AND rate > 0 AND rate_date IS NOT NULL)",
            name="ck_grants_rate",
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_grants_currency"),
        Index("ix_grants_status", "status"),
    )


class FieldSite(Provenance, Base):
    __tablename__ = "field_sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    uploaded_by: Mapped[str] = mapped_column(Text, nullable=False, deferred=True)
    uploaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    geom_hash: Mapped[str | None] = mapped_column(String(64))
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    grant: Mapped[Grant] = relationship(back_populates="field_sites")

    __table_args__ = (
        method_check("field_sites"),
        UniqueConstraint("grant_id", "name", name="uq_field_sites_grant_name"),
    )


# --------------------------------------------------------------------------------------------
# Reference layers
# --------------------------------------------------------------------------------------------


class Country(Provenance, Base):
    __tablename__ = "countries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    iso_a2: Mapped[str | None] = mapped_column(String(2))
    iso_a3: Mapped[str] = mapped_column(String(3), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    name_ru: Mapped[str | None] = mapped_column(Text)
    programme: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    __table_args__ = (method_check("countries"),)


class AdminUnit(Provenance, Base):
    __tablename__ = "admin_units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hasc: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    iso_a3: Mapped[str] = mapped_column(String(3), nullable=False)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    __table_args__ = (method_check("admin_units"), UniqueConstraint("iso_a3", "hasc", "name"))


class _NamedFeature(Provenance):
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    featurecla: Mapped[str | None] = mapped_column(Text)
    scalerank: Mapped[int | None] = mapped_column(SmallInteger)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)


class Region(_NamedFeature, Base):
    """Named physical regions (mountain ranges, deserts, plains)."""

    __tablename__ = "regions"
    name_en: Mapped[str | None] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    name_kk: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)
    __table_args__ = (method_check("regions"),)


class Glacier(_NamedFeature, Base):
    __tablename__ = "glaciers"
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)
    __table_args__ = (method_check("glaciers"),)


class Lake(_NamedFeature, Base):
    __tablename__ = "lakes"
    name_ru: Mapped[str | None] = mapped_column(Text)
    name_kk: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)
    __table_args__ = (method_check("lakes"),)


class River(_NamedFeature, Base):
    __tablename__ = "rivers"
    name_ru: Mapped[str | None] = mapped_column(Text)
    name_kk: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTILINESTRING"), nullable=False)
    __table_args__ = (method_check("rivers"),)


class Place(_NamedFeature, Base):
    """Populated places."""

    __tablename__ = "places"
    name_ru: Mapped[str | None] = mapped_column(Text)
    #: Well-known former names, separated by " / ", for search (migration 0017).
    former_names: Mapped[str | None] = mapped_column(Text)
    iso_a3: Mapped[str | None] = mapped_column(String(3))
    population: Mapped[int | None] = mapped_column(BigInteger)
    geom: Mapped[WKBElement] = mapped_column(_geom("POINT"), nullable=False)
    __table_args__ = (method_check("places"),)


class Peak(_NamedFeature, Base):
    """Named peaks, passes and depressions with their elevation."""

    __tablename__ = "peaks"
    name_ru: Mapped[str | None] = mapped_column(Text)
    name_kk: Mapped[str | None] = mapped_column(Text)
    elevation_m: Mapped[float | None] = mapped_column(Float)
    geom: Mapped[WKBElement] = mapped_column(_geom("POINT"), nullable=False)
    __table_args__ = (method_check("peaks"),)


class RasterDataset(Provenance, Base):
    """A raster file (DEM, classification, land cover) registered with its metadata."""

    __tablename__ = "rasters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    crs: Mapped[str] = mapped_column(Text, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    resolution: Mapped[list[float]] = mapped_column(ARRAY(Float), nullable=False)
    dtype: Mapped[str] = mapped_column(Text, nullable=False)
    nodata: Mapped[float | None] = mapped_column(Float)
    units: Mapped[str | None] = mapped_column(Text)
    epoch: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    geom: Mapped[WKBElement] = mapped_column(_geom("POLYGON"), nullable=False)

    __table_args__ = (method_check("rasters"),)


# --------------------------------------------------------------------------------------------
# History and versions
# --------------------------------------------------------------------------------------------


class AuditLog(Base):
    """Every insert, update and delete of an audited table: who, when, before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    table_name: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    row_id: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(String(8), nullable=False)
    actor: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class LayerVersion(Base):
    """A counter per table, bumped by every write statement: data versions for caches/runs."""

    __tablename__ = "layer_versions"

    table_name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


AUDITED_TABLES = (
    "species",
    "species_ranges",
    "occurrences",
    "protected_areas",
    "ecosystems",
    "threats",
    "threat_status_changes",
    "grants",
    "grant_species",
    "field_sites",
    "countries",
    "admin_units",
    "regions",
    "glaciers",
    "lakes",
    "rivers",
    "places",
    "peaks",
    "rasters",
)


# --------------------------------------------------------------------------------------------
# Accounts: users, roles, grant links, API tokens, sessions (migration 0002)
# --------------------------------------------------------------------------------------------

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), primary_key=True),
)

user_grants = Table(
    "user_grants",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("grant_id", ForeignKey("grants.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """A person who logs in. Roles in ``user_roles``; a grantee's grants in ``user_grants``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(Text, nullable=False)
    email: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class ApiToken(Base):
    """An API token: only its sha256 is stored; ``prefix`` lets a person recognise it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A server-side web session; the cookie carries the token, the table its sha256."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------------------------
# Analyses (migration 0003): runs as records, result features, modelled habitat
# --------------------------------------------------------------------------------------------


class AnalysisKind(enum.StrEnum):
    ecosystems = "ecosystems"
    habitat = "habitat"
    overlap = "overlap"
    gaps = "gaps"
    loss = "loss"


class RunStatus(enum.StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class AnalysisRun(Base):
    """One run of an analysis: parameters, inputs with their versions, results, times."""

    __tablename__ = "analysis_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    #: The error as a message to translate: {"template": ..., "values": ...} (geo.messages).
    error_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(Text, deferred=True)
    started_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: When a run worked in the background last said it was alive (api.services.background).
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"kind IN ({_values(AnalysisKind)})", name="ck_analysis_runs_kind"),
        CheckConstraint(f"status IN ({_values(RunStatus)})", name="ck_analysis_runs_status"),
    )


class AnalysisFeature(Base):
    """A result geometry of a run (gap piece, overlap piece, loss piece ...)."""

    __tablename__ = "analysis_features"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_runs.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    geom: Mapped[WKBElement] = mapped_column(_geom("GEOMETRY"), nullable=False)


class Habitat(Provenance, Base):
    """Modelled Area of Habitat of a species per ecosystem kind and country (one run)."""

    __tablename__ = "habitat"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    species_id: Mapped[int] = mapped_column(ForeignKey("species.id"), nullable=False)
    ecosystem: Mapped[str] = mapped_column(String(16), nullable=False)
    iso3: Mapped[str | None] = mapped_column(String(3))
    analysis_run_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_runs.id", ondelete="CASCADE"), nullable=False
    )
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    area_ha: Mapped[float] = mapped_column(Float, nullable=False)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    species: Mapped[Species] = relationship()

    __table_args__ = (
        method_check("habitat"),
        CheckConstraint(f"ecosystem IN ({_values(EcosystemKind)})", name="ck_habitat_ecosystem"),
    )


# --------------------------------------------------------------------------------------------
# Prioritisation: planning grids and units, scenarios and their units (migration 0005)
# --------------------------------------------------------------------------------------------


class ScenarioStatus(enum.StrEnum):
    pending = "pending"
    running = "running"
    solved = "solved"
    infeasible = "infeasible"
    failed = "failed"


class PlanningGrid(Timestamped, Base):
    """A grid of planning units (H3 cells clipped to the study area) and how it was made."""

    __tablename__ = "planning_grids"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    resolution: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    countries: Mapped[list[str]] = mapped_column(ARRAY(String(3)), nullable=False)
    features: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    n_units: Mapped[int] = mapped_column(Integer, nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[str | None] = mapped_column(Text, deferred=True)
    #: When a build from the form last said it was alive (see api.services.prioritisation).
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("resolution BETWEEN 0 AND 15", name="ck_planning_grids_resolution"),
    )


class PlanningUnit(Base):
    """One planning unit: its H3 cell, cost and values (habitat per feature, shares, distances)."""

    __tablename__ = "planning_units"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    grid_id: Mapped[int] = mapped_column(
        ForeignKey("planning_grids.id", ondelete="CASCADE"), nullable=False, index=True
    )
    h3: Mapped[str] = mapped_column(String(16), nullable=False)
    iso3: Mapped[str | None] = mapped_column(String(3))
    area_km2: Mapped[float] = mapped_column(Float, nullable=False)
    cost: Mapped[float] = mapped_column(Float, nullable=False)
    values: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    __table_args__ = (
        UniqueConstraint("grid_id", "h3", name="uq_planning_units_grid_h3"),
        CheckConstraint("area_km2 > 0", name="ck_planning_units_area"),
        CheckConstraint("cost >= 0", name="ck_planning_units_cost"),
    )


class PrioritisationScenario(Timestamped, Base):
    """A prioritisation run: parameters, input versions, status, results and solver figures."""

    __tablename__ = "prioritisation_scenarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    grid_id: Mapped[int] = mapped_column(
        ForeignKey("planning_grids.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    objective: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    solver: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(Text, deferred=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: When a solve last said it was alive (see api.services.prioritisation).
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    grid: Mapped[PlanningGrid] = relationship()

    __table_args__ = (
        CheckConstraint(
            "objective IN ('min_set', 'max_coverage')",
            name="ck_prioritisation_scenarios_objective",
        ),
        CheckConstraint(
            f"status IN ({_values(ScenarioStatus)})", name="ck_prioritisation_scenarios_status"
        ),
    )


class ScenarioUnit(Base):
    """A unit's part in a scenario: selected or not, locked, selection frequency, rank."""

    __tablename__ = "scenario_units"

    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("prioritisation_scenarios.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("planning_units.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    selected: Mapped[bool] = mapped_column(Boolean, nullable=False)
    locked: Mapped[str | None] = mapped_column(String(3))
    frequency: Mapped[float | None] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (CheckConstraint("locked IN ('in', 'out')", name="ck_scenario_units_locked"),)


# --------------------------------------------------------------------------------------------
# Threat reports: reports with evidence, moderation history, evidence files (migration 0004)
# --------------------------------------------------------------------------------------------


class ReportState(enum.StrEnum):
    """Where a threat report is in moderation."""

    submitted = "submitted"
    under_review = "under_review"
    published = "published"
    rejected = "rejected"


class ThreatReport(Base):
    """A threat documented by a reporter. ``reporter_*`` are never shown to the public."""

    __tablename__ = "threat_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    threat_status: Mapped[str] = mapped_column(String(32), nullable=False)
    status_on: Mapped[dt.date | None] = mapped_column(Date)
    observed_on: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    links: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
    reporter_id: Mapped[int | None] = mapped_column(Integer)
    reporter_name: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: The name shown to the public: the reporter's display name, or None when anonymous.
    public_reporter: Mapped[str | None] = mapped_column(Text)
    keep_location: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="submitted")
    reason: Mapped[str | None] = mapped_column(Text)
    threat_id: Mapped[int | None] = mapped_column(
        ForeignKey("threats.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(Text, nullable=False)
    licence: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False, default="observed")
    geom: Mapped[WKBElement] = mapped_column(_geom("GEOMETRY"), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    events: Mapped[list[ThreatReportEvent]] = relationship(
        back_populates="report", order_by="ThreatReportEvent.at"
    )
    evidence: Mapped[list[EvidenceFile]] = relationship(
        back_populates="report", order_by="EvidenceFile.id"
    )
    threat: Mapped[Threat | None] = relationship()


class ThreatReportEvent(Base):
    """One change of a report's moderation state: from, to, who and when (and why)."""

    __tablename__ = "threat_report_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("threat_reports.id", ondelete="CASCADE"), nullable=False, index=True
    )
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    report: Mapped[ThreatReport] = relationship(back_populates="events")


class EvidenceFile(Base):
    """A photo or PDF attached to a report, stored under ``var_dir/evidence`` by its hash."""

    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("threat_reports.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    media_type: Mapped[str] = mapped_column(Text, nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    caption: Mapped[str | None] = mapped_column(Text)
    location_kept: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    storage_path: Mapped[str] = mapped_column(Text, nullable=False)
    #: The version of the metadata rules (``geo.evidence.METADATA_RULES``) the stored file
    #: went through; ``irbis threats clean-evidence`` brings older files up to date.
    metadata_rules: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )

    report: Mapped[ThreatReport] = relationship(back_populates="evidence")


# --------------------------------------------------------------------------------------------
# Field monitoring: indicators, records, observation points, evidence (migration 0008)
# --------------------------------------------------------------------------------------------


class MonitoringState(enum.StrEnum):
    """Where a monitoring record is in review."""

    submitted = "submitted"
    accepted = "accepted"
    returned = "returned"


class MonitoringIndicator(Timestamped, Base):
    """An indicator of the catalogue: what is measured, in which unit, and whether where it
    was observed is sensitive (its observation points are generalised for the public)."""

    __tablename__ = "monitoring_indicators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name_en: Mapped[str] = mapped_column(Text, nullable=False)
    name_ru: Mapped[str | None] = mapped_column(Text)
    name_kk: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(Text, nullable=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    species_id: Mapped[int | None] = mapped_column(ForeignKey("species.id"))
    allow_negative: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    description: Mapped[str | None] = mapped_column(Text)

    species: Mapped[Species | None] = relationship()


class MonitoringRecord(Timestamped, Base):
    """A value of an indicator at a field site, on a day or over a period."""

    __tablename__ = "monitoring_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(
        ForeignKey("field_sites.id", ondelete="CASCADE"), nullable=False, index=True
    )
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_indicators.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    period_start: Mapped[dt.date] = mapped_column(Date, nullable=False)
    period_end: Mapped[dt.date] = mapped_column(Date, nullable=False)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    method_note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="submitted")
    reason: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[int | None] = mapped_column(Integer, deferred=True)
    submitted_by_name: Mapped[str | None] = mapped_column(Text, deferred=True)
    reviewed_by: Mapped[int | None] = mapped_column(Integer, deferred=True)
    reviewed_by_name: Mapped[str | None] = mapped_column(Text, deferred=True)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text, nullable=False)
    licence: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False, default="observed")

    site: Mapped[FieldSite] = relationship()
    indicator: Mapped[MonitoringIndicator] = relationship()
    points: Mapped[list[MonitoringPoint]] = relationship(
        back_populates="record", order_by="MonitoringPoint.id", cascade="all, delete-orphan"
    )
    evidence: Mapped[list[MonitoringEvidence]] = relationship(
        back_populates="record", order_by="MonitoringEvidence.id", cascade="all, delete-orphan"
    )


class MonitoringPoint(Timestamped, Base):
    """An observation point of a record; ``accepted`` mirrors the record's state."""

    __tablename__ = "monitoring_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_records.id", ondelete="CASCADE"), nullable=False, index=True
    )
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_indicators.id", ondelete="RESTRICT"), nullable=False
    )
    observed_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    accepted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    licence: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False, default="observed")
    geom: Mapped[WKBElement] = mapped_column(_geom("POINT"), nullable=False)

    record: Mapped[MonitoringRecord] = relationship(back_populates="points")


class MonitoringEvidence(Timestamped, Base):
    """A photo or PDF of a monitoring record, stored like threat evidence (by its hash)."""

    __tablename__ = "monitoring_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_records.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    media_type: Mapped[str] = mapped_column(Text, nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    caption: Mapped[str | None] = mapped_column(Text)
    location_kept: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    storage_path: Mapped[str] = mapped_column(Text, nullable=False)
    metadata_rules: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")

    record: Mapped[MonitoringRecord] = relationship(back_populates="evidence")


# --------------------------------------------------------------------------------------------
# Kazakh districts and settlements; boundary changes of protected areas (migration 0009)
# --------------------------------------------------------------------------------------------


class District(Provenance, Base):
    """A district of Kazakhstan (second-level unit, 2024) with its region, names in en/kk/ru."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kato: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    pcode: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text, nullable=False)
    name_kk: Mapped[str | None] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    region_en: Mapped[str | None] = mapped_column(Text)
    region_kk: Mapped[str | None] = mapped_column(Text)
    region_ru: Mapped[str | None] = mapped_column(Text)
    iso_3166_2: Mapped[str | None] = mapped_column(Text)
    iso_a3: Mapped[str] = mapped_column(String(3), nullable=False)
    year: Mapped[int | None] = mapped_column(SmallInteger)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    __table_args__ = (method_check("districts"),)


def _settlement_latin(context: Any) -> str | None:
    """``settlements.name_latin`` of a row being inserted (Core or ORM, one row or many)."""
    row = context.get_current_parameters()
    return latin_names(*(row.get(c) for c in ("name", "name_en", "name_ru", "name_kk")))


class Settlement(Provenance, Base):
    """A settlement (city, town, village, hamlet, isolated dwelling) from OpenStreetMap."""

    __tablename__ = "settlements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    osm_id: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    name_kk: Mapped[str | None] = mapped_column(Text)
    name_ru: Mapped[str | None] = mapped_column(Text)
    #: Latin forms of the Cyrillic names, for search (migration 0014); made on insert.
    name_latin: Mapped[str | None] = mapped_column(Text, default=_settlement_latin)
    #: Well-known former names, separated by " / ", for search (migration 0017).
    former_names: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(Text)
    population: Mapped[int | None] = mapped_column(BigInteger)
    iso_a3: Mapped[str] = mapped_column(String(3), nullable=False)
    geom: Mapped[WKBElement] = mapped_column(_geom("POINT"), nullable=False)

    __table_args__ = (method_check("settlements"),)


class BoundaryChangeKind(enum.StrEnum):
    """How land left or joined a protected area."""

    excised = "excised"
    returned = "returned"


class ProtectedAreaChange(Provenance, Base):
    """Land taken out of a protected area, or given back to it, on a date.

    The land is inside the protected area on a date unless its latest change on or before
    that date is an excision (see :func:`geo.protected_planet.inside_on`).
    """

    __tablename__ = "protected_area_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    protected_area_id: Mapped[int] = mapped_column(
        ForeignKey("protected_areas.id", ondelete="CASCADE"), nullable=False, index=True
    )
    threat_id: Mapped[int | None] = mapped_column(
        ForeignKey("threats.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    changed_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    area_ha: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(_geom("MULTIPOLYGON"), nullable=False)

    __table_args__ = (
        method_check("protected_area_changes"),
        CheckConstraint(
            f"kind IN ({_values(BoundaryChangeKind)})", name="ck_protected_area_changes_kind"
        ),
    )
