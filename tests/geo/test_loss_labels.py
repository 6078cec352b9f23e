"""Loss rows say what they rest on: the weakest method of the threat and the feature (at
best modelled), and the example inputs by name (the Kok-Jailau footprint is an example)."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from geo.loss import footprint_loss


def _threats(method: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [1], "name": ["Kok-Jailau ski resort (planned)"], "method": [method]},
        geometry=[box(76.94, 43.13, 76.96, 43.14)],
        crs=4326,
    )


def _parks(method: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [7], "name": ["Ile-Alatau National Park"], "method": [method]},
        geometry=[box(76.9, 43.1, 77.0, 43.2)],
        crs=4326,
    )


def test_an_example_threat_makes_its_loss_rows_examples() -> None:
    loss = footprint_loss(_threats("example"), {"protected_area": _parks("observed")})
    assert len(loss) == 1
    row = loss.iloc[0]
    assert row["method"] == "example"
    assert row["example_inputs"] == ["threat: Kok-Jailau ski resort (planned)"]


def test_an_example_feature_is_named_too() -> None:
    loss = footprint_loss(_threats("example"), {"protected_area": _parks("example")})
    assert loss.iloc[0]["example_inputs"] == [
        "threat: Kok-Jailau ski resort (planned)",
        "protected_area: Ile-Alatau National Park",
    ]


def test_observed_inputs_give_a_modelled_figure() -> None:
    loss = footprint_loss(_threats("observed"), {"protected_area": _parks("observed")})
    assert loss.iloc[0]["method"] == "modelled"
    assert loss.iloc[0]["example_inputs"] == []
