"""Use cases: what Irbis does, independent of HTTP.

Each module here is called by the routers (``api/routers``) and the command line (``api/cli``)
alike. Nothing in this package imports FastAPI or Starlette; a use case takes an engine or a
session, plain values and a principal, and raises :class:`geo.errors.IrbisError` for anything a
person must correct.
"""
