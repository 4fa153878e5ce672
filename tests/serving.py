"""A real ``hnp-search serve`` (uvicorn) in a subprocess on a free port on 127.0.0.1, for the HTTP and browser tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

TOKEN = "test-token-7d1f2c"

HOSTILE = {
    "id": "bai-doc-hai",
    "title": "<script>alert('tiêu đề')</script> Phố cổ mùa thu \"><img src=x onerror=alert(1)>",
    "lead": "\x1b[31mđỏ\x1b[0m \x1b]0;pwned\x07 Phố cổ giữa mùa thu",
    "body": "Phố cổ đón khách <script>document.title='xss'</script> \"><img src=x onerror=alert(2)> "
            "trong những ngày mùa thu \x9b31m.\nĐoạn thứ hai </p><iframe src=//evil></iframe> nói về phố cổ.",
    "url": "javascript:alert(3)",
    "author": "<b>Tác giả</b>",
    "category": "<i>society</i>",
    "date": "2024-06-01T08:00",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``python -m hnp_search serve`` on ``index_dir``; ``url`` once it answers ``/health``."""

    def __init__(self, index_dir: Path, log: Path, *args: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, "-m", "hnp_search", "serve", "--index-dir", str(index_dir),
                   "--port", str(self.port), *args]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with open(log, "wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment)
        self._wait()

    def _wait(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.log.read_text()}")
            try:
                urllib.request.urlopen(self.url + "/health", timeout=2)
                return
            except urllib.error.HTTPError:  # 503: up, but no index yet
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer in {seconds} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path
