"""Names vulture reports as unused that are used, by a framework or a library, not by a call.

``make lint`` runs vulture over the code with this file (see ``[tool.vulture]`` in
pyproject.toml). Decorated routes, commands, validators and fixtures are ignored there by
their decorators; what remains is listed here, by reason. Dead code is removed, not listed.
"""

# ruff: noqa

from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# --- ORM columns (api.db.models): read and written by SQLAlchemy, by name ---------------------
actor_id
adopted
agriculture
approved
arid_lowland
basis_of_record
changed_at
compiler
coordinate_uncertainty_m
country_code
dam
dataset_key
designation_type
elevation_m
ended_on
established
event_date
excised
fence
gbif_id
gbif_taxon_key
hasc
infeasible
inscribed
is_oecm
iso_3166_2
iso_a2
iucn_taxon_id
kato
last_login_at
mining
not_reported
observed
occurrence_id
overgrazing
pcode
pipeline
poaching
power_line
proposed_on
railway
reviewed_at
reviewed_by
road
seasonal
ski_resort
started_on
status_year
submitted_by
succeeded
tourism
under_construction
uploaded_by
urban_expansion
wdpa_id
wdpa_pid

# --- ORM attributes set by a use case: SQLAlchemy writes them to the row ----------------------
_.last_login_at  # api/auth/accounts.py
_.reviewed_by  # api/services/monitoring.py
_.reviewed_at  # api/services/monitoring.py
_.submitted_by  # api/services/monitoring.py
_.uploaded_by  # api/services/sites.py

# --- pydantic fields: the OGC documents (api.ogc_models) and settings read from the environment -
additionalProperties
boundingBox
center
conformsTo
dataType
geometries
geometryDimension
id_
itemType
layout
lowerLeft
maxTileMatrix
minTileMatrix
numberMatched
numberReturned
paint
propertiesSchema
schema_
spatial
storageCrs
templated
temporal
tileMatrixSetURI
tileMatrixSets
tilesets
timeStamp
upperRight
cache_max_age  # api/settings.py (IRBIS_* environment; read by nothing yet)
cors_origins  # api/settings.py (IRBIS_* environment; read by nothing yet)

# --- dataclass fields reported by the command line (asdict) ------------------------------------
skipped_outside_region  # api/services/importing.py

# --- protocols a library calls ---------------------------------------------------------------
_.readinto  # api/db/backup.py: io.RawIOBase, read by tarfile
_.mtime  # api/db/backup.py: tarfile.TarInfo
_.default_css  # layers/threats.py: folium's MacroElement assets
sub_args  # layers/cql.py: pygeofilter's Evaluator.adopt signature
_.col_cost_
_.col_lower_
_.col_upper_
_.format_
_.index_
_.integrality_
_.num_col_
_.num_row_
_.row_lower_
_.row_upper_
_.start_
_.value_  # geo/prioritisation/exact.py: highspy's HighsLp, read by the solver

# --- PDF dictionary keys written with pypdf (geo.evidence and the evidence tests) -------------
MEDIA_TYPES
_.AA
_.AcroForm
_.Annots
_.BitsPerComponent
_.ColorSpace
_.Height
_.Names
_.OpenAction
_.PieceInfo
_.Subtype
_.Type
_.Width

# --- tests -----------------------------------------------------------------------------------
# SQLAlchemy dialect hooks of the rolled-back test transaction (tests/rollback.py)
supports_statement_cache
_.do_begin
_.do_commit
_.do_rollback
_.set_isolation_level
_.get_isolation_level
_.do_close
_.do_terminate
cli_env  # a fixture requested by parameter (tests/api/test_analyse_cli.py)
source_var  # a field of the restored archive's record (tests/core/test_backup.py)
