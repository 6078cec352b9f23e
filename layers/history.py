"""The audit log as the pages read it: a row's trail of changes, a field site's versions.

The audit trigger (:mod:`api.db.history`) writes every insert, update and delete of an audited
table to ``audit_log`` (who, when, the row before and after). These builders read it back in
SQLAlchemy Core. The audit log is never published: only callers who may see a row's history
(its grantees, analysts, administrators) reach these queries, and the read-only role has no
grant on the log at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from layers.tables import audit_log, field_site_versions


def audit_trail(table_name: str, row_id: int | str, *, newest_first: bool = False) -> Select[Any]:
    """``action, actor, at, before, after`` of each change of one row of ``table_name``,
    oldest first (or newest first); changes in the same instant in the order written.

    >>> print(audit_trail("grants", 7, newest_first=True).compile())  # doctest: +NORMALIZE_WHITESPACE
    SELECT audit_log.action, audit_log.actor, audit_log.at, audit_log.before, audit_log.after
    FROM audit_log
    WHERE audit_log.table_name = :table_name_1 AND audit_log.row_id = :row_id_1
    ORDER BY audit_log.at DESC, audit_log.id DESC
    """
    a = audit_log.c
    order = (a.at.desc(), a.id.desc()) if newest_first else (a.at, a.id)
    return (
        select(a.action, a.actor, a.at, a.before, a.after)
        .where(a.table_name == table_name, a.row_id == str(row_id))
        .order_by(*order)
    )


def site_versions(site_id: int, grant_id: int) -> Select[Any]:
    """Every version of a grant's field site (deleted ones too), newest first."""
    v = field_site_versions.c
    return (
        select(v.version_id, v.action, v.actor, v.at, v.before, v.after)
        .where(v.site_id == site_id, v.grant_id == grant_id)
        .order_by(v.at.desc(), v.version_id.desc())
    )
