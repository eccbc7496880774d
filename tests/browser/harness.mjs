// A reusable harness for browser tests of Artifact Review.
//
// It knows nothing about any particular screen. It:
//   - starts the debug server binary on 127.0.0.1:0 with a fresh temporary database, reads the
//     port and the one-time setup link from its log, keeps the whole log, and stops it;
//   - launches Debian's Chromium (/usr/bin/chromium) through playwright-core, with the flags this
//     machine needs (no sandbox as root, no background networking: the network here is closed);
//   - opens pages that record every console error, uncaught page error and JavaScript dialog
//     (alert/confirm/prompt), so that a test can assert there were none.
//
// Typical use with node:test:
//
//   import { startServer, launchBrowser, openPage, assertClean } from './harness.mjs';
//   const server = await startServer();          // server.url, server.setupUrl, server.log()
//   const browser = await launchBrowser();
//   const tab = await openPage(browser);          // tab.page, tab.problems, tab.dialogs
//   await tab.page.goto(server.url + '/settings');
//   assertClean(tab);                             // no console errors, page errors or dialogs
//   await browser.close(); await server.stop();
//
// Environment:
//   ARTIFACT_REVIEW_BIN   the server binary (default: ../../target/debug/artifact-review)
//   CHROMIUM              the browser (default: /usr/bin/chromium)
//   HEADED=1              show the browser window (needs a display)

import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository's root directory. */
export const repoRoot = path.resolve(here, '..', '..');

/** Where tests put what they leave behind for people (screenshots, server logs). */
export const artifactsDir = path.join(repoRoot, 'test-artifacts');

/** The flags Chromium needs on these machines (see the machine notes). */
export const chromiumArgs = [
  '--no-sandbox', // the tests run as root in CI
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

const DEFAULT_BINARY = path.join(repoRoot, 'target', 'debug', 'artifact-review');

/**
 * Starts the server on a free port with a fresh database in a new temporary directory.
 *
 * Resolves once the server has logged `listening on http://HOST:PORT`. The returned object has:
 *   url        "http://127.0.0.1:PORT"
 *   setupUrl   the one-time setup link from the log (null when the database already had a user)
 *   setupToken the token in that link (null likewise)
 *   dbPath     the database file
 *   log()      everything the server wrote so far (stdout and stderr)
 *   saveLog(name)  writes the log to test-artifacts/NAME (handy in an after() hook)
 *   stop()     sends SIGTERM, waits for the exit (SIGKILL after 5 s), removes the temp directory
 *
 * Options: binary, args (extra arguments), env (extra environment), timeoutMs (start-up limit).
 */
export async function startServer(options = {}) {
  const binary = options.binary ?? process.env.ARTIFACT_REVIEW_BIN ?? DEFAULT_BINARY;
  if (!existsSync(binary)) {
    throw new Error(`server binary ${binary} is missing: run \`cargo build\` first`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'artifact-review-browser-'));
  const dbPath = path.join(dir, 'test.db');
  const args = ['--addr', '127.0.0.1:0', '--db', dbPath, ...(options.args ?? [])];
  const child = spawn(binary, args, {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', ...(options.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let log = '';
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });

  const ready = new Promise((resolve, reject) => {
    let setupUrl = null;
    const onData = (chunk) => {
      log += chunk.toString('utf8');
      if (!setupUrl) {
        const m = log.match(/(https?:\/\/\S+\/setup#token=[A-Za-z0-9_-]+)/);
        if (m) setupUrl = m[1];
      }
      const listening = log.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (listening) resolve({ url: listening[1], setupUrl });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exitPromise.then((e) =>
      reject(new Error(`server exited before listening (${JSON.stringify(e)}); log:\n${log}`)),
    );
  });

  const timeoutMs = options.timeoutMs ?? 20_000;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`server did not listen within ${timeoutMs} ms; log:\n${log}`)), timeoutMs);
  });
  let started;
  try {
    started = await Promise.race([ready, timeout]);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    clearTimeout(timer);
  }

  const setupToken = started.setupUrl ? new URL(started.setupUrl).hash.replace(/^#token=/, '') : null;
  return {
    url: started.url,
    setupUrl: started.setupUrl,
    setupToken,
    dbPath,
    process: child,
    log: () => log,
    async saveLog(name) {
      await mkdir(artifactsDir, { recursive: true });
      await writeFile(path.join(artifactsDir, name), log);
    },
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exitPromise;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
      return exited;
    },
  };
}

/** Launches Debian's Chromium, headless unless HEADED=1. Extra launch options are merged in. */
export async function launchBrowser(options = {}) {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} is missing: run \`make browser-deps\` (Debian's chromium package)`);
  }
  return chromium.launch({
    executablePath,
    headless: process.env.HEADED !== '1',
    ...options,
    args: [...chromiumArgs, ...(options.args ?? [])],
  });
}

/**
 * Opens a page in a new browser context (its own cookies) and records its problems.
 *
 * Returns { context, page, problems, dialogs, close() }:
 *   problems  [{kind: 'console'|'pageerror'|'requestfailed', text, url}] in order of arrival
 *   dialogs   [{type, message}]: every alert/confirm/prompt/beforeunload, dismissed at once
 *
 * Options: viewport ({width, height}; default 1280x800), timeoutMs (how long a locator action
 * or wait may take before it fails; default 10 s, so a broken page fails fast) and any other
 * browser.newContext option. Contexts get clipboard permissions so navigator.clipboard works.
 */
export async function openPage(browser, options = {}) {
  const { viewport = { width: 1280, height: 800 }, timeoutMs = 10_000, ...rest } = options;
  const context = await browser.newContext({
    viewport,
    permissions: ['clipboard-read', 'clipboard-write'],
    ...rest,
  });
  context.setDefaultTimeout(timeoutMs);
  const page = await context.newPage();
  const tab = watchPage(page);
  tab.context = context;
  tab.close = () => context.close();
  return tab;
}

/**
 * Starts recording console errors, page errors, failed requests and JS dialogs of an existing page.
 * Returns { page, problems, dialogs }. openPage() calls this for you.
 */
export function watchPage(page) {
  const problems = [];
  const dialogs = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'assert') {
      problems.push({ kind: 'console', text: msg.text(), url: msg.location()?.url ?? '' });
    }
  });
  page.on('pageerror', (err) => {
    problems.push({ kind: 'pageerror', text: String(err?.stack ?? err), url: page.url() });
  });
  page.on('requestfailed', (req) => {
    // Navigations the page itself abandons (a redirect by script) are not problems.
    const failure = req.failure()?.errorText ?? '';
    if (failure.includes('ERR_ABORTED')) return;
    problems.push({ kind: 'requestfailed', text: `${req.method()} ${req.url()}: ${failure}`, url: req.url() });
  });
  page.on('dialog', async (dialog) => {
    dialogs.push({ type: dialog.type(), message: dialog.message() });
    await dialog.dismiss().catch(() => {});
  });
  return { page, problems, dialogs };
}

/**
 * Asserts that the page logged no console error, threw nothing, failed no request and opened no
 * JS dialog. `allow` is a list of predicates (or RegExps matched against the text) for problems
 * the test caused on purpose; each must match at least one problem, so a stale allowance fails too.
 */
export function assertClean(tab, { allow = [] } = {}) {
  const matchers = allow.map((a) => (a instanceof RegExp ? (p) => a.test(p.text) : a));
  const used = new Set();
  const unexpected = tab.problems.filter((p) => {
    const i = matchers.findIndex((m) => m(p));
    if (i >= 0) {
      used.add(i);
      return false;
    }
    return true;
  });
  assert.deepEqual(unexpected, [], `unexpected problems on ${tab.page.url()}`);
  assert.deepEqual(tab.dialogs, [], `unexpected JS dialogs on ${tab.page.url()}`);
  matchers.forEach((_, i) => assert.ok(used.has(i), `allowed problem #${i} never happened`));
}

/** Forgets the problems recorded so far (after asserting on them). */
export function resetProblems(tab) {
  tab.problems.length = 0;
  tab.dialogs.length = 0;
}

/**
 * Chromium logs an HTTP error answer to fetch() as a console error ("Failed to load resource: the
 * server responded with a status of 401"). This builds an `allow` entry for one such answer that a
 * test provoked on purpose, e.g. allowHttpError(401, '/api/v1/session').
 */
export function allowHttpError(status, urlPart) {
  return (p) =>
    p.kind === 'console' &&
    p.text.includes(`status of ${status}`) &&
    (p.url ?? '').includes(urlPart);
}

/** Calls the server's API from Node (not the browser). Returns { status, headers, body }. */
export async function apiCall(baseUrl, method, apiPath, { key, body, headers = {} } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (key) init.headers['X-API-Key'] = key;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(baseUrl + apiPath, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, body: json ?? text };
}

/** Saves a screenshot of the page under test-artifacts/ (and any extra paths); returns the paths. */
export async function saveScreenshot(page, name, { extraPaths = [], fullPage = true } = {}) {
  await mkdir(artifactsDir, { recursive: true });
  const first = path.join(artifactsDir, name);
  const buffer = await page.screenshot({ path: first, fullPage });
  for (const p of extraPaths) {
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, buffer);
  }
  return [first, ...extraPaths];
}

/**
 * Waits until `fn` returns a truthy value (or resolves to one), polling every `intervalMs`.
 * For conditions that live outside the browser (a server's state); inside the page, use
 * locators and page.waitForFunction instead.
 */
export async function eventually(fn, { timeoutMs = 5_000, intervalMs = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}; last: ${last}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
