"""The server under test for the Python-driven suites (tests/schema, tests/mcp): the debug binary on
a fresh database and a free port, and plain JSON calls to its API (standard library only, so the
suites can import it before any virtualenv exists)."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("ARTIFACT_REVIEW_BIN", os.path.join(ROOT, "target", "debug", "artifact-review"))


class Server:
    def __init__(self, workdir):
        self.db = os.path.join(workdir, "server.db")
        self.log_path = os.path.join(workdir, "server.log")
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([BINARY, "--db", self.db, "--addr", "127.0.0.1:0"],
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env={**os.environ, "RUST_LOG": "info"})
        deadline = time.time() + 30
        self.url = None
        self.setup_token = None
        while time.time() < deadline and self.url is None:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited early:\n{self.log()}")
            text = self.log()
            m = re.search(r"setup#token=([A-Za-z0-9_-]+)", text)
            if m:
                self.setup_token = m.group(1)
            m = re.search(r"listening on (http://[\d.]+:\d+)", text)
            if m:
                self.url = m.group(1)
            time.sleep(0.05)
        if self.url is None:
            raise SystemExit(f"the server did not start:\n{self.log()}")

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log_file.close()


@contextlib.contextmanager
def running(label):
    """A fresh server (and a scratch directory) for the duration of the block; afterwards it is
    stopped and its log kept as test-artifacts/<label>-server.log."""
    workdir = tempfile.mkdtemp(prefix=f"artifact-review-{label}-")
    server = Server(workdir)
    try:
        yield server, workdir
    finally:
        server.stop()
        artifacts = os.path.join(ROOT, "test-artifacts")
        os.makedirs(artifacts, exist_ok=True)
        shutil.copy(server.log_path, os.path.join(artifacts, f"{label}-server.log"))
        shutil.rmtree(workdir, ignore_errors=True)


def call(server, method, path, body=None, key=None, cookie=None, expect=(200, 201)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("X-API-Key", key)
    if cookie:
        req.add_header("Cookie", f"ar_session={cookie}")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        resp = opener.open(req)
        status, headers, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    if status not in expect:
        raise SystemExit(f"{method} {path} answered {status}: {raw[:500]!r}")
    parsed = json.loads(raw) if raw and headers.get("Content-Type", "").startswith("application/json") else None
    return status, headers, parsed


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def session_of(headers):
    for value in headers.get_all("Set-Cookie") or []:
        m = re.match(r"ar_session=([^;]+)", value)
        if m:
            return m.group(1)
    raise SystemExit("no session cookie")


def setup_owner(server, email="owner@example.com", name="Owner", password="owner password"):
    """Completes first-run setup; returns the owner's session cookie value."""
    _, headers, _ = call(server, "POST", "/api/v1/setup", {
        "token": server.setup_token, "email": email, "name": name, "password": password})
    return session_of(headers)
