"""The demo: real reference layers and rasters, and the example grant portfolio around them.

``loader`` writes them into the store (``irbis load demo``); ``data`` holds the example records,
each labelled ``method = 'example'``.
"""

from api.demo.loader import load_demo, run_demo_analyses, table_counts

__all__ = ["load_demo", "run_demo_analyses", "table_counts"]
