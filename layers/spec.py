"""What a published layer is: a typed :class:`LayerSpec`.

A spec names the table, the geometry, the columns that may leave the database (with their
types, which are also the layer's queryables), how the layer looks, and how it is protected:
rows hidden from the public (``public_where``), columns only privileged readers see
(``Column.private``) and locations generalised for the public (``Sensitivity``).

Identifiers in SQL come only from specs; nothing a request says becomes an identifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from geo.messages import N_

PropertyType = Literal["string", "integer", "number", "boolean", "date", "datetime"]
GeometryType = Literal[
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "Geometry"
]

#: JSON-schema type and format of each property type (queryables, OpenAPI).
JSON_SCHEMA: dict[str, dict[str, str]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}


@dataclass(frozen=True)
class Column:
    """One property a layer exposes.

    Parameters
    ----------
    name
        The property name in features, tiles and queryables.
    type
        Its type (see :data:`PropertyType`).
    source
        ``"column"`` of the layer's table or ``"table.column"`` of a joined table;
        defaults to ``name``.
    title
        A human label (tables, popups, legends).
    private
        Only principals who see sensitive data get it (reporters' identities, record ids).
    in_tiles
        Whether vector tiles carry it (keep tiles small).
    """

    name: str
    type: PropertyType = "string"
    source: str | None = None
    title: str | None = None
    private: bool = False
    in_tiles: bool = True

    @property
    def table_and_column(self) -> tuple[str | None, str]:
        src = self.source or self.name
        if "." in src:
            t, c = src.split(".", 1)
            return t, c
        return None, src

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Join:
    """A many-to-one join: ``<layer table>.<local> = <table>.<remote>``."""

    table: str
    local: str
    remote: str = "id"


@dataclass(frozen=True)
class Sensitivity:
    """How a layer's precise locations are protected.

    Rows for which ``flag`` (``"table.column"``, a boolean, usually ``species.sensitive``
    through a join) is true are snapped, for principals who do not see sensitive data, to
    the centre of a grid cell of ``settings.features.sensitive_cell_deg`` degrees. ``None``
    as flag generalises every row.
    """

    flag: str | None = "species.sensitive"
    how: str = N_("snapped to the centre of a grid cell")


@dataclass(frozen=True)
class LegendItem:
    label: str
    colour: str


@dataclass(frozen=True)
class Style:
    """A simple style shared by Leaflet pages, MapLibre style JSON and legends."""

    colour: str = "#3366cc"
    fill: str | None = None
    fill_opacity: float = 0.35
    weight: float = 1.0
    radius: float = 4.0
    #: A property whose values choose the colour, and the colours.
    by: str | None = None
    categories: tuple[LegendItem, ...] = ()

    @property
    def fill_colour(self) -> str:
        return self.fill or self.colour


@dataclass(frozen=True)
class LayerSpec:
    """A published layer (an OGC API collection, a tile layer, an atlas layer)."""

    id: str
    title: str
    description: str
    table: str
    geometry_type: GeometryType
    columns: tuple[Column, ...]
    id_column: str = "id"
    geom_column: str = "geom"
    datetime_column: str | None = None
    joins: tuple[Join, ...] = ()
    #: A boolean column of the table; rows where it is false are only for privileged readers.
    public_where: str | None = None
    sensitivity: Sensitivity | None = None
    style: Style = field(default_factory=Style)
    min_zoom: int = 0
    max_zoom: int = 16
    #: Grouping in the atlas: "basemap", "reference", "conservation".
    group: str = "conservation"
    #: Whether the atlas shows it on first load.
    visible: bool = True
    #: The property used as a label in popups and lists.
    label_column: str | None = "name"
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"layer {self.id}: duplicate column names")
        joined = {j.table for j in self.joins}
        for c in self.columns:
            t, _ = c.table_and_column
            if t is not None and t not in joined:
                raise ValueError(f"layer {self.id}: column {c.name} reads {t}, which is not joined")

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table the layer reads (their versions make the layer's version)."""
        return (self.table, *(j.table for j in self.joins))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def visible_columns(self, privileged: bool) -> tuple[Column, ...]:
        """The columns a principal may see."""
        return tuple(c for c in self.columns if privileged or not c.private)

    def column(self, name: str, privileged: bool) -> Column | None:
        for c in self.visible_columns(privileged):
            if c.name == name:
                return c
        return None


#: The provenance columns every spatial table has.
PROVENANCE: tuple[Column, ...] = (
    Column("source", title="Source", in_tiles=False),
    Column("licence", title="Licence", in_tiles=False),
    Column("method", title="Method"),
)
