"""The layer registry against the migrated schema: every spec names real tables and columns."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect

from geo.errors import NotFound
from layers.registry import get_layer, layer_ids, layers
from layers.spec import Column, LayerSpec

REQUIRED = {
    "countries", "admin_units", "regions", "glaciers", "lakes", "rivers", "places", "peaks",
    "protected_areas", "species_ranges", "occurrences", "ecosystems", "threats", "field_sites",
}  # fmt: skip

SQL_TYPES = {
    "string": ("TEXT", "VARCHAR", "CHAR"),
    "integer": ("INTEGER", "SMALLINT", "BIGINT"),
    "number": ("DOUBLE", "FLOAT", "NUMERIC", "REAL"),
    "boolean": ("BOOLEAN",),
    "date": ("DATE",),
    "datetime": ("TIMESTAMP",),
}


def test_the_required_layers_are_registered() -> None:
    assert set(layer_ids()) >= REQUIRED


def test_grants_are_a_layer_and_field_sites_carry_them() -> None:
    assert "grants" in layer_ids()
    sites = get_layer("field_sites")
    assert {"grant_code", "grant_title", "organisation"} <= set(sites.column_names)


def test_unknown_layer_is_not_found() -> None:
    with pytest.raises(NotFound):
        get_layer("no_such_layer")


@pytest.mark.parametrize("spec", layers(), ids=lambda s: s.id)
def test_spec_matches_schema(engine: Engine, spec: LayerSpec) -> None:
    insp = inspect(engine)
    tables = set(insp.get_table_names()) | set(insp.get_view_names())
    assert spec.table in tables
    cols = {spec.table: {c["name"]: c for c in insp.get_columns(spec.table)}}
    for j in spec.joins:
        assert j.table in tables
        cols[j.table] = {c["name"]: c for c in insp.get_columns(j.table)}
        assert j.local in cols[spec.table] and j.remote in cols[j.table]
    main = cols[spec.table]
    assert spec.id_column in main
    geom = main[spec.geom_column]
    gtype = str(geom["type"]).upper()
    assert gtype.startswith("GEOMETRY")
    if spec.geometry_type != "Geometry":
        assert spec.geometry_type.upper() in gtype, (spec.id, gtype)
    if spec.public_where:
        assert "BOOLEAN" in str(main[spec.public_where]["type"]).upper()
    if spec.datetime_column:
        assert spec.datetime_column in spec.column_names
    for c in spec.columns:
        t, name = c.table_and_column
        table_cols = cols[t or spec.table]
        assert name in table_cols, f"{spec.id}.{c.name} -> {t or spec.table}.{name} missing"
        sql_type = str(table_cols[name]["type"]).upper()
        assert sql_type.startswith(SQL_TYPES[c.type]), (spec.id, c.name, sql_type)
    if spec.sensitivity and spec.sensitivity.flag:
        t, name = spec.sensitivity.flag.split(".")
        assert "BOOLEAN" in str(cols[t][name]["type"]).upper()


def test_every_spatial_layer_shows_provenance() -> None:
    for spec in layers():
        assert {"source", "licence", "method"} <= set(spec.column_names), spec.id


def test_identifying_fields_of_occurrences_are_private() -> None:
    occ = get_layer("occurrences")
    private = {c.name for c in occ.columns if c.private}
    assert {"recorded_by", "occurrence_id", "gbif_id"} <= private
    assert occ.sensitivity is not None
    public = {c.name for c in occ.visible_columns(privileged=False)}
    assert not private & public


def test_a_join_column_must_name_a_joined_table() -> None:
    with pytest.raises(ValueError, match="not joined"):
        LayerSpec(
            id="x",
            title="x",
            description="x",
            table="field_sites",
            geometry_type="MultiPolygon",
            columns=(Column("code", source="grants.code"),),
        )
