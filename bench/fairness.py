"""Issue 14's scenarios for `make bench`: is the server fair when everything happens at once?

Run by bench.py (which hands over its helpers: Server, Client, wrk), each on a fresh database:

1. Mixed load, one run of --mixed-seconds: 64 wrk connections posting 500-byte comments, 4 clients
   each uploading 50 MB ZIPs (10 files of 5,000,000 random bytes, stored, made distinct per
   upload so every one is really stored) back to back, 2 clients reading a 5 MB Markdown document
   through a viewing grant (the rendered page), and 1 client polling `GET /api/v1/health` (in its
   own process, so this script's threads do not delay it). The account's storage quota is raised
   to 20 GiB so that the uploads go on for the whole run (at the default 2 GiB the 43rd is
   refused). Reported: comment p99 and errors, health p99, peak RSS (VmHWM), uploads and reads
   done.
2. Slow bodies: 4,000 connections from 127.0.0.1 each send the headers and one byte of a
   `POST /api/v1/session` body and stop; meanwhile a normal client on 127.0.0.2 asks for
   `/api/v1/health` 50 times, a new connection each, and one more from 127.0.0.1 itself.
3. 16 parallel uploads by one key: 50 MB ZIPs sent as JSON with base64 content (65 MiB bodies),
   all at once; a 429 is retried after its Retry-After. Reported: peak RSS, how many were refused
   and retried, that all 16 were stored.
4. The writer under a large archive: a 0.25 MB ZIP of 49 distinct 5 MB files (245 MB to store),
   uploaded 3 times (distinct each time) while another client writes one comment at a time;
   the comment latencies while an upload is in flight, and without one.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import multiprocessing
import os
import resource
import select
import socket
import statistics
import threading
import time
import zipfile
from pathlib import Path

PASSWORD = "bench fairness password"
EMAIL = "bench@example.com"
DOC_LIMIT = 5 * 1024 * 1024
UPLOAD_FILES = 10
UPLOAD_FILE_BYTES = 5_000_000
SLOW_CONNECTIONS = 4_000
NORMAL_REQUESTS = 50
PARALLEL_UPLOADS = 16
STALL_FILES = 49
STALL_UPLOADS = 3
BUDGET_MIB = 400


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def account(b, binary: Path, db: Path) -> str:
    """A user with a known password (the Markdown readers sign in) and a key for them."""
    b.cli(binary, db, "user", "create", "--create", "--email", EMAIL, "--name", "Bench", "--password-stdin", "--admin",
          stdin=PASSWORD + "\n")
    return b.cli(binary, db, "key", "create", "--user", EMAIL, "--name", "bench")


class Site:
    """A 50 MB ZIP of random files, made distinct for each upload by a unique first line."""

    def __init__(self, files: int = UPLOAD_FILES, size: int = UPLOAD_FILE_BYTES):
        self.blocks = [os.urandom(size) for _ in range(files)]
        self.counter = 0
        self.lock = threading.Lock()

    def next(self) -> bytes:
        with self.lock:
            self.counter += 1
            n = self.counter
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr("index.html", f"<h1>upload {n}</h1>")
            for i, block in enumerate(self.blocks):
                tag = f"{n:>12}:{i:>3}\n".encode()
                z.writestr(f"data/{i}.bin", tag + block[len(tag):])
        return out.getvalue()


def post(port: int, path: str, body: bytes, headers: dict, timeout: float = 300) -> tuple[int, dict, bytes]:
    """Status 0: the connection was closed before an answer could be read."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        try:
            conn.request("POST", path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered early: the answer may still be there to read
        try:
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        except (OSError, http.client.HTTPException):
            return 0, {}, b""
    finally:
        conn.close()


def upload_until_stored(port: int, key: str, body: bytes, ctype: str) -> dict:
    """Posts an upload; on 429 waits its Retry-After and tries again."""
    refused = closed = 0
    t0 = time.perf_counter()
    while True:
        status, headers, data = post(port, "/api/v1/artifacts", body,
                                     {"X-API-Key": key, "Content-Type": ctype})
        if status not in (0, 429):
            return {"status": status, "refused": refused, "closed": closed,
                    "seconds": time.perf_counter() - t0, "answer": data[:300]}
        refused += 1
        closed += status == 0
        time.sleep(float(headers.get("Retry-After", "2")))


def markdown_doc() -> str:
    """~5 MB of ordinary Markdown (the project's README, repeated)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    parts, size, n = [], 0, 0
    while True:
        piece = f"\n\n# Part {n}\n\n" + readme
        if size + len(piece.encode()) > DOC_LIMIT - 1024:
            break
        parts.append(piece)
        size += len(piece.encode())
        n += 1
    return "".join(parts)


def viewing_path(port: int, share: str) -> tuple[str, str]:
    """Signs in and gets a viewing grant for version 1; returns (the document's path, cookie)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/api/v1/session", body=json.dumps({"email": EMAIL, "password": PASSWORD}),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"sign-in answered {resp.status}: {data[:200]!r}")
    cookies = [c.split(";", 1)[0] for c in resp.headers.get_all("Set-Cookie") or []]
    cookie = next((c for c in cookies if "session=" in c and not c.endswith("=")), "")
    status, _, data = post(port, f"/api/v1/artifacts/{share}/versions/1/view", b"",
                           {"Cookie": cookie})
    if status != 201:
        raise RuntimeError(f"view grant answered {status}: {data[:200]!r}")
    grant = json.loads(data)
    return grant["path"] + grant["entryPoint"], cookie


def poll_health(port: int, seconds: float, out) -> None:
    """In its own process: GET /api/v1/health on one keep-alive connection, every 10 ms."""
    lat, errors = [], 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        try:
            conn.request("GET", "/api/v1/health")
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        lat.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.01)
    out.put({"ms": lat, "errors": errors})


def fresh(b, binary: Path, workdir: Path, name: str, args: list[str] | None = None):
    """A server on a new database with an account; (server, key, client, an artifact to comment on)."""
    db = workdir / f"{name}.db"
    key = account(b, binary, db)
    srv = b.Server(binary, db, workdir, name, args or []).start()
    c = b.Client(srv, key)
    write = c.json("POST", "/api/v1/artifacts", {"name": f"{name} write", "fileName": "index.html",
                                                 "content": b.PAGE}, expect=201)["shareToken"]
    return srv, key, c, write


def mixed(b, binary: Path, workdir: Path, seconds: int, uploaders: int = 4, readers: int = 2) -> dict:
    srv, key, c, write = fresh(b, binary, workdir, "mixed", ["--storage-quota", "20GiB"])
    try:
        doc = markdown_doc()
        share = c.json("POST", "/api/v1/artifacts", {"name": "mixed doc", "fileName": "guide.md",
                                                     "content": doc}, expect=201)["shareToken"]
        c.close()
        doc_path, cookie = viewing_path(srv.port, share)
        site = Site()
        stop = threading.Event()
        uploads: list[dict] = []
        reads: list[tuple[int, float, int]] = []

        def uploader():
            while not stop.is_set():
                body, ctype = b.multipart({"name": "mixed upload"}, "file", "site.zip", site.next())
                uploads.append(upload_until_stored(srv.port, key, body, ctype))

        def reader():
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
            while not stop.is_set():
                t0 = time.perf_counter()
                conn.request("GET", doc_path)
                resp = conn.getresponse()
                data = resp.read()
                reads.append((resp.status, (time.perf_counter() - t0) * 1000, len(data)))
            conn.close()

        health_out = multiprocessing.get_context("fork").Queue()
        health = multiprocessing.get_context("fork").Process(target=poll_health,
                                                             args=(srv.port, seconds, health_out))
        threads = [threading.Thread(target=uploader) for _ in range(uploaders)] + \
                  [threading.Thread(target=reader) for _ in range(readers)]
        health.start()
        for t in threads:
            t.start()
        body = json.dumps({"content": b.comment_text(7), "target": b.COMMENT_TARGET})
        sc = b.Scenario("mixed-post", "POST comments under mixed load", "POST",
                        f"/api/v1/artifacts/{write}/comments", 201,
                        {"X-API-Key": key, "Content-Type": "application/json"}, body)
        wrk = b.run_wrk(srv, sc, seconds, workdir, check=True)
        stop.set()
        for t in threads:
            t.join()
        h = health_out.get(timeout=60)
        health.join()
        status = srv.status()
        problems = srv.problems()
    finally:
        srv.stop()
    return {
        "seconds": seconds,
        "comments": {"rps": wrk.rps, "p50": wrk.p50_ms, "p99": wrk.p99_ms, "max": wrk.max_ms,
                     "errors": wrk.errors(201), "statuses": wrk.statuses},
        "health": {"p50": pct(h["ms"], 50), "p99": pct(h["ms"], 99), "max": max(h["ms"]), "n": len(h["ms"]),
                   "errors": h["errors"]},
        "uploads": {"done": sum(1 for u in uploads if u["status"] == 201),
                    "failed": [u for u in uploads if u["status"] != 201],
                    "refused": sum(u["refused"] for u in uploads),
                    "median_s": statistics.median([u["seconds"] for u in uploads]) if uploads else float("nan")},
        "reads": {"done": sum(1 for r in reads if r[0] == 200), "failed": sum(1 for r in reads if r[0] != 200),
                  "median_ms": statistics.median([r[1] for r in reads]) if reads else float("nan"),
                  "bytes": reads[-1][2] if reads else 0},
        "doc_bytes": len(doc.encode()),
        "hwm_mib": status["VmHWM"] / 1024,
        "problems": problems,
    }


def read_status(sock: socket.socket) -> int | None:
    try:
        data = sock.recv(4096)
    except OSError:
        return None
    if data.startswith(b"HTTP/1.1 "):
        return int(data[9:12])
    return None


def timed_get(port: int, source: str) -> tuple[float, int | None]:
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    try:
        s.sendall(f"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        status = read_status(s)
    finally:
        s.close()
    return (time.perf_counter() - t0) * 1000, status


def slow_bodies(b, binary: Path, workdir: Path) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, SLOW_CONNECTIONS + 1024)), hard))
    db = workdir / "slow.db"
    account(b, binary, db)
    srv = b.Server(binary, db, workdir, "slow").start()
    socks: list[socket.socket] = []
    try:
        head = (f"POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: 60\r\n\r\n{{").encode()
        t0 = time.perf_counter()
        for _ in range(SLOW_CONNECTIONS):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(head)
            socks.append(s)
        opened = time.perf_counter() - t0
        # Which of them were answered at once (beyond the per-address cap)?
        answered: dict[int, int] = {}
        poller = select.poll()
        by_fd = {s.fileno(): s for s in socks}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            events = poller.poll(200)
            if not events:
                break
            for fd, _ in events:
                code = read_status(by_fd[fd])
                answered[code] = answered.get(code, 0) + 1
                poller.unregister(fd)
                del by_fd[fd]
        pending = list(by_fd.values())
        other = [timed_get(srv.port, "127.0.0.2") for _ in range(NORMAL_REQUESTS)]
        same = timed_get(srv.port, "127.0.0.1")
        problems = srv.problems()
    finally:
        for s in socks:
            s.close()
        srv.stop()
    ms = [m for m, _ in other]
    return {"opened_s": opened, "answered": answered, "held": len(pending),
            "other": {"p50": pct(ms, 50), "p99": pct(ms, 99), "max": max(ms),
                      "ok": sum(1 for _, st in other if st == 200)},
            "same": {"ms": same[0], "status": same[1]}, "problems": problems}


def parallel_uploads(b, binary: Path, workdir: Path) -> dict:
    db = workdir / "parallel.db"
    key = account(b, binary, db)
    srv = b.Server(binary, db, workdir, "parallel").start()
    try:
        site = Site()
        bodies = [json.dumps({"name": f"parallel {i}", "fileName": "site.zip",
                              "content": base64.b64encode(site.next()).decode()}).encode()
                  for i in range(PARALLEL_UPLOADS)]
        before = srv.status()
        results: list[dict] = [{}] * PARALLEL_UPLOADS

        def one(i: int):
            results[i] = upload_until_stored(srv.port, key, bodies[i], "application/json")

        t0 = time.perf_counter()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(PARALLEL_UPLOADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        after = srv.status()
        problems = srv.problems()
    finally:
        srv.stop()
    return {"body_mib": len(bodies[0]) / b.MIB, "stored": sum(1 for r in results if r.get("status") == 201),
            "failed": [r for r in results if r.get("status") != 201],
            "refused": sum(r.get("refused", 0) for r in results),
            "refused_uploads": sum(1 for r in results if r.get("refused", 0) > 0),
            "closed": sum(r.get("closed", 0) for r in results),
            "seconds": wall, "hwm_mib": after["VmHWM"] / 1024, "rss_before_mib": before["VmRSS"] / 1024,
            "problems": problems}


def stall_zip(n: int) -> bytes:
    """49 distinct 5 MB files that compress to almost nothing (245 MB stored from a 0.25 MB ZIP)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("index.html", f"<h1>stall {n}</h1>")
        for i in range(STALL_FILES):
            tag = f"upload {n} file {i}\n".encode()
            z.writestr(f"data/{i}.txt", tag + bytes([65 + i % 26]) * (5 * 1024 * 1024 - len(tag)))
    return out.getvalue()


def writer_stall(b, binary: Path, workdir: Path) -> dict:
    srv, key, c, write = fresh(b, binary, workdir, "stall")
    try:
        zips = [stall_zip(n) for n in range(STALL_UPLOADS)]
        in_flight = threading.Event()
        stop = threading.Event()
        during: list[float] = []
        idle: list[float] = []
        errors = [0]

        def writer():
            w = b.Client(srv, key)
            body = {"content": "one line", "target": b.COMMENT_TARGET}
            while not stop.is_set():
                busy = in_flight.is_set()
                t0 = time.perf_counter()
                try:
                    w.json("POST", f"/api/v1/artifacts/{write}/comments", body, expect=201)
                except b.BenchError:
                    errors[0] += 1
                ms = (time.perf_counter() - t0) * 1000
                if busy and in_flight.is_set():
                    during.append(ms)
                elif not busy and not in_flight.is_set():
                    idle.append(ms)
                time.sleep(0.005)
            w.close()

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(1.0)
        ups = []
        for z in zips:
            body, ctype = b.multipart({"name": "stall upload"}, "file", "site.zip", z)
            in_flight.set()
            ups.append(upload_until_stored(srv.port, key, body, ctype))
            in_flight.clear()
            time.sleep(1.0)
        stop.set()
        t.join()
        c.close()
        status = srv.status()
        problems = srv.problems()
    finally:
        srv.stop()
    return {"zip_kib": len(zips[0]) / 1024, "uploads": ups, "stored": sum(1 for u in ups if u["status"] == 201),
            "during": {"n": len(during), "p50": pct(during, 50), "p99": pct(during, 99), "max": max(during or [0])},
            "idle": {"n": len(idle), "p50": pct(idle, 50), "p99": pct(idle, 99)},
            "errors": errors[0], "hwm_mib": status["VmHWM"] / 1024, "problems": problems}


def run(b, binary: Path, workdir: Path, mixed_seconds: int) -> dict:
    b.log(f"fairness: mixed load for {mixed_seconds} s (64 comment connections, 4 uploaders, 2 Markdown readers, "
          "1 health poller)")
    R = {"mixed": mixed(b, binary, workdir, mixed_seconds)}
    b.log(f"fairness: {SLOW_CONNECTIONS:,} slow bodies from one address, a normal client from another")
    R["slow"] = slow_bodies(b, binary, workdir)
    b.log(f"fairness: {PARALLEL_UPLOADS} parallel 50 MB uploads (JSON, base64)")
    R["parallel"] = parallel_uploads(b, binary, workdir)
    b.log(f"fairness: {STALL_UPLOADS} uploads of {STALL_FILES} x 5 MB files while another client writes")
    R["stall"] = writer_stall(b, binary, workdir)
    return R


def render(R: dict, verdict) -> tuple[list[str], list[str], list[str]]:
    """Rows of the fairness table, the targets missed, and the problems the servers logged."""
    rows, missed = [], []
    m = R["mixed"]
    cm, h = m["comments"], m["health"]
    ok = cm["p99"] <= 50 and cm["errors"] == 0
    ok or missed.append("mixed comments")
    rows.append(f"| mixed load ({m['seconds']} s): `POST …/comments` on 64 connections, while 4 clients upload "
                f"50 MB ZIPs, 2 read a {m['doc_bytes'] / (1024 * 1024):.1f} MB Markdown document and 1 polls health "
                f"| {cm['rps']:,.0f} req/s, p50 {cm['p50']:.1f} ms, p99 {cm['p99']:.1f} ms, max {cm['max']:.0f} ms, "
                f"{cm['errors']} errors | p99 ≤ 50 ms, 0 errors | {verdict(ok)} {cm['p99']:.1f} ms, {cm['errors']} |")
    ok = h["p99"] <= 20 and h["errors"] == 0
    ok or missed.append("mixed health")
    rows.append(f"| mixed load: `GET /api/v1/health` every 10 ms | p50 {h['p50']:.1f} ms, p99 {h['p99']:.1f} ms, "
                f"max {h['max']:.0f} ms of {h['n']}, {h['errors']} errors | p99 ≤ 20 ms | {verdict(ok)} "
                f"{h['p99']:.1f} ms |")
    ok = m["hwm_mib"] <= BUDGET_MIB
    ok or missed.append("mixed rss")
    u, r = m["uploads"], m["reads"]
    rows.append(f"| mixed load: peak RSS; work done | {m['hwm_mib']:.0f} MiB; {u['done']} uploads stored (median "
                f"{u['median_s']:.1f} s, {len(u['failed'])} failed, {u['refused']} refused and retried), "
                f"{r['done']} document reads (median {r['median_ms']:.0f} ms, {r['bytes'] / (1024 * 1024):.1f} MiB "
                f"each, {r['failed']} failed) | ≤ {BUDGET_MIB} MiB | {verdict(ok)} {m['hwm_mib']:.0f} MiB |")
    s = R["slow"]
    o = s["other"]
    ok = o["max"] <= 100 and o["ok"] == NORMAL_REQUESTS
    ok or missed.append("slow bodies")
    answered = ", ".join(f"{code}×{n:,}" for code, n in sorted(s["answered"].items(), key=lambda x: str(x[0])))
    rows.append(f"| {SLOW_CONNECTIONS:,} connections from one address send headers and 1 byte of a body, then "
                f"stall; a normal client on another address asks for health {NORMAL_REQUESTS} times | "
                f"p50 {o['p50']:.1f} ms, p99 {o['p99']:.1f} ms, max {o['max']:.1f} ms, {o['ok']} × 200; the slow "
                f"ones: {s['held']:,} held, answered at once: {answered}; a client from the same address: "
                f"{s['same']['status']} in {s['same']['ms']:.1f} ms | answered within 100 ms | {verdict(ok)} "
                f"{o['max']:.1f} ms |")
    p = R["parallel"]
    ok = p["hwm_mib"] <= BUDGET_MIB and p["stored"] == PARALLEL_UPLOADS
    ok or missed.append("parallel uploads")
    rows.append(f"| {PARALLEL_UPLOADS} parallel uploads by one key, 50 MB ZIP as JSON base64 "
                f"({p['body_mib']:.0f} MiB bodies), 429 retried after Retry-After | peak RSS {p['hwm_mib']:.0f} MiB; "
                f"{p['stored']} stored in {p['seconds']:.1f} s, {p['refused_uploads']} refused first "
                f"({p['refused']} refusals in all, {p['closed']} of them without a readable answer) | ≤ {BUDGET_MIB} MiB, all stored | {verdict(ok)} "
                f"{p['hwm_mib']:.0f} MiB, {p['stored']}/{PARALLEL_UPLOADS} |")
    w = R["stall"]
    d, i = w["during"], w["idle"]
    ok = d["p99"] <= 50 and w["errors"] == 0 and w["stored"] == STALL_UPLOADS
    ok or missed.append("writer stall")
    secs = ", ".join(f"{u['seconds']:.1f}" for u in w["uploads"])
    rows.append(f"| one-line comments, one at a time, while a {w['zip_kib']:.0f} KiB ZIP of {STALL_FILES} distinct "
                f"5 MB files is stored ({STALL_UPLOADS} uploads: {secs} s) | during: p50 {d['p50']:.1f} ms, p99 "
                f"{d['p99']:.1f} ms, max {d['max']:.0f} ms of {d['n']}; without an upload: p99 {i['p99']:.1f} ms; "
                f"{w['errors']} errors; peak RSS {w['hwm_mib']:.0f} MiB | p99 ≤ 50 ms | {verdict(ok)} "
                f"{d['p99']:.1f} ms |")
    problems = [f"{name}: {line}" for name in ("mixed", "slow", "parallel", "stall") for line in R[name]["problems"]]
    return rows, missed, problems
