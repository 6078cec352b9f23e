"""Legends speak words: category values such as ``arid_lowland`` are shown as "Arid lowland"."""

from __future__ import annotations

from layers import maps
from layers.registry import get_layer


def test_category_values_are_shown_as_words() -> None:
    items = maps.legend_items([get_layer("ecosystems")])
    labels = [i["label"] for i in items]
    assert "Arid lowland" in labels and "Mountain" in labels
    assert not [label for label in labels if "_" in label]


def test_names_are_kept_as_they_are() -> None:
    assert maps.readable("Panthera uncia") == "Panthera uncia"
    assert maps.readable("arid_lowland") == "Arid lowland"
    assert maps.readable("active") == "Active"
