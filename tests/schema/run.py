#!/usr/bin/env python3
"""Schema conformance: Schemathesis (from PyPI) against the server's own openapi.json.

Starts the debug server on a fresh database, creates real data (an owner, an agent, an API key, an
artifact with files, comments, replies, a reviewer grant, a viewing grant, an invite), points every
path parameter of the description at those rows, and runs Schemathesis twice: once authenticated
with the API key, once with a browser session cookie. Any 5xx, any status code the description
does not list, any response body or content type that contradicts it, fails the run.

Usage: tests/schema/run.py [--max-time SECONDS]    (make test runs it; needs `cargo build` first)
"""

import argparse
import base64
import io
import json
import os
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "support"))
from artifact_server import BINARY, call, running, setup_owner  # noqa: E402

VENV = os.path.join(HERE, ".venv")
SCHEMATHESIS_VERSION = "4.32.5"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def ensure_schemathesis():
    exe = os.path.join(VENV, "bin", "schemathesis")
    if os.path.exists(exe):
        return exe
    print(f"installing schemathesis {SCHEMATHESIS_VERSION} into {VENV}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check",
                    f"schemathesis=={SCHEMATHESIS_VERSION}"], check=True)
    return exe


def seed(server):
    """Creates the rows the operations need; returns (key, cookie, parameters per operation)."""
    cookie = setup_owner(server)
    _, _, agent = call(server, "POST", "/api/v1/agents", {"name": "Claude", "role": "coding"}, cookie=cookie)
    _, _, created_key = call(server, "POST", "/api/v1/keys", {"name": "schemathesis"}, cookie=cookie)
    key = created_key["key"]
    _, _, spare_key = call(server, "POST", "/api/v1/keys", {"name": "spare"}, cookie=cookie)

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("index.html", "<link rel=stylesheet href=style.css><p>Monthly revenue</p>")
        z.writestr("style.css", "p { color: green }")
        z.writestr("notes.md", "# Notes")
    zip_b64 = base64.b64encode(archive.getvalue()).decode()
    _, _, artifact = call(server, "POST", "/api/v1/artifacts",
                          {"name": "Conformance", "fileName": "site.zip", "content": zip_b64}, key=key)
    share = artifact["shareToken"]
    call(server, "POST", f"/api/v1/artifacts/{share}/versions",
         {"fileName": "site.zip", "content": zip_b64, "name": "second"}, key=key)
    _, _, throwaway = call(server, "POST", "/api/v1/artifacts",
                           {"name": "To delete", "fileName": "x.html", "content": "<p>x</p>"}, key=key)
    target = {"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "Monthly revenue"}}
    comments = [call(server, "POST", f"/api/v1/artifacts/{share}/comments",
                     {"content": f"comment {i}", "target": target}, key=key)[2]["id"] for i in range(2)]
    replies = [call(server, "POST", f"/api/v1/comments/{comments[0]}/replies",
                    {"content": f"reply {i}"}, key=key)[2]["id"] for i in range(2)]
    _, _, grant = call(server, "POST", f"/api/v1/artifacts/{share}/access",
                       {"email": "reviewer@example.com", "role": "can-comment"}, key=key)
    _, _, invite = call(server, "POST", "/api/v1/team/invites", {}, cookie=cookie)
    _, _, grant_answer = call(server, "POST", f"/api/v1/artifacts/{share}/versions/2/view", cookie=cookie,
                              expect=(201,))
    view = grant_answer["path"].split("/")[2]
    _, _, link = call(server, "POST", f"/api/v1/artifacts/{share}/sharelink",
                      {"capabilities": {"writeComments": True}}, key=key)
    link_token = link["shareUrl"].rsplit("/", 1)[1]

    # Path parameters per operation (regular expressions over "METHOD /path"; the first match
    # applies, so destructive operations come first and get rows of their own).
    operations = [
        ("^DELETE /api/v1/artifacts/\\{shareToken\\}$", {"shareToken": throwaway["shareToken"]}),
        ("^.* /api/v1/artifacts/\\{shareToken\\}/versions/\\{number\\}(/restore)?$", {"shareToken": share, "number": "1"}),
        ("^.* /api/v1/artifacts/\\{shareToken\\}.*$", {"shareToken": share, "number": "2", "path": "index.html", "id": grant["id"]}),
        ("^(PATCH|POST) /api/v1/comments/\\{id\\}.*$", {"id": comments[0]}),
        ("^DELETE /api/v1/comments/\\{id\\}$", {"id": comments[1]}),
        ("^PATCH /api/v1/replies/\\{id\\}$", {"id": replies[0]}),
        ("^DELETE /api/v1/replies/\\{id\\}$", {"id": replies[1]}),
        ("^.* /api/v1/agents/\\{id\\}$", {"id": agent["id"]}),
        ("^DELETE /api/v1/keys/\\{id\\}$", {"id": spare_key["id"]}),
        ("^.* /api/v1/team/invites/\\{id\\}$", {"id": invite["id"]}),
        ("^.* /api/v1/team/members/\\{id\\}$", {"id": "1"}),
        ("^GET /a/\\{shareToken\\}.*$", {"shareToken": share, "number": "2", "path": "index.html"}),
        ("^GET /v/\\{grant\\}/\\{path\\}$", {"grant": view, "path": "style.css"}),
        ("^.* /api/v1/share/\\{linkToken\\}.*$", {"linkToken": link_token, "id": comments[0]}),
        ("^GET /share/\\{linkToken\\}.*$", {"linkToken": link_token, "path": "style.css"}),
        ("^GET /assets/\\{path\\}$", {"path": "app.css"}),
    ]
    return key, cookie, operations


def config(path, auth, operations, excluded):
    scheme, value = auth
    lines = [f"[auth.openapi.{scheme}]", f"api_key = {json.dumps(value)}", ""]
    for regex, params in operations:
        lines.append("[[operations]]")
        lines.append(f"include-name-regex = {json.dumps(regex)}")
        inner = ", ".join(f"{json.dumps('path.' + k)} = {json.dumps(v)}" for k, v in params.items())
        lines.append(f"parameters = {{ {inner} }}")
        lines.append("")
    for name in excluded:
        lines.append("[[operations]]")
        lines.append(f"include-name = {json.dumps(name)}")
        lines.append("enabled = false")
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def run(schemathesis, server, workdir, label, auth, operations, excluded, max_time):
    """Runs Schemathesis with one security scheme's credentials (`auth` = (scheme, value))."""
    cfg = os.path.join(workdir, f"{label}.toml")
    config(cfg, auth, operations, excluded)
    cmd = [schemathesis, "--config-file", cfg, "run", f"{server.url}/api/v1/openapi.json",
           "--checks", CHECKS, "--phases", "examples,coverage,fuzzing", "--max-time", str(max_time),
           "--workers", "2", "--seed", "20261128", "--warnings", os.environ.get("SCHEMATHESIS_WARNINGS", "off")]
    print(f"\n=== schemathesis, authenticated with {label} ===", flush=True)
    return subprocess.run(cmd).returncode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-time", type=int, default=60, help="seconds per run")
    args = parser.parse_args()
    if not os.path.exists(BINARY):
        raise SystemExit(f"{BINARY} is missing: run `cargo build` first")
    schemathesis = ensure_schemathesis()
    failed = []
    with running("schemathesis") as (server, workdir):
        key, cookie, operations = seed(server)
        # With a key: session-only operations answer 403, which the description lists.
        # The event stream never ends by itself (tests/events.rs covers it).
        streams = ["GET /api/v1/artifacts/{shareToken}/events"]
        if run(schemathesis, server, workdir, "an API key", ("ApiKeyHeader", key), operations, streams,
               args.max_time):
            failed.append("API key")
        status, _, _ = call(server, "GET", "/api/v1/session", cookie=cookie, expect=(200, 401))
        if status != 200:
            raise SystemExit("the session ended during the API key run")
        # With a session: never sign out or change the password mid-run.
        keep_session = ["DELETE /api/v1/session", "PUT /api/v1/account/password"] + streams
        if run(schemathesis, server, workdir, "a session", ("SessionCookie", cookie), operations,
               keep_session, args.max_time):
            failed.append("session")
        log = server.log()
        if "panicked" in log:
            failed.append("a panic in the server log")
    if failed:
        raise SystemExit(f"schema conformance failed: {', '.join(failed)}")
    print("\nschema conformance: no 5xx and no response that contradicts openapi.json")


if __name__ == "__main__":
    main()
