"""Cold start: importing the app leaves out the libraries only some routes use (geo.lazy);
they are imported when first used, once, whichever thread asks first. The import runs without
the garbage collector, and what it made is frozen."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Imported by some routes only (maps, analyses, uploads, plans, PDFs, raster tiles).
DEFERRED = (
    "geopandas",
    "pandas",
    "scipy",
    "rasterio",
    "pyogrio",
    "folium",
    "branca",
    "matplotlib",
    "PIL",
    "pikepdf",
    "highspy",
    "pyarrow",
    "feedgen",
    "openpyxl",
    "weasyprint",
    "pygeofilter",  # CQL2 filters
    "markdown_it",  # the sources page
    "jinja2",  # HTML pages: the environment is made at the first page
    "babel.messages.pofile",  # a catalog, read when its language is first asked for
)


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_app_import_leaves_the_deferred_libraries_out() -> None:
    out = _python(
        f"""
        import json, sys
        import api.app
        deferred = {DEFERRED!r}
        before = sorted(m for m in deferred if m in sys.modules)
        # the first use imports them: a router's geopandas, a service's pandas, a map's folium
        from api.routers import analyses, maps
        from api.services import threat_reports
        analyses.gpd.GeoDataFrame, threat_reports.pd.DataFrame, maps.maps.base_map
        from api import i18n, ogc, templating
        from api.routers import pages
        ogc.cql.parse_filter("name = 'Aksu'"), pages.render_markdown("*x*"), templating.templates()
        i18n.translations("ru")
        after = sorted(m for m in deferred if m in sys.modules)
        print(json.dumps([before, after]))
        """
    )
    before, after = json.loads(out)
    assert before == []
    assert {"geopandas", "pandas", "folium", "branca"} <= set(after)
    assert {"pygeofilter", "markdown_it", "jinja2", "babel.messages.pofile"} <= set(after)


def test_a_deferred_module_is_complete_for_every_thread() -> None:
    """Sixteen threads read a name of a module not imported yet at the same moment: each gets
    it (importlib.util.LazyLoader on Python before 3.12.3 may give a thread the module
    half-executed, CPython issue 114763)."""
    out = _python(
        """
        import json, sys, threading
        from geo.lazy import lazy_module
        pd = lazy_module("pandas")
        assert "pandas" not in sys.modules
        start = threading.Barrier(16)
        got, failed = [], []
        def read():
            start.wait()
            try:
                got.append(pd.DataFrame({"a": [1]}).shape)
            except Exception as exc:
                failed.append(repr(exc))
        threads = [threading.Thread(target=read) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps([len(got), failed, pd.DataFrame is sys.modules["pandas"].DataFrame]))
        """
    )
    count, failed, same = json.loads(out)
    assert failed == [] and count == 16 and same is True


def test_the_import_pauses_the_collector_and_freezes_what_it_made() -> None:
    """The collector is as it was before the import (on, or off when it was off), and the
    import's objects are frozen (no later collection goes over them)."""
    out = _python(
        """
        import gc, json
        before = gc.get_freeze_count()
        import api.app
        print(json.dumps([gc.isenabled(), before, gc.get_freeze_count()]))
        """
    )
    enabled, before, frozen = json.loads(out)
    assert enabled is True and before == 0 and frozen > 100_000
    assert _python("import gc; gc.disable(); import api.app; print(gc.isenabled())") == "False\n"
