// The product page's promise, in a real browser: first-run setup, sign in, create keys for You and
// for an agent, copy one from the one-time dialog and use it, see the list, revoke, and names that
// look like HTML shown as text. The tests share one server and one signed-in page, in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startServer, launchBrowser, openPage, assertClean, resetProblems, allowHttpError, apiCall,
  saveScreenshot, repoRoot, eventually,
} from './harness.mjs';
import {
  OWNER, KEY_PATTERN, completeSetup, signIn, goToSection, createAgent, createKey, readSecret,
  closeSecret, pageContents, keyRow, agentRow, cellText,
} from './flows.mjs';

const XSS_NAME = '<img src=x onerror=alert(1)>';
const AGENT = { name: 'Claude on my laptop', role: 'coding' };

let server;
let browser;
let tab;
let page;
const keys = {}; // full keys read from the one-time dialog, by key name

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  tab = await openPage(browser);
  page = tab.page;
});

after(async () => {
  await browser?.close();
  await server?.saveLog('keys.server.log');
  await server?.stop();
});

test('first-run setup through the link in the log creates the owner and signs in', async () => {
  await completeSetup(page, server);
  // The token does not stay in the address bar.
  assert.equal(new URL(page.url()).hash, '');
  await page.locator('#whoami', { hasText: OWNER.name }).waitFor();
  const me = await page.evaluate(() => fetch('/api/v1/me').then((r) => r.json()));
  assert.equal(me.user.email, OWNER.email);
  assert.equal(me.user.role, 'admin');
  // Pages carry the CSP of the spec.
  const res = await page.request.get(`${server.url}/settings`);
  assert.match(res.headers()['content-security-policy'], /script-src 'self'/);
  assert.match(res.headers()['content-security-policy'], /frame-ancestors 'none'/);
  assertClean(tab);
});

test('signing out, then a wrong password is refused with a message, then the right one signs in', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/login');
  const form = page.locator('#login-form');
  await form.getByLabel('Email').fill(OWNER.email);
  await form.getByLabel('Password').fill('not the password');
  await form.getByRole('button', { name: 'Sign in' }).click();
  const error = form.locator('.form-error');
  await error.filter({ hasText: 'the email or password is wrong' }).waitFor();
  assert.match(await error.innerText(), /Ask an admin of this server for a password-reset link/);
  assert.equal(await form.getByLabel('Password').inputValue(), '', 'the wrong password is cleared');
  assert.ok(page.url().endsWith('/login'), 'still on the sign-in page');

  await signIn(page, server.url, OWNER);
  assertClean(tab, { allow: [allowHttpError(401, '/api/v1/session')] });
  resetProblems(tab);
});

test('the settings page sends a signed-out visitor to sign in', async () => {
  const other = await openPage(browser);
  await other.page.goto(`${server.url}/settings#agents`);
  await other.page.waitForURL(/\/login/);
  await other.page.getByRole('heading', { name: 'Sign in' }).waitFor();
  // The server redirects before the page loads: no failed request, no console error.
  assertClean(other);
  // The setup link is spent: the setup page says so instead of offering the form.
  await other.page.goto(server.setupUrl);
  await other.page.getByText('Setup is already finished').waitFor();
  assert.equal(await other.page.locator('#setup-form').isVisible(), false);
  await other.close();
});

test('a key for You is shown once, works with GET /api/v1/me, and is listed by its prefix', async () => {
  const key = await createKey(page, { name: 'CI on main' });
  assert.match(key, KEY_PATTERN);
  const dialog = page.locator('#secret-dialog');
  await dialog.getByText('cannot be shown again').waitFor();

  // The copy button puts the key on the clipboard.
  await dialog.getByRole('button', { name: 'Copy' }).click();
  await dialog.locator('#secret-status', { hasText: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);

  // The key works at once, as "You".
  const me = await apiCall(server.url, 'GET', '/api/v1/me', { key });
  assert.equal(me.status, 200);
  assert.equal(me.body.identity.kind, 'user');
  assert.equal(me.body.identity.name, OWNER.name);
  assert.equal(me.body.authenticatedBy, 'key');
  keys['CI on main'] = key;

  await closeSecret(page);
  // Closing leaves no copy of the key anywhere in the page.
  const html = await page.evaluate(() => document.documentElement.outerHTML);
  assert.ok(!html.includes(key), 'the key is not in the DOM after closing');
  assert.ok(!html.includes(key.slice(16)), 'no part of the secret beyond the prefix is in the DOM');
  assert.ok(!(await pageContents(page)).includes(key.slice(16)), 'the key is in no field, selection or global');
  // Focus went back to the button that opened the dialog.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'key-create-open');

  const row = keyRow(page, 'CI on main');
  await row.waitFor();
  assert.equal(await cellText(row, 'Key'), `ar_live_${key.slice(8, 16)}…`);
  assert.equal(await cellText(row, 'Identity'), 'You');
  assert.equal(await cellText(row, 'Expires'), 'never');
  assert.equal(await cellText(row, 'Status'), 'active');
  // The list was loaded before the key was used; reload to see the last-used date.
  assert.equal(await cellText(row, 'Last used'), 'never');
  assertClean(tab);
});

test('a new key shows "never" used, and a last-used date once it has called the API', async () => {
  const key = await createKey(page, { name: 'Nightly report', expiration: 'In 30 days' });
  await closeSecret(page);
  const row = keyRow(page, 'Nightly report');
  await row.waitFor();
  assert.equal(await cellText(row, 'Last used'), 'never');
  const expires = row.locator('td[data-label="Expires"] time');
  await expires.waitFor();
  const expiresAt = Date.parse(await expires.getAttribute('datetime'));
  const in30 = Date.now() + 30 * 86_400_000;
  assert.ok(Math.abs(expiresAt - in30) < 120_000, 'expires in 30 days');

  const me = await apiCall(server.url, 'GET', '/api/v1/me', { key });
  assert.equal(me.status, 200);
  await page.reload();
  await keyRow(page, 'Nightly report').waitFor();
  const lastUsed = keyRow(page, 'Nightly report').locator('td[data-label="Last used"] time');
  await lastUsed.waitFor();
  const usedAt = Date.parse(await lastUsed.getAttribute('datetime'));
  assert.ok(Math.abs(usedAt - Date.now()) < 120_000, 'last used just now');
  assert.ok((await lastUsed.getAttribute('title')).length > 10, 'the exact time is in the title');
  assert.notEqual(await cellText(keyRow(page, 'Nightly report'), 'Last used'), 'never');
  keys['Nightly report'] = key;
  assertClean(tab);
});

test('an agent created in the UI gets a key that acts as the agent', async () => {
  await createAgent(page, AGENT.name, AGENT.role);
  const row = agentRow(page, AGENT.name);
  assert.equal(await cellText(row, 'Role'), AGENT.role);

  const key = await createKey(page, { name: 'Agent key', identity: `${AGENT.name} (agent)`, expiration: 'In 90 days' });
  assert.match(key, KEY_PATTERN);
  await page.locator('#secret-label', { hasText: `the agent ${AGENT.name}` }).waitFor();
  await closeSecret(page);
  assert.ok(!(await pageContents(page)).includes(key.slice(16)));

  const me = await apiCall(server.url, 'GET', '/api/v1/me', { key });
  assert.equal(me.status, 200);
  assert.equal(me.body.identity.kind, 'agent');
  assert.equal(me.body.identity.name, AGENT.name);
  keys['Agent key'] = key;

  const keyListRow = keyRow(page, 'Agent key');
  await keyListRow.waitFor();
  const identity = keyListRow.locator('td[data-label="Identity"]');
  assert.equal((await identity.locator('.identity-name').innerText()).trim(), AGENT.name);
  await identity.locator('.badge', { hasText: 'agent' }).waitFor();
  assert.equal(await cellText(keyListRow, 'Key'), `ar_live_${key.slice(8, 16)}…`);
  assertClean(tab);
});

test('revoking through the UI asks first, updates the list, and the API refuses the key at once', async () => {
  const key = keys['CI on main'];
  const row = keyRow(page, 'CI on main');
  await row.getByRole('button', { name: /^Revoke key CI on main \(ar_live_/ }).click();
  const confirm = page.locator('#confirm-dialog');
  await confirm.waitFor();
  await confirm.getByText('CI on main').waitFor();
  await confirm.getByText(`ar_live_${key.slice(8, 16)}…`).waitFor();

  // Cancelling changes nothing.
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await confirm.waitFor({ state: 'hidden' });
  assert.equal((await apiCall(server.url, 'GET', '/api/v1/me', { key })).status, 200);

  await row.getByRole('button', { name: /^Revoke key CI on main \(ar_live_/ }).click();
  await confirm.waitFor();
  const revoked = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/api/v1/keys/'));
  await confirm.getByRole('button', { name: 'Revoke key' }).click();
  assert.equal((await revoked).status(), 200);
  await confirm.waitFor({ state: 'hidden' });
  await keyRow(page, 'CI on main').waitFor({ state: 'detached' });

  const refused = await apiCall(server.url, 'GET', '/api/v1/me', { key });
  assert.equal(refused.status, 401);
  assert.equal(refused.body.code, 'revoked_key');

  // Revoked keys come back, greyed, on request.
  await page.getByLabel('Show revoked keys').check();
  const greyed = keyRow(page, 'CI on main');
  await greyed.waitFor();
  assert.match(await greyed.getAttribute('class'), /is-revoked/);
  assert.equal(await cellText(greyed, 'Status'), 'revoked');
  assert.equal(await greyed.getByRole('button').count(), 0, 'a revoked key has no revoke button');
  await page.getByLabel('Show revoked keys').uncheck();
  await keyRow(page, 'CI on main').waitFor({ state: 'detached' });
  assertClean(tab);
});

test('the keys page, with a few keys, is saved as a screenshot', async () => {
  // One more key, for a specific date.
  const date = new Date(Date.now() + 45 * 86_400_000);
  const ymd = `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
  await createKey(page, { name: 'Release pipeline', expiration: 'On a date…', date: ymd });
  await closeSecret(page);
  await apiCall(server.url, 'GET', '/api/v1/me', { key: keys['Agent key'] });
  await page.reload();
  await keyRow(page, 'Agent key').locator('td[data-label="Last used"] time').waitFor();
  const dateCell = keyRow(page, 'Release pipeline').locator('td[data-label="Expires"] time');
  const endOfDay = new Date(date.getFullYear(), date.getMonth(), date.getDate(), 23, 59, 59, 999).getTime();
  assert.equal(Date.parse(await dateCell.getAttribute('datetime')), endOfDay, 'expires at the end of the chosen day');
  await page.getByLabel('Show revoked keys').check();
  await keyRow(page, 'CI on main').waitFor();
  await page.evaluate(() => document.activeElement?.blur());
  // test-artifacts/ always; the README's copy in docs/ only when asked (`make screenshot`), so a
  // test run does not leave the working tree changed.
  const refreshDocs = process.env.UPDATE_DOCS_SCREENSHOT === '1';
  const saved = await saveScreenshot(page, 'keys-page.png', {
    extraPaths: refreshDocs ? [path.join(repoRoot, 'docs', 'keys-page.png')] : [],
    fullPage: true,
  });
  assert.equal(saved.length, refreshDocs ? 2 : 1);
  await page.getByLabel('Show revoked keys').uncheck();
  assertClean(tab);
});

test('at common laptop widths every key row keeps its Rotate and Revoke buttons in view', async () => {
  for (const width of [1280, 1024]) {
    await page.setViewportSize({ width, height: 800 });
    await keyRow(page, 'Release pipeline').waitFor();
    const wrap = await page.locator('#keys-table').evaluate((t) => t.closest('.table-wrap').getBoundingClientRect().toJSON());
    const buttons = page.locator('#keys-table tbody td.row-actions .button');
    assert.ok((await buttons.count()) >= 4);
    for (const box of await buttons.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON()))) {
      assert.ok(box.left >= wrap.left && box.right <= wrap.right + 0.5, `at ${width} px a button lies at ${box.left}–${box.right}, the table's box at ${wrap.left}–${wrap.right}`);
    }
    await saveScreenshot(page, `keys-page-${width}.png`, { fullPage: false });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  assertClean(tab);
});

test('an agent named like HTML is shown as text everywhere, never as markup', async () => {
  await createAgent(page, XSS_NAME, '<b>role</b>');
  const row = agentRow(page, XSS_NAME);
  assert.equal(await cellText(row, 'Name'), XSS_NAME);
  assert.equal(await cellText(row, 'Role'), '<b>role</b>');
  await page.getByText(XSS_NAME, { exact: true }).first().waitFor({ state: 'visible' });

  // Its key shows the name in the list and in the one-time dialog.
  const key = await createKey(page, { name: '<script>alert(2)</script>', identity: `${XSS_NAME} (agent)` });
  await page.locator('#secret-label', { hasText: XSS_NAME }).waitFor();
  await closeSecret(page);
  const keyListRow = keyRow(page, '<script>alert(2)</script>');
  await keyListRow.waitFor();
  assert.equal((await keyListRow.locator('.identity-name').innerText()).trim(), XSS_NAME);
  assert.equal(await page.locator('#key-identity option', { hasText: XSS_NAME }).count(), 1);

  // And in the activity trail.
  await goToSection(page, 'Activity');
  await page.locator('#activity-table').getByText(`“${XSS_NAME}”`).first().waitFor();

  // No element was made from the names, and no alert fired.
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  assert.equal(await page.locator('main img, dialog img').count(), 0);
  assert.equal(await page.locator('main b, main script').count(), 0);
  assert.deepEqual(tab.dialogs, []);
  const me = await apiCall(server.url, 'GET', '/api/v1/me', { key });
  assert.equal(me.body.identity.name, XSS_NAME);
  assertClean(tab);
});

test('deleting an agent names the keys it revokes, then they are refused', async () => {
  await goToSection(page, 'Agents');
  const row = agentRow(page, AGENT.name);
  assert.equal(await cellText(row, 'Active keys'), '1');
  await row.getByRole('button', { name: `Delete agent ${AGENT.name}` }).click();
  const confirm = page.locator('#confirm-dialog');
  await confirm.waitFor();
  await confirm.getByText('This key will be revoked at once').waitFor();
  const listed = confirm.locator('.key-list li');
  assert.equal(await listed.count(), 1);
  assert.match(await listed.innerText(), new RegExp(`Agent key\\s+ar_live_${keys['Agent key'].slice(8, 16)}…`));
  await confirm.getByRole('button', { name: 'Delete agent' }).click();
  await confirm.waitFor({ state: 'hidden' });
  await agentRow(page, AGENT.name).waitFor({ state: 'detached' });
  await page.locator('#toast', { hasText: '1 key revoked' }).waitFor();

  const refused = await apiCall(server.url, 'GET', '/api/v1/me', { key: keys['Agent key'] });
  assert.equal(refused.status, 401);
  assert.equal(refused.body.code, 'revoked_key');
  assertClean(tab);
});

test('renaming an agent through the UI', async () => {
  await createAgent(page, 'QA bot', 'qa');
  const row = agentRow(page, 'QA bot');
  await row.getByRole('button', { name: 'Edit agent QA bot' }).click();
  const dialog = page.locator('#agent-dialog');
  await dialog.waitFor();
  assert.equal(await dialog.getByLabel('Name').inputValue(), 'QA bot');
  await dialog.getByLabel('Name').fill('QA assistant');
  await dialog.getByLabel('Role').fill('');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'hidden' });
  const renamed = agentRow(page, 'QA assistant');
  await renamed.waitFor();
  assert.equal(await cellText(renamed, 'Role'), '—');
  // The dialog gave the focus back to Edit, and the redrawn row keeps it there.
  await eventually(
    () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') === 'Edit agent QA assistant'),
    { message: 'the focus is on the redrawn row\'s Edit button' },
  );
  assertClean(tab);
});
