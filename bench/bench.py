#!/usr/bin/env python3
"""`make bench`: measures the release server against the targets of issue 6.

Standard library only (Python 3.11) plus Debian's `wrk`. What it does, in order:

1. Idle: starts the release binary five times on a new, empty database; for each start it times
   spawn -> first successful HTTP answer and reads VmRSS after one idle second. Binary size.
2. Fixtures: a user and an API key made with the binary's own CLI, then, through the API, a "read"
   artifact carrying exactly 200 comments of 500 bytes and a "write" artifact that the POST
   scenario comments on. This database (`empty.db`) is copied to `seeded.db`, to which the
   benchmark adds 10 users, 100,000 keys and 5,000 artifacts x 200 comments = 1,000,000 comments
   straight into SQLite (server stopped; the schema's triggers keep the per-version counters).
3. Load: one server on each database, both running for the whole phase. After a warm-up that also
   tallies every status code, each round runs, per server, the baseline `GET /api/v1`, every
   scenario (order rotated each round) and the baseline again, each for --duration seconds with wrk
   (2 threads, 64 keep-alive connections). Rows report medians over rounds; a ratio is the median
   over rounds of req/s / the mean of the two baselines bracketing the run, so that the drift of
   this 2-core VM's speed cancels out. The MCP row (`tools/call whoami` on `POST /mcp`, issue 11)
   is compared with `GET /api/v1/me` with the same key in the same round.
4. "Without any database write" for the wrong key: around every wrong-key run the benchmark reads
   the commit counter (iChange) of the WAL-index header in `<db>-shm` (SQLite increments it on every
   commit, by any connection), `PRAGMA data_version` on its own read-only connection (changes iff
   another connection committed), and the size and mtime of the database and WAL files. A positive
   control (one POST comment) must move the counter and data_version, or the method is refused.
5. Upload: a ~50 MB ZIP of 500 files of random bytes, sent once per fresh server (multipart, and
   JSON with base64) to a server that did nothing else; wall clock of the request and the server's
   VmHWM (peak resident memory) afterwards.
6. A long thread: 10,002 comments and replies on one artifact, listed 20 times.
7. The review page in Debian's Chromium (bench/review-page.mjs, issue 10): a 1 MB HTML artifact
   with 500 comments; navigation -> every highlight drawn, long tasks, scrolling frame times.
8. A share link (issue 12): a ZIP site of 100 files opened through its link by 64 concurrent
   visitors with wrk, each page view being what the share page's browser asks for (the link's data,
   `GET /api/v1/share/{t}`, which counts the view, then the entry page and its 99 files); the
   commits during the run (WAL-index counter, as in 4.) must stay at or below one per page view.

It prints a Markdown report (also written to target/bench/last-run.md; with --update FILE, between
the `<!-- bench:begin -->` and `<!-- bench:end -->` markers of FILE). Every server it starts runs in
its own session with PR_SET_PDEATHSIG, and is stopped with SIGTERM (then SIGKILL) on exit, Ctrl-C or
error; the temporary directory is removed. Exit code: 0 when the run completed (targets may be
missed: see the table; --strict makes a miss exit 3), 2 when the harness or the server failed.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import datetime
import hashlib
import http.client
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import fairness
import replication

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024

CONNECTIONS = 64
WRK_THREADS = 2
WRONG_KEY = "ar_live_" + "A" * 32  # the checksum of 26 A's is not "AAAAAA": refused by parsing
COMMENT_TARGET = {
    "source": "index.html",
    "selector": {"type": "TextQuoteSelector", "exact": "Monthly revenue"},
}
MCP_WHOAMI = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami"}})
PAGE = "<!doctype html><title>Report</title><h1>Q3</h1><p>Monthly revenue</p>"
ZIP_LIMIT = 50 * MIB  # the spec's 50 MB archive limit (52,428,800 bytes)
ZIP_FILES = 500
THREAD_COMMENTS = 3_334  # with 2 replies each: 10,002 comments and replies on one artifact
THREAD_READS = 20
SHARE_FILES = 100  # the share-link site: index.html + 99 files
SHARE_VISITORS = 32  # distinct visitors per wrk thread (user agents), 64 in all

# Seeded database.
SEED_USERS = 10
SEED_KEYS = 100_000
SEED_ARTIFACTS = 5_000
SEED_COMMENTS_PER_ARTIFACT = 200

# What each --only runs.
PHASES = {
    "all": {"idle", "load", "upload", "thread", "review", "share", "fairness", "litestream"},
    "load": {"load"},
    "fairness": {"fairness"},
    "litestream": {"litestream"},
}

KEY_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class BenchError(Exception):
    """The harness or the server failed: the run cannot be trusted."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Child processes: never outlive the benchmark.

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def litestream_env() -> dict[str, str]:
    """The environment without AWS_CA_BUNDLE, which Litestream's AWS SDK refuses beside a custom
    endpoint (it matters for S3 replicas only; harmless otherwise)."""
    return {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM etc. of a process, in kB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Vm"):
                name, value = line.split(":", 1)
                out[name] = int(value.split()[0])
    return out


class Server:
    """One artifact-review process on one database, on a port picked beforehand so that the time
    from spawn to the first HTTP answer can be measured by polling."""

    live: list["Server"] = []

    def __init__(self, binary: Path, db: Path, workdir: Path, name: str, args: list[str] | None = None):
        self.binary, self.db, self.name = binary, db, name
        self.args = args or []
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.first_answer_s = None

    def start(self, timeout: float = 15.0) -> "Server":
        for _attempt in range(3):
            self.port = free_port()
            logf = open(self.log_path, "ab")
            env = dict(litestream_env(), RUST_LOG="info")
            t0 = time.perf_counter()
            self.proc = subprocess.Popen(
                [str(self.binary), "--addr", f"127.0.0.1:{self.port}", "--db", str(self.db), *self.args],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
            logf.close()
            Server.live.append(self)
            deadline = t0 + timeout
            while True:
                if self.proc.poll() is not None:
                    break
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    conn.request("GET", "/api/v1/health")
                    resp = conn.getresponse()
                    resp.read()
                    conn.close()
                    if resp.status == 200:
                        self.first_answer_s = time.perf_counter() - t0
                        return self
                    raise BenchError(f"{self.name}: GET /api/v1/health answered {resp.status}")
                except (OSError, http.client.HTTPException):
                    pass  # not listening yet
                if time.perf_counter() > deadline:
                    self.stop()
                    raise BenchError(f"{self.name}: no answer within {timeout} s\n{self.tail()}")
                time.sleep(0.0005)
            # Exited during start: retry only if someone else took the port.
            Server.live.remove(self)
            if "in use" not in self.tail():
                raise BenchError(f"{self.name}: exited during start (code {self.proc.returncode})\n{self.tail()}")
        raise BenchError(f"{self.name}: could not bind a port")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise BenchError(f"server {self.name} died (exit code {code}); its log:\n{self.tail(80)}")

    def status(self) -> dict[str, int]:
        self.check_alive()
        return proc_status(self.pid)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join("    " + l for l in text[-lines:])

    def problems(self) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [l for l in text if "panic" in l.lower() or " ERROR " in l]

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log(f"{self.name} ignored SIGTERM for 20 s; killing it")
                self.proc.kill()
                self.proc.wait()
        if self in Server.live:
            Server.live.remove(self)
        return self.proc.returncode

    @classmethod
    def stop_all(cls) -> None:
        for s in list(cls.live):
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {s.name}: {e}")


# --------------------------------------------------------------------------------------------
# HTTP helpers (keep-alive client with status checks).


class Client:
    def __init__(self, server: Server, key: str | None = None):
        self.server, self.key = server, key
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)

    def call(self, method: str, path: str, body=None, headers=None, expect: int = 200,
             key: str | None = None):
        h = dict(headers or {})
        k = key if key is not None else self.key
        if k:
            h["X-API-Key"] = k
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        try:
            self.conn.request(method, path, body=body, headers=h)
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.server.check_alive()
            raise BenchError(f"{method} {path}: {e!r}")
        if resp.status != expect:
            self.server.check_alive()
            raise BenchError(f"{method} {path}: expected {expect}, got {resp.status}: {data[:500]!r}")
        return resp, data

    def json(self, method: str, path: str, body=None, expect: int = 200, **kw):
        resp, data = self.call(method, path, body, expect=expect, **kw)
        try:
            return json.loads(data)
        except ValueError:
            raise BenchError(f"{method} {path}: answer is not JSON: {data[:200]!r}")

    def close(self):
        self.conn.close()


# --------------------------------------------------------------------------------------------
# Database write detection.


@dataclass
class DbSnapshot:
    ichange: int | None
    data_version: int
    files: dict[str, tuple[int, int]]


class WriteProbe:
    """Detects commits to a live WAL database without writing to it (see the module docstring)."""

    def __init__(self, db: Path):
        self.db = db
        self.conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)

    def _ichange(self) -> int | None:
        for _ in range(100):
            with open(f"{self.db}-shm", "rb") as f:
                hdr = f.read(96)
            if len(hdr) == 96 and hdr[:48] == hdr[48:] and hdr[12] == 1:
                return struct.unpack_from("=I", hdr, 8)[0]
            time.sleep(0.001)  # being rewritten: read again
        return None

    def snapshot(self) -> DbSnapshot:
        files = {}
        for suffix in ("", "-wal"):
            p = Path(f"{self.db}{suffix}")
            if p.exists():
                st = p.stat()
                files[suffix or "db"] = (st.st_size, st.st_mtime_ns)
        dv = self.conn.execute("PRAGMA data_version").fetchone()[0]
        return DbSnapshot(self._ichange(), dv, files)

    @staticmethod
    def commits(a: DbSnapshot, b: DbSnapshot) -> int | None:
        if a.ichange is None or b.ichange is None:
            return None
        return (b.ichange - a.ichange) % (1 << 32)

    def close(self):
        self.conn.close()


@dataclass
class WriteTally:
    runs: int = 0
    requests: int = 0
    commits: int = 0
    unknown: int = 0  # runs where the header could not be read
    data_version_changed: int = 0
    files_changed: int = 0

    def add(self, a: DbSnapshot, b: DbSnapshot, requests: int):
        self.runs += 1
        self.requests += requests
        c = WriteProbe.commits(a, b)
        if c is None:
            self.unknown += 1
        else:
            self.commits += c
        self.data_version_changed += a.data_version != b.data_version
        self.files_changed += a.files != b.files

    @property
    def none(self) -> bool:
        return self.runs > 0 and self.commits == 0 and self.unknown == 0 \
            and self.data_version_changed == 0 and self.files_changed == 0


# --------------------------------------------------------------------------------------------
# wrk.

LUA_DONE = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
%(check)s
function done(summary, latency, requests)
  local parts = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    if c then for k, v in pairs(c) do parts[#parts + 1] = string.format("[%%d,%%d]", k, v) end end
  end
  local e = summary.errors
  io.write(string.format(
    '\nBENCHJSON {"requests":%%.0f,"duration_us":%%.0f,"bytes":%%.0f,"connect":%%.0f,"read":%%.0f,' ..
    '"write":%%.0f,"status":%%.0f,"timeout":%%.0f,"p50":%%.0f,"p90":%%.0f,"p99":%%.0f,"max":%%.0f,' ..
    '"mean":%%.1f,"statuses":[%%s]}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(parts, ",")))
end
"""

LUA_CHECK = r"""
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
"""


def lua_string(s: str) -> str:
    level = "=" * 4
    assert f"]{level}]" not in s
    return f"[{level}[{s}]{level}]"


@dataclass
class Scenario:
    name: str
    label: str
    method: str
    path: str
    expect: int
    headers: dict = field(default_factory=dict)
    body: str | None = None

    def lua(self, workdir: Path, check: bool) -> Path:
        lines = [f"wrk.method = {lua_string(self.method)}"]
        for k, v in self.headers.items():
            lines.append(f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}")
        if self.body is not None:
            lines.append(f"wrk.body = {lua_string(self.body)}")
        lines.append(LUA_DONE % {"check": LUA_CHECK if check else ""})
        p = workdir / f"{self.name}{'-check' if check else ''}.lua"
        p.write_text("\n".join(lines))
        return p


@dataclass
class WrkResult:
    requests: int
    seconds: float
    socket_errors: int
    status_errors: int  # wrk counts answers with status > 399
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    foreign_cpu: float = 0.0
    server_cpu_s: float = 0.0  # CPU time the server used during the run
    wrk_cpu_s: float = 0.0

    @property
    def server_us(self) -> float:
        """Server CPU time per answered request, in microseconds (includes the run's idle edges)."""
        return self.server_cpu_s / max(1, self.requests) * 1e6

    @property
    def wrk_us(self) -> float:
        return self.wrk_cpu_s / max(1, self.requests) * 1e6

    @property
    def cores(self) -> float:
        """Cores kept busy by the server and wrk together (2.0 = the machine was saturated)."""
        return (self.server_cpu_s + self.wrk_cpu_s) / self.seconds

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def errors(self, expect: int) -> int:
        """Answers that are not the expected kind, plus socket errors."""
        if self.statuses:
            return self.socket_errors + sum(n for s, n in self.statuses.items() if s != expect)
        if expect >= 400:
            return self.socket_errors + (self.requests - self.status_errors)
        return self.socket_errors + self.status_errors


def run_wrk(server: Server, sc: Scenario, seconds: int, workdir: Path, check: bool = False) -> WrkResult:
    server.check_alive()
    script = sc.lua(workdir, check)
    share = CpuShare(server.pid)
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
           "-s", str(script), server.url(sc.path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=_die_with_parent,
                          timeout=seconds + 60)
    server.check_alive()
    share.finish()
    m = re.search(r"^BENCHJSON (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or not m:
        raise BenchError(f"wrk failed ({proc.returncode}) for {sc.name}:\n{proc.stdout}\n{proc.stderr}")
    d = json.loads(m.group(1))
    statuses: dict[int, int] = {}
    for code, n in d["statuses"]:
        statuses[code] = statuses.get(code, 0) + n
    return WrkResult(
        requests=int(d["requests"]), seconds=d["duration_us"] / 1e6,
        socket_errors=int(d["connect"] + d["read"] + d["write"] + d["timeout"]),
        status_errors=int(d["status"]),
        p50_ms=d["p50"] / 1000, p90_ms=d["p90"] / 1000, p99_ms=d["p99"] / 1000,
        max_ms=d["max"] / 1000, statuses=statuses, foreign_cpu=share.foreign,
        server_cpu_s=share.server_s, wrk_cpu_s=share.wrk_s,
    )


# --------------------------------------------------------------------------------------------
# Fixtures.


def cli(binary: Path, db: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run([str(binary), "--db", str(db), *args], input=stdin, capture_output=True,
                          text=True, preexec_fn=_die_with_parent, timeout=60)
    if proc.returncode != 0:
        raise BenchError(f"artifact-review {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout.strip()


def make_user_and_key(binary: Path, db: Path) -> str:
    cli(binary, db, "user", "create", "--create", "--email", "bench@example.com", "--name", "Bench",
        "--password-stdin", "--admin", stdin="bench-password-" + secrets.token_hex(8) + "\n")
    key = cli(binary, db, "key", "create", "--user", "bench@example.com", "--name", "bench")
    if not re.fullmatch(r"ar_live_[A-Za-z0-9_-]{32}", key):
        raise BenchError(f"key create printed something that is not a key ({len(key)} chars)")
    return key


def comment_text(i: int, size: int = 500) -> str:
    head = f"Comment {i}: the monthly revenue figure does not match the appendix. "
    filler = "Please check the totals, the rounding and the currency of every row. "
    text = head + filler * (size // len(filler) + 1)
    return text[:size]


def unknown_valid_key(rng: random.Random) -> str:
    """A key of the right shape and checksum that no database holds (CRC32 in 6-bit groups)."""
    body = bytes(rng.choice(KEY_ALPHABET) for _ in range(26))
    crc = zlib.crc32(body)
    check = bytes(KEY_ALPHABET[(crc >> (6 * (5 - i))) & 0x3F] for i in range(6))
    return "ar_live_" + (body + check).decode()


def build_fixtures(binary: Path, workdir: Path) -> dict:
    db = workdir / "empty.db"
    key = make_user_and_key(binary, db)
    srv = Server(binary, db, workdir, "fixtures").start()
    c = Client(srv, key)
    me = c.json("GET", "/api/v1/me")
    if me.get("identity", {}).get("kind") != "user":
        raise BenchError(f"GET /api/v1/me: unexpected answer {me}")
    arts = {}
    for role in ("read", "write"):
        a = c.json("POST", "/api/v1/artifacts", {"name": f"bench {role}", "fileName": "index.html",
                                                 "content": PAGE}, expect=201)
        arts[role] = a["shareToken"]
    for i in range(200):
        r = c.json("POST", f"/api/v1/artifacts/{arts['read']}/comments",
                   {"content": comment_text(i), "target": COMMENT_TARGET}, expect=201)
        if r.get("status") != "created":
            raise BenchError(f"POST comment: unexpected answer {r}")
    listed = c.json("GET", f"/api/v1/artifacts/{arts['read']}/comments")
    if len(listed.get("comments", [])) != 200:
        raise BenchError(f"the read artifact lists {len(listed.get('comments', []))} comments, not 200")
    c.close()
    code = srv.stop()
    if code != 0:
        raise BenchError(f"fixture server exited with {code} after SIGTERM\n{srv.tail()}")
    return {"db": db, "key": key, "read": arts["read"], "write": arts["write"]}


def seed(src: Path, dst: Path) -> dict:
    """Copies the fixture database and adds 100,000 keys and 1,000,000 comments."""
    t0 = time.perf_counter()
    with sqlite3.connect(src) as s, sqlite3.connect(dst) as d:
        s.backup(d)
    s.close()
    d.close()
    rng = random.Random(6)
    con = sqlite3.connect(dst, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA synchronous=OFF")  # a throw-away copy; the server is not running
    now = int(time.time() * 1000)
    (pw_hash,) = con.execute("SELECT password_hash FROM users WHERE email='bench@example.com'").fetchone()
    con.execute("BEGIN")
    users = []
    for i in range(SEED_USERS):
        cur = con.execute(
            "INSERT INTO users (email, name, password_hash, role, created_at, updated_at) "
            "VALUES (?, ?, ?, 'member', ?, ?)",
            (f"seed{i}@example.com", f"Seed user {i}", pw_hash, now - 86_400_000, now - 86_400_000))
        users.append(cur.lastrowid)

    def keys():
        for i in range(SEED_KEYS):
            prefix = bytes(rng.choice(KEY_ALPHABET) for _ in range(8)).decode()
            created = now - rng.randrange(86_400_000 * 90)
            revoked = created + 1000 if i % 10 == 0 else None
            used = created + rng.randrange(1, 1000) if i % 3 == 0 else None
            yield (users[i % SEED_USERS], f"seed key {i}", prefix, rng.randbytes(32), created,
                   used, revoked, users[i % SEED_USERS] if revoked else None)

    con.executemany(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at, last_used_at, revoked_at, revoked_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", keys())
    con.execute("COMMIT")

    page = b"<!doctype html><title>Seeded</title><p>Seeded report with Monthly revenue</p>"
    con.execute("BEGIN")
    con.execute("INSERT OR IGNORE INTO blobs (sha256, size, content) VALUES (?, ?, ?)",
                (hashlib.sha256(page).digest(), len(page), page))
    (blob_id,) = con.execute("SELECT id FROM blobs WHERE sha256=?", (hashlib.sha256(page).digest(),)).fetchone()
    versions = []
    for i in range(SEED_ARTIFACTS):
        owner = users[i % SEED_USERS]
        at = now - 86_400_000 + i
        aid = con.execute(
            "INSERT INTO artifacts (share_token, owner_id, name, next_version, created_at, updated_at) "
            "VALUES (?, ?, ?, 2, ?, ?)",
            (secrets.token_urlsafe(16), owner, f"Seeded artifact {i}", at, at)).lastrowid
        vid = con.execute(
            "INSERT INTO versions (artifact_id, number, file_type, size, entry_point, created_at, created_user) "
            "VALUES (?, 1, 'html', ?, 'index.html', ?, ?)", (aid, len(page), at, owner)).lastrowid
        con.execute("INSERT INTO version_files (version_id, path, blob_id, content_type) "
                    "VALUES (?, 'index.html', ?, 'text/html; charset=utf-8')", (vid, blob_id))
        versions.append((aid, vid, owner))
    con.execute("COMMIT")

    target = json.dumps({"source": "index.html",
                         "selector": {"type": "TextQuoteSelector", "exact": "Monthly revenue"}})
    words = ("revenue", "rounding", "chart", "legend", "axis", "total", "quarter", "header", "typo",
             "contrast", "footnote", "currency", "table", "link", "colour")

    def comments(batch):
        for aid, vid, owner in batch:
            for j in range(SEED_COMMENTS_PER_ARTIFACT):
                n = rng.randrange(6, 60)
                text = " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."
                at = now - 3_600_000 + j
                resolved = at + 1 if j % 3 == 0 else None
                yield (aid, vid, users[(owner + j) % SEED_USERS], text, target, resolved,
                       users[owner % SEED_USERS] if resolved else None, at, at)

    step = 500  # artifacts per transaction: 100,000 comments
    for start in range(0, len(versions), step):
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO comments (artifact_id, version_id, author_user, content, target, resolved_at, "
            "resolved_user, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            comments(versions[start:start + step]))
        con.execute("COMMIT")
    # The server counts a comment when it stores one (comments::insert); rows written here are
    # counted in one pass.
    con.execute("BEGIN")
    con.execute("UPDATE versions SET "
                "comment_count = (SELECT count(*) FROM comments c "
                "WHERE c.version_id = versions.id AND c.deleted_at IS NULL), "
                "unresolved_count = (SELECT count(*) FROM comments c "
                "WHERE c.version_id = versions.id AND c.deleted_at IS NULL AND c.resolved_at IS NULL)")
    con.execute("COMMIT")
    counts = {
        "keys": con.execute("SELECT count(*) FROM api_keys").fetchone()[0],
        "comments": con.execute("SELECT count(*) FROM comments").fetchone()[0],
        "artifacts": con.execute("SELECT count(*) FROM artifacts").fetchone()[0],
        "users": con.execute("SELECT count(*) FROM users").fetchone()[0],
    }
    counted = con.execute("SELECT sum(comment_count) FROM versions").fetchone()[0]
    live = con.execute("SELECT count(*) FROM comments WHERE deleted_at IS NULL").fetchone()[0]
    if counted != live:
        raise BenchError(f"seeded database: versions.comment_count sums to {counted}, {live} live comments")
    fk = con.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        raise BenchError(f"seeded database: foreign key violations {fk[:5]}")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    # Written with synchronous=OFF: flush it now, or the server's first checkpoint would pay for
    # writing back 400 MiB of dirty page cache (a 190 ms fsync was seen on a freshly copied file).
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    counts["seconds"] = time.perf_counter() - t0
    counts["size_mib"] = dst.stat().st_size / MIB
    return counts


def build_zip(path: Path) -> dict:
    """~50 MB of incompressible data in 500 files (index.html + 499 random files), under the limit."""
    rng = random.Random(50)
    # 499 data files sized so that the archive lands just under 50 MB with its headers.
    per_file = (ZIP_LIMIT - 400_000) // (ZIP_FILES - 1)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("site/index.html", PAGE)
        for i in range(ZIP_FILES - 1):
            z.writestr(f"site/data/part-{i:03}.bin", rng.randbytes(per_file))
    size = path.stat().st_size
    if not (ZIP_LIMIT * 0.95 <= size <= ZIP_LIMIT):
        raise BenchError(f"the ZIP is {size} bytes, not just under {ZIP_LIMIT}")
    return {"bytes": size, "files": ZIP_FILES}


def multipart(fields: dict[str, str], file_field: str, file_name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "bench" + secrets.token_hex(16)
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file_name}"\r\n'
                 f"Content-Type: application/zip\r\n\r\n".encode())
    parts.append(data)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload_once(binary: Path, workdir: Path, zip_bytes: bytes, form: str, n: int) -> dict:
    db = workdir / f"upload-{form}-{n}.db"
    key = make_user_and_key(binary, db)
    srv = Server(binary, db, workdir, f"upload-{form}-{n}").start()
    try:
        if form == "multipart":
            body, ctype = multipart({"name": "bench upload"}, "file", "site.zip", zip_bytes)
        else:
            body = json.dumps({"name": "bench upload", "fileName": "site.zip",
                               "content": base64.b64encode(zip_bytes).decode()}).encode()
            ctype = "application/json"
        before = srv.status()
        c = Client(srv, key)
        t0 = time.perf_counter()
        resp, data = c.call("POST", "/api/v1/artifacts", body=body, headers={"Content-Type": ctype},
                            expect=201)
        wall = time.perf_counter() - t0
        after = srv.status()
        token = json.loads(data)["shareToken"]
        files = c.json("GET", f"/api/v1/artifacts/{token}/versions/1/files")
        if len(files.get("files", [])) != ZIP_FILES or files.get("entryPoint") != "index.html":
            raise BenchError(f"uploaded archive lists {len(files.get('files', []))} files, "
                             f"entry point {files.get('entryPoint')!r}")
        c.close()
        return {"seconds": wall, "hwm_mib": after["VmHWM"] / 1024, "rss_before_mib": before["VmRSS"] / 1024,
                "body_mib": len(body) / MIB}
    finally:
        srv.stop()
        for p in workdir.glob(f"upload-{form}-{n}.db*"):
            p.unlink()


def thread_listing(binary: Path, workdir: Path) -> dict:
    """Issue 4: one artifact with 10,000 comments and replies, all written through the API, then
    listed by one client; the time is the wall time of each whole GET on a warm connection."""
    db = workdir / "thread.db"
    key = make_user_and_key(binary, db)
    srv = Server(binary, db, workdir, "thread").start()
    try:
        c = Client(srv, key)
        token = c.json("POST", "/api/v1/artifacts", {"name": "bench thread", "fileName": "index.html",
                                                     "content": PAGE}, expect=201)["shareToken"]
        t0 = time.perf_counter()
        for i in range(THREAD_COMMENTS):
            cid = c.json("POST", f"/api/v1/artifacts/{token}/comments",
                         {"content": comment_text(i, 200), "target": COMMENT_TARGET}, expect=201)["id"]
            for r in range(2):
                c.json("POST", f"/api/v1/comments/{cid}/replies", {"content": f"Reply {r} to {i}: fixed."},
                       expect=201)
        written = time.perf_counter() - t0
        path = f"/api/v1/artifacts/{token}/comments"
        times, size = [], 0
        for n in range(THREAD_READS + 2):
            t = time.perf_counter()
            resp, data = c.call("GET", path)
            wall = time.perf_counter() - t
            listed = json.loads(data)["comments"]
            replies = sum(len(x["replies"]) for x in listed)
            if (len(listed), replies) != (THREAD_COMMENTS, 2 * THREAD_COMMENTS):
                raise BenchError(f"the thread lists {len(listed)} comments and {replies} replies")
            if n >= 2:  # the first two reads warm the caches
                times.append(wall)
            size = len(data)
        c.close()
        return {"items": 3 * THREAD_COMMENTS, "written_s": written, "ms": [t * 1000 for t in times],
                "bytes": size}
    finally:
        srv.stop()


# --------------------------------------------------------------------------------------------
# The report.


SHARE_LUA = r"""
-- Each request is the next one of a page view: the link's data (counting the view), then the
-- entry page and its files. counts[1] tallies page views. The visitor (its user agent) changes
-- with each page view, among SHARE_VISITORS per thread.
local paths = %(paths)s
local visitors = %(visitors)d
local me = tostring({}):sub(8)
local i = 0
function init(args) counts = {} end
function request()
  local n = i %% #paths
  local path = paths[n + 1]
  i = i + 1
  if n == 0 then
    counts[1] = (counts[1] or 0) + 1
    local who = "visitor-" .. me .. "-" .. (counts[1] %% visitors)
    return wrk.format("GET", path, { ["User-Agent"] = who })
  end
  return wrk.format("GET", path)
end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
"""


def share_site(binary: Path, workdir: Path, seconds: int) -> dict:
    """Issue 12: a 100-file ZIP site through its share link, 64 concurrent visitors (see 8.)."""
    db = workdir / "share.db"
    srv = Server(binary, db, workdir, "share").start()
    try:
        key = make_user_and_key(binary, db)
        files = {"index.html": "<!doctype html><title>Shared</title>" + "".join(
            f'<link rel="stylesheet" href="assets/f{i:02}.css">' for i in range(SHARE_FILES - 1))
            + "<p>Shared site</p>"}
        for i in range(SHARE_FILES - 1):
            files[f"assets/f{i:02}.css"] = f".c{i} {{ margin: {i}px; }}\n" + "/* padding */\n" * 100
        buf = __import__("io").BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in files.items():
                z.writestr(name, text)
        c = Client(srv, key)
        created = c.json("POST", "/api/v1/artifacts", {
            "name": "Shared site", "fileName": "site.zip",
            "content": base64.b64encode(buf.getvalue()).decode()}, expect=201)
        link = c.json("POST", f"/api/v1/artifacts/{created['shareToken']}/sharelink", {}, expect=201)
        token = link["shareUrl"].rsplit("/", 1)[1]
        c.close()
        paths = [f"/api/v1/share/{token}", f"/share/{token}/"] + [
            f"/share/{token}/assets/f{i:02}.css" for i in range(SHARE_FILES - 1)]
        v = Client(srv)
        if v.json("GET", paths[0])["files"].__len__() != SHARE_FILES:
            raise BenchError("the share link does not list the site's 100 files")
        for p in paths[1:3]:
            v.call("GET", p)
        v.close()
        lua = "{" + ",".join(lua_string(p) for p in paths) + "}"
        script = workdir / "share.lua"
        script.write_text(SHARE_LUA % {"paths": lua, "visitors": SHARE_VISITORS}
                          + LUA_DONE % {"check": ""})
        probe = WriteProbe(db)
        views_before = probe.conn.execute("SELECT count(*) FROM views").fetchone()[0]
        time.sleep(0.3)
        before = probe.snapshot()
        share = CpuShare(srv.pid)
        proc = subprocess.run(
            ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
             "-s", str(script), srv.url(paths[1])],
            capture_output=True, text=True, preexec_fn=_die_with_parent, timeout=seconds + 60)
        share.finish()
        time.sleep(0.3)
        after = probe.snapshot()
        views_after = probe.conn.execute("SELECT count(*) FROM views").fetchone()[0]
        probe.close()
        srv.check_alive()
        m = re.search(r"^BENCHJSON (\{.*\})$", proc.stdout, re.M)
        if proc.returncode != 0 or not m:
            raise BenchError(f"wrk failed ({proc.returncode}) for the share site:\n{proc.stdout}\n{proc.stderr}")
        d = json.loads(m.group(1))
        statuses: dict[int, int] = {}
        for code, n in d["statuses"]:
            statuses[code] = statuses.get(code, 0) + n
        pages = statuses.pop(1, 0)
        requests = int(d["requests"])
        errors = int(d["connect"] + d["read"] + d["write"] + d["timeout"]) + sum(
            n for code, n in statuses.items() if code != 200)
        return {
            "seconds": d["duration_us"] / 1e6, "requests": requests, "page_views": pages,
            "errors": errors, "statuses": statuses, "p50_ms": d["p50"] / 1000, "p99_ms": d["p99"] / 1000,
            "views_written": views_after - views_before, "commits": WriteProbe.commits(before, after),
            "foreign_cpu": share.foreign, "problems": srv.problems(),
        }
    finally:
        srv.stop()


def review_page(binary: Path, loads: int) -> dict:
    """Runs bench/review-page.mjs (Node, playwright-core, Debian's Chromium); returns its figures."""
    if shutil.which("node") is None:
        raise BenchError("node is not installed (`scripts/install-browser-deps` installs it)")
    done = subprocess.run(
        ["node", str(ROOT / "bench" / "review-page.mjs"), "--binary", str(binary), "--loads", str(loads)],
        stdout=subprocess.PIPE, stderr=sys.stderr, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise BenchError(f"bench/review-page.mjs failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt_int(x: float) -> str:
    return f"{x:,.0f}"


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
    except Exception:
        return ""


def machine() -> dict:
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = int(line.split()[1]) / 1024 / 1024
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
    # Only what goes into the binary: other work in progress (tests, docs) does not change the figures.
    dirty = git("status", "--porcelain", "--untracked-files=all", "--", "src", "assets", "build.rs",
                "Cargo.toml", "Cargo.lock", "schema.sql")
    return {
        "nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(), "mem_gib": mem,
        "commit": git("rev-parse", "--short=12", "HEAD").strip() or "unknown",
        "dirty": [l[3:] for l in dirty.splitlines() if l.strip()],
        "wrk": wrk_v[0].split(" Copyright")[0].strip() if wrk_v else "unknown",
        "python": platform.python_version(),
        "load": os.getloadavg(),
    }


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks() -> tuple[int, int]:
    """(all, busy) CPU time of the machine so far, in clock ticks summed over CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return sum(v), sum(v) - v[3] - v[4]


def proc_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def children_ticks() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * CLK_TCK


class CpuShare:
    """Measures the share of the machine's CPU used by processes other than the server under test,
    wrk and this script during a run: a noisy neighbour shows up here instead of in the ratios."""

    def __init__(self, server_pid: int):
        self.pid = server_pid
        self.all0, self.busy0 = cpu_ticks()
        self.srv0 = proc_ticks(server_pid)
        self.ch0 = children_ticks()
        self.self0 = time.process_time() * CLK_TCK

    def finish(self) -> None:
        all1, busy1 = cpu_ticks()
        self.server_s = (proc_ticks(self.pid) - self.srv0) / CLK_TCK
        self.wrk_s = (children_ticks() - self.ch0) / CLK_TCK
        ours = (self.server_s + self.wrk_s) * CLK_TCK + (time.process_time() * CLK_TCK - self.self0)
        self.foreign = max(0.0, (busy1 - self.busy0 - ours) / max(1, all1 - self.all0))


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPU time that was not idle over `seconds` (0..1), before the run starts."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t1, i1 = read()
    time.sleep(seconds)
    t2, i2 = read()
    return 1 - (i2 - i1) / max(1, t2 - t1)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "**MISS**"


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=str(ROOT / "target/release/artifact-review"))
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds per (server, scenario) pair")
    ap.add_argument("--duration", type=int, default=5, help="whole seconds per wrk run")
    ap.add_argument("--warmup", type=int, default=2, help="whole seconds of warm-up per scenario")
    ap.add_argument("--uploads", type=int, default=3, help="fresh servers per upload form")
    ap.add_argument("--starts", type=int, default=5, help="fresh starts for the idle figures")
    ap.add_argument("--review-loads", type=int, default=5, help="loads of the review page in Chromium")
    ap.add_argument("--update", metavar="FILE", help="replace the run between the markers of FILE")
    ap.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--max-foreign", type=float, default=0.10, metavar="SHARE",
                    help="repeat a timed run when other processes used more than this share of the CPU")
    ap.add_argument("--retries", type=int, default=3, help="repeats allowed per timed run (see --max-foreign)")
    ap.add_argument("--only", choices=sorted(PHASES), default="all",
                    help="run one part: load (the wrk tables, seeded database included), fairness (issue 14's "
                         "mixed load, slow bodies, parallel uploads, writer stall), litestream (issue 16: comment "
                         "writes with and without replication), or all")
    ap.add_argument("--mixed-seconds", type=int, default=20, help="length of the mixed-load run")
    ap.add_argument("--wait-idle", type=int, default=0, metavar="SECONDS",
                    help="first wait up to SECONDS for the CPU to be idle (< 10%% busy over 5 s)")
    args = ap.parse_args()

    binary = Path(args.binary).resolve()
    if not binary.is_file():
        raise BenchError(f"no binary at {binary}: run `cargo build --release` first")
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (`make bench` installs it)")

    started = datetime.datetime.now(datetime.timezone.utc)
    deadline = time.monotonic() + args.wait_idle
    busy = cpu_busy()
    while busy > 0.10 and time.monotonic() < deadline:
        log(f"waiting for an idle machine ({busy:.0%} of CPU busy)")
        busy = cpu_busy(5)
    info = machine()
    log(f"machine: {info['nproc']} x {info['cpu']}, load {info['load'][0]:.2f}, CPU busy before start {busy:.0%}")
    if busy > 0.10:
        log(f"WARNING: the machine is not idle ({busy:.0%} of CPU busy before the run): figures will be low")

    workdir = Path(tempfile.mkdtemp(prefix="ar-bench-"))
    results: dict = {"info": info, "busy": busy, "started": started}
    try:
        run_all(args, binary, workdir, results)
    finally:
        Server.stop_all()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    report, missed = render(results, args)
    print(report)
    out = ROOT / "target/bench/last-run.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    log(f"report written to {out.relative_to(ROOT)}")
    if args.update:
        update_doc(Path(args.update), report)
    if results.get("problems"):
        log("the server logged errors or panics:\n" + "\n".join(results["problems"]))
        return 2
    if missed and args.strict:
        return 3
    return 0


def run_all(args, binary: Path, workdir: Path, R: dict) -> None:
    R["binary_mib"] = binary.stat().st_size / MIB

    phases = PHASES[args.only]
    problems: list[str] = []
    if "idle" in phases:
        # 1. Idle server.
        log(f"idle: {args.starts} fresh starts on an empty database")
        starts = []
        for n in range(args.starts):
            srv = Server(binary, workdir / f"idle-{n}.db", workdir, f"idle-{n}").start()
            time.sleep(1.0)
            st = srv.status()
            starts.append({"first_answer_ms": srv.first_answer_s * 1000, "rss_mib": st["VmRSS"] / 1024,
                           "hwm_mib": st["VmHWM"] / 1024})
            if srv.stop() != 0:
                raise BenchError(f"idle server exited with {srv.proc.returncode}\n{srv.tail()}")
        R["idle"] = starts

    if "load" in phases:
        # 2. Fixtures and the seeded copy.
        log("fixtures: user and key (CLI), 2 artifacts, 200 comments (API)")
        fx = build_fixtures(binary, workdir)
        R["fixtures"] = {k: v for k, v in fx.items() if k != "key"}
        log(f"seeding {SEED_KEYS:,} keys and {SEED_ARTIFACTS * SEED_COMMENTS_PER_ARTIFACT:,} comments")
        seeded_db = workdir / "seeded.db"
        R["seed"] = seed(fx["db"], seeded_db)
        log(f"seeded in {R['seed']['seconds']:.1f} s: {R['seed']['keys']:,} keys, {R['seed']['comments']:,} comments, "
            f"{R['seed']['size_mib']:.0f} MiB")

        # 3. Load.
        servers = {
            "empty": Server(binary, fx["db"], workdir, "empty").start(),
            "seeded": Server(binary, seeded_db, workdir, "seeded").start(),
        }
        R["seeded_first_answer_ms"] = servers["seeded"].first_answer_s * 1000
        key = fx["key"]
        unknown = unknown_valid_key(random.Random(7))
        body = json.dumps({"content": comment_text(1_000_000), "target": COMMENT_TARGET})
        json_post = {"X-API-Key": key, "Content-Type": "application/json"}
        sc = {
            "baseline": Scenario("baseline", "baseline `GET /api/v1`", "GET", "/api/v1", 200),
            "me": Scenario("me", "`GET /api/v1/me`, valid key", "GET", "/api/v1/me", 200, {"X-API-Key": key}),
            "wrong": Scenario("wrong", "`GET /api/v1/me`, wrong key (bad checksum) → 401", "GET", "/api/v1/me",
                              401, {"X-API-Key": WRONG_KEY}),
            "unknown": Scenario("unknown", "`GET /api/v1/me`, unknown key (valid checksum) → 401", "GET",
                                "/api/v1/me", 401, {"X-API-Key": unknown}),
            "mcp": Scenario("mcp", "`POST /mcp` `tools/call whoami`, valid key", "POST", "/mcp", 200,
                            {**json_post, "MCP-Protocol-Version": "2025-11-25"}, MCP_WHOAMI),
            "post": Scenario("post", "`POST …/comments`, 500-byte comment", "POST",
                             f"/api/v1/artifacts/{fx['write']}/comments", 201, json_post, body),
            "get": Scenario("get", "`GET …/comments`, 200 comments", "GET",
                            f"/api/v1/artifacts/{fx['read']}/comments", 200, {"X-API-Key": key}),
        }
        R["scenarios"] = sc
        plan = {"empty": ["baseline", "me", "mcp", "wrong", "unknown", "post", "get"],
                "seeded": ["baseline", "me", "post", "get"]}
        R["plan"] = plan

        # Every answer the load relies on, checked once by hand first.
        for name, srv in servers.items():
            c = Client(srv, key)
            me = c.json("GET", "/api/v1/me")
            if me.get("user", {}).get("email") != "bench@example.com":
                raise BenchError(f"{name}: GET /api/v1/me answered {me}")
            for k in (WRONG_KEY, unknown):
                resp, data = c.call("GET", "/api/v1/me", key=k, expect=401)
                if json.loads(data).get("code") != "invalid_key" or not resp.getheader("WWW-Authenticate"):
                    raise BenchError(f"{name}: a wrong key got {data!r}")
            resp, data = c.call("POST", "/mcp", body=json.loads(MCP_WHOAMI), headers=sc["mcp"].headers)
            answer = json.loads(data).get("result", {})
            if answer.get("isError") is not False or answer["structuredContent"]["user"]["email"] != "bench@example.com":
                raise BenchError(f"{name}: tools/call whoami answered {data!r}")
            listed = c.json("GET", sc["get"].path)
            if len(listed["comments"]) != 200:
                raise BenchError(f"{name}: the read artifact lists {len(listed['comments'])} comments")
            c.close()

        # The write detector must see a write before its silence means anything.
        probes = {"empty": WriteProbe(fx["db"]), "seeded": WriteProbe(seeded_db)}
        a = probes["empty"].snapshot()
        c = Client(servers["empty"], key)
        c.json("POST", sc["post"].path, {"content": "control write", "target": COMMENT_TARGET}, expect=201)
        c.close()
        b = probes["empty"].snapshot()
        control = {"commits": WriteProbe.commits(a, b), "data_version_changed": a.data_version != b.data_version,
                   "files_changed": a.files != b.files}
        if not control["commits"] or not control["data_version_changed"]:
            raise BenchError(f"the write detector did not see a committed comment: {control}")
        R["control"] = control

        writes = {(s, n): WriteTally() for s in plan for n in plan[s]}

        def measured(server_name: str, name: str, seconds: int, check: bool) -> WrkResult:
            srv = servers[server_name]
            probe = probes[server_name]
            time.sleep(0.3)  # let the previous run's last writes commit before the snapshot
            before = probe.snapshot()
            res = run_wrk(srv, sc[name], seconds, workdir, check)
            time.sleep(0.3)
            after = probe.snapshot()
            writes[(server_name, name)].add(before, after, res.requests)
            return res

        log("warm-up (every status code tallied)")
        warm = {}
        for s in plan:
            for n in plan[s]:
                res = measured(s, n, args.warmup, check=True)
                warm[(s, n)] = res
                if res.statuses.get(sc[n].expect, 0) == 0:
                    raise BenchError(f"{s}/{n}: no {sc[n].expect} answer in the warm-up: {res.statuses}")
        R["warm"] = warm

        # Each round, for each server (which goes first alternates): its baseline, its scenarios in an
        # order that rotates from round to round, its baseline again. A scenario's ratio in a round is
        # taken against the mean of the two baselines that bracket it, so that the machine's drift
        # (its speed changes by 30% from one minute to the next) cancels out.
        cells = [(s, n) for s in plan for n in plan[s]]
        runs: dict[tuple[str, str], list[WrkResult]] = {c: [] for c in cells}
        base_ref: dict[str, list[float]] = {s: [] for s in plan}
        R["base_ref"] = base_ref
        repeated: list = []
        R["repeated"] = repeated
        for r in range(args.rounds):
            blocks = list(plan) if r % 2 == 0 else list(plan)[::-1]
            order = []
            for s in blocks:
                assert plan[s][0] == "baseline"
                scen = plan[s][1:]
                k = r % len(scen)
                order += [(s, "baseline")] + [(s, n) for n in scen[k:] + scen[:k]] + [(s, "baseline")]
            log(f"round {r + 1}/{args.rounds}: {len(order)} runs of {args.duration:g} s")
            bracket: dict[str, list[float]] = {s: [] for s in plan}
            for s, n in order:
                for attempt in range(1 + args.retries):
                    res = measured(s, n, args.duration, check=False)
                    log(f"  {s:6} {n:8} {res.rps:>9,.0f} req/s  p50 {res.p50_ms:6.2f} ms  p99 {res.p99_ms:6.2f} ms  "
                        f"errors {res.errors(sc[n].expect)}  server {res.server_us:5.1f} µs/req  wrk {res.wrk_us:4.1f} µs/req  "
                        f"other processes {res.foreign_cpu:.0%} CPU")
                    if res.foreign_cpu <= args.max_foreign or attempt == args.retries:
                        break
                    repeated.append((s, n, res))
                    log(f"  (repeated: other processes used more than {args.max_foreign:.0%} of the CPU)")
                runs[(s, n)].append(res)
                if n == "baseline":
                    bracket[s].append(res.rps)
            for s in plan:
                base_ref[s].append(statistics.fmean(bracket[s]))
        R["runs"] = runs
        R["writes"] = writes
        R["load_status"] = {name: srv.status() for name, srv in servers.items()}
        counts = {}
        for name, probe in probes.items():
            counts[name] = probe.conn.execute("SELECT count(*) FROM comments").fetchone()[0]
            probe.close()
        R["comments_after"] = counts
        for name, srv in servers.items():
            code = srv.stop()
            if code != 0:
                problems.append(f"{name} server exited with {code} after SIGTERM")
            problems += [f"{name}: {l}" for l in srv.problems()]

    if "upload" in phases:
        # 5. Upload.
        zip_path = workdir / "site.zip"
        R["zip"] = build_zip(zip_path)
        zip_bytes = zip_path.read_bytes()
        R["uploads"] = {}
        for form in ("multipart", "json"):
            log(f"upload: {args.uploads} x {R['zip']['bytes'] / MIB:.1f} MiB ZIP ({form}) on fresh servers")
            R["uploads"][form] = [upload_once(binary, workdir, zip_bytes, form, n) for n in range(args.uploads)]

    if "thread" in phases:
        # 6. A long thread.
        log(f"thread: {3 * THREAD_COMMENTS:,} comments and replies through the API, then {THREAD_READS} listings")
        R["thread"] = thread_listing(binary, workdir)

    if "review" in phases:
        # 7. The review page in a browser.
        log(f"review page: a 1 MB HTML artifact with 500 comments, {args.review_loads} loads in Chromium")
        R["review_page"] = review_page(binary, args.review_loads)
    if "share" in phases:
        # 8. A share link's ZIP site.
        log(f"share link: a {SHARE_FILES}-file ZIP site, {CONNECTIONS} concurrent visitors for {args.duration} s")
        R["share_site"] = share_site(binary, workdir, args.duration)
        problems += [f"share: {l}" for l in R["share_site"]["problems"]]
    if "fairness" in phases:
        R["fairness"] = fairness.run(sys.modules[__name__], binary, workdir, args.mixed_seconds)
        problems += fairness.render(R["fairness"], verdict)[2]
    if "litestream" in phases:
        R["litestream"] = replication.run(sys.modules[__name__], binary, workdir, args.rounds, args.duration,
                                          args.warmup)
        problems += replication.render(R["litestream"], verdict)[2]
    R["problems"] = problems


def render(R: dict, args) -> tuple[str, list[str]]:
    info = R["info"]
    sc, runs, plan = R.get("scenarios"), R.get("runs"), R.get("plan")
    missed: list[str] = []
    L: list[str] = []
    dirty = ", ".join(info["dirty"]) if info["dirty"] else ""
    L.append(f"Run of {R['started']:%Y-%m-%d %H:%M} UTC on {info['nproc']} cores ({info['cpu']}, `nproc` = "
             f"{info['nproc']}), Linux {info['kernel']}, {info['mem_gib']:.0f} GiB RAM; "
             f"CPU busy before the run: {R['busy']:.0%}, load average {info['load'][0]:.2f}.")
    L.append("")
    L.append(f"- Commit `{info['commit']}`" + (f" plus uncommitted changes to {dirty}" if dirty else
                                                " (no uncommitted change to the server's sources)")
             + f"; release binary {R['binary_mib']:.1f} MiB.")
    if "runs" in R:
        L.append(f"- Load: {info['wrk']}, {WRK_THREADS} threads, {CONNECTIONS} keep-alive connections. "
                 f"Every (server, scenario) pair: a {args.warmup:g} s warm-up, then {args.rounds} rounds of "
                 f"{args.duration:g} s. Each round runs, per server, the baseline, the scenarios (in an order rotated "
                 "every round) and the baseline again; the servers alternate which goes first. Figures are medians "
                 "over rounds (the baseline row: over all its runs). A ratio (vs baseline) is the median over rounds "
                 "of the scenario's req/s ÷ the mean of the two baseline runs that bracket it in its round, so that "
                 "the machine's drift (its speed changes by a third from one minute to the next) cancels out.")
        L.append("- Errors: socket errors (connect, read, write, timeout) plus answers other than the expected status "
                 "(201 for POST, 401 for the wrong keys, else 200), summed over the rounds; the warm-up tallied every "
                 "status code and is listed under the tables.")
        L.append("- CPU µs/req: CPU time (user + system, from /proc) that the server and wrk used during a run, divided "
                 "by the requests answered; cores busy: that CPU time over the run's length (2.00 = both cores "
                 "saturated); medians over rounds. Throughput is at most cores busy ÷ (server + wrk µs): a row "
                 "below 2.00 cores left CPU idle while its requests waited on something else.")
        fx = R["seed"]
        L.append(f"- Empty database: one user, one key, two artifacts (200 comments of 500 bytes on the one read); "
                 f"the POST runs add their comments to the other (it held {R['comments_after']['empty']:,} comments "
                 f"at the end). Seeded database: the same plus {SEED_USERS} users, {fx['keys'] - 1:,} keys "
                 f"and {SEED_ARTIFACTS:,} artifacts × {SEED_COMMENTS_PER_ARTIFACT} comments "
                 f"({fx['keys']:,} keys and {fx['comments']:,} comments in all, {fx['size_mib']:.0f} MiB, seeded in "
                 f"{fx['seconds']:.0f} s).")
        L.append("")

        def med(server: str, name: str):
            rs = runs[(server, name)]
            return (median([r.rps for r in rs]), median([r.p50_ms for r in rs]), median([r.p99_ms for r in rs]),
                    sum(r.errors(sc[name].expect) for r in rs))

        def cpu(server: str, name: str) -> str:
            rs = runs[(server, name)]
            return (f"{median([r.server_us for r in rs]):.1f} / {median([r.wrk_us for r in rs]):.1f} | "
                    f"{median([r.cores for r in rs]):.2f}")

        def ratio_of(server: str, name: str) -> float:
            """Median over rounds of req/s ÷ the mean of the two baselines bracketing it in its round."""
            return median([r.rps / b for r, b in zip(runs[(server, name)], R["base_ref"][server])])

        def versus_empty(name: str) -> float:
            """Median over rounds of seeded req/s ÷ empty req/s, same scenario, same round."""
            if name == "baseline":
                return median([s / e for s, e in zip(R["base_ref"]["seeded"], R["base_ref"]["empty"])])
            return median([s.rps / e.rps for s, e in zip(runs[("seeded", name)], runs[("empty", name)])])

        L.append("| scenario | req/s | p50 ms | p99 ms | errors | CPU µs/req server / wrk | cores busy | vs baseline "
                 "| target | result |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
        tally = R["writes"]
        for name in plan["empty"]:
            rps, p50, p99, err = med("empty", name)
            ratio = 1.0 if name == "baseline" else ratio_of("empty", name)
            row = [sc[name].label, fmt_int(rps), f"{p50:.2f}", f"{p99:.2f}", str(err), cpu("empty", name),
                   f"{ratio:.2f}"]
            if name == "baseline":
                row += ["—", "—"]
            elif name == "me":
                ok = ratio >= 0.85 and p99 <= 3.0
                row += ["≥ 0.85, p99 ≤ 3 ms (issue 14)", f"{verdict(ok)} {ratio:.2f}, {p99:.2f} ms"]
                ok or missed.append("me")
            elif name == "mcp":
                rel = median([m.rps / g.rps for m, g in zip(runs[("empty", "mcp")], runs[("empty", "me")])])
                ok = rel >= 0.60 and err == 0
                row += ["≥ 0.60 of `GET /api/v1/me` (same key, same round)",
                        f"{verdict(ok)} {rel:.2f} of it, {err} errors"]
                ok or missed.append("mcp")
            elif name == "wrong":
                w = tally[("empty", "wrong")]
                ok = ratio >= 0.70 and w.none and err == 0
                row += ["≥ 0.70, all 401, no database write",
                        f"{verdict(ok)} {ratio:.2f}, {err} non-401, {w.commits} commits"]
                ok or missed.append("wrong")
            elif name == "post":
                ok = ratio >= 0.45 and p99 <= 15.0 and err == 0
                row += ["≥ 0.45, p99 ≤ 15 ms, 0 errors (issue 14)",
                        f"{verdict(ok)} {ratio:.2f}, {p99:.2f} ms, {err} errors"]
                ok or missed.append("post")
            else:
                row += ["report", "—"]
            L.append("| " + " | ".join(row) + " |")

        L.append("")
        L.append(f"Seeded database ({fx['keys']:,} keys, {fx['comments']:,} comments), measured in the same rounds "
                 "as the table above. The target compares each row with the same row on the empty database: median "
                 "over rounds of seeded req/s ÷ empty req/s in the same round (≥ 0.95 passes, issue 14):")
        L.append("")
        L.append("| scenario | req/s | p50 ms | p99 ms | errors | CPU µs/req server / wrk | cores busy | vs baseline "
                 "| vs empty database | target | result |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for name in plan["seeded"]:
            rps, p50, p99, err = med("seeded", name)
            rel = versus_empty(name)
            row = [sc[name].label, fmt_int(rps), f"{p50:.2f}", f"{p99:.2f}", str(err), cpu("seeded", name),
                   f"{1.0 if name == 'baseline' else ratio_of('seeded', name):.2f}", f"{rel:.2f}"]
            if name == "baseline":
                row += ["—", "—"]
            else:
                ok = rel >= 0.95 and err == 0
                row += ["within 5%", f"{verdict(ok)} {rel:.2f}"]
                ok or missed.append(f"seeded {name}")
            L.append("| " + " | ".join(row) + " |")

        L.append("")
    L.append("| scenario | measured | target | result |")
    L.append("|---|---|---|---|")
    if "zip" in R:
        z = R["zip"]
        for form, label in (("multipart", "multipart/form-data"), ("json", "JSON, base64 content")):
            ups = R["uploads"][form]
            secs = median([u["seconds"] for u in ups])
            hwm = max(u["hwm_mib"] for u in ups)
            ok = secs <= 2.0 and hwm <= 200
            ok or missed.append(f"upload {form}")
            L.append(f"| upload, {z['bytes'] / MIB:.1f} MiB ZIP of {z['files']} files of random bytes, {label} "
                     f"({ups[0]['body_mib']:.1f} MiB body) | {secs:.2f} s (median of {len(ups)}; "
                     f"{', '.join('%.2f' % u['seconds'] for u in ups)}), peak RSS {hwm:.0f} MiB (max of {len(ups)} "
                     f"fresh servers) | ≤ 2 s, ≤ 200 MB | {verdict(ok)} {secs:.2f} s, {hwm:.0f} MiB |")
    if "thread" in R:
        th = R["thread"]
        ms = sorted(th["ms"])
        ok = max(ms) < 100
        ok or missed.append("thread listing")
        L.append(f"| `GET …/comments`, one artifact with {th['items']:,} comments and replies "
                 f"({th['bytes'] / MIB:.1f} MiB of JSON), one client | {median(ms):.0f} ms median, {max(ms):.0f} ms max "
                 f"of {len(ms)} | well under 100 ms (issue 4) | {verdict(ok)} {max(ms):.0f} ms |")
    if "idle" in R:
        idle = R["idle"]
        rss = max(i["rss_mib"] for i in idle)
        first = [i["first_answer_ms"] for i in idle]
        ok = rss <= 20
        ok or missed.append("idle rss")
        L.append(f"| idle server: resident memory 1 s after start | {rss:.1f} MiB (max of {len(idle)} starts) | "
                 f"≤ 20 MB | {verdict(ok)} {rss:.1f} MiB |")
        ok = max(first) <= 200
        ok or missed.append("first answer")
        L.append(f"| idle server: spawn → first HTTP 200 (new empty database) | {median(first):.0f} ms median, "
                 f"{max(first):.0f} ms max of {len(idle)} | ≤ 200 ms | {verdict(ok)} {max(first):.0f} ms |")
    ok = R["binary_mib"] <= 20
    ok or missed.append("binary")
    L.append(f"| release binary | {R['binary_mib']:.1f} MiB | ≤ 20 MB | {verdict(ok)} {R['binary_mib']:.1f} MiB |")
    if "review_page" in R:
        rp = R["review_page"]
        drawn = rp["highlightsDrawnMs"]
        ok = drawn["median"] <= 1000 and rp["highlights"] == rp["comments"]
        ok or missed.append("review page")
        L.append(f"| review page in Chromium {rp['chromium']}: {rp['documentBytes'] / MIB:.2f} MiB HTML, "
                 f"{rp['comments']} comments; navigation → all {rp['highlights']} highlights drawn | "
                 f"{drawn['median']:.0f} ms median, {drawn['max']:.0f} ms max of {rp['loads']} loads | ≤ 1 s (issue 10) "
                 f"| {verdict(ok)} {drawn['median']:.0f} ms |")
        tasks = "; ".join(
            "page " + (", ".join(f"{t}" for t in lt["page"]) or "none") + " / frame "
            + (", ".join(f"{t}" for t in lt["frame"]) or "none")
            for lt in rp["longTasks"])
        L.append(f"| review page: long tasks over 50 ms during that load (ms, per load: the review page / the "
                 f"artifact's frame) | {tasks} | report | — |")
        sc_ = rp["scroll"]
        L.append(f"| review page: scrolling the artifact top to bottom, one step per frame, highlights drawn | "
                 f"{sc_['fps']:.0f} fps, p95 frame {sc_['p95FrameMs']:.1f} ms, {sc_['slowFrames']} frames over 50 ms, "
                 f"{sc_['longTasks']} long tasks | 60 fps-class, report | — |")
    L.append("")
    if "share_site" in R:
        sh = R["share_site"]
        ok = sh["errors"] == 0 and sh["page_views"] > 0 and sh["commits"] is not None \
            and sh["commits"] <= sh["page_views"]
        ok or missed.append("share site")
        L.append(f"| share link: a {SHARE_FILES}-file ZIP site, {CONNECTIONS} concurrent visitors "
                 f"({2 * SHARE_VISITORS} of them), each page view = the link's data + the entry page + 99 files "
                 f"| {sh['page_views'] / sh['seconds']:,.0f} page views/s ({sh['requests'] / sh['seconds']:,.0f} req/s, "
                 f"p99 {sh['p99_ms']:.1f} ms), {sh['errors']} errors; {sh['page_views']:,} page views: "
                 f"{sh['views_written']} views written, {sh['commits']} commits | 0 errors, ≤ 1 write per page view "
                 f"(issue 12) | {verdict(ok)} {sh['commits']} commits / {sh['page_views']:,} page views |")
    if "fairness" in R:
        rows, more, _ = fairness.render(R["fairness"], verdict)
        L.extend(rows)
        missed += more
    if "litestream" in R:
        rows, more, _ = replication.render(R["litestream"], verdict)
        L.extend(rows)
        missed += more
    L.append("MB and MiB here are both 1,048,576 bytes, as in the spec.")
    L.append("")

    if "runs" in R:
        # Notes: writes, warm-up tallies, per-round detail.
        w = tally[("empty", "wrong")]
        ctl = R["control"]
        L.append(f"**Database writes.** During the wrong-key runs ({w.runs} runs, {w.requests:,} requests) the "
                 f"WAL-index commit counter moved by {w.commits}, `PRAGMA data_version` changed in "
                 f"{w.data_version_changed} runs and the database/WAL files changed size or mtime in {w.files_changed}"
                 + (f" (header unreadable in {w.unknown} runs)" if w.unknown else "") +
                 f". Control: one POST comment moved the counter by {ctl['commits']} and changed data_version. "
                 "Commits seen during the other runs: " +
                 ", ".join(f"{s}/{n} {t.commits:,}" for (s, n), t in tally.items() if n != "wrong") + ".")
        L.append("")
        L.append("Warm-up status tallies: " + "; ".join(
            f"{s}/{n} " + ", ".join(f"{code}×{cnt:,}" for code, cnt in sorted(r.statuses.items()))
            for (s, n), r in R["warm"].items()) + ".")
        L.append("")
        ls = R["load_status"]
        L.append(f"Server memory after the load: empty {ls['empty']['VmRSS'] / 1024:.0f} MiB resident "
                 f"(peak {ls['empty']['VmHWM'] / 1024:.0f}), seeded {ls['seeded']['VmRSS'] / 1024:.0f} MiB "
                 f"(peak {ls['seeded']['VmHWM'] / 1024:.0f}). Seeded server: first answer "
                 f"{R['seeded_first_answer_ms']:.0f} ms after spawn.")
        foreign = [r.foreign_cpu for rs in runs.values() for r in rs]
        rep = R["repeated"]
        L.append(f"Other processes on the machine used {median(foreign):.0%} of its CPU during the median timed "
                 f"run, {max(foreign):.0%} during the worst (measured from /proc/stat minus the server's, wrk's "
                 f"and this script's own CPU time); a run during which they used more than {args.max_foreign:.0%} is "
                 f"repeated (up to {args.retries} times): {len(rep)} run(s) were"
                 + (" (" + ", ".join(f"{s}/{n} at {r.foreign_cpu:.0%}" for s, n, r in rep) + ")" if rep else "")
                 + ".")
        L.append("")
        L.append("<details><summary>Per-round figures: req/s = ratio to the round's baselines (p99, CPU share of "
                 "other processes); for the baseline, its opening / closing runs</summary>")
        L.append("")
        L.append("| server | scenario | " + " | ".join(f"round {i + 1}" for i in range(args.rounds)) + " |")
        L.append("|---|---|" + "---:|" * args.rounds)
        for (s, n), rs in runs.items():
            if n == "baseline":
                cells = [f"{a.rps:,.0f} / {b.rps:,.0f} ({a.p99_ms:.2f} / {b.p99_ms:.2f} ms, "
                         f"{max(a.foreign_cpu, b.foreign_cpu):.0%})" for a, b in zip(rs[0::2], rs[1::2])]
            else:
                cells = [f"{r.rps:,.0f} = {r.rps / ref:.2f} ({r.p99_ms:.2f} ms, {r.foreign_cpu:.0%})"
                         for r, ref in zip(rs, R["base_ref"][s])]
            L.append(f"| {s} | {n} | " + " | ".join(cells) + " |")
        L.append("")
        L.append("</details>")
    if R.get("problems"):
        L.append("")
        L.append("**Server log problems:** " + "; ".join(R["problems"]))
    if missed:
        L.append("")
        L.append("Missed: " + ", ".join(missed) + ".")
    return "\n".join(L) + "\n", missed


def update_doc(path: Path, report: str) -> None:
    text = path.read_text()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin not in text or end not in text:
        raise BenchError(f"{path} has no {begin} … {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{report}{end}{tail}")
    log(f"updated {path}")


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        sys.exit(main())
    except BenchError as e:
        Server.stop_all()
        print(f"bench: FAILED: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        Server.stop_all()
        print("bench: interrupted; servers stopped and temporary files removed", file=sys.stderr)
        sys.exit(130)
