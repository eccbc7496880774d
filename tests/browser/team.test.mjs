// Account, team and activity: change name and password, invite a teammate with a one-time link
// ("used by NAME" afterwards), change a member's role, make a one-time password-reset link, remove
// and enable an account, the one-time dialog asking once whether its secret was copied, signing in
// again in place when the session ended (what was typed is kept), and the audit trail filtered by
// key, page by page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openPage, assertClean, resetProblems, allowHttpError, apiCall, eventually,
} from './harness.mjs';
import { OWNER, completeSetup, signIn, goToSection, createKey, readSecret, closeSecret, pageContents } from './flows.mjs';

const MEMBER = { name: 'Max Member', email: 'max@example.com', password: 'member password 1' };
const NEW_PASSWORD = 'a brand new passphrase';
const NEW_MEMBER_PASSWORD = 'member password reset';

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

test('the account page lists where you are signed in, and signs out another browser or all of them', async () => {
  const { page } = admin;
  // Two more browsers signed in, say a phone and a tablet (the browser the test before signed in
  // with counts too: closing it signed nothing out).
  const signInElsewhere = async () => {
    const res = await apiCall(server.url, 'POST', '/api/v1/session', {
      body: { email: OWNER.email, password: NEW_PASSWORD },
      headers: { 'User-Agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1' },
    });
    assert.equal(res.status, 200);
    return res.headers.get('set-cookie').split(';')[0];
  };
  const phone = await signInElsewhere();
  const tablet = await signInElsewhere();
  await goToSection(page, 'API keys');
  await goToSection(page, 'Account');
  const rows = page.locator('#sessions-table tbody tr');
  await eventually(async () => (await rows.count()) >= 3, { message: 'the sessions are listed' });
  const here = rows.filter({ hasText: 'This browser' });
  assert.equal(await here.count(), 1);
  const phones = rows.filter({ hasText: 'Safari on iPhone' });
  assert.equal(await phones.count(), 2);
  // One of them signed out: after a confirmation, it stops working at once.
  await phones.first().getByRole('button', { name: /^Sign out Safari on iPhone/ }).click();
  const confirm = page.locator('#confirm-dialog');
  await confirm.getByRole('heading', { name: 'Sign out this browser?' }).waitFor();
  await confirm.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('#toast', { hasText: 'Safari on iPhone was signed out.' }).waitFor();
  await eventually(async () => (await phones.count()) === 1, { message: 'one phone left' });
  const status = async (cookie) => (await apiCall(server.url, 'GET', '/api/v1/me', { headers: { Cookie: cookie } })).status;
  assert.deepEqual([await status(tablet), await status(phone)].sort(), [200, 401]);
  // Every other browser at once; this one stays signed in.
  await page.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await confirm.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await page.locator('#toast', { hasText: /other sessions? (was|were) signed out/ }).waitFor();
  await eventually(async () => (await rows.count()) === 1, { message: 'only this browser is left' });
  assert.equal(await rows.first().getByText('This browser').count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Sign out everywhere else' }).isVisible(), false);
  assert.deepEqual([await status(tablet), await status(phone)], [401, 401]);
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
  // A new member lands on the artifacts, where what is shared with them waits.
  await mp.waitForURL(`${server.url}/`);
  await mp.getByRole('heading', { name: 'Artifacts', level: 1 }).waitFor();
  await mp.goto(`${server.url}/settings`);
  await mp.locator('#whoami', { hasText: MEMBER.name }).waitFor();
  assert.equal(await mp.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Team' }).count(), 0);
  await mp.goto(`${server.url}/settings#team`);
  await mp.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  assertClean(member, { allow: [allowHttpError(409, '/api/v1/invites/accept')] });
  resetProblems(member);

  await page.reload();
  const used = page.locator('#invites-table tbody tr').filter({ hasText: `used by ${MEMBER.name}` });
  await used.waitFor();
  // A used link is not struck through or greyed: it did its job.
  assert.equal(await used.evaluate((tr) => tr.classList.contains('is-revoked')), false);
  for (const el of [used.locator('.used-by'), used.locator('td[data-label="Status"]')]) {
    assert.equal(await el.evaluate((e) => getComputedStyle(e).textDecorationLine), 'none');
  }
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

  // The member's open page finds its session gone at the next request and asks to sign in again;
  // a disabled account cannot, and "Sign out" leads to the sign-in page.
  const mp = member.page;
  await mp.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Agents' }).click();
  const again = mp.locator('#reauth-dialog');
  await again.getByRole('heading', { name: 'Sign in again' }).waitFor();
  assert.match(await again.locator('#reauth-lead').innerText(), /disabled by an administrator/);
  assert.equal(await again.getByLabel('Email').inputValue(), MEMBER.email);
  await again.getByLabel('Password').fill(MEMBER.password);
  await again.getByRole('button', { name: 'Sign in' }).click();
  await again.locator('.form-error', { hasText: /disabled/ }).waitFor();
  await again.getByRole('button', { name: 'Sign out' }).click();
  await mp.waitForURL(/\/login/);
  await mp.getByRole('heading', { name: 'Sign in' }).waitFor();
  assertClean(member, { allow: [allowHttpError(401, '/api/v1/'), allowHttpError(403, '/api/v1/session')] });
  resetProblems(member);

  await memberRow(page, MEMBER.name).getByRole('button', { name: `Enable ${MEMBER.name}` }).click();
  await memberRow(page, MEMBER.name).locator('td[data-label="Status"]', { hasText: 'active' }).waitFor();
  // The row was drawn again: the focus is on its new Disable button, not dropped to the page.
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), `Disable ${MEMBER.name}`);
  await signIn(mp, server.url, MEMBER);
  assertClean(member);
  assertClean(admin);
});

test('an unused invite link can be revoked', async () => {
  const { page } = admin;
  await page.locator('#invite-role').selectOption('admin');
  await page.getByRole('button', { name: 'Create invite link' }).click();
  const url = await readSecret(page);
  await closeSecret(page);
  assert.equal(await page.locator('#invite-role').inputValue(), 'member', 'the next invite starts as a member again');
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
  // Its page says so before asking for a name and a password.
  const late = await openPage(browser);
  await late.page.goto(url);
  const view = late.page.locator('#view-invite');
  await view.getByText('This invite link is not valid any more').waitFor();
  assert.equal(await view.locator('#invite-form').isVisible(), false, 'no form to fill in for nothing');
  assert.equal(await view.getByRole('link', { name: 'sign in' }).getAttribute('href'), '/login');
  assertClean(late, { allow: [allowHttpError(403, '/api/v1/invites/check')] });
  await late.close();
  assertClean(admin);
});

test("an admin changes a member's role; the last admin cannot step down", async () => {
  const { page } = admin;
  await goToSection(page, 'Team');
  const role = (name) => memberRow(page, name).getByLabel(`Role of ${name}`);
  const confirm = page.locator('#confirm-dialog');
  // One arrow key on the focused select changes it: that alone changes no role.
  let patches = 0;
  page.on('request', (r) => { if (r.method() === 'PATCH' && r.url().includes('/api/v1/team/members/')) patches += 1; });
  await role(MEMBER.name).focus();
  await page.keyboard.press('ArrowUp');
  await confirm.getByRole('heading', { name: 'Make an admin?' }).waitFor();
  await confirm.getByText(MEMBER.email).waitFor();
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'hidden' });
  assert.equal(await role(MEMBER.name).inputValue(), 'member');
  assert.equal(patches, 0);
  // The member has the settings open meanwhile.
  const mp = member.page;
  await mp.goto(`${server.url}/settings`);
  await mp.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  const teamLink = mp.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Team' });
  assert.equal(await teamLink.isVisible(), false);
  await role(MEMBER.name).selectOption('admin');
  await confirm.getByRole('button', { name: 'Make admin' }).click();
  await page.locator('#toast', { hasText: `${MEMBER.name} is now an admin.` }).waitFor();
  assert.equal(patches, 1);
  await eventually(
    () => page.evaluate((label) => document.activeElement?.getAttribute('aria-label') === label, `Role of ${MEMBER.name}`),
    { message: 'the focus is back on the (new) role select' },
  );
  // The new admin's open page follows when it is shown again (another tab, back from a window):
  // the Team section appears, and it says so.
  const shownAgain = () => mp.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await shownAgain();
  await teamLink.waitFor();
  await mp.locator('#toast', { hasText: 'You are now an admin of this server' }).waitFor();
  await teamLink.click();
  await mp.getByRole('heading', { name: 'Team', level: 1 }).waitFor();
  await memberRow(mp, 'Olivia O.').waitFor();

  await role(MEMBER.name).selectOption('member');
  await confirm.getByRole('heading', { name: 'Make a member?' }).waitFor();
  await confirm.getByRole('button', { name: 'Make member' }).click();
  await page.locator('#toast', { hasText: `${MEMBER.name} is now a member.` }).waitFor();
  // Shown again, the page leaves the Team section it may no longer use.
  await shownAgain();
  await mp.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
  await mp.locator('#toast', { hasText: 'You are no longer an admin of this server' }).waitFor();
  assert.equal(await teamLink.isVisible(), false);

  // Olivia is now the only admin: stepping down is not offered (the server refuses it anyway),
  // and the choice says why.
  const asMember = role('Olivia O.').locator('option[value="member"]');
  assert.equal(await asMember.isDisabled(), true);
  assert.match(await asMember.textContent(), /make someone else an admin first/);
  const refused = await page.evaluate(async (id) => {
    const r = await fetch(`/api/v1/team/members/${id}`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ role: 'member' }),
    });
    return { status: r.status, body: await r.json() };
  }, await memberRow(page, 'Olivia O.').getAttribute('data-member-id'));
  assert.equal(refused.status, 409);
  assert.match(refused.body.error, /no enabled admin/);
  assert.equal(await role('Olivia O.').inputValue(), 'admin');
  // The trail says whom a role change concerned, and from what to what.
  await goToSection(page, 'Activity');
  const newest = page.locator('#activity-table tbody tr').first().locator('td[data-label="What"]');
  await newest.waitFor();
  assert.match(await newest.innerText(), new RegExp(`Changed a member's role ${MEMBER.email.replace('.', '\\.')} \\(admin → member\\)`));
  // An admin may see what everyone did: the member's own events are among them.
  const rows = page.locator('#activity-table tbody tr');
  assert.equal((await rows.locator('td[data-label="Who"]').allInnerTexts()).some((w) => w.includes(MEMBER.name)), false);
  await page.getByLabel('Whose').selectOption('team');
  await rows.locator('td[data-label="Who"]', { hasText: MEMBER.name }).first().waitFor();
  assert.match(await page.locator('#view-activity .lead').innerText(), /every member/);
  await page.getByLabel('Whose').selectOption('mine');
  await goToSection(page, 'Team');
  assertClean(admin, { allow: [allowHttpError(409, '/api/v1/team/members/')] });
  resetProblems(admin);
  assertClean(member);
});

test('a password-reset link sets a new password once and signs the member out elsewhere', async () => {
  const { page } = admin;
  await memberRow(page, MEMBER.name).getByRole('button', { name: `Reset password for ${MEMBER.name} (makes a one-time link)` }).click();
  await page.locator('#secret-dialog').getByRole('heading', { name: 'Password-reset link' }).waitFor();
  const url = await readSecret(page);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/reset-password#token=[A-Za-z0-9_-]{32}&email=/);
  await closeSecret(page);
  const token = new URLSearchParams(new URL(url).hash.slice(1)).get('token');
  assert.ok(!(await pageContents(page)).includes(token), 'the link is gone from the page');

  const fresh = await openPage(browser);
  const fp = fresh.page;
  await fp.goto(url);
  await fp.getByRole('heading', { name: 'Set a new password' }).waitFor();
  assert.equal(new URL(fp.url()).hash, '', 'the token leaves the address bar');
  const form = fp.locator('#reset-form');
  // The page says whose password it sets.
  assert.equal(await form.getByLabel('Account').inputValue(), MEMBER.email);
  await form.getByLabel('New password', { exact: true }).fill(NEW_MEMBER_PASSWORD);
  await form.getByLabel('Repeat the new password').fill('something else');
  await form.getByRole('button', { name: 'Set password' }).click();
  await form.locator('#reset-confirm-error', { hasText: 'not the same' }).waitFor();
  await form.getByLabel('Repeat the new password').fill(NEW_MEMBER_PASSWORD);
  await form.getByRole('button', { name: 'Set password' }).click();
  await fp.waitForURL('**/settings');
  await fp.locator('#whoami', { hasText: MEMBER.name }).waitFor();
  assertClean(fresh);
  await fresh.close();

  // The member's other session ended: their open page asks them to sign in again, in place.
  const mp = member.page;
  await goToSection(mp, 'Agents');
  const again = mp.locator('#reauth-dialog');
  await again.getByRole('heading', { name: 'Sign in again' }).waitFor();
  await again.getByLabel('Password').fill(NEW_MEMBER_PASSWORD);
  await again.getByRole('button', { name: 'Sign in' }).click();
  await again.waitFor({ state: 'hidden' });
  await mp.locator('#agents-empty').waitFor();
  assert.match(mp.url(), /\/settings#agents$/);
  assertClean(member, { allow: [allowHttpError(401, '/api/v1/')] });
  resetProblems(member);

  // Used once: the same link is refused.
  const late = await openPage(browser);
  await late.page.goto(url);
  const lateForm = late.page.locator('#reset-form');
  await lateForm.getByLabel('New password', { exact: true }).fill('a third password');
  await lateForm.getByLabel('Repeat the new password').fill('a third password');
  await lateForm.getByRole('button', { name: 'Set password' }).click();
  await lateForm.locator('.form-error', { hasText: 'not valid' }).waitFor();
  assert.match(late.page.url(), /\/reset-password$/);
  assertClean(late, { allow: [allowHttpError(403, '/api/v1/password-resets/accept')] });
  await late.close();
  assertClean(admin);
});

test('closing the one-time key dialog asks once whether the key was copied', async () => {
  const { page } = admin;
  const dialog = page.locator('#secret-dialog');
  const question = dialog.getByText('Did you copy the key?');
  const shown = async () => (await dialog.locator('#secret-value').textContent()).trim();

  // Escape asks; "Not yet" goes back to the key; the second attempt closes without asking again.
  const first = await createKey(page, { name: 'Asked with Escape' });
  await page.keyboard.press('Escape');
  await question.waitFor();
  assert.equal(await dialog.isVisible(), true);
  assert.equal(await shown(), first, 'the key is still there while the question is asked');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Not yet');
  await dialog.getByRole('button', { name: 'Not yet' }).click();
  await question.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'secret-copy');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.ok(!(await pageContents(page)).includes(first.slice(16)), 'the key is gone');

  // Done asks too; a click outside the dialog is then the answer.
  const second = await createKey(page, { name: 'Asked with Done' });
  await dialog.getByRole('button', { name: 'Done' }).click();
  await question.waitFor();
  await page.mouse.click(5, 5);
  await dialog.waitFor({ state: 'hidden' });
  assert.ok(!(await pageContents(page)).includes(second.slice(16)));

  // A click outside asks first, then "Yes, close" closes.
  await createKey(page, { name: 'Asked with a click outside' });
  await page.mouse.click(5, 5);
  await question.waitFor();
  await dialog.getByRole('button', { name: 'Yes, close' }).click();
  await dialog.waitFor({ state: 'hidden' });

  // Copied with the Copy button: no question.
  await createKey(page, { name: 'Copied first' });
  await dialog.getByRole('button', { name: 'Copy' }).click();
  await dialog.locator('#secret-status', { hasText: 'Copied' }).waitFor();
  await dialog.getByRole('button', { name: 'Done' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assertClean(admin);
});

test('a session that ended meanwhile keeps what was typed and signs in again in place', async () => {
  const { page, context } = admin;
  await goToSection(page, 'Agents');
  await page.getByRole('button', { name: 'Create agent' }).click();
  const agentDialog = page.locator('#agent-dialog');
  await agentDialog.getByLabel('Name').fill('Typed before it ended');
  await agentDialog.getByLabel('Role').fill('qa');
  // The session ends elsewhere (signed out from another tab, or expired).
  const cookie = (await context.cookies()).find((c) => c.name === 'ar_session');
  const ended = await apiCall(server.url, 'DELETE', '/api/v1/session', { headers: { Cookie: `ar_session=${cookie.value}` } });
  assert.equal(ended.status, 200);

  await agentDialog.getByRole('button', { name: 'Create agent' }).click();
  const again = page.locator('#reauth-dialog');
  await again.getByRole('heading', { name: 'Sign in again' }).waitFor();
  assert.equal(await again.getByLabel('Email').inputValue(), OWNER.email);
  assert.equal(await agentDialog.getByLabel('Name').inputValue(), 'Typed before it ended', 'nothing typed is lost');
  await again.getByLabel('Password').fill('not the password');
  await again.getByRole('button', { name: 'Sign in' }).click();
  await again.locator('.form-error').waitFor();
  await again.getByLabel('Password').fill(NEW_PASSWORD);
  await again.getByRole('button', { name: 'Sign in' }).click();
  // Signed in again, the agent is created as typed, without submitting twice.
  await again.waitFor({ state: 'hidden' });
  await agentDialog.waitFor({ state: 'hidden' });
  const row = page.locator('#agents-table tbody tr').filter({ hasText: 'Typed before it ended' });
  await row.waitFor();
  assert.equal(await row.count(), 1);
  assert.match(await row.innerText(), /qa/);
  assert.match(page.url(), /\/settings#agents$/);
  assertClean(admin, { allow: [allowHttpError(401, '/api/v1/agents'), allowHttpError(401, '/api/v1/session')] });
  resetProblems(admin);
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

test('the activity trail names an artifact and a version by what people call them, not by row ids', async () => {
  const { page } = admin;
  const key = await createKey(page, { name: 'Notes script' });
  await closeSecret(page);
  const made = await apiCall(server.url, 'POST', '/api/v1/artifacts', { key, body: { name: 'Release notes', fileName: 'notes.md', content: '# v1' } });
  assert.equal(made.status, 201);
  const token = made.body.shareToken;
  assert.equal((await apiCall(server.url, 'POST', `/api/v1/artifacts/${token}/versions`, { key, body: { content: '# v2' } })).status, 201);
  assert.equal((await apiCall(server.url, 'DELETE', `/api/v1/artifacts/${token}/versions/1`, { key })).status, 200);
  await goToSection(page, 'Activity');
  const rows = page.locator('#activity-table tbody tr');
  const deleted = rows.filter({ has: page.locator('td[data-label="What"]', { hasText: /deleted a version/i }) }).first();
  await deleted.waitFor();
  assert.equal((await deleted.locator('td[data-label="Object"]').innerText()).trim(), 'version v1 of “Release notes”');
  // A key the server revoked says why: its agent was deleted.
  await page.evaluate(async () => {
    const send = (method, path, body) => fetch(`/api/v1${path}`, {
      method, headers: { 'Content-Type': 'application/json' }, body: body && JSON.stringify(body),
    }).then((r) => r.json());
    const agent = await send('POST', '/agents', { name: 'Temp bot' });
    await send('POST', '/keys', { name: 'temp bot key', agentId: agent.id });
    await send('DELETE', `/agents/${agent.id}`);
  });
  await goToSection(page, 'API keys');
  await goToSection(page, 'Activity');
  const revoked = page.locator('#activity-table tbody tr[data-action="key.revoked"]').first();
  await revoked.waitFor();
  assert.match(await revoked.locator('td[data-label="What"]').innerText(), /\(agent deleted\)/);
  assert.match(await revoked.locator('td[data-label="Object"]').innerText(), /temp bot key/);
  // A key by its name and prefix, not by its row id.
  const created = page.locator('#activity-table tbody tr[data-action="key.created"]').nth(1);
  assert.match(
    (await created.locator('td[data-label="Object"]').innerText()).trim(),
    /^key \u2068Notes script \(ar_live_[A-Za-z0-9_-]{8}…\)\u2069$/,
  );
  assertClean(admin);
});
