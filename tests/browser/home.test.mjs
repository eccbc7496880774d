// The artifacts home (/) in a real browser: the empty state's upload help with a real key prefix
// (never a full key), the list newest activity first with who uploaded each (agents labelled),
// open comments, the "New" marker and its going away once the artifact is opened, paging with
// "Load more", the name filter, shared artifacts with their owner, names shown as text, and the
// navigation between the home and the settings. The tests share one server, in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, assertClean } from './harness.mjs';
import {
  OWNER, completeSetup, signIn, cli, agentKey, userKey, apiOk, upload, goToSection, waitForFile,
} from './flows.mjs';

const XSS = '<img src=x onerror=alert(1)>';
const READER = { name: 'Rita Reader', email: 'rita@example.com', password: 'another good password' };
const doc = (title) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><p>${title} body text.</p></body></html>`;

let server;
let browser;
let tab;
let page;
let ownerKey;
let claudeKey;
const uploaded = {}; // name → {shareToken, ...}

const rows = () => page.locator('#artifacts-table tbody tr');
const row = (name) => rows().filter({ has: page.getByRole('link', { name, exact: true }) });
const cellOf = (r, label) => r.locator(`td[data-label="${label}"]`);

async function home() {
  await page.goto(`${server.url}/`);
  await page.getByRole('heading', { name: 'Artifacts', level: 1 }).waitFor();
  await page.locator('#artifacts-table tbody tr, #artifacts-empty:not([hidden]), #artifacts-none:not([hidden])').first().waitFor();
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  tab = await openPage(browser);
  page = tab.page;
  await completeSetup(page, server);
});

after(async () => {
  await server?.saveLog('home.server.log');
  await browser?.close();
  await server?.stop();
});

test('with no artifact yet, the home explains how to upload and links to API keys', async () => {
  await home();
  const empty = page.locator('#artifacts-empty');
  await empty.getByRole('heading', { name: 'No artifacts yet' }).waitFor();
  assert.match(await empty.locator('pre').innerText(), new RegExp(`curl -X POST ${server.url}/api/v1/artifacts[\\s\\S]*X-API-Key: ar_live_YOUR_KEY[\\s\\S]*-F file=@`));
  assert.equal(await empty.getByRole('link', { name: /API keys/ }).getAttribute('href'), '/settings#keys');
  assert.equal(await page.locator('#artifacts-table').isVisible(), false);

  // With a key, the line names it by its prefix: a placeholder to replace, never the key itself.
  ownerKey = await userKey(server, { keyName: 'laptop' });
  await home();
  const line = await page.locator('#artifacts-empty pre').innerText();
  assert.ok(line.includes(`X-API-Key: ar_live_${ownerKey.slice(8, 16)}…`), line);
  assert.ok(!(await page.content()).includes(ownerKey.slice(16)), 'no part of the secret beyond its prefix');
  assert.match(await page.locator('#artifacts-empty').innerText(), /Replace ar_live_\S+… with your full key “laptop”/);
  assertClean(tab);
});

test('the list: newest activity first, who uploaded it (agents labelled), open comments, New marker, paging', async () => {
  claudeKey = await agentKey(server, { agent: 'Claude', role: 'coding' });
  for (let i = 1; i <= 26; i++) {
    const name = `Report ${String(i).padStart(2, '0')}`;
    uploaded[name] = await upload(server, ownerKey, { name, fileName: 'r.html', content: doc(name) });
  }
  uploaded['Agent upload'] = await upload(server, claudeKey, { name: 'Agent upload', fileName: 'a.html', content: doc('Agent upload') });
  uploaded[XSS] = await upload(server, ownerKey, { name: XSS, fileName: 'x.html', content: doc('x'), versionName: 'First cut' });
  await home();

  assert.equal(await rows().count(), 25, 'one page of 25');
  const names = await rows().locator('td[data-label="Name"] a').allInnerTexts();
  assert.deepEqual(names.slice(0, 3), [XSS, 'Agent upload', 'Report 26'], 'newest activity first');
  // A name that looks like HTML is text.
  assert.equal(await page.locator('#artifacts-table img').count(), 0);
  assert.deepEqual(tab.dialogs, []);
  assert.match(await cellOf(row(XSS), 'Latest version').innerText(), /v1 · First cut/);

  // Uploaded by one's own agent: labelled as an agent, and new to the owner.
  const agentRow = row('Agent upload');
  assert.match(await cellOf(agentRow, 'Uploaded by').innerText(), /Claude\s*,?\s*Agent\s*,?\s*coding/);
  assert.equal(await cellOf(agentRow, 'Name').locator('.badge-new').innerText(), 'New');
  assert.equal(await cellOf(row('Report 26'), 'Uploaded by').innerText(), 'You');
  assert.equal(await cellOf(row('Report 26'), 'Name').locator('.badge-new').count(), 0, 'what I did myself is not new to me');
  assert.equal(await cellOf(row('Report 26'), 'Owner').innerText(), 'You');
  assert.equal(await cellOf(row('Report 26'), 'Last activity').locator('time').getAttribute('title') !== null, true, 'exact time on hover');
  assert.equal(await row('Agent upload').getByRole('link').getAttribute('href'), `/a/${uploaded['Agent upload'].shareToken}`);

  // Pressed from the keyboard: the focus is not dropped to the page while the next page loads, and
  // when the button goes (the last page) it moves to the view's heading.
  await page.getByRole('button', { name: 'Load more' }).focus();
  await page.keyboard.press('Enter');
  await rows().nth(25).waitFor();
  assert.equal(await rows().count(), 28);
  await page.getByRole('button', { name: 'Load more' }).waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'artifacts-title');
  assertClean(tab);
});

test('activity moves an artifact to the top, with its open comments counted and marked New', async () => {
  const oldest = uploaded['Report 01'];
  await apiOk(server, 'POST', `/api/v1/artifacts/${oldest.shareToken}/comments`, claudeKey, {
    content: 'The totals do not add up.',
    target: { source: 'r.html', selector: { type: 'TextQuoteSelector', exact: 'Report 01 body text.' } },
  });
  await home();
  assert.equal(await rows().first().locator('td[data-label="Name"] a').innerText(), 'Report 01');
  assert.equal(await cellOf(rows().first(), 'Open comments').innerText(), '1');
  assert.equal(await cellOf(rows().first(), 'Name').locator('.badge-new').innerText(), 'New');
  assertClean(tab);
});

test('opening an artifact clears its New marker', async () => {
  await row('Agent upload').getByRole('link').click();
  await page.waitForURL(`**/a/${uploaded['Agent upload'].shareToken}`);
  await waitForFile(page, 'a.html');
  await page.getByRole('link', { name: 'Artifacts' }).click();
  await page.waitForURL(`${server.url}/`);
  await row('Agent upload').waitFor();
  assert.equal(await cellOf(row('Agent upload'), 'Name').locator('.badge-new').count(), 0);
  assertClean(tab);
});

test('the filter narrows the list by name as one types', async () => {
  await home();
  const filter = page.getByLabel('Filter by name');
  await filter.fill('report 1');
  await page.locator('#artifacts-status', { hasText: '10 artifacts match.' }).waitFor();
  const names = await rows().locator('td[data-label="Name"] a').allInnerTexts();
  const expected = Array.from({ length: 10 }, (_, i) => `Report ${10 + i}`);
  assert.deepEqual(names.sort(), expected, 'case-insensitive substring of the name');
  await filter.fill('no such thing');
  await page.locator('#artifacts-none', { hasText: 'No artifact’s name contains “no such thing”' }).waitFor();
  assert.equal(await page.locator('#artifacts-table').isVisible(), false);
  assert.equal(await page.locator('#artifacts-empty').isVisible(), false, 'not the first-run help');
  await filter.fill('');
  await rows().nth(24).waitFor();
  assertClean(tab);
});

test('the navigation: the brand and "Artifacts" lead home, the settings are one click away', async () => {
  await home();
  const nav = page.getByRole('navigation', { name: 'Settings' });
  assert.equal(await nav.getByRole('link', { name: 'Artifacts' }).getAttribute('aria-current'), 'page');
  assert.equal(await page.locator('.brand').getAttribute('href'), '/');
  await goToSection(page, 'API keys');
  assert.equal(new URL(page.url()).pathname, '/settings');
  await nav.getByRole('link', { name: 'Artifacts' }).click();
  await page.getByRole('heading', { name: 'Artifacts', level: 1 }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/');
  assertClean(tab);
});

test("an artifact shared with me is listed with its owner's name", async () => {
  await cli(server, ['user', 'create', '--email', READER.email, '--name', READER.name, '--password-stdin'], `${READER.password}\n`);
  await apiOk(server, 'POST', `/api/v1/artifacts/${uploaded['Report 05'].shareToken}/access`, ownerKey, { email: READER.email, role: 'can-comment' });
  const reader = await openPage(browser);
  await signIn(reader.page, server.url, READER);
  await reader.page.goto(`${server.url}/`);
  const r = reader.page.locator('#artifacts-table tbody tr');
  await r.first().waitFor();
  assert.equal(await r.count(), 1, 'only what is shared with her');
  assert.equal(await r.locator('td[data-label="Owner"]').innerText(), OWNER.name);
  assert.equal(await r.locator('td[data-label="Name"] .badge-new').innerText(), 'New', 'she has not opened it yet');
  assertClean(reader);
  await reader.close();
});
