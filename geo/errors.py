"""Domain errors raised by the spatial core.

Every error carries a message a person can act on. Only ``api/errors.py`` maps these to HTTP
statuses; the command line prints the message and exits non-zero.
"""

from __future__ import annotations


class IrbisError(Exception):
    """Base class of every domain error."""

    code = "irbis_error"

    def __init__(self, message: str, *, details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(IrbisError):
    """The input cannot be used as given (a bad parameter, a malformed value)."""

    code = "invalid_input"


class UnreadableFile(InvalidInput):
    """A file cannot be read: truncated, empty, not the format it claims to be."""

    code = "unreadable_file"


class MissingCRS(InvalidInput):
    """A dataset carries no coordinate reference system and none was named."""

    code = "missing_crs"


class CRSMismatch(InvalidInput):
    """Geometries in another CRS (or SRID) than the one expected."""

    code = "crs_mismatch"


class InvalidGeometry(InvalidInput):
    """A geometry is invalid and cannot be repaired, or is of the wrong type."""

    code = "invalid_geometry"


class OutsideRegion(InvalidInput):
    """Geometries lie outside the region Irbis covers."""

    code = "outside_region"


class SchemaMismatch(InvalidInput):
    """Columns are missing or cannot be mapped to the target layer."""

    code = "schema_mismatch"


class TooLarge(InvalidInput):
    """An input exceeds a configured limit (bytes, features, vertices)."""

    code = "too_large"


class NotFound(IrbisError):
    """A requested object does not exist (or is not visible to the caller)."""

    code = "not_found"


class Forbidden(IrbisError):
    """The caller is known but may not do this."""

    code = "forbidden"


class Unauthenticated(IrbisError):
    """The caller must log in first."""

    code = "unauthenticated"


class Conflict(IrbisError):
    """The request conflicts with the stored state."""

    code = "conflict"


class Infeasible(IrbisError):
    """An optimisation problem has no solution that meets its constraints."""

    code = "infeasible"


class Unavailable(IrbisError):
    """The server cannot take the work now (it is stopping); the same request later can."""

    code = "service_unavailable"
