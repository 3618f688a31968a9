"""A real SPARQL endpoint for tests: `oxigraph serve` (from PyPI) on 127.0.0.1.

Started as a subprocess on a free port, filled through the Graph Store Protocol (`POST /store`),
and stopped on exit. The same queries the pipeline sends to WDQS or QLever run against it.
`read_only=True` serves an existing store with `serve-read-only` (the scale benchmark's bulk loads).
The server's stderr goes to a temporary file, read only if it exits early: a pipe nobody reads
could fill up and stall a long-running server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.helpers.ports import free_loopback_port


def _oxigraph_binary() -> str:
    beside_python = Path(sys.executable).with_name("oxigraph")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("oxigraph")
    if not found:
        raise RuntimeError("the `oxigraph` CLI is not installed (pip install oxigraph)")
    return found


class OxigraphServer:
    """Context manager around an `oxigraph serve` process bound to loopback."""

    def __init__(self, location: Path, timeout_s: float = 20.0, read_only: bool = False) -> None:
        self.location = Path(location)
        self.read_only = read_only
        self.port = free_loopback_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.query_url = f"{self.base_url}/query"
        self._timeout_s = timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def __enter__(self) -> OxigraphServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def start(self) -> None:
        command = "serve-read-only" if self.read_only else "serve"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (open as long as the server runs; closed in stop)
        self._process = subprocess.Popen(
            [_oxigraph_binary(), command, "--location", str(self.location), "--bind", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + self._timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")
                self.stop()
                raise RuntimeError(f"oxigraph {command} exited early: {err.strip()}")
            try:
                with urllib.request.urlopen(f"{self.query_url}?query=ASK%7B%7D", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"oxigraph serve did not answer on port {self.port} within {self._timeout_s}s")

    def load_turtle(self, data: bytes) -> None:
        """Load Turtle into the default graph."""
        request = urllib.request.Request(
            f"{self.base_url}/store?default",
            data=data,
            method="POST",
            headers={"Content-Type": "text/turtle"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            if response.status not in (200, 201, 204):
                raise RuntimeError(f"oxigraph refused the data: HTTP {response.status}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
