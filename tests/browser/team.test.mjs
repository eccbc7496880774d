// Account, team and activity: change name and password, invite a teammate with a one-time link,
// disable and enable an account, and read the audit trail filtered by key, page by page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openPage, assertClean, resetProblems, allowHttpError, apiCall,
} from './harness.mjs';
import { OWNER, completeSetup, signIn, goToSection, createKey, readSecret, closeSecret, pageContents } from './flows.mjs';

const MEMBER = { name: 'Max Member', email: 'max@example.com', password: 'member password 1' };
const NEW_PASSWORD = 'a brand new passphrase';

let server;
let browser;
let admin; // the owner's tab
let member; // the invited member's tab

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await openPage(browser);
  await completeSetup(admin.page, server);
});

after(async () => {
  await browser?.close();
  await server?.saveLog('team.server.log');
  await server?.stop();
});

const memberRow = (page, name) =>
  page.locator('#members-table tbody tr').filter({ has: page.locator('td[data-label="Name"]', { hasText: name }) });

test('the account name and password can be changed', async () => {
  const { page } = admin;
  await goToSection(page, 'Account');
  const profile = page.locator('#profile-form');
  assert.equal(await profile.getByLabel('Email').inputValue(), OWNER.email);
  await profile.getByLabel('Name').fill('Olivia O.');
  await profile.getByRole('button', { name: 'Save name' }).click();
  await profile.locator('.form-ok', { hasText: 'Saved.' }).waitFor();
  await page.locator('#whoami', { hasText: 'Olivia O.' }).waitFor();

  const form = page.locator('#password-form');
  await form.getByLabel('Current password').fill(OWNER.password);
  await form.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await form.getByLabel('Repeat the new password').fill('something else');
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.locator('#password-confirm-error', { hasText: 'not the same' }).waitFor();

  await form.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.locator('.form-ok', { hasText: 'Password changed.' }).waitFor();
  assert.equal(await form.getByLabel('Current password').inputValue(), '', 'the form is emptied');

  // The new password signs in, in a fresh browser.
  const other = await openPage(browser);
  await signIn(other.page, server.url, { email: OWNER.email, password: NEW_PASSWORD });
  await other.page.locator('#whoami', { hasText: 'Olivia O.' }).waitFor();
  assertClean(other);
  await other.close();
  assertClean(admin);
});

test('an invite link is shown once, works once, and makes a member who sees no Team section', async () => {
  const { page } = admin;
  await goToSection(page, 'Team');
  await page.locator('#invites-empty').waitFor();
  await page.getByRole('button', { name: 'Create invite link' }).click();
  const url = await readSecret(page);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/invite#token=[A-Za-z0-9_-]+$/);
  await page.locator('#secret-dialog').getByText('cannot be shown again').waitFor();
  await closeSecret(page);
  const token = url.split('#token=')[1];
  assert.ok(!(await pageContents(page)).includes(token), 'the link is gone from the page');
  const row = page.locator('#invites-table tbody tr');
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  assert.equal((await row.locator('td[data-label="Status"]').innerText()).trim(), 'pending');

  member = await openPage(browser);
  const mp = member.page;
  await mp.goto(url);
  await mp.getByRole('heading', { name: 'Join Artifact Review' }).waitFor();
  assert.equal(new URL(mp.url()).hash, '', 'the token leaves the address bar');
  const form = mp.locator('#invite-form');
  await form.getByLabel('Your name').fill(MEMBER.name);
  await form.getByLabel('Email').fill(OWNER.email); // taken: the server says so next to the field
  await form.getByLabel('Password').fill(MEMBER.password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await form.locator('#invite-email-error', { hasText: 'already exists' }).waitFor();
  await form.getByLabel('Email').fill(MEMBER.email);
  await form.getByRole('button', { name: 'Create account' }).click();
  await mp.waitForURL('**/settings');
  await mp.locator('#whoami', { hasText: MEMBER.name }).waitFor();
  assert.equal(await mp.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Team' }).count(), 0);
  await mp.goto(`${server.url}/settings#team`);
  await mp.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  assertClean(member, { allow: [allowHttpError(409, '/api/v1/invites/accept')] });
  resetProblems(member);

  await page.reload();
  await page.locator('#invites-table tbody tr td[data-label="Status"]', { hasText: `used by ${MEMBER.name}` }).waitFor();
  await memberRow(page, MEMBER.name).waitFor();
  // What each member stores, against the storage quota (2 GiB by default): nothing yet.
  assert.equal((await memberRow(page, MEMBER.name).locator('td[data-label="Stored"]').innerText()).trim(), '0 bytes of 2 GiB');
  assertClean(admin);
});

test('an admin disables an account (its session ends at once) and enables it again', async () => {
  const { page } = admin;
  const row = memberRow(page, MEMBER.name);
  await row.getByRole('button', { name: `Disable ${MEMBER.name}` }).click();
  const confirm = page.locator('#confirm-dialog');
  await confirm.getByText(MEMBER.email).waitFor();
  await confirm.getByRole('button', { name: 'Disable account' }).click();
  await confirm.waitFor({ state: 'hidden' });
  assert.equal((await memberRow(page, MEMBER.name).locator('td[data-label="Status"]').innerText()).trim(), 'disabled');
  // The owner has no button to disable themselves.
  assert.equal(await memberRow(page, 'Olivia O.').getByRole('button').count(), 0);

  // The member's open page finds its session gone at the next request and goes to sign in.
  const mp = member.page;
  await mp.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Agents' }).click();
  await mp.waitForURL(/\/login/);
  await mp.getByRole('heading', { name: 'Sign in' }).waitFor();
  assertClean(member, { allow: [allowHttpError(401, '/api/v1/')] });
  resetProblems(member);

  await memberRow(page, MEMBER.name).getByRole('button', { name: `Enable ${MEMBER.name}` }).click();
  await memberRow(page, MEMBER.name).locator('td[data-label="Status"]', { hasText: 'active' }).waitFor();
  await signIn(mp, server.url, MEMBER);
  assertClean(member);
  assertClean(admin);
});

test('an unused invite link can be revoked', async () => {
  const { page } = admin;
  await page.getByRole('button', { name: 'Create invite link' }).click();
  await page.locator('#invite-role').selectOption('admin');
  const url = await readSecret(page);
  await closeSecret(page);
  const pending = page.locator('#invites-table tbody tr').filter({ hasText: 'pending' });
  await pending.waitFor();
  await pending.getByRole('button', { name: /^Revoke the/ }).click();
  await page.locator('#confirm-dialog').getByRole('button', { name: 'Revoke link' }).click();
  await page.locator('#confirm-dialog').waitFor({ state: 'hidden' });
  await page.locator('#invites-table tbody tr').filter({ hasText: 'pending' }).waitFor({ state: 'detached' });
  const refused = await apiCall(server.url, 'POST', '/api/v1/invites/accept', {
    body: { token: url.split('#token=')[1], email: 'late@example.com', name: 'Late', password: 'password 123' },
  });
  assert.equal(refused.status, 403);
  assertClean(admin);
});

test('the activity trail pages with "Load more" and answers "what did this key do?"', async () => {
  const { page } = admin;
  const key = await createKey(page, { name: 'Busy script' });
  await closeSecret(page);
  // The key does 30 things of its own.
  for (let i = 1; i <= 30; i++) {
    const res = await apiCall(server.url, 'POST', '/api/v1/agents', { key, body: { name: `batch agent ${i}` } });
    assert.equal(res.status, 201);
  }

  await goToSection(page, 'Activity');
  const rows = page.locator('#activity-table tbody tr');
  const more = page.getByRole('button', { name: 'Load more' });
  await more.waitFor();
  assert.equal(await rows.count(), 25, 'one page');
  assert.equal((await rows.first().locator('td[data-label="What"]').innerText()).includes('batch agent 30'), true);
  await more.click();
  await rows.nth(25).waitFor();
  assert.ok((await rows.count()) > 30, 'the next page is appended');

  // Only what the key did: its 30 events, the newest first.
  const rowCount = (n) => page.waitForFunction((n) => document.querySelectorAll('#activity-table tbody tr').length === n, n);
  const keyOption = page.locator('#activity-key option', { hasText: 'Busy script' });
  await page.getByLabel('Filter by key').selectOption(await keyOption.getAttribute('value'));
  await rowCount(25);
  await more.waitFor();
  assert.match(await rows.first().locator('td[data-label="What"]').innerText(), /batch agent 30/);
  await more.click();
  await rowCount(30);
  await more.waitFor({ state: 'hidden' });
  for (const through of await rows.locator('td[data-label="Through"]').allInnerTexts()) {
    assert.match(through, /Busy script\s+ar_live_/);
  }
  const who = await rows.locator('td[data-label="Who"]').allInnerTexts();
  assert.deepEqual([...new Set(who.map((w) => w.trim()))], ['You']);
  assert.equal(await rows.last().locator('td[data-label="What"]', { hasText: 'batch agent 1' }).count(), 1);

  await page.getByLabel('Filter by key').selectOption({ label: 'All activity' });
  await rowCount(25);
  await more.waitFor();
  assertClean(admin);
});
