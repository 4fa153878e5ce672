"""``hnp-search serve``: the JSON API and the reader's search page over HTTP (FastAPI on uvicorn).

``app`` holds the routes, ``pages`` the Vietnamese HTML, ``backend`` the one shared engine.
"""

from __future__ import annotations

import os
from pathlib import Path

from .app import ENV_ALLOW_WRITES, ENV_INDEX, ENV_THREADS, ENV_TIMEOUT, create_app

__all__ = ["create_app", "run"]


def run(index_dir: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8080, workers: int = 1,
        allow_writes: bool = False, timeout: float = 10.0, threads: int = 4, log_level: str = "info") -> None:
    """Serve the index at ``index_dir`` until interrupted. Settings reach each worker
    process through the environment, where ``create_app`` reads them."""
    import uvicorn

    os.environ[ENV_INDEX] = str(Path(index_dir).resolve())
    os.environ[ENV_ALLOW_WRITES] = "1" if allow_writes else ""
    os.environ[ENV_TIMEOUT] = str(timeout)
    os.environ[ENV_THREADS] = str(threads)
    uvicorn.run(
        "hnp_search.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
