// Steps through the Artifact Review settings UI that several test files share. Each step drives
// the real page the way a person would (labels, roles, buttons) and waits for what it expects.

import assert from 'node:assert/strict';

export const OWNER = { name: 'Olivia Owner', email: 'owner@example.com', password: 'correct horse battery' };

export const KEY_PATTERN = /^ar_live_[A-Za-z0-9_-]{32}$/;

/** The row of the keys table whose name cell is exactly `name`. */
export function keyRow(page, name) {
  return page.locator('#keys-table tbody tr').filter({
    has: page.locator('td[data-label="Name"]', { hasText: new RegExp(`^${escapeRe(name)}$`) }),
  });
}

/** The row of the agents table whose name cell is exactly `name`. */
export function agentRow(page, name) {
  return page.locator('#agents-table tbody tr').filter({
    has: page.locator('td[data-label="Name"]', { hasText: new RegExp(`^${escapeRe(name)}$`) }),
  });
}

export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Opens the setup link from the server log and creates the owner account; ends on the keys page. */
export async function completeSetup(page, server, owner = OWNER) {
  assert.ok(server.setupUrl, 'the server logged a setup link');
  await page.goto(server.setupUrl);
  await page.getByRole('heading', { name: 'Set up Artifact Review' }).waitFor();
  const form = page.locator('#setup-form');
  await form.getByLabel('Your name').fill(owner.name);
  await form.getByLabel('Email').fill(owner.email);
  await form.getByLabel('Password').fill(owner.password);
  await form.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/settings');
  await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
}

/** Signs in on /login; ends on the keys page. */
export async function signIn(page, baseUrl, { email, password }) {
  if (!page.url().endsWith('/login')) await page.goto(`${baseUrl}/login`);
  const form = page.locator('#login-form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/settings');
  await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
}

/** Shows a section through the side navigation and waits for its heading. */
export async function goToSection(page, linkName, headingName = linkName) {
  await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: linkName }).click();
  await page.getByRole('heading', { name: headingName, level: 1 }).waitFor();
}

/** Creates an agent through the Agents section; ends with its row visible. */
export async function createAgent(page, name, role = '') {
  await goToSection(page, 'Agents');
  await page.getByRole('button', { name: 'Create agent' }).click();
  const dialog = page.locator('#agent-dialog');
  await dialog.waitFor();
  await dialog.getByLabel('Name').fill(name);
  if (role) await dialog.getByLabel('Role').fill(role);
  await dialog.getByRole('button', { name: 'Create agent' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await agentRow(page, name).waitFor();
}

/**
 * Creates a key through the create dialog and returns the full key read from the one-time dialog,
 * which is left open. `identity` is the option's visible text ("You", or "NAME (agent)");
 * `expiration` is an option label ("Never", "In 30 days", "On a date…"), `date` a yyyy-mm-dd.
 */
export async function createKey(page, { name, identity = 'You', expiration = 'Never', date = null }) {
  await goToSection(page, 'API keys');
  await page.locator('#key-create-open').click();
  const dialog = page.locator('#key-create-dialog');
  await dialog.waitFor();
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByLabel('Acts as').selectOption({ label: identity });
  await dialog.getByLabel('Expires', { exact: true }).selectOption({ label: expiration });
  if (date) await dialog.getByLabel('Expiration date').fill(date);
  await dialog.getByRole('button', { name: 'Create key' }).click();
  return readSecret(page);
}

/** Waits for the one-time dialog and returns the secret it shows. */
export async function readSecret(page) {
  const secretDialog = page.locator('#secret-dialog');
  await secretDialog.waitFor();
  const secret = (await secretDialog.locator('#secret-value').textContent()).trim();
  assert.ok(secret.length > 0, 'the one-time dialog shows a secret');
  return secret;
}

/** Closes the one-time dialog with its Done button. */
export async function closeSecret(page) {
  const secretDialog = page.locator('#secret-dialog');
  await secretDialog.getByRole('button', { name: 'Done' }).click();
  await secretDialog.waitFor({ state: 'hidden' });
}

/**
 * Everything of the page where a secret could linger: the serialized DOM, the rendered text, every
 * form control's current value, the selection, and the value of every global variable.
 */
export async function pageContents(page) {
  return page.evaluate(() => {
    const values = [...document.querySelectorAll('input, textarea, select, output')].map((e) => e.value ?? '');
    const globals = [];
    for (const k of Object.getOwnPropertyNames(window)) {
      try {
        const v = window[k];
        if (typeof v === 'string') globals.push(v);
      } catch {
        // some properties throw on access
      }
    }
    return [
      document.documentElement.outerHTML,
      document.body.innerText,
      String(window.getSelection()),
      ...values,
      ...globals,
    ].join('\n');
  });
}

/** The row's cell text for a column label of the keys table (e.g. 'Last used'). */
export async function cellText(row, label) {
  return (await row.locator(`td[data-label="${label}"]`).innerText()).trim();
}
