"""A private ``redis-server`` for tests: on a free port of 127.0.0.1, in a directory of its
own, with nothing saved to disk; stopped (its own process only) when done.

``redis-server`` comes from Debian (``scripts/system.sh``)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.pgcluster import free_port

#: Seconds the server may take to answer its first ping on a busy machine.
STARTUP_S = 30


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A running redis-server; yields its URL (``redis://127.0.0.1:<port>``)."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed; run scripts/system.sh")
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "redis.log"
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)]
    args += ["--save", "", "--appendonly", "no", "--logfile", str(log)]
    proc = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}"
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"redis-server did not start: {text[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
