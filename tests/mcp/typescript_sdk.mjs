// The official TypeScript MCP SDKs against /mcp, run by tests/mcp/run.py with the server's URL, an
// agent's API key and its owner's session in the environment:
// - v1, `@modelcontextprotocol/sdk` (what most agents embed today): the `initialize` handshake;
// - v2, `@modelcontextprotocol/client`: `auto` negotiation and the stateless 2026-07-28 revision
//   pinned.
// Each lists the tools and calls every one (its results validated by the SDK against the tools'
// output schemas); v1 and the pinned v2 each run the whole loop: publish, a person comments through
// the REST API, wait_for_feedback returns it, reply, resolve, publish again.

import assert from 'node:assert/strict';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';

const URL_ = process.env.AR_URL;
const KEY = process.env.AR_KEY;
const COOKIE = process.env.AR_COOKIE;
const TOOLS = [
  'add_comment', 'add_reviewer', 'get_artifact', 'get_comment', 'list_artifacts', 'list_comments', 'publish_artifact',
  'publish_version', 'read_file', 'reopen', 'reply', 'resolve', 'wait_for_feedback', 'whoami',
];
const LONG = { timeout: 130_000 };

async function rest(method, path, body) {
  const resp = await fetch(URL_ + path, {
    method,
    headers: { Cookie: `ar_session=${COOKIE}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(resp.ok, `${method} ${path}: ${resp.status} ${await resp.clone().text()}`);
  return resp.json();
}

async function connect(generation, key = KEY) {
  const headers = { 'X-API-Key': key };
  if (generation === 'v1') {
    const transport = new TransportV1(new URL(`${URL_}/mcp`), { requestInit: { headers } });
    const client = new ClientV1({ name: 'artifact-review-tests', version: '1.0.0' });
    await client.connect(transport);
    return { client, version: () => transport.protocolVersion };
  }
  const mode = generation === 'v2 auto' ? 'auto' : { pin: '2026-07-28' };
  const transport = new TransportV2(new URL(`${URL_}/mcp`), { requestInit: { headers } });
  const client = new ClientV2({ name: 'artifact-review-tests', version: '1.0.0' }, { versionNegotiation: { mode } });
  await client.connect(transport);
  return { client, version: () => client.getNegotiatedProtocolVersion() };
}

async function call(client, name, args, options) {
  const result = await client.callTool({ name, arguments: args }, undefined, options);
  assert.equal(result.isError, false, `${name}: ${JSON.stringify(result.content)}`);
  assert.deepEqual(JSON.parse(result.content[0].text), result.structuredContent, `${name}: text is the JSON`);
  return result.structuredContent;
}

async function refusal(client, name, args) {
  const result = await client.callTool({ name, arguments: args });
  assert.equal(result.isError, true, `${name} ${JSON.stringify(args)} should be refused`);
  return JSON.parse(result.content[0].text);
}

async function everyTool(generation) {
  const { client, version } = await connect(generation);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
  for (const t of tools) {
    assert.equal(t.inputSchema.type, 'object', t.name);
    assert.equal(t.outputSchema.type, 'object', t.name);
    assert.equal(typeof t.annotations.readOnlyHint, 'boolean', t.name);
    assert.equal(t.annotations.destructiveHint, false, `${t.name}: nothing here deletes`);
  }
  const me = await call(client, 'whoami', {});
  assert.equal(me.identity.name, 'Claude');

  const created = await call(client, 'publish_artifact', {
    name: `Notes (${generation})`, fileName: 'notes.md',
    content: '# Notes\n\nThe build takes 4 minutes. The deploy takes 4 minutes too.\n',
  });
  const token = created.shareToken;
  const listed = await call(client, 'list_artifacts', { q: `(${generation})` });
  assert.deepEqual(listed.artifacts.map((a) => a.shareToken), [token]);
  const got = await call(client, 'get_artifact', { shareToken: token });
  assert.equal(got.files[0].path, 'notes.md');
  assert.equal(got.versions[0].createdBy.name, 'Claude');
  const text = await call(client, 'read_file', { shareToken: token, maxChars: 7 });
  assert.equal(text.text, '# Notes');
  assert.equal(text.nextOffset, 7);

  const repeated = await refusal(client, 'add_comment', { shareToken: token, content: 'x', quote: '4 minutes' });
  assert.equal(repeated.code, 'quote_not_placed');
  assert.match(repeated.error, /2 times/);
  const comment = await call(client, 'add_comment', {
    shareToken: token, content: 'Can we cache it?', quote: '4 minutes', near: 'deploy',
  });
  assert.match(comment.target.selector[0].prefix, /deploy takes $/);
  const open = await call(client, 'list_comments', { shareToken: token });
  assert.deepEqual(open.comments.map((c) => c.id), [comment.id]);
  const thread = await call(client, 'reply', { commentId: comment.id, content: 'Caching the layers now.' });
  assert.equal(thread.replies.length, 1);
  const grant = await call(client, 'add_reviewer', { shareToken: token, email: 'reviewer@example.com' });
  assert.equal(grant.status, 'pending');
  const read = await call(client, 'get_comment', { commentId: comment.id });
  assert.deepEqual(read.replies.map((r) => r.content), ['Caching the layers now.']);
  assert.equal(read.nextRepliesCursor, null);
  const resolved = await call(client, 'resolve', { commentId: comment.id });
  assert.equal(resolved.resolved, true);
  const reopened = await call(client, 'reopen', { commentId: comment.id });
  assert.equal(reopened.resolved, false);
  const v2 = await call(client, 'publish_version', {
    shareToken: token, fileName: 'notes.html', content: '<h1>Notes</h1><p>The deploy takes 1 minute.</p>',
  });
  assert.equal(v2.number, 2);
  const quiet = await call(client, 'wait_for_feedback', { shareToken: token, timeoutSeconds: 1 });
  assert.equal(quiet.timedOut, true);

  const bad = await refusal(client, 'read_file', { shareToken: token, maxChars: 1_000_000 });
  assert.match(bad.error, /maxChars/);
  await assert.rejects(client.callTool({ name: 'format_disk', arguments: {} }), /Unknown tool/);
  console.log(`typescript ${generation} (${version()}): ${TOOLS.length} tools listed and called`);
  await client.close();
}

async function wholeLoop(generation) {
  const { client } = await connect(generation);
  const created = await call(client, 'publish_artifact', {
    name: `Launch (${generation})`, fileName: 'launch.html',
    content: '<h1>Launch</h1><p>We launch in March.</p><p>Support is around the clock.</p>',
  });
  const token = created.shareToken;
  const start = await call(client, 'wait_for_feedback', { shareToken: token, timeoutSeconds: 1 });
  const waiting = call(client, 'wait_for_feedback', { shareToken: token, after: start.cursor, timeoutSeconds: 60 }, LONG);
  await new Promise((r) => setTimeout(r, 300));
  const posted = await rest('POST', `/api/v1/artifacts/${token}/comments`, {
    content: 'Which day in March?', quote: 'We launch in March.',
  });
  const acknowledged = performance.now();
  const found = await waiting;
  const latency = performance.now() - acknowledged;
  assert.equal(found.timedOut, false);
  assert.equal(found.feedback[0].comment.id, posted.id);
  assert.equal(found.feedback[0].comment.author.kind, 'user');
  await call(client, 'reply', { commentId: posted.id, content: 'The 12th.' });
  await call(client, 'resolve', { commentId: posted.id, note: "v2 says 'We launch on 12 March.'" });
  const v2 = await call(client, 'publish_version', {
    shareToken: token, fileName: 'launch.html', content: '<h1>Launch</h1><p>We launch on 12 March.</p>',
  });
  assert.equal(v2.number, 2);
  await client.close();

  const seen = await rest('GET', `/api/v1/artifacts/${token}/comments?version=all&status=all`);
  const thread = seen.comments[0];
  assert.equal(thread.resolvedBy.name, 'Claude');
  assert.deepEqual(thread.replies.map((r) => r.author.name), ['Claude', 'Claude']);
  const versions = await rest('GET', `/api/v1/artifacts/${token}/versions`);
  assert.deepEqual([...new Set(versions.versions.map((v) => v.createdBy.name))], ['Claude']);
  console.log(`typescript ${generation}: whole loop done; wait_for_feedback returned ${latency.toFixed(0)} ms after the person's comment was acknowledged`);
}

async function wrongKey() {
  for (const generation of ['v1', 'v2 2026-07-28']) {
    await assert.rejects(connect(generation, `ar_live_${'A'.repeat(32)}`), (e) => {
      // v1 shows the API's refusal itself; v2 its status.
      assert.match(String(e?.message ?? e), /the API key is not valid|HTTP 401/, generation);
      return true;
    });
  }
  console.log('typescript v1 and v2: a wrong key is refused');
}

for (const generation of ['v1', 'v2 auto', 'v2 2026-07-28']) {
  await everyTool(generation);
}
await wholeLoop('v1');
await wholeLoop('v2 2026-07-28');
await wrongKey();
