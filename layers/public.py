"""What the public may see of a table, by the rules of the layers published from it.

Pages that count or summarise whole tables (the home page, ``/sources``), the threat pages and
analyses whose results anyone may read (planning grids) take their rows from
:func:`public_rows` (or :func:`published_threats`), so a row that the registry hides from the
public (``LayerSpec.public_where``: unpublished threats) is hidden there too, and a location
the registry generalises (``LayerSpec.sensitivity``) is generalised there too, with no second
copy of either rule.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Subquery,
    column,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import table

from layers.registry import layers
from layers.spec import LayerSpec
from layers.sql import LayerSQL

_DIALECT = postgresql.dialect()


def _spec(table_name: str) -> LayerSpec | None:
    specs = [s for s in layers() if s.table == table_name]
    if len(specs) > 1:
        ids = ", ".join(s.id for s in specs)
        raise ValueError(f"{table_name} is published by several layers ({ids}): choose one")
    return specs[0] if specs else None


def public_select(table_name: str, *columns: str) -> Select[Any]:
    """``SELECT columns FROM table_name`` limited to what the public sees.

    Rows hidden from the public by the layer published from the table are filtered out; the
    layer's geometry column, if asked for, is the geometry the public sees (snapped to a grid
    cell where the layer says so). Without ``columns``, every column of the table (only for
    tables whose geometry is not generalised). Which columns a caller may read at all is the
    database's business (the read-only role's grants).
    """
    spec = _spec(table_name)
    if spec is None:
        plain = table(table_name, *(column(c) for c in columns))
        return select(*plain.c if columns else [literal_column("*")]).select_from(plain)
    sql = LayerSQL(spec, privileged=False)
    if not columns:
        if sql.generalises:
            raise ValueError(f"the public sees {table_name}'s geometry generalised: name columns")
        star: ColumnElement[Any] = literal_column(
            _DIALECT.identifier_preparer.quote(table_name) + ".*"
        )
        return select(star).select_from(sql.main).where(*sql.where_public())
    exprs: list[ColumnElement[Any]] = [
        sql.geom().label(c) if c == spec.geom_column else sql.column_of(c) for c in columns
    ]
    source: FromClause = sql.from_clause() if sql.generalises else sql.main
    return select(*exprs).select_from(source).where(*sql.where_public())


def public_rows(table_name: str, *columns: str, name: str | None = None) -> Subquery:
    """The rows of ``table_name`` the public sees, as a FROM item named ``name`` (the table's
    name by default) with ``columns`` (see :func:`public_select`)::

        select(func.count()).select_from(public_rows("threats"))
        t = public_rows("threats", "id", "name", "geom", name="t")
    """
    return public_select(table_name, *columns).subquery(name or table_name)


def published_threats(*columns: str, name: str = "threats") -> Subquery:
    """The threats the public sees (published ones), as a FROM item named ``name``."""
    return public_rows("threats", *columns, name=name)


def count_public(conn: Connection, table_name: str) -> int:
    """How many rows of ``table_name`` the public sees."""
    n = conn.execute(select(func.count()).select_from(public_rows(table_name))).scalar_one()
    return int(n)


def provenance_counts(conn: Connection, table_name: str) -> list[dict[str, Any]]:
    """The public rows of ``table_name`` counted by source, licence and method, most first."""
    rows = public_rows(table_name, "source", "licence", "method")
    n = func.count().label("n")
    stmt = (
        select(rows.c.source, rows.c.licence, rows.c.method, n)
        .group_by(rows.c.source, rows.c.licence, rows.c.method)
        .order_by(n.desc())
    )
    return [r._asdict() for r in conn.execute(stmt)]
