"""The tables the query builders of this package read, declared once.

Light ``table()`` clauses (this package does not import the ORM models of ``api.db``): each
table is declared here once with the columns the builders use, and imported where it is used
(``from layers.tables import grants``). A builder that needs another column adds it here.
The published layers themselves are described by the registry (:mod:`layers.spec`).
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    column,
    table,
)
from sqlalchemy.dialects.postgresql import JSONB

from geoalchemy2 import Geometry

#: Every geometry is stored in WGS 84 (EPSG:4326).
GEOMETRY = Geometry(srid=4326)
_TEXTS = ARRAY(String)
_AT = DateTime(timezone=True)

# --- reference data ---------------------------------------------------------------------------

countries = table(
    "countries",
    column("iso_a3", String),
    column("name", String),
    column("programme", Boolean),
    column("geom", GEOMETRY),
)
districts = table(
    "districts",
    *(column(c, String) for c in ("name_en", "name_ru", "name_kk")),
    *(column(c, String) for c in ("region_en", "region_ru", "region_kk")),
    column("geom", GEOMETRY),
)
settlements = table(
    "settlements",
    column("place", String),
    *(column(c, String) for c in ("name", "name_en", "name_ru", "name_kk")),
    column("geom", GEOMETRY),
)
places = table(
    "places",
    column("id", Integer),
    column("name", String),
    column("name_ru", String),
    column("iso_a3", String),
    column("population", Integer),
    column("geom", GEOMETRY),
)
regions = table(
    "regions", column("name", String), column("featurecla", String), column("geom", GEOMETRY)
)
protected_areas = table(
    "protected_areas",
    column("id", Integer),
    column("name", String),
    column("name_ru", String),
    column("name_kk", String),
    column("designation", String),
    column("iucn_category", String),
    column("status", String),
    column("reported_area_km2", Float),
    column("method", String),
    column("source", String),
    column("geom", GEOMETRY),
)
species = table(
    "species",
    column("id", Integer),
    column("scientific_name", String),
    column("common_name_en", String),
    column("common_name_ru", String),
    column("common_name_kk", String),
    column("iucn_category", String),
)
species_ranges = table(
    "species_ranges",
    column("species_id", Integer),
    column("presence", SmallInteger),
    column("origin", SmallInteger),
    column("geom", GEOMETRY),
)

# --- analyses -------------------------------------------------------------------------------

habitat = table(
    "habitat",
    column("id", Integer),
    column("species_id", Integer),
    column("ecosystem", String),
    column("iso3", String),
    column("area_ha", Float),
    column("analysis_run_id", Integer),
    column("method", String),
    column("geom", GEOMETRY),
)
ecosystems = table(
    "ecosystems",
    column("id", Integer),
    column("kind", String),
    column("iso3", String),
    column("analysis_run_id", Integer),
    column("method", String),
    column("properties", JSONB),
    column("geom", GEOMETRY),
)
analysis_features = table(
    "analysis_features",
    column("id", Integer),
    column("run_id", Integer),
    column("kind", String),
    column("properties", JSONB),
    column("geom", GEOMETRY),
)

# --- grants, their sites and their monitoring -------------------------------------------------

grants = table(
    "grants",
    column("id", Integer),
    column("code", String),
    column("title", String),
    column("grantee_organisation", String),
    column("partners", _TEXTS),
    column("countries", _TEXTS),
    column("ecosystem_focus", _TEXTS),
    column("amount", Numeric),
    column("currency", String),
    column("rate", Numeric),
    column("rate_date", Date),
    column("call", String),
    column("start_date", Date),
    column("end_date", Date),
    column("status", String),
    column("objectives", String),
    column("description", String),
    column("documents", JSONB),
    column("method", String),
    column("source", String),
    column("updated_at", _AT),
    column("geom", GEOMETRY),
)
grant_species = table("grant_species", column("grant_id", Integer), column("species_id", Integer))
#: The view of grants as published features (``api.db`` migrations).
grant_features = table(
    "grant_features",
    *(column(c) for c in ("id", "code", "title", "organisation", "status", "call")),
    *(column(c) for c in ("countries", "species", "ecosystem_focus", "amount", "currency")),
    *(column(c) for c in ("amount_usd", "start_date", "end_date")),
    column("geom", GEOMETRY),
)
field_sites = table(
    "field_sites",
    column("id", Integer),
    column("name", String),
    column("grant_id", Integer),
    column("uploaded_at", _AT),
    column("method", String),
    column("geom", GEOMETRY),
)
monitoring_records = table(
    "monitoring_records",
    column("id", Integer),
    column("site_id", Integer),
    column("indicator_id", Integer),
    column("period_start", Date),
    column("period_end", Date),
    column("value", Float),
    column("state", String),
    column("method", String),
)
monitoring_indicators = table(
    "monitoring_indicators",
    column("id", Integer),
    column("code", String),
    column("name_en", String),
    column("name_ru", String),
    column("name_kk", String),
    column("unit", String),
    column("sensitive", Boolean),
)

# --- threats and their reports ----------------------------------------------------------------

threat_status_changes = table(
    "threat_status_changes",
    column("id", Integer),
    column("threat_id", Integer),
    column("status", String),
    column("changed_on", Date),
    column("note", String),
    column("source", String),
)
threat_reports = table(
    "threat_reports",
    column("id", Integer),
    column("threat_id", Integer),
    column("title", String),
    column("kind", String),
    column("threat_status", String),
    column("status_on", Date),
    column("observed_on", Date),
    column("description", String),
    column("links", JSONB),
    column("public_reporter", String),
    column("state", String),
    column("published_at", _AT),
)
evidence_files = table(
    "evidence_files",
    column("id", Integer),
    column("report_id", Integer),
    column("media_type", String),
    column("caption", String),
    column("width", Integer),
    column("height", Integer),
    column("size_bytes", Integer),
    column("storage_path", String),
)

# --- prioritisation ---------------------------------------------------------------------------

planning_units = table(
    "planning_units",
    column("id", BigInteger),
    column("grid_id", Integer),
    column("h3", String),
    column("iso3", String),
    column("area_km2", Float),
    column("cost", Float),
    column("values", JSONB),
    column("geom", GEOMETRY),
)
scenario_units = table(
    "scenario_units",
    column("scenario_id", Integer),
    column("unit_id", BigInteger),
    column("selected", Boolean),
    column("locked", String),
    column("frequency", Float),
    column("rank", Integer),
)

# --- history and data versions ----------------------------------------------------------------

audit_log = table(
    "audit_log",
    column("id", BigInteger),
    column("table_name", Text),
    column("row_id", Text),
    column("action", String),
    column("actor", Text),
    column("at", _AT),
    column("before", JSONB),
    column("after", JSONB),
)
#: Every past state of a field site (a view over the audit log, see migration 0002).
field_site_versions = table(
    "field_site_versions",
    column("version_id", BigInteger),
    column("site_id", Integer),
    column("grant_id", Integer),
    column("action", String),
    column("actor", Text),
    column("at", _AT),
    column("before", JSONB),
    column("after", JSONB),
)
#: Bumped by every write to a table (``api.db.history``): the ETags' data versions.
layer_versions = table("layer_versions", column("table_name"), column("version"))
