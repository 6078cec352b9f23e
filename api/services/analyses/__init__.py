"""Analyses as records: read layers from PostGIS, call geo/, store the run and its results.

One module per kind (:mod:`.ecosystems`, :mod:`.habitat`, :mod:`.overlap`, :mod:`.gaps`,
:mod:`.loss`), each a ``run_*`` function that reads its inputs (:mod:`.reading`), computes with
pure ``geo`` functions and hands the run to the one recorder (:mod:`.recorder`): the run, its
parameters, inputs with their versions, results, result geometries and rasters are written in
ONE transaction, or a ``failed`` run with the error is recorded instead. :mod:`.runs` reads
stored runs back; :mod:`.parameters` shows a run's parameters to people.
"""

from api.services.analyses.ecosystems import run_ecosystems
from api.services.analyses.gaps import GAP_KEYS, run_gaps
from api.services.analyses.habitat import register_habitat_scenario, run_habitat
from api.services.analyses.loss import run_loss
from api.services.analyses.overlap import run_overlap
from api.services.analyses.parameters import Parameter, parameter_rows
from api.services.analyses.reading import (
    ARIDITY_FILE,
    ECOREGIONS_FILE,
    KOPPEN_FILE,
    LANDCOVER_FILE,
    OVERLAP_LAYERS,
    WATER_SOURCE,
    ecosystem_grid,
    latest_run,
    programme_countries,
    read_ecoregions,
    read_ecosystems,
    read_field_sites,
    read_funded_sites,
    read_habitat,
    read_layer,
    read_protected_areas,
    read_regions,
    read_threats,
)
from api.services.analyses.recorder import (
    ACTOR,
    DERIVED_LICENCE,
    ERROR_DETAIL,
    UNEXPECTED_FAILURE,
    Inputs,
    Progress,
    execute,
    fail_started_run,
    progress_recorder,
    records,
    start_run,
    write_atomic,
)
from api.services.analyses.runs import (
    count_runs,
    error_detail,
    get_run,
    list_runs,
    ordered_columns,
    public_results,
    run_error,
    run_features,
    run_summary,
    run_table,
)

__all__ = [
    "ACTOR",
    "ARIDITY_FILE",
    "DERIVED_LICENCE",
    "ECOREGIONS_FILE",
    "ERROR_DETAIL",
    "GAP_KEYS",
    "KOPPEN_FILE",
    "LANDCOVER_FILE",
    "OVERLAP_LAYERS",
    "UNEXPECTED_FAILURE",
    "WATER_SOURCE",
    "Inputs",
    "Parameter",
    "Progress",
    "count_runs",
    "ecosystem_grid",
    "error_detail",
    "execute",
    "fail_started_run",
    "get_run",
    "latest_run",
    "list_runs",
    "ordered_columns",
    "parameter_rows",
    "programme_countries",
    "progress_recorder",
    "public_results",
    "read_ecoregions",
    "read_ecosystems",
    "read_field_sites",
    "read_funded_sites",
    "read_habitat",
    "read_layer",
    "read_protected_areas",
    "read_regions",
    "read_threats",
    "records",
    "register_habitat_scenario",
    "run_ecosystems",
    "run_error",
    "run_features",
    "run_gaps",
    "run_habitat",
    "run_loss",
    "run_overlap",
    "run_summary",
    "run_table",
    "start_run",
    "write_atomic",
]
