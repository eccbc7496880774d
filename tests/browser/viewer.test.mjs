// The artifact viewer in a real browser: a private ZIP site opened in its review page
// (/a/{shareToken}/v/1/...) runs in the page's frame, under a viewing grant, in the CSP sandbox. Its stylesheet, module script, image and fetch('./data.json') all work
// under the viewing grant without cookies, while the reader's cookies, storage and API stay out of
// its reach. Turning the sandbox off makes these tests fail.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, assertClean, apiCall } from './harness.mjs';
import { completeSetup } from './flows.mjs';
import { makeZip } from './zip.mjs';

// A 1×1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

const SITE = {
  'probe-site/index.html': `<!doctype html>
<html><head><meta charset="utf-8"><title>Probe</title>
<link rel="stylesheet" href="css/site.css">
<script type="module" src="js/app.js"></script></head>
<body><h1 id="probe">Styled heading</h1><img id="logo" src="img/logo.png" alt="logo"><pre id="result"></pre></body></html>`,
  'probe-site/css/site.css': '#probe { color: rgb(0, 128, 0); }',
  'probe-site/js/app.js': `
const result = {};
document.body.dataset.script = 'ran';
try { result.cookie = document.cookie; } catch (e) { result.cookieError = e.name; }
try { result.storage = window.localStorage.getItem('x'); } catch (e) { result.storageError = e.name; }
try { const r = await fetch('./data.json'); result.data = await r.json(); } catch (e) { result.dataError = String(e); }
const img = document.getElementById('logo');
if (!img.complete) await new Promise((done) => { img.onload = done; img.onerror = done; });
result.imageWidth = img.naturalWidth;
result.origin = self.origin;
document.getElementById('result').textContent = JSON.stringify(result);
document.body.dataset.done = '1';
`,
  'probe-site/img/logo.png': PNG,
  'probe-site/data.json': '{"revenue": [1, 2, 3]}',
  'probe-site/evil.html': `<!doctype html>
<html><head><meta charset="utf-8"><title>Evil</title></head><body><pre id="result"></pre>
<script type="module">
const out = {};
try { out.cookie = document.cookie; } catch (e) { out.cookieError = e.name; }
try { localStorage.setItem('stolen', 'yes'); out.storage = 'written'; } catch (e) { out.storageError = e.name; }
try {
  const r = await fetch('/api/v1/keys', { method: 'POST', credentials: 'include',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'stolen by an artifact' }) });
  out.status = r.status;
  out.body = await r.text();
} catch (e) { out.fetchError = e.name; }
document.getElementById('result').textContent = JSON.stringify(out);
document.body.dataset.done = '1';
</script></body></html>`,
};

let server;
let browser;
let tab;
let cookieHeader;
let share;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  tab = await openPage(browser);
  await completeSetup(tab.page, server);
  const cookies = await tab.context.cookies();
  const session = cookies.find((c) => c.name === 'ar_session');
  assert.ok(session, 'signed in');
  cookieHeader = `ar_session=${session.value}`;
  const zip = makeZip(SITE);
  const created = await apiCall(server.url, 'POST', '/api/v1/artifacts', {
    headers: { Cookie: cookieHeader },
    body: { name: 'Private probe site', fileName: 'site.zip', content: zip.toString('base64') },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  share = created.body.shareToken;
});

after(async () => {
  await server?.saveLog('viewer-server.log');
  await browser?.close();
  await server?.stop();
});

async function results(frame) {
  await frame.locator('body[data-done="1"]').waitFor();
  return JSON.parse(await frame.locator('#result').textContent());
}

/** The review page's artifact frame, once it shows a file under a viewing grant. */
async function artifactFrame(page, file) {
  const pattern = new RegExp(`^${server.url}/v/[A-Za-z0-9_-]{32}/${file}$`);
  for (;;) {
    const frame = page.frames().find((f) => pattern.test(f.url()));
    if (frame) return frame;
    await page.waitForEvent('framenavigated');
  }
}

test('a private ZIP site runs in the sandbox with its styles, script, image and data', async () => {
  const { page } = tab;
  await page.goto(`${server.url}/a/${share}/v/1/`);
  const frame = await artifactFrame(page, 'index\\.html');
  const r = await results(frame);
  assert.equal(await frame.locator('body').getAttribute('data-script'), 'ran', 'the module script ran');
  assert.equal(await frame.locator('#probe').evaluate((el) => getComputedStyle(el).color), 'rgb(0, 128, 0)', 'the stylesheet applied');
  assert.equal(r.imageWidth, 1, 'the image loaded');
  assert.deepEqual(r.data, { revenue: [1, 2, 3] }, "fetch('./data.json') succeeded");
  assert.equal(r.cookieError, 'SecurityError', 'document.cookie is not readable');
  assert.equal(r.cookie, undefined);
  assert.equal(r.storageError, 'SecurityError', 'localStorage is not readable');
  assert.equal(r.origin, 'null', 'the page runs in an opaque origin');
  assertClean(tab);
});

test('an artifact cannot act as the reader: no cookie, no storage, no API call', async () => {
  const evil = await openPage(browser);
  await evil.context.addCookies(await tab.context.cookies());
  await evil.page.goto(`${server.url}/a/${share}/v/1/evil.html`);
  const r = await results(await artifactFrame(evil.page, 'evil\\.html'));
  assert.equal(r.cookieError, 'SecurityError');
  assert.equal(r.storageError, 'SecurityError');
  assert.equal(r.storage, undefined);
  assert.ok(r.fetchError || (r.status >= 400 && r.status < 500), `the key request failed: ${JSON.stringify(r)}`);
  const keys = await apiCall(server.url, 'GET', '/api/v1/keys?status=all', { headers: { Cookie: cookieHeader } });
  assert.equal(keys.status, 200);
  assert.deepEqual(keys.body.keys, [], 'no key was created');
  await evil.close();
});

test('the grant works without cookies and dies with the session', async () => {
  const reader = await openPage(browser);
  await reader.context.addCookies(await tab.context.cookies());
  await reader.page.goto(`${server.url}/a/${share}/v/1/`);
  const frame = await artifactFrame(reader.page, 'index\\.html');
  await results(frame);
  const grantUrl = frame.url();
  // A fresh context with no cookies at all can load the grant's files.
  const stranger = await openPage(browser);
  const css = await stranger.page.request.get(grantUrl.replace(/index\.html$/, 'css/site.css'));
  assert.equal(css.status(), 200);
  assert.equal(css.headers()['content-security-policy'], 'sandbox allow-scripts allow-popups allow-forms');
  // Signing out ends the session the grant was made for.
  const out = await apiCall(server.url, 'DELETE', '/api/v1/session', { headers: { Cookie: cookieHeader } });
  assert.equal(out.status, 200);
  const gone = await stranger.page.request.get(grantUrl);
  assert.equal(gone.status(), 404);
  assert.match(gone.headers()['content-type'], /^text\/html/, 'a page saying the view expired');
  await stranger.close();
  await reader.close();
});
