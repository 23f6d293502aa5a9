"""Fixtures for the Python bindings tests: the generated module, a real fieldbook-server on
127.0.0.1 (a subprocess), enrolment codes from its admin command, and a loopback TCP proxy that
can be told to stall (to cancel a sync in flight).

`scripts/test-bindings` builds the library, generates the bindings into
target/bindings/python and runs pytest here; FIELDBOOK_PY_BINDINGS and FIELDBOOK_SERVER_BIN
point at them."""

import os
import pathlib
import re
import select
import socket
import subprocess
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
sys.path.insert(0, os.environ.get("FIELDBOOK_PY_BINDINGS", str(TARGET / "bindings" / "python")))

import fieldbook_ffi as fb  # noqa: E402  (the generated bindings)

SERVER_BIN = os.environ.get("FIELDBOOK_SERVER_BIN", str(TARGET / "debug" / "fieldbook-server"))
# The key the test server's database is encrypted under (a force keeps its key in a file).
SERVER_KEY = "5a" * 32
SERVER_ENV = {**os.environ, "NO_COLOR": "1", "RUST_LOG": "info", "FIELDBOOK_SERVER_KEY": SERVER_KEY}
# Every network call of these tests is bounded: no request waits longer than this.
SERVER_START_SECONDS = 20


class Keys(fb.KeyProvider):
    """A fixed 32-byte key (the apps use the platform keystore)."""

    def __init__(self, key: bytes = bytes(range(32))):
        self.key = key

    def database_key(self):
        return self.key


class Online(fb.Connectivity):
    """Connectivity the test switches."""

    def __init__(self, connected: bool = True):
        self.connected = connected

    def is_connected(self):
        return self.connected


class Server:
    """A fieldbook-server subprocess on 127.0.0.1 with its own database."""

    def __init__(self, workdir: pathlib.Path):
        self.database = f"sqlite://{workdir / 'server.db'}"
        self.log = open(workdir / "server.log", "w+")
        self.process = subprocess.Popen(
            [SERVER_BIN, "serve", "--listen", "127.0.0.1:0", "--database", self.database],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=SERVER_ENV,
        )
        deadline = time.monotonic() + SERVER_START_SECONDS
        self.url = None
        while self.url is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                self.log.seek(0)
                raise RuntimeError("fieldbook-server did not start:\n" + self.log.read())
            self.log.seek(0)
            found = re.search(r"listening addr=(127\.0\.0\.1:\d+)", self.log.read())
            if found:
                self.url = f"http://{found.group(1)}"
            else:
                time.sleep(0.05)

    def admin(self, *args: str) -> str:
        done = subprocess.run(
            [SERVER_BIN, *args, "--database", self.database],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env=SERVER_ENV,
        )
        return done.stdout.strip()

    def code(self, officer: str, role: str, team: str) -> str:
        return self.admin("enrol", "--officer", officer, "--name", officer, "--role", role, "--team", team)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class StallingProxy:
    """Forwards TCP to the server on 127.0.0.1, or, once `stall` is set, accepts connections and
    never answers (a mast with no backhaul)."""

    def __init__(self, upstream_url: str):
        host, port = upstream_url.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.stall = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.closing = threading.Event()
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            if self.stall.is_set():
                self.held.append(client)
                continue
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client):
        with client, socket.create_connection(self.upstream, timeout=10) as upstream:
            sockets = [client, upstream]
            while not self.closing.is_set():
                readable, _, _ = select.select(sockets, [], [], 0.2)
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is client else client).sendall(data)

    def close(self):
        self.closing.set()
        self.thread.join(timeout=5)
        self.listener.close()
        for s in self.held:
            s.close()


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def proxy(server):
    p = StallingProxy(server.url)
    yield p
    p.close()


@pytest.fixture
def new_device(tmp_path):
    """Makes an enrolled-ready device for an officer: its own store file, a fixed key."""

    made = []

    def make(officer: str, role: "fb.Role", connectivity=None, name=None):
        path = tmp_path / f"{name or officer}.fieldbook"
        device = fb.FieldbookDevice.setup(str(path), officer, role, Keys(), None, connectivity)
        # Tests fail fast instead of backing off for a minute.
        device.set_sync_retry(2, _ms(20), _ms(100))
        made.append(device)
        return device

    yield make


def _ms(n):
    import datetime

    return datetime.timedelta(milliseconds=n)
