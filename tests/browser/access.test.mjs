// Good manners: the keyboard alone can create a key, dialogs take and give back focus, forms say
// what is wrong next to the field, and every screen fits a 360 px wide phone without sideways
// scrolling.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, assertClean, allowHttpError, apiCall, eventually } from './harness.mjs';
import {
  OWNER, KEY_PATTERN, completeSetup, signIn, goToSection, createAgent, createKey, closeSecret,
  keyRow, cellText,
} from './flows.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.saveLog('access.server.log');
  await server?.stop();
});

const activeId = (page) => page.evaluate(() => document.activeElement?.id ?? '');

/** Presses Tab until the element with this id has the focus (at most `limit` times). */
async function tabTo(page, id, limit = 30) {
  for (let i = 0; i < limit; i++) {
    if ((await activeId(page)) === id) return;
    await page.keyboard.press('Tab');
  }
  assert.equal(await activeId(page), id, `Tab never reached #${id}`);
}

/** Fails when the page is wider than its window (the sideways scroll a phone would show). */
async function assertNoSidewaysScroll(page, where) {
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
    clientWidth: document.documentElement.clientWidth,
  }));
  assert.ok(scrollWidth <= clientWidth, `${where}: the page is ${scrollWidth} px wide in a ${clientWidth} px window`);
}

test('at 360 px wide, setup, sign-in and every settings section fit without sideways scrolling', async () => {
  const tab = await openPage(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const { page } = tab;
  // Opened without its link first, the page asks for the token; the link pasted into the same tab
  // (only the #fragment changes) is taken, and taken out of the address bar.
  await page.goto(`${server.url}/setup`);
  await page.locator('#setup-token-field:not([hidden])').waitFor();
  const fragment = new URL(server.setupUrl).hash;
  await page.evaluate((hash) => { location.hash = hash; }, fragment);
  // The page reloads with the link; its script takes the token and then the address loses it
  // (the token field is hidden in the page's HTML already, so it cannot tell the script ran).
  await eventually(() => new URL(page.url()).hash === '', { message: 'the token is not left in the address bar' });
  await page.getByRole('heading', { name: 'Set up Artifact Review' }).waitFor();
  assert.equal(await page.locator('#setup-token-field').isHidden(), true, 'the token came from the link');
  await assertNoSidewaysScroll(page, 'setup');
  await completeSetup(page, server);

  // Some content with long names, so that the tables have something to squeeze.
  await createAgent(page, 'An agent with a rather long name that goes on and on', 'integration-and-regression-testing');
  const key = await createKey(page, {
    name: 'A key with a long name: nightly-build-and-deploy-to-staging',
    identity: 'An agent with a rather long name that goes on and on (agent)',
    expiration: 'In 365 days',
  });
  assert.match(key, KEY_PATTERN);
  await assertNoSidewaysScroll(page, 'the one-time key dialog');
  await closeSecret(page);
  await apiCall(server.url, 'GET', '/api/v1/me', { key });

  for (const [link, id] of [['API keys', 'keys'], ['Agents', 'agents'], ['Account', 'account'], ['Team', 'team'], ['Activity', 'activity']]) {
    await goToSection(page, link);
    await page.locator(`#view-${id} tbody tr, #view-${id} form`).first().waitFor();
    await assertNoSidewaysScroll(page, link);
  }
  await goToSection(page, 'API keys');
  await page.locator('#key-create-open').click();
  await page.locator('#key-create-dialog').waitFor();
  await page.locator('#key-create-dialog').getByLabel('Expires', { exact: true }).selectOption({ label: 'On a date…' });
  await page.locator('#key-create-dialog').getByLabel('Expiration date').waitFor();
  await assertNoSidewaysScroll(page, 'the create-key dialog');
  await page.keyboard.press('Escape');
  await page.locator('#key-create-dialog').waitFor({ state: 'hidden' });

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/login');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await assertNoSidewaysScroll(page, 'sign in');
  assertClean(tab);
  await tab.close();
});

test('"Skip to content" goes to the heading of the section shown, which stays shown', async () => {
  const tab = await openPage(browser);
  const { page } = tab;
  await signIn(page, server.url, OWNER);
  // A fresh load of the section (from another section it would be a hash change, which focuses
  // its heading).
  await page.goto('about:blank');
  await page.goto(`${server.url}/settings#agents`);
  await page.locator('#view-agents:not([hidden])').waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await activeId(page), 'agents-title');
  assert.equal(new URL(page.url()).hash, '#agents', 'still the agents section');
  assert.equal(await page.locator('#view-agents').isHidden(), false);
  assert.equal(await page.locator('#view-keys').isHidden(), true);
  assertClean(tab);
  await tab.close();
});

test('a key can be created with the keyboard alone, and focus comes back to where it was', async () => {
  const tab = await openPage(browser);
  const { page } = tab;
  await signIn(page, server.url, OWNER);

  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await tabTo(page, 'key-create-open');
  await page.keyboard.press('Enter');
  await page.locator('#key-create-dialog').waitFor();
  assert.equal(await activeId(page), 'key-name', 'the dialog puts the focus in its first field');

  await page.keyboard.type('Typed with the keyboard');
  await page.keyboard.press('Tab');
  assert.equal(await activeId(page), 'key-identity');
  await page.keyboard.press('Tab');
  assert.equal(await activeId(page), 'key-scope');
  await page.keyboard.press('Tab');
  assert.equal(await activeId(page), 'key-expiration');
  await page.keyboard.press('ArrowDown'); // Never -> In 7 days
  assert.equal(await page.locator('#key-expiration').inputValue(), '7');
  await page.keyboard.press('Tab'); // Cancel
  await page.keyboard.press('Tab'); // Create key
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Create key');
  await page.keyboard.press('Enter');

  const secretDialog = page.locator('#secret-dialog');
  await secretDialog.waitFor();
  assert.equal(await activeId(page), 'secret-copy', 'the one-time dialog focuses its copy button');
  const key = (await secretDialog.locator('#secret-value').textContent()).trim();
  assert.match(key, KEY_PATTERN);
  await page.keyboard.press('Enter');
  await secretDialog.locator('#secret-status', { hasText: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Done');
  await page.keyboard.press('Enter');
  await secretDialog.waitFor({ state: 'hidden' });
  assert.equal(await activeId(page), 'key-create-open', 'focus returns to the button that opened the dialogs');

  const row = keyRow(page, 'Typed with the keyboard');
  await row.waitFor();
  const expires = Date.parse(await row.locator('td[data-label="Expires"] time').getAttribute('datetime'));
  assert.ok(Math.abs(expires - (Date.now() + 7 * 86_400_000)) < 120_000, 'expires in 7 days');
  assert.equal((await apiCall(server.url, 'GET', '/api/v1/me', { key })).status, 200);

  // Escape closes a dialog without doing anything, and gives the focus back.
  await page.keyboard.press('Enter');
  await page.locator('#key-create-dialog').waitFor();
  await page.keyboard.type('Never created');
  await page.keyboard.press('Escape');
  await page.locator('#key-create-dialog').waitFor({ state: 'hidden' });
  assert.equal(await activeId(page), 'key-create-open');
  assert.equal(await keyRow(page, 'Never created').count(), 0);

  // Revoking from the keyboard: the confirmation focuses Cancel, so Enter alone revokes nothing.
  await row.getByRole('button', { name: /^Revoke key/ }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#confirm-dialog').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
  await page.keyboard.press('Enter');
  await page.locator('#confirm-dialog').waitFor({ state: 'hidden' });
  assert.equal(await cellText(row, 'Status'), 'active');
  assert.equal((await apiCall(server.url, 'GET', '/api/v1/me', { key })).status, 200);
  assertClean(tab);
  await tab.close();
});

test('forms say what is wrong next to the field, from the browser and from the server', async () => {
  const tab = await openPage(browser);
  const { page } = tab;
  await signIn(page, server.url, OWNER);

  // Required name, checked in the browser.
  await page.locator('#key-create-open').click();
  const dialog = page.locator('#key-create-dialog');
  await dialog.waitFor();
  await dialog.getByLabel('Name').fill('   ');
  await dialog.getByRole('button', { name: 'Create key' }).click();
  const nameError = dialog.locator('#key-name-error');
  await nameError.waitFor();
  assert.ok((await nameError.innerText()).length > 0);
  assert.equal(await dialog.getByLabel('Name').getAttribute('aria-invalid'), 'true');
  assert.match(await dialog.getByLabel('Name').getAttribute('aria-describedby'), /key-name-error/);
  assert.equal(await activeId(page), 'key-name');
  // The limit is in characters as the server counts them (maxlength would count UTF-16 units).
  assert.equal(await dialog.getByLabel('Name').getAttribute('data-max-chars'), '100');
  await dialog.getByLabel('Name').fill('🔑'.repeat(101));
  await dialog.getByRole('button', { name: 'Create key' }).click();
  await dialog.getByText('This is 101 characters long; the limit is 100.').waitFor();
  assert.equal(await dialog.getByLabel('Name').inputValue(), '🔑'.repeat(101), 'the text is kept');

  // A date is needed when "On a date…" is chosen.
  await dialog.getByLabel('Name').fill('Dated');
  await dialog.getByLabel('Expires', { exact: true }).selectOption({ label: 'On a date…' });
  await dialog.getByRole('button', { name: 'Create key' }).click();
  await dialog.locator('#key-expires-date-error').waitFor();
  assert.equal(await activeId(page), 'key-expires-date');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });

  // The server's message, next to the field it names: a wrong current password.
  await goToSection(page, 'Account');
  const form = page.locator('#password-form');
  await form.getByLabel('Current password').fill('not my password');
  await form.getByLabel('New password', { exact: true }).fill('another password');
  await form.getByLabel('Repeat the new password').fill('another password');
  await form.getByRole('button', { name: 'Change password' }).click();
  const currentError = form.locator('#password-current-error');
  await currentError.filter({ hasText: 'the current password is wrong' }).waitFor();
  assert.equal(await activeId(page), 'password-current');

  // The server's length message for the agent name, when the browser's own limit is bypassed.
  await goToSection(page, 'Agents');
  await page.getByRole('button', { name: 'Create agent' }).click();
  const agentDialog = page.locator('#agent-dialog');
  await agentDialog.waitFor();
  await page.evaluate(() => document.getElementById('agent-name').removeAttribute('data-max-chars'));
  await agentDialog.getByLabel('Name').fill('x'.repeat(101));
  await agentDialog.getByRole('button', { name: 'Create agent' }).click();
  await agentDialog
    .locator('#agent-name-error', { hasText: 'name is 101 characters long; the limit is 100 characters' })
    .waitFor();
  await page.keyboard.press('Escape');

  // A name taken (in another case): said under Name, and a form sent from its button with the
  // keyboard keeps the focus in the dialog rather than dropping it to the page.
  await createAgent(page, 'Cursor IDE');
  await page.getByRole('button', { name: 'Create agent' }).click();
  await agentDialog.waitFor();
  await agentDialog.getByLabel('Name').fill('cursor ide');
  await agentDialog.getByRole('button', { name: 'Create agent' }).focus();
  await page.keyboard.press('Enter');
  await agentDialog.locator('#agent-name-error').filter({ hasText: /Cursor IDE/ }).waitFor();
  assert.equal(await agentDialog.getByLabel('Name').getAttribute('aria-invalid'), 'true');
  assert.ok(
    await page.evaluate(() => document.getElementById('agent-dialog').contains(document.activeElement)),
    `the focus stayed in the dialog, on ${await page.evaluate(() => document.activeElement?.tagName)}`,
  );
  await page.keyboard.press('Escape');

  assertClean(tab, {
    allow: [
      allowHttpError(403, '/api/v1/account/password'),
      allowHttpError(400, '/api/v1/agents'),
      allowHttpError(409, '/api/v1/agents'),
    ],
  });
  await tab.close();
});

