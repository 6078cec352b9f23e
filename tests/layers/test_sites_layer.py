"""The site API's columns come from the ``field_sites`` layer of the registry: what the layer
marks private (who uploaded a site) only privileged callers get, read from the served JSON."""

from __future__ import annotations

from layers.registry import get_layer
from layers.sites import SITES_LAYER, grant_sites

GRANT = "SOS-CA-EX-01"


def _own_columns(privileged: bool) -> set[str]:
    spec = get_layer(SITES_LAYER)
    return {c.name for c in spec.visible_columns(privileged) if c.table_and_column[0] is None}


def test_the_query_selects_the_layers_own_columns_for_each_kind_of_caller() -> None:
    public = {c.name for c in grant_sites(1, privileged=False).selected_columns}
    private = {c.name for c in grant_sites(1, privileged=True).selected_columns}
    assert public == {"id", "area_ha", "geojson"} | _own_columns(False)
    assert private - public == {"uploaded_by"} == _own_columns(True) - _own_columns(False)


def test_the_served_sites_carry_the_public_columns_only(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/grants/{GRANT}/sites")
    assert r.status_code == 200, r.text
    feats = r.json()["features"]
    assert feats
    assert {k for f in feats for k in f["properties"]} == {"id", "area_ha"} | _own_columns(False)
    assert all(f["properties"]["area_ha"] > 0 for f in feats)
    one = client.get(f"/api/grants/{GRANT}/sites/{feats[0]['id']}")
    assert one.status_code == 200 and one.json()["id"] == feats[0]["id"]
