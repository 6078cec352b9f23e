"""The allow-list of published layers.

Only layers registered here are served (features, tiles, maps, downloads). Layers are
declared as :class:`~layers.spec.LayerSpec` lists named ``LAYERS`` in the modules of
:mod:`layers.catalog`; to publish a new layer, add a module there (or append to one)::

    # layers/catalog/habitat.py
    from layers.spec import Column, LayerSpec, PROVENANCE
    LAYERS = [LayerSpec(id="habitat", title="Habitat", description="...", table="habitat",
                        geometry_type="MultiPolygon", columns=(Column("kind"), *PROVENANCE))]

A test checks every spec against the migrated schema.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from geo.errors import NotFound
from layers import catalog
from layers.spec import LayerSpec


@lru_cache(maxsize=1)
def _load() -> dict[str, LayerSpec]:
    specs: dict[str, LayerSpec] = {}
    names = sorted(m.name for m in pkgutil.iter_modules(catalog.__path__))
    # reference layers first (reference, reference_*): they are drawn underneath
    names.sort(key=lambda n: (not n.startswith("reference"), n))
    for name in names:
        module = importlib.import_module(f"{catalog.__name__}.{name}")
        for spec in getattr(module, "LAYERS", ()):
            if spec.id in specs:
                raise ValueError(f"layer {spec.id!r} is registered twice")
            specs[spec.id] = spec
    return specs


def layers() -> list[LayerSpec]:
    """Every published layer, in drawing order (basemap and reference layers first)."""
    return list(_load().values())


def get_layer(layer_id: str) -> LayerSpec:
    """The spec of ``layer_id``, or :class:`~geo.errors.NotFound`."""
    spec = _load().get(layer_id)
    if spec is None:
        raise NotFound(f"There is no collection {layer_id!r}; see /collections for the list.")
    return spec


def layer_ids() -> list[str]:
    return list(_load())
