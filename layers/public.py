"""What the public may see of a table, by the rules of the layers published from it.

Pages that count or summarise whole tables (the home page, ``/sources``) and analyses whose
results anyone may read (planning grids) take their rows from :func:`public_from`, so a row
that the registry hides from the public (``LayerSpec.public_where``: unpublished threats) is
hidden there too, with no second copy of the rule.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql

from layers.registry import layers
from layers.sql import LayerSQL


def public_conditions(table_name: str) -> list[str]:
    """The SQL conditions that every layer published from ``table_name`` puts on the rows
    the public sees (none when no layer hides rows)."""
    conds: list[str] = []
    for spec in layers():
        if spec.table == table_name:
            for c in LayerSQL(spec, privileged=False).where_public():
                compiled = c.compile(
                    dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
                )
                conds.append(str(compiled))
    return conds


def public_from(table_name: str, alias: str | None = None) -> str:
    """A FROM item for the public rows of ``table_name`` (an identifier from code, never
    from a request), named ``alias`` or the table's name, so queries read as before::

        f"SELECT count(*) FROM {public_from('threats')}"
        f"... JOIN {public_from('threats', 't')} ON ..."
    """
    conds = public_conditions(table_name)
    name = alias or table_name
    if not conds:
        return f"{table_name} {name}" if alias else table_name
    return f"(SELECT * FROM {table_name} WHERE {' AND '.join(conds)}) AS {name}"
