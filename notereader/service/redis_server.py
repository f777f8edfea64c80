"""Finding Redis: the configured URL, or (in development only) a private redis-server child.

The service never fakes Redis: when none is configured and the binary is
missing, it stops and says how to get one.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from notereader.errors import NotereaderError
from notereader.settings import Settings

INSTALL_HINT = ("install Redis (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) "
                "so that redis-server is on PATH, or point NOTEREADER_REDIS_URL at a running Redis, "
                "e.g. NOTEREADER_REDIS_URL=redis://127.0.0.1:6379/0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server child process on a free local port, keeping nothing on disk."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise NotereaderError("NOTEREADER_REDIS_URL is not set and redis-server is not on PATH", hint=INSTALL_HINT)
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="notereader-redis-")
        self.proc = subprocess.Popen(  # nosec B603 # argv is the redis-server binary found on PATH and fixed options, no shell
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--logfile", str(Path(self.dir) / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NotereaderError(f"redis-server exited at start (code {self.proc.returncode}); see {self.dir}/redis.log",
                                      hint=INSTALL_HINT)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise NotereaderError("redis-server did not accept connections within 10 s", hint=INSTALL_HINT)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def resolve_redis_url(settings: Settings, *, start: bool) -> str:
    """The configured Redis URL; without one, complain (start=False) or leave it to the caller."""
    if settings.redis_url:
        return settings.redis_url
    if not start:
        raise NotereaderError("NOTEREADER_REDIS_URL is not set",
                              hint="a worker joins an existing Redis: set NOTEREADER_REDIS_URL to the one the API uses")
    raise AssertionError("call PrivateRedis() to start one")
