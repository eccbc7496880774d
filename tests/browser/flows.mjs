// Steps through the Artifact Review settings UI and review page that several test files share.
// Each step drives the real page the way a person would (labels, roles, buttons) and waits for
// what it expects.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { apiCall, repoRoot } from './harness.mjs';

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

/**
 * Signs in on /login. The app lands on the artifacts home (`/`); the step then opens the settings,
 * so it ends on the keys page as the tests written before the home expect.
 */
export async function signIn(page, baseUrl, { email, password }) {
  if (!page.url().endsWith('/login')) await page.goto(`${baseUrl}/login`);
  const form = page.locator('#login-form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/');
  await page.getByRole('heading', { name: 'Artifacts', level: 1 }).waitFor();
  await page.goto(`${baseUrl}/settings`);
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

/**
 * Closes the one-time dialog with its Done button, answering "Yes, close" when it asks whether
 * the secret was copied (it asks unless the Copy button put it on the clipboard).
 */
export async function closeSecret(page) {
  const secretDialog = page.locator('#secret-dialog');
  await secretDialog.getByRole('button', { name: 'Done' }).click();
  const yes = secretDialog.getByRole('button', { name: 'Yes, close' });
  if (await yes.isVisible()) await yes.click();
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

// ---- the review page and the artifacts home ----------------------------------------------------


/**
 * Runs the server binary's CLI against a test server's database (`input` goes to its stdin);
 * resolves to its stdout, trimmed.
 */
export function cli(server, args, input = null) {
  const binary = process.env.ARTIFACT_REVIEW_BIN ?? path.join(repoRoot, 'target', 'debug', 'artifact-review');
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...args, '--db', server.dbPath], { stdio: [input === null ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== null) child.stdin.end(input);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${args.join(' ')} → ${code}: ${err}`))));
  });
}

/** Creates an agent for a user and a key acting as it, through the CLI; returns the full key. */
export async function agentKey(server, { user = OWNER.email, agent, role = null, keyName = `${agent} key` }) {
  await cli(server, ['agent', 'create', '--user', user, '--name', agent, ...(role ? ['--role', role] : [])]);
  return cli(server, ['key', 'create', '--user', user, '--name', keyName, '--agent', agent]);
}

/** A key acting as the user themself, through the CLI. */
export function userKey(server, { user = OWNER.email, keyName = 'my key' } = {}) {
  return cli(server, ['key', 'create', '--user', user, '--name', keyName]);
}

/** Calls the API with a key and fails the test on an unexpected status; returns the body. */
export async function apiOk(server, method, apiPath, key, body, expected = [200, 201]) {
  const res = await apiCall(server.url, method, apiPath, { key, body });
  assert.ok(expected.includes(res.status), `${method} ${apiPath} → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Uploads an artifact with a key: {name, fileName, content (string or Buffer for a zip)}. */
export function upload(server, key, { name, fileName, content, versionName }) {
  const body = {
    name, fileName,
    content: Buffer.isBuffer(content) ? content.toString('base64') : content,
  };
  if (versionName) body.versionName = versionName;
  return apiOk(server, 'POST', '/api/v1/artifacts', key, body);
}

/** Publishes a new version of an artifact with a key. */
export function publishVersion(server, key, token, { fileName, content, name }) {
  const body = { fileName, content: Buffer.isBuffer(content) ? content.toString('base64') : content };
  if (name) body.name = name;
  return apiOk(server, 'POST', `/api/v1/artifacts/${token}/versions`, key, body);
}

/** The review page's artifact frame (a Playwright Frame, kept across the frame's navigations). */
export async function reviewFrame(page) {
  const handle = await page.locator('#artifact-frame').elementHandle();
  return handle.contentFrame();
}

/**
 * Waits until the review page shows `file` in its frame, connected to the bridge (the stage says
 * which file it shows once the frame's document said hello).
 */
export async function waitForFile(page, file, { bridged = true } = {}) {
  await page.locator(`#stage[data-file="${file.replace(/"/g, '\\"')}"][data-bridged="${bridged}"]`).waitFor({ state: 'attached' });
  await page.locator('#threads .threads-empty:not([hidden]), #threads article.thread').first().waitFor({ state: 'attached' });
  await page.waitForFunction(() => !document.querySelector('#threads .threads-empty:not([hidden])')?.textContent.includes('Loading'));
}

/** Opens a review page and waits for its file to be connected. */
export async function openReview(page, url, file) {
  await page.goto(url);
  await waitForFile(page, file);
}

/**
 * Selects the first occurrence of `text` inside the frame's document (as a reader dragging over
 * it would), then waits for the page's "Comment" button for that passage.
 */
export async function selectInFrame(page, text, { expectButton = true } = {}) {
  const frame = await reviewFrame(page);
  const found = await frame.evaluate((wanted) => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const i = node.data.indexOf(wanted);
      if (i < 0) continue;
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + wanted.length);
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      node.parentElement.scrollIntoView({ block: 'center' });
      return true;
    }
    return false;
  }, text);
  assert.ok(found, `“${text}” is in the frame`);
  // The button names the passage it is for: wait for this selection's, not an earlier one's.
  const start = text.replace(/\s+/g, ' ').trim().slice(0, 30);
  if (expectButton) await page.getByRole('button', { name: new RegExp(`^Comment on “${escapeRe(start)}`) }).waitFor();
}

/** The texts the frame highlights, by state (CSS Custom Highlight API: ar-open, ar-active, ...). */
export async function frameHighlights(page) {
  const frame = await reviewFrame(page);
  return frame.evaluate(() => {
    const out = {};
    for (const state of ['open', 'active', 'resolved', 'draft']) {
      const h = CSS.highlights.get(`ar-${state}`);
      out[state] = h ? [...h].map((r) => {
        const range = document.createRange();
        range.setStart(r.startContainer, r.startOffset);
        range.setEnd(r.endContainer, r.endOffset);
        return range.toString();
      }) : [];
    }
    return out;
  });
}

/** Whether `text` is highlighted as an open (or the active) thread in the frame. */
export async function isHighlighted(page, text) {
  const h = await frameHighlights(page);
  return [...h.open, ...h.active].some((t) => t.includes(text));
}

/** A thread article of the sidebar whose quote or text contains `text`. */
export function thread(page, text) {
  return page.locator('#threads article.thread').filter({ hasText: text });
}

/** The sidebar group ('open', 'earlier', 'notFound', 'resolved') a thread is listed in. */
export function group(page, name) {
  return page.locator(`#threads [data-group="${name}"]`);
}

/** The session cookie of a signed-in context, as a Cookie header value. */
export async function sessionCookie(context) {
  const session = (await context.cookies()).find((c) => c.name === 'ar_session');
  assert.ok(session, 'signed in');
  return `ar_session=${session.value}`;
}
