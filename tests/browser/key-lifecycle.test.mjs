// Keys over time on the keys page, in a real browser: a key made with a narrower scope (and the
// scope enforced by the API), a key rotated with an overlap (the new one shown once, both working
// during the overlap, the old one marked as expiring after rotation), and a key pasted into a
// comment: revoked at once, with a notice at the top of the page saying where it was found.
// The tests share one server and one signed-in page, in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, assertClean, resetProblems, apiCall, allowHttpError, eventually } from './harness.mjs';
import { completeSetup, goToSection, readSecret, closeSecret, keyRow, cellText, userKey, upload, apiOk } from './flows.mjs';

let server;
let browser;
let tab;
let page;
let commenterKey;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  tab = await openPage(browser);
  page = tab.page;
  await completeSetup(page, server);
});

after(async () => {
  await browser?.close();
  await server?.saveLog('key-lifecycle.server.log');
  await server?.stop();
});

const me = (key) => apiCall(server.url, 'GET', '/api/v1/me', { key });

test('a key made with the commenter scope is listed with it and cannot publish', async () => {
  await goToSection(page, 'API keys');
  await page.locator('#key-create-open').click();
  const dialog = page.locator('#key-create-dialog');
  await dialog.getByLabel('Name').fill('Review bot');
  await dialog.getByLabel('Scope').selectOption('commenter');
  await dialog.getByRole('button', { name: 'Create key' }).click();
  commenterKey = await readSecret(page);
  await closeSecret(page);
  const row = keyRow(page, 'Review bot');
  assert.equal(await cellText(row, 'Scope'), 'commenter');
  const res = await apiCall(server.url, 'POST', '/api/v1/artifacts', {
    key: commenterKey, body: { name: 'x', fileName: 'x.html', content: '<p>x</p>' },
  });
  assert.equal(res.status, 403);
  assert.equal(res.body.code, 'insufficient_scope');
  assertClean(tab);
});

test('rotating a key shows the new one once; both work during the overlap; the old one says so', async () => {
  const row = keyRow(page, 'Review bot');
  await row.getByRole('button', { name: /^Rotate key Review bot \(ar_live_/ }).click();
  const dialog = page.locator('#key-rotate-dialog');
  assert.match(await page.locator('#key-rotate-what').innerText(), /same identity and scope, and, like it, no expiry/);
  await dialog.getByLabel('The old key keeps working for').selectOption('1h');
  await dialog.getByRole('button', { name: 'Rotate key' }).click();
  const fresh = await readSecret(page);
  assert.notEqual(fresh, commenterKey);
  assert.match(await page.locator('#secret-warning').innerText(), /keeps working until/);
  assert.match(await page.locator('#secret-warning').innerText(), /The new key does not expire\./);
  await closeSecret(page);
  for (const key of [commenterKey, fresh]) {
    const res = await me(key);
    assert.equal(res.status, 200, 'both keys work during the overlap');
  }
  const rows = page.locator('#keys-table tbody tr').filter({ hasText: 'Review bot' });
  await rows.nth(1).waitFor();
  const old = rows.filter({ hasText: 'rotated' });
  assert.match(await cellText(old, 'Expires'), /^after rotation/);
  assert.equal(await old.getByRole('button', { name: /^Rotate/ }).count(), 0, 'a rotated key is not rotated again');
  // Same name, two keys: their buttons say which by prefix, so a screen reader can tell them apart.
  const revokes = await rows.getByRole('button', { name: /^Revoke key Review bot/ }).evaluateAll(
    (buttons) => buttons.map((b) => b.getAttribute('aria-label')));
  assert.equal(revokes.length, 2);
  assert.notEqual(revokes[0], revokes[1], revokes.join(' / '));
  for (const label of revokes) assert.match(label, /\(ar_live_[A-Za-z0-9_-]{8}…\)$/);
  const { keys } = await apiOk(server, 'GET', '/api/v1/keys', fresh).catch(() => ({ keys: null }));
  assert.equal(keys, null, 'keys are not listed with a key');
  assertClean(tab, { allow: [] });
});

test('revoking a rotated key\'s successor offers to revoke the key it replaced, still in its overlap', async () => {
  const rows = page.locator('#keys-table tbody tr').filter({ hasText: 'Review bot' });
  const fresh = rows.filter({ hasNotText: 'rotated' });
  await fresh.getByRole('button', { name: /^Revoke key Review bot/ }).click();
  const dialog = page.locator('#confirm-dialog');
  assert.match(await dialog.innerText(), /It replaced ar_live_[A-Za-z0-9_-]{8}…, which keeps working until/);
  await dialog.getByLabel('Also revoke the key it replaced').check();
  await dialog.getByRole('button', { name: 'Revoke key' }).click();
  await page.locator('#toast', { hasText: 'Key “Review bot” and the key it replaced revoked.' }).waitFor();
  assert.equal((await me(commenterKey)).status, 401, 'the replaced key stopped too');
  await eventually(async () => (await rows.count()) === 0, { message: 'both rows gone from the active keys' });
  assertClean(tab);
});

test('rotating a key that expires says the new one gets the same lifetime from now, and when it ends', async () => {
  await page.locator('#key-create-open').click();
  const create = page.locator('#key-create-dialog');
  await create.getByLabel('Name').fill('Nightly');
  await create.getByLabel('Expires').selectOption('30');
  await create.getByRole('button', { name: 'Create key' }).click();
  await readSecret(page);
  await closeSecret(page);
  await keyRow(page, 'Nightly').getByRole('button', { name: /^Rotate key Nightly/ }).click();
  assert.match(await page.locator('#key-rotate-what').innerText(), /a lifetime of 30 days from now \(until about /);
  await page.locator('#key-rotate-dialog').getByRole('button', { name: 'Rotate key' }).click();
  await readSecret(page);
  const warning = await page.locator('#secret-warning').innerText();
  await closeSecret(page);
  const { keys } = await page.evaluate(async () => (await fetch('/api/v1/keys')).json());
  const fresh = keys.find((k) => k.name === 'Nightly' && !k.replacedBy);
  assert.equal(Math.round((fresh.expiresAt - fresh.createdAt) / 86_400_000), 30, 'the same length, from the rotation');
  assert.ok(warning.includes(`The new key expires ${await page.evaluate((at) => new Date(at).toLocaleString(), fresh.expiresAt)}.`), warning);
  assertClean(tab);
});

test('a key pasted into a comment is revoked at once and the keys page says where it was found', async () => {
  const owner = await userKey(server, { keyName: 'uploader' });
  const doc = await upload(server, owner, { name: 'Launch plan', fileName: 'plan.html', content: '<p>Plan</p>' });
  const victim = await userKey(server, { keyName: 'laptop' });
  assert.equal((await me(victim)).status, 200);
  await apiOk(server, 'POST', `/api/v1/artifacts/${doc.shareToken}/comments`, owner, {
    content: `try it with ${victim}`, target: { source: 'plan.html' },
  });
  assert.equal((await me(victim)).status, 401, 'refused on the very next request');
  await page.reload();
  await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  const notice = page.locator('#keys-leaked');
  await notice.waitFor();
  const text = await notice.innerText();
  assert.match(text, /A key was found in text stored here and revoked: laptop/);
  assert.match(text, /comment \d+ on the artifact “Launch plan”/);
  assert.ok(!text.includes(victim));
  await page.getByLabel('Show revoked keys').check();
  assert.equal(await cellText(keyRow(page, 'laptop'), 'Status'), 'revoked: leaked');
  const { comments } = await apiOk(server, 'GET', `/api/v1/artifacts/${doc.shareToken}/comments`, owner);
  assert.ok(!comments[0].content.includes(victim), 'stored masked');
  assert.ok(comments[0].content.startsWith(`try it with ${victim.slice(0, 16)}****`));
  assertClean(tab);
});

test('an agent asks for a key, the person approves it in the settings, and the agent gets it once', async () => {
  const asked = await apiCall(server.url, 'POST', '/api/v1/key-requests', {
    body: { agentName: 'Codex', role: 'review', scopes: ['commenter'] },
  });
  assert.equal(asked.status, 201);
  const { userCode, pollToken, verificationUri } = asked.body;
  assert.equal(verificationUri, `${server.url}/settings#connect`);
  await page.goto(verificationUri);
  await page.getByRole('heading', { name: 'Connect an agent', level: 1 }).waitFor();
  await page.getByLabel('Code shown by the agent').fill(userCode.toLowerCase());
  await page.getByRole('button', { name: 'Look up' }).click();
  const card = page.locator('#connect-request');
  await card.getByRole('heading', { name: 'Key request' }).waitFor();
  const facts = await page.locator('#connect-facts').innerText();
  assert.match(facts, new RegExp(userCode), 'the card names its code as the agent shows it');
  assert.match(facts, /Codex/);
  assert.match(facts, /review/);
  assert.match(facts, /commenter/);
  assert.match(facts, /127\.0\.0\.1/);
  assert.match(await page.getByLabel('The key acts as').inputValue(), /^$/, 'a new agent by default');
  await card.getByRole('button', { name: 'Approve' }).click();
  await page.locator('#connect-outcome', { hasText: 'Approved' }).waitFor();
  const got = await apiCall(server.url, 'POST', '/api/v1/key-requests/poll', { body: { pollToken } });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  assert.equal(got.body.identity.name, 'Codex');
  assert.deepEqual(got.body.scopes, ['commenter']);
  const res = await me(got.body.key);
  assert.equal(res.status, 200);
  assert.equal(res.body.identity.name, 'Codex');
  const replay = await apiCall(server.url, 'POST', '/api/v1/key-requests/poll', { body: { pollToken } });
  assert.equal(replay.body.code, 'expired_token');
  // Its key is on the keys page, acting as the new agent; nothing on the page shows the key.
  await goToSection(page, 'API keys');
  assert.match(await cellText(keyRow(page, 'Codex'), 'Identity'), /Codex/);
  assert.ok(!(await page.content()).includes(got.body.key));
  assertClean(tab);
});

test('a request under a name that only looks like an agent of yours is not made a new agent', async () => {
  // "Cоdex" with a Cyrillic о: drawn like the Codex agent made above, but not its name.
  const asked = await apiCall(server.url, 'POST', '/api/v1/key-requests', { body: { agentName: 'C\u043Edex' } });
  assert.equal(asked.status, 201);
  await page.goto(`${server.url}/settings#connect`);
  await page.getByLabel('Code shown by the agent').fill(asked.body.userCode);
  await page.getByRole('button', { name: 'Look up' }).click();
  const card = page.locator('#connect-request');
  const warning = page.locator('#connect-look-alike');
  await warning.waitFor();
  assert.match((await warning.innerText()).replace(/[\u2068\u2069]/g, ''), /looks like the name of your agent “Codex” but is spelled with other characters/);
  const select = page.getByLabel('The key acts as');
  assert.equal(await select.inputValue(), '', 'no agent is chosen for the person');
  assert.ok(!(await select.innerText()).includes('A new agent'), 'a new agent is not offered');
  await card.getByRole('button', { name: 'Approve' }).click();
  await card.locator('.form-error', { hasText: 'looks the same as the name of your agent "Codex"' }).waitFor();
  const { agents } = await page.evaluate(async () => (await fetch('/api/v1/agents')).json());
  assert.ok(!agents.some((a) => a.name === 'C\u043Edex'), 'no agent was made');
  assert.match(await page.locator('#connect-facts').innerText(), /Waiting for your decision/, 'the request is still to decide');
  await select.selectOption({ label: '\u2068Codex\u2069 (agent)' });
  await card.getByRole('button', { name: 'Approve' }).click();
  await page.locator('#connect-outcome', { hasText: 'Approved' }).waitFor();
  const got = await apiCall(server.url, 'POST', '/api/v1/key-requests/poll', { body: { pollToken: asked.body.pollToken } });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  assert.equal(got.body.identity.name, 'Codex', 'the key acts as the agent the person chose');
  // A later request by another name shows no warning.
  const other = await apiCall(server.url, 'POST', '/api/v1/key-requests', { body: { agentName: 'Gemini' } });
  await page.getByLabel('Code shown by the agent').fill(other.body.userCode);
  await page.getByRole('button', { name: 'Look up' }).click();
  await card.locator('#connect-facts', { hasText: 'Gemini' }).waitFor();
  assert.ok(await warning.isHidden());
  assertClean(tab, { allow: [allowHttpError(409, '/api/v1/key-requests/')] });
  resetProblems(tab);
});

test('a denied request gives the agent nothing', async () => {
  const asked = await apiCall(server.url, 'POST', '/api/v1/key-requests', { body: { agentName: 'Stranger bot' } });
  await page.goto(`${server.url}/settings#connect`);
  await page.getByLabel('Code shown by the agent').fill(asked.body.userCode);
  await page.getByRole('button', { name: 'Look up' }).click();
  await page.locator('#connect-request').getByRole('button', { name: 'Deny' }).click();
  await page.locator('#connect-outcome', { hasText: 'Denied' }).waitFor();
  const refused = await apiCall(server.url, 'POST', '/api/v1/key-requests/poll', { body: { pollToken: asked.body.pollToken } });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.code, 'access_denied');
  assertClean(tab);
});

test('a lookup that fails takes the previous request off the page, so it cannot be approved by mistake', async () => {
  const asked = await apiCall(server.url, 'POST', '/api/v1/key-requests', {
    body: { agentName: 'Cursor', scopes: ['editor'] },
  });
  await page.goto(`${server.url}/settings#connect`);
  await page.getByLabel('Code shown by the agent').fill(asked.body.userCode);
  await page.getByRole('button', { name: 'Look up' }).click();
  const card = page.locator('#connect-request');
  await card.getByRole('button', { name: 'Approve' }).waitFor();
  // A mistyped second code: refused, and Cursor's card is gone with its Approve button.
  await page.getByLabel('Code shown by the agent').fill('ZZZZ-ZZZZ');
  await page.getByRole('button', { name: 'Look up' }).click();
  await page.locator('#connect-form .field-error, #connect-form .form-error').filter({ hasText: 'no key request has this code' }).waitFor();
  assert.equal(await card.isHidden(), true);
  assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0);
  // Cursor's request is still waiting, undecided.
  const waiting = await apiCall(server.url, 'POST', '/api/v1/key-requests/poll', { body: { pollToken: asked.body.pollToken } });
  assert.equal(waiting.body.code, 'authorization_pending', JSON.stringify(waiting.body));
  assertClean(tab, { allow: [allowHttpError(404, '/api/v1/key-requests/')] });
});
