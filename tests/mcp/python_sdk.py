"""The official Python MCP SDK (`mcp` on PyPI) against /mcp: run by tests/mcp/run.py inside
tests/mcp/.venv, with the server's URL, an agent's API key and its owner's session in the
environment.

For each way the SDK can connect (the `initialize` handshake of the 2025 era, `auto` negotiation,
and the stateless 2026-07-28 revision pinned) it lists the tools and calls every one of them,
checking what each returns and stores. Then it runs the whole loop once: the agent publishes, a
person comments on a passage through the REST API, the agent's `wait_for_feedback` returns it, the
agent replies, resolves and publishes again, and the person's view shows all of that as the agent's.
"""

import asyncio
import base64
import io
import json
import os
import time
import urllib.request
import zipfile

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

URL = os.environ["AR_URL"]
KEY = os.environ["AR_KEY"]
COOKIE = os.environ["AR_COOKIE"]
TOOLS = {
    "whoami", "list_artifacts", "get_artifact", "read_file", "publish_artifact", "publish_version",
    "list_comments", "get_comment", "add_reviewer", "add_comment", "reply", "resolve", "reopen",
    "wait_for_feedback",
}
READ_ONLY = {"whoami", "list_artifacts", "get_artifact", "read_file", "list_comments", "get_comment",
             "wait_for_feedback"}


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def rest(method, path, body=None):
    """The person, through the REST API with their browser session."""
    req = urllib.request.Request(URL + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Cookie", f"ar_session={COOKIE}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def client(mode, key=KEY):
    http = httpx2.AsyncClient(headers={"X-API-Key": key}, timeout=httpx2.Timeout(150))
    return Client(streamable_http_client(URL + "/mcp", http_client=http), mode=mode)


async def structured(c, name, arguments):
    result = await c.call_tool(name, arguments)
    check(not result.is_error, f"{name} failed: {result.content}")
    check(json.loads(result.content[0].text) == result.structured_content,
          f"{name}: the text content is the structured content as JSON")
    return result.structured_content


async def refused(c, name, arguments):
    result = await c.call_tool(name, arguments)
    check(result.is_error, f"{name} with {arguments} should be refused")
    return json.loads(result.content[0].text)


def site_zip():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("index.html", "<link rel=stylesheet href=style.css><h1>Pricing</h1><p>Plans start at 9 EUR.</p>")
        z.writestr("style.css", "h1 { color: teal }")
        z.writestr("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(64))
    return base64.b64encode(archive.getvalue()).decode()


async def every_tool(mode):
    async with client(mode) as c:
        era = "modern" if c.protocol_version >= "2026-07-28" else "legacy"
        listed = await c.list_tools()
        names = {t.name for t in listed.tools}
        check(names == TOOLS, f"tools/list: {sorted(names)}")
        for t in listed.tools:
            check(t.output_schema is not None and t.input_schema.get("type") == "object", f"{t.name} schemas")
            check(t.annotations.read_only_hint == (t.name in READ_ONLY), f"{t.name} readOnlyHint")

        me = await structured(c, "whoami", {})
        check(me["identity"]["kind"] == "agent" and me["identity"]["name"] == "Claude", f"whoami: {me}")

        created = await structured(c, "publish_artifact", {
            "name": f"Pricing ({mode})", "fileName": "site.zip", "content": site_zip()})
        token = created["shareToken"]
        check(created["shareUrl"].endswith(f"/a/{token}"), f"shareUrl: {created}")
        listed = await structured(c, "list_artifacts", {"q": f"({mode})"})
        check([a["shareToken"] for a in listed["artifacts"]] == [token], f"list_artifacts: {listed}")
        got = await structured(c, "get_artifact", {"shareToken": token})
        check(got["entryPoint"] == "index.html", f"get_artifact: {got}")
        check(sorted(f["path"] for f in got["files"]) == ["index.html", "logo.png", "style.css"], f"files: {got}")
        page = await structured(c, "read_file", {"shareToken": token})
        check("Plans start at 9 EUR." in page["text"], f"read_file: {page}")
        binary = await structured(c, "read_file", {"shareToken": token, "path": "logo.png"})
        check(binary["binary"] is True and binary.get("text") is None and binary["note"], f"binary: {binary}")

        comment = await structured(c, "add_comment", {
            "shareToken": token, "content": "Which currency elsewhere?", "quote": "9 EUR"})
        check(comment["target"]["selector"][0]["exact"] == "9 EUR", f"add_comment: {comment}")
        check(comment["author"]["kind"] == "agent", f"author: {comment}")
        open_ones = await structured(c, "list_comments", {"shareToken": token})
        check([x["id"] for x in open_ones["comments"]] == [comment["id"]], f"list_comments: {open_ones}")
        thread = await structured(c, "reply", {"commentId": comment["id"], "content": "Euros everywhere."})
        check(thread["replies"][-1]["content"] == "Euros everywhere.", f"reply: {thread}")
        grant = await structured(c, "add_reviewer", {"shareToken": token, "email": "reviewer@example.com"})
        check(grant["status"] == "pending" and grant["email"] == "reviewer@example.com", f"add_reviewer: {grant}")
        read = await structured(c, "get_comment", {"commentId": comment["id"]})
        check([r["content"] for r in read["replies"]] == ["Euros everywhere."] and read["nextRepliesCursor"] is None,
              f"get_comment: {read}")
        done = await structured(c, "resolve", {"commentId": comment["id"], "note": "Said so on the page."})
        check(done["resolved"] is True and len(done["replies"]) == 2, f"resolve: {done}")
        check((await structured(c, "list_comments", {"shareToken": token}))["comments"] == [], "resolved is not open")
        again = await structured(c, "reopen", {"commentId": comment["id"]})
        check(again["resolved"] is False, f"reopen: {again}")
        v2 = await structured(c, "publish_version", {
            "shareToken": token, "fileName": "page.md", "content": "# Pricing\n\nPlans start at 9 EUR a month."})
        check(v2["number"] == 2, f"publish_version: {v2}")
        quiet = await structured(c, "wait_for_feedback", {"shareToken": token, "timeoutSeconds": 1})
        check(quiet["timedOut"] is True and quiet["feedback"] == [], f"wait_for_feedback: {quiet}")

        # Bad arguments are tool errors that say what to change; an unknown tool a protocol error.
        missing = await refused(c, "add_comment", {"shareToken": token, "content": "x", "quote": "not on the page"})
        check(missing["code"] == "quote_not_placed", f"missing quote: {missing}")
        stray = await refused(c, "get_artifact", {"shareToken": "no-such-token"})
        check(stray["code"] == "not_found", f"unknown artifact: {stray}")
        try:
            await c.call_tool("drop_database", {})
            raise AssertionError("an unknown tool should raise")
        except MCPError as e:
            check("Unknown tool" in str(e), f"unknown tool: {e}")
        print(f"python sdk, mode {mode!r} ({era}, {c.protocol_version}): {len(TOOLS)} tools listed and called")


async def whole_loop(mode):
    async with client(mode) as c:
        created = await structured(c, "publish_artifact", {
            "name": "Launch plan", "fileName": "plan.html",
            "content": "<h1>Launch plan</h1><p>We launch in March.</p><p>Support is around the clock.</p>"})
        token = created["shareToken"]
        start = await structured(c, "wait_for_feedback", {"shareToken": token, "timeoutSeconds": 1})
        waiting = asyncio.create_task(structured(c, "wait_for_feedback", {
            "shareToken": token, "after": start["cursor"], "timeoutSeconds": 60}))
        await asyncio.sleep(0.3)
        posted = await asyncio.to_thread(rest, "POST", f"/api/v1/artifacts/{token}/comments",
                                         {"content": "Which day in March?", "quote": "We launch in March."})
        acknowledged = time.monotonic()
        found = await waiting
        latency_ms = (time.monotonic() - acknowledged) * 1000
        check(found["timedOut"] is False, f"the wait heard nothing: {found}")
        item = found["feedback"][0]
        check(item["comment"]["id"] == posted["id"] and item["comment"]["author"]["kind"] == "user", f"{item}")
        await structured(c, "reply", {"commentId": posted["id"], "content": "The 12th."})
        await structured(c, "resolve", {"commentId": posted["id"], "note": "v2 says 'We launch on 12 March.'"})
        v2 = await structured(c, "publish_version", {
            "shareToken": token, "fileName": "plan.html", "content": "<h1>Launch plan</h1><p>We launch on 12 March.</p>"})
        check(v2["number"] == 2, f"{v2}")
    seen = await asyncio.to_thread(rest, "GET", f"/api/v1/artifacts/{token}/comments?version=all&status=all")
    thread = seen["comments"][0]
    check(thread["resolved"] and thread["resolvedBy"]["name"] == "Claude", f"resolvedBy: {thread}")
    check([r["author"]["name"] for r in thread["replies"]] == ["Claude", "Claude"], f"replies: {thread}")
    versions = await asyncio.to_thread(rest, "GET", f"/api/v1/artifacts/{token}/versions")
    check({v["createdBy"]["name"] for v in versions["versions"]} == {"Claude"}, f"versions: {versions}")
    print(f"python sdk, mode {mode!r}: whole loop done; wait_for_feedback returned {latency_ms:.0f} ms "
          "after the person's comment was acknowledged")


async def wrong_key():
    statuses = []

    async def record(response):
        statuses.append(response.status_code)

    http = httpx2.AsyncClient(headers={"X-API-Key": "ar_live_" + "A" * 32}, event_hooks={"response": [record]})
    try:
        async with Client(streamable_http_client(URL + "/mcp", http_client=http), mode="legacy") as c:
            await c.call_tool("whoami", {})
        raise AssertionError("a wrong key should not connect")
    except AssertionError:
        raise
    except Exception as e:  # the SDK reports the refusal inside an exception group
        said = " | ".join(messages_of(e))
    check(statuses == [401], f"a wrong key: {statuses}")
    # The refusal travels as a JSON-RPC error, so the SDK shows the API's reason, not a stand-in.
    check("the API key is not valid" in said, f"a wrong key: the client was told {said!r}")
    print("python sdk: a wrong key is refused with 401 at initialize, and the client is told why")


def messages_of(e: BaseException) -> list[str]:
    """The messages of an exception and of every exception grouped in it."""
    if isinstance(e, BaseExceptionGroup):
        return [m for inner in e.exceptions for m in messages_of(inner)]
    return [str(e)]


async def main():
    for mode in ["legacy", "auto", "2026-07-28"]:
        await every_tool(mode)
    await whole_loop("2026-07-28")
    await whole_loop("legacy")
    await wrong_key()


if __name__ == "__main__":
    asyncio.run(main())
