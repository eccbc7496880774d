// Keys over time on the keys page, in a real browser: a key made with a narrower scope (and the
// scope enforced by the API), a key rotated with an overlap (the new one shown once, both working
// during the overlap, the old one marked as expiring after rotation), and a key pasted into a
// comment: revoked at once, with a notice at the top of the page saying where it was found.
// The tests share one server and one signed-in page, in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, assertClean, apiCall } from './harness.mjs';
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
  await row.getByRole('button', { name: 'Rotate key Review bot' }).click();
  const dialog = page.locator('#key-rotate-dialog');
  await dialog.getByLabel('The old key keeps working for').selectOption('1h');
  await dialog.getByRole('button', { name: 'Rotate key' }).click();
  const fresh = await readSecret(page);
  assert.notEqual(fresh, commenterKey);
  assert.match(await page.locator('#secret-warning').innerText(), /keeps working until/);
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
  const { keys } = await apiOk(server, 'GET', '/api/v1/keys', fresh).catch(() => ({ keys: null }));
  assert.equal(keys, null, 'keys are not listed with a key');
  assertClean(tab, { allow: [] });
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
