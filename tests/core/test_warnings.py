"""A warning raised from Irbis's own code (``geo``, ``layers``, ``api``) fails the test that
raised it; a warning from a library is shown in the summary and the test goes on
(``filterwarnings`` in pyproject.toml)."""

from __future__ import annotations

import warnings

import pytest


def _warn_from(module: str, category: type[Warning]) -> None:
    """Raise a warning as code of ``module`` does (the warning is attributed to the module
    whose frame calls ``warnings.warn``)."""
    code = compile("warnings.warn('probe', category)", f"<{module}>", "exec")
    exec(code, {"__name__": module, "warnings": warnings, "category": category})


@pytest.mark.parametrize("module", ["geo", "geo.crs", "layers.sql", "api.services.grants"])
@pytest.mark.parametrize("category", [DeprecationWarning, FutureWarning, UserWarning])
def test_a_warning_from_irbis_code_is_an_error(module: str, category: type[Warning]) -> None:
    with pytest.raises(category, match="probe"):
        _warn_from(module, category)


@pytest.mark.parametrize("module", ["shapely.geometry", "geopandas", "apispec", "layersx.y"])
def test_a_warning_from_a_library_is_only_shown(module: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        _warn_from(module, DeprecationWarning)
    assert [str(w.message) for w in caught] == ["probe"]
