#!/usr/bin/env python3
"""MCP clients this project did not write, against the real server: the official Python SDK (`mcp`
from PyPI, in tests/mcp/.venv) and the official TypeScript SDKs (`@modelcontextprotocol/sdk` v1 and
`@modelcontextprotocol/client` v2 from npm, pinned in tests/mcp/package-lock.json). Both protocol
generations are exercised: the `initialize` handshake of the 2025 era and the stateless 2026-07-28
revision.

Starts the debug server on a fresh database, creates an owner, their agent Claude and a key acting
as Claude, and runs python_sdk.py and typescript_sdk.mjs against it (see each for what it checks).
Fails on any failed check or a panic in the server log.

Usage: tests/mcp/run.py    (make test runs it; needs `cargo build` first)
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "support"))
from artifact_server import BINARY, call, running, setup_owner  # noqa: E402

VENV = os.path.join(HERE, ".venv")
# The Python SDK's HTTP client (httpx2) comes with it.
PYTHON_SDK = "mcp==2.3.0"


def ensure_python_sdk():
    python = os.path.join(VENV, "bin", "python")
    marker = os.path.join(VENV, PYTHON_SDK)
    if os.path.exists(marker):
        return python
    print(f"installing {PYTHON_SDK} into {VENV}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check",
                    PYTHON_SDK], check=True)
    open(marker, "w").close()
    return python


def ensure_typescript_sdks():
    if not os.path.isdir(os.path.join(HERE, "node_modules", "@modelcontextprotocol", "client")):
        print("installing the TypeScript MCP SDKs from tests/mcp/package-lock.json", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)


def main():
    if not os.path.exists(BINARY):
        raise SystemExit(f"{BINARY} is missing: run `cargo build` first")
    python = ensure_python_sdk()
    ensure_typescript_sdks()
    failed = []
    with running("mcp-sdk") as (server, _):
        cookie = setup_owner(server)
        _, _, agent = call(server, "POST", "/api/v1/agents", {"name": "Claude", "role": "coding"}, cookie=cookie)
        _, _, key = call(server, "POST", "/api/v1/keys", {"name": "Claude Code", "agentId": agent["id"]},
                         cookie=cookie)
        env = {**os.environ, "AR_URL": server.url, "AR_KEY": key["key"], "AR_COOKIE": cookie}
        for label, cmd in [("the Python SDK", [python, os.path.join(HERE, "python_sdk.py")]),
                           ("the TypeScript SDKs", ["node", os.path.join(HERE, "typescript_sdk.mjs")])]:
            print(f"\n=== {label} ===", flush=True)
            if subprocess.run(cmd, env=env, cwd=HERE).returncode != 0:
                failed.append(label)
        if "panicked" in server.log():
            failed.append("a panic in the server log")
    if failed:
        raise SystemExit(f"MCP SDK tests failed: {', '.join(failed)}")
    print("\nMCP SDK tests: both SDKs, both protocol generations, every tool")


if __name__ == "__main__":
    main()
