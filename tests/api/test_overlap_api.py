"""`POST /analyses` of kind overlap works for every pair of layers it offers (issue 12: it
answered 500 for every pair but protected areas × field sites)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from sqlalchemy import Engine

from api.auth.testing import make_token, make_user
from api.services import analyses as an
from api.settings import Settings

pytestmark = pytest.mark.cleaned_up  # its analysis runs are shared by its tests (module-scoped)

PAIRS = list(itertools.combinations(an.OVERLAP_LAYERS, 2))


@pytest.fixture(scope="module")
def analyst(engine: Engine, settings: Settings, demo: dict[str, int]) -> dict[str, str]:
    """An analyst's token, with the modelled layers (ecosystems, habitat) run once."""
    an.run_ecosystems(engine, settings)
    an.run_habitat(engine, settings)
    token = make_token(engine, make_user(engine, roles=["analyst"]))
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_overlap_of_every_pair(tx_client: Any, analyst: dict[str, str], a: str, b: str) -> None:
    body = {"kind": "overlap", "title": f"{a} × {b}", "parameters": {"layers": [a, b]}}
    r = tx_client.post("/analyses", json=body, headers=analyst)
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["status"] == "succeeded" and run["parameters"]["layers"] == [a, b]
    res = run["results"]
    assert res["pieces"] >= 0 and math.isfinite(res["total_ha"]) and res["total_ha"] >= 0
    assert len(res["table"]) == res["pieces"]
    for row in res["table"]:
        assert {f"{a}_id", f"{b}_id", "area_ha"} <= set(row) and row["area_ha"] > 0
    feats = tx_client.get(f"/analyses/{run['id']}/features").json()
    assert len(feats["features"]) == res["pieces"]


def test_overlap_of_three_layers(tx_client: Any, analyst: dict[str, str]) -> None:
    layers = ["protected_areas", "countries", "habitat"]
    r = tx_client.post(
        "/analyses", json={"kind": "overlap", "parameters": {"layers": layers}}, headers=analyst
    )
    assert r.status_code == 201, r.text
    assert r.json()["results"]["pieces"] > 0


def test_overlap_of_an_unknown_layer_is_a_400(tx_client: Any, analyst: dict[str, str]) -> None:
    body = {"kind": "overlap", "parameters": {"layers": ["protected_areas", "occurrences"]}}
    r = tx_client.post("/analyses", json=body, headers=analyst)
    assert r.status_code == 400
    assert "unknown layer 'occurrences'" in r.json()["description"]
    assert all(name in r.json()["description"] for name in an.OVERLAP_LAYERS)
