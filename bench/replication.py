"""Issue 16's benchmark for `make bench`: what continuous replication with Litestream costs the
comment path. Run by bench.py (which hands over its helpers: Server, Client, wrk).

Two servers on fresh databases with the same fixtures (an account and an artifact): one on its own,
one started with `--litestream` (Litestream 0.5 from tests/litestream/.venv, replicating to a file
replica in the work folder with the intervals of docs/litestream-file.yml). Each round runs the
`POST …/comments` wrk load (64 connections, 500-byte comments) on one, then the other (which goes
first alternates), each for --duration seconds; a round's ratio is the replicated server's req/s over
the plain one's. Reported: the median ratio (target ≥ 0.9), both servers' req/s and p99, and, as a
check that the replica is real, the comments of a restore of the replica against the server's own
count after it stopped.
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
from pathlib import Path

TARGET = 0.9


def litestream_bin(b) -> Path:
    path = b.ROOT / "tests/litestream/.venv/bin/litestream"
    if not path.exists():
        raise b.BenchError(f"{path} is missing: run scripts/install-ops-deps (make bench does)")
    return path


def config(workdir: Path, db: Path) -> Path:
    path = workdir / "litestream.yml"
    path.write_text(
        "dbs:\n"
        f"  - path: {db}\n"
        "    monitor-interval: 250ms\n"
        "    min-checkpoint-page-count: 16384\n"
        "    replica:\n"
        f"      url: file://{workdir / 'replica'}\n"
        "      sync-interval: 1s\n"
    )
    return path


def fresh(b, binary: Path, workdir: Path, name: str, args: list[str]):
    db = workdir / f"{name}.db"
    key = b.make_user_and_key(binary, db)
    srv = b.Server(binary, db, workdir, name, args).start()
    c = b.Client(srv, key)
    share = c.json("POST", "/api/v1/artifacts", {"name": f"{name} write", "fileName": "index.html",
                                                 "content": b.PAGE}, expect=201)["shareToken"]
    c.close()
    body = b.json.dumps({"content": b.comment_text(1_000_000), "target": b.COMMENT_TARGET})
    sc = b.Scenario(f"post-{name}", "`POST …/comments`", "POST", f"/api/v1/artifacts/{share}/comments", 201,
                    {"X-API-Key": key, "Content-Type": "application/json"}, body)
    return srv, sc


def run(b, binary: Path, workdir: Path, rounds: int, duration: int, warmup: int) -> dict:
    workdir = workdir / "replication"
    workdir.mkdir(parents=True, exist_ok=True)
    ls = litestream_bin(b)
    replicated_db = workdir / "replicated.db"
    conf = config(workdir, replicated_db)
    b.log(f"litestream: comment writes with and without replication, {rounds} rounds of {duration} s each")
    plain, plain_sc = fresh(b, binary, workdir, "plain", [])
    repl, repl_sc = fresh(b, binary, workdir, "replicated",
                          ["--litestream", str(conf), "--litestream-bin", str(ls)])
    pairs = {"plain": (plain, plain_sc), "replicated": (repl, repl_sc)}
    for name, (srv, sc) in pairs.items():
        res = b.run_wrk(srv, sc, warmup, workdir, check=True)
        if res.statuses.get(201, 0) == 0:
            raise b.BenchError(f"litestream/{name}: no 201 in the warm-up: {res.statuses}")
    runs: dict[str, list] = {"plain": [], "replicated": []}
    ratios = []
    for r in range(rounds):
        order = ["plain", "replicated"] if r % 2 == 0 else ["replicated", "plain"]
        got = {}
        for name in order:
            srv, sc = pairs[name]
            res = b.run_wrk(srv, sc, duration, workdir)
            b.log(f"  {name:10} {res.rps:>9,.0f} req/s  p50 {res.p50_ms:6.2f} ms  p99 {res.p99_ms:6.2f} ms  "
                  f"errors {res.errors(201)}  other processes {res.foreign_cpu:.0%} CPU")
            runs[name].append(res)
            got[name] = res.rps
        ratios.append(got["replicated"] / got["plain"])
    problems = []
    for name, (srv, _) in pairs.items():
        code = srv.stop()
        if code != 0:
            problems.append(f"{name} server exited with {code} after SIGTERM")
        problems += [f"litestream/{name}: {l}" for l in srv.problems()]
    # The replica holds what the server stored (Litestream made its last sync when it stopped).
    stored = sqlite3.connect(replicated_db).execute("SELECT count(*) FROM comments").fetchone()[0]
    restored_db = workdir / "restored.db"
    proc = subprocess.run([str(ls), "restore", "-config", str(conf), "-o", str(restored_db), str(replicated_db)],
                          capture_output=True, text=True, timeout=600, env=b.litestream_env())
    if proc.returncode != 0:
        raise b.BenchError(f"litestream restore failed: {proc.stderr}")
    restored = sqlite3.connect(restored_db).execute("SELECT count(*) FROM comments").fetchone()[0]
    return {
        "rounds": rounds, "duration": duration, "ratios": ratios, "runs": runs,
        "stored": stored, "restored": restored, "problems": problems,
    }


def render(R: dict, verdict) -> tuple[list[str], list[str], list[str]]:
    """The row of the Speed table, the targets missed, and the problems the servers logged."""
    missed = []
    ratio = statistics.median(R["ratios"])
    p, q = R["runs"]["plain"], R["runs"]["replicated"]
    rps = lambda runs: statistics.median(r.rps for r in runs)
    p99 = lambda runs: statistics.median(r.p99_ms for r in runs)
    errors = sum(r.errors(201) for r in p + q)
    ok = ratio >= TARGET and errors == 0 and R["restored"] == R["stored"]
    ok or missed.append("litestream")
    rounds = ", ".join(f"{x:.2f}" for x in R["ratios"])
    row = (f"| `POST …/comments` with Litestream replicating to a file replica vs without, same run "
           f"({R['rounds']} rounds of {R['duration']} s each) | {rps(q):,.0f} vs {rps(p):,.0f} req/s = "
           f"{ratio:.2f} (rounds: {rounds}), p99 {p99(q):.1f} vs {p99(p):.1f} ms, {errors} errors; the replica "
           f"restored {R['restored']:,} of {R['stored']:,} comments | ≥ {TARGET} | {verdict(ok)} {ratio:.2f} |")
    return [row], missed, R["problems"]
