#!/usr/bin/env python3
"""The atlas in a browser over Almaty: requests and seconds until every visible tile is drawn.

Starts the real server (uvicorn, one worker, 127.0.0.1 only) on a database holding the demo
data, opens ``/atlas`` in Debian's Chromium (Playwright, a fresh profile, so a cold browser
cache), moves the view to Almaty (43.25 N, 76.95 E) at zoom 8, then presses "+" four times.
For the opening view and each zoom step it reports how many requests the page made and the
seconds from the action to the last of them answered (the page is settled when nothing has
been in flight for 0.5 s). Tile requests (vector and raster) are counted apart.

    .venv/bin/python bench/bench_atlas.py    # the demo database `make run` fills, or --db-url URL

Results go to ``/tmp/benchdata/results/irbis_atlas.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DB = os.environ.get(
    "IRBIS_DATABASE_URL", "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis"
)
ALMATY = (43.25, 76.95)
QUIET = 0.5  # seconds with nothing in flight before a step counts as settled


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Log:
    """Requests of a page: counted per step, with the time of the last answer."""

    def __init__(self, page: Any) -> None:
        self.inflight: set[Any] = set()
        self.requests: list[str] = []
        self.last = time.perf_counter()
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, r: Any) -> None:
        self.inflight.add(r)
        self.requests.append(r.url)
        self.last = time.perf_counter()

    def _end(self, r: Any) -> None:
        self.inflight.discard(r)
        self.last = time.perf_counter()

    def settle(self, page: Any, t0: float, timeout: float = 120.0) -> float:
        while time.perf_counter() - t0 < timeout:
            page.wait_for_timeout(50)
            if not self.inflight and time.perf_counter() - self.last >= QUIET:
                return self.last - t0
        raise SystemExit("bench_atlas: the page did not settle")


def step(log: Log, page: Any, name: str, action: Any) -> dict[str, Any]:
    start = len(log.requests)
    t0 = time.perf_counter()
    action()
    seconds = log.settle(page, t0)
    urls = log.requests[start:]
    vector = [u for u in urls if "/tiles/WebMercatorQuad/" in u and "/rasters/" not in u]
    raster = [u for u in urls if "/rasters/" in u]
    return {
        "step": name,
        "requests": len(urls),
        "vector_tiles": len(vector),
        "raster_tiles": len(raster),
        "seconds": round(seconds, 2),
    }


def run(base: str) -> list[dict[str, Any]]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        log = Log(page)
        rows = [step(log, page, "open /atlas", lambda: page.goto(f"{base}/atlas"))]
        map_js = "window[Object.keys(window).find(k => k.startsWith('map_'))]"
        rows.append(
            step(
                log,
                page,
                "view over Almaty, zoom 8",
                lambda: page.evaluate(
                    f"() => {map_js}.setView([{ALMATY[0]}, {ALMATY[1]}], 8, {{animate: false}})"
                ),
            )
        )
        for i in range(1, 5):
            rows.append(
                step(log, page, f"+ ({8 + i})", lambda: page.click(".leaflet-control-zoom-in"))
            )
        browser.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db-url", default=DEFAULT_DB)
    ap.add_argument("--reader-url", default=None, help="default: the --db-url as irbis_reader")
    ap.add_argument("--out", default="/tmp/benchdata/results/irbis_atlas.json")
    args = ap.parse_args()
    reader = args.reader_url or args.db_url.replace("irbis:irbis@", "irbis_reader:irbis_reader@")
    port = free_port()
    env = dict(os.environ, IRBIS_DATABASE_URL=args.db_url, IRBIS_DATABASE_READER_URL=reader)
    cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--no-access-log", "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.perf_counter() + 60
        while True:
            if server.poll() is not None or time.perf_counter() > deadline:
                raise SystemExit("bench_atlas: the server did not start")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        rows = run(base)
    finally:
        server.terminate()
        server.wait(timeout=20)
    total = {
        "requests": sum(r["requests"] for r in rows[1:]),
        "seconds": round(sum(r["seconds"] for r in rows[1:]), 2),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"steps": rows, "almaty_and_four_steps": total}, indent=2))
    print(f"{'step':28} {'requests':>8} {'vector':>7} {'raster':>7} {'seconds':>8}")
    for r in rows:
        print(
            f"{r['step']:28} {r['requests']:8d} {r['vector_tiles']:7d} "
            f"{r['raster_tiles']:7d} {r['seconds']:8.2f}"
        )
    print(f"Almaty and four steps in: {total['requests']} requests, {total['seconds']} s")


if __name__ == "__main__":
    main()
