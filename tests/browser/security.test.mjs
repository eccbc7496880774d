// Issue 13 in a real browser: a session cookie planted by a page on another port of the same host
// (cookie tossing) never makes a person act in the planter's account; and the page a sign-in goes
// to next (`?next=`) is always one of the app's own pages, never an uploaded (sandboxed) file or
// another site, however the path is dressed up.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, launchBrowser, openPage, assertClean, allowHttpError, apiCall } from './harness.mjs';
import { OWNER, completeSetup, signIn, createKey, closeSecret } from './flows.mjs';

const MALLORY = { name: 'Mallory', email: 'mallory@example.com', password: 'mallory password 1' };

let server;
let browser;
let attacker; // a plain HTTP server on another port of 127.0.0.1
let mallory; // { cookie, share, grantPath }

/** The `ar_session` value a response sets. */
function sessionFrom(res) {
  const set = res.headers.get('set-cookie') ?? '';
  const m = /ar_session=([^;]+)/.exec(set);
  assert.ok(m, `a session cookie in ${set}`);
  return m[1];
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const owner = await openPage(browser);
  await completeSetup(owner.page, server);
  const ownerCookie = (await owner.context.cookies()).find((c) => c.name === 'ar_session');
  await owner.close();

  // Mallory has an ordinary account of her own (through an invite), an artifact and a viewing
  // grant for it: her phishing page, served sandboxed under /v/{grant}/.
  const invite = await apiCall(server.url, 'POST', '/api/v1/team/invites', {
    headers: { Cookie: `ar_session=${ownerCookie.value}` },
    body: {},
  });
  assert.equal(invite.status, 201);
  const token = new URL(invite.body.url).hash.replace('#token=', '');
  const joined = await apiCall(server.url, 'POST', '/api/v1/invites/accept', {
    body: { token, email: MALLORY.email, name: MALLORY.name, password: MALLORY.password },
  });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  const cookie = sessionFrom(joined);
  const created = await apiCall(server.url, 'POST', '/api/v1/artifacts', {
    headers: { Cookie: `ar_session=${cookie}` },
    body: { name: 'Sign in again', fileName: 'page.html', content: '<h1 id="phish">PHISHING PAGE</h1>' },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const grant = await apiCall(server.url, 'POST', `/api/v1/artifacts/${created.body.shareToken}/versions/1/view`, {
    headers: { Cookie: `ar_session=${cookie}` },
  });
  assert.equal(grant.status, 201, JSON.stringify(grant.body));
  mallory = { cookie, share: created.body.shareToken, grantPath: `${grant.body.path}page.html` };
  assert.match(mallory.grantPath, /^\/v\/[A-Za-z0-9_-]+\/page\.html$/);

  // Her page on another port plants her session cookie for the keys API only.
  attacker = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Free stickers</title><body><script>
      document.cookie = 'ar_session=${cookie}; Path=/api/v1/keys; SameSite=Strict';
      document.body.dataset.done = '1';
    </script></body>`);
  });
  await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await browser?.close();
  attacker?.close();
  await server?.saveLog('security.server.log');
  await server?.stop();
});

async function keysOf(cookie) {
  const res = await apiCall(server.url, 'GET', '/api/v1/keys?status=all', { headers: { Cookie: `ar_session=${cookie}` } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.keys.map((k) => k.name);
}

test('a session cookie planted from another port signs the person out instead of acting as the planter', async () => {
  const tab = await openPage(browser);
  const { page, context } = tab;
  await signIn(page, server.url, OWNER);
  await page.goto(`http://127.0.0.1:${attacker.address().port}/`);
  await page.locator('body[data-done="1"]').waitFor({ state: 'attached' });
  const planted = (await context.cookies(`${server.url}/api/v1/keys`)).filter((c) => c.name === 'ar_session');
  assert.equal(planted.length, 2, 'the browser now sends two session cookies to the keys API');

  // Back on the settings, the person does what they came for: make a key.
  const listed = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/keys');
  await page.goto(`${server.url}/settings`);
  if ((await listed).status() === 200) {
    // What happened before the fix: the key is made, in Mallory's account.
    await createKey(page, { name: 'made by the owner' });
    await closeSecret(page);
  } else {
    // Refused as signed out, and both cookies cleared: the page asks the person to sign in again
    // in place, as themself, and that works normally.
    const again = page.locator('#reauth-dialog');
    await again.getByRole('heading', { name: 'Sign in again' }).waitFor();
    const left = (await context.cookies(`${server.url}/api/v1/keys`)).filter((c) => c.name === 'ar_session');
    assert.equal(left.length, 0, `cleared: ${JSON.stringify(left)}`);
    assert.equal(await again.getByLabel('Email').inputValue(), OWNER.email);
    await again.getByLabel('Password').fill(OWNER.password);
    await again.getByRole('button', { name: 'Sign in' }).click();
    await again.waitFor({ state: 'hidden' });
    await createKey(page, { name: 'made by the owner' });
    await closeSecret(page);
  }
  assert.deepEqual(await keysOf(mallory.cookie), [], "nothing lands in the planter's account");
  const own = (await context.cookies(server.url)).find((c) => c.name === 'ar_session');
  assert.deepEqual(await keysOf(own.value), ['made by the owner']);
  assertClean(tab, { allow: [allowHttpError(401, '/api/v1/keys')] });
  await tab.close();
});

test('the page after sign-in is one of the app\'s own pages, never a sandboxed file or another site', async () => {
  const tab = await openPage(browser);
  const { page, context } = tab;
  const grant = mallory.grantPath; // /v/{grant}/page.html
  const hostile = [
    `/a/x/v/1/../../../../${grant.slice(1)}`,
    `/a/x/v/1/%2e%2e/%2e%2e/%2e%2e/%2e%2e/${grant.slice(1)}`,
    `/a/x/v/1/%2E%2E/%2e./.%2e/..${grant}`,
    `/a/x/v/1/..%2f..%2f..%2f..%2f${grant.slice(1).replaceAll('/', '%2f')}`,
    `/a/x/v/1/..%252f..%252f${grant.slice(1)}`,
    `/a/x/v/1/\\..\\..\\..\\..${grant}`,
    `/a/x/v/1/./../../../..${grant}`,
    grant,
    `//evil.example/a/x`,
    `/\\evil.example/a/x`,
    `/a/x/v/1//evil.example`,
    `https://evil.example/a/x`,
    `/settings/../v/x/page.html`,
    `/a/x\t/v/1/../../../..${grant}`,
    `/share/x#elsewhere`,
    `/share/x?file=`,
    `/share/x?other=1`,
    `/share/x?file=a.html&more=1`,
    `/a/x?file=a.html`,
    `/share/x/page.html?file=page.html`,
  ];
  // A genuine sign-in with the hostile links lands on the app, not on Mallory's page.
  for (const next of hostile.slice(0, 4)) {
    // Leave the page we landed on first: signed out under it, its script would go to /login
    // itself and abort our own navigation.
    await page.goto('about:blank');
    await context.clearCookies();
    await page.goto(`${server.url}/login?next=${encodeURIComponent(next)}`);
    const form = page.locator('#login-form');
    await form.getByLabel('Email').fill(OWNER.email);
    await form.getByLabel('Password').fill(OWNER.password);
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname !== '/login');
    await page.waitForLoadState();
    const landed = new URL(page.url());
    assert.ok(!landed.pathname.startsWith('/v/'), `${next} led to ${landed.pathname}`);
    assert.equal(landed.origin, server.url);
    assert.equal(await page.locator('#phish').count(), 0, `${next} showed the phishing page`);
  }
  // And every one of them judged in the page itself, exactly as the sign-in form judges them.
  await page.goto('about:blank');
  await context.clearCookies();
  await page.goto(`${server.url}/login`);
  const verdicts = await page.evaluate(async (list) => {
    const { safeNext } = await import('/assets/js/auth.js');
    return list.map((n) => safeNext(n));
  }, hostile);
  assert.deepEqual(verdicts, hostile.map(() => null));
  const fine = ['/', '/settings', '/settings#agents', `/a/${mallory.share}`, `/a/${mallory.share}/v/2`, `/a/${mallory.share}/v/1/docs/a%20b.html`, '/share/x', '/share/x?file=docs/a%20b.html'];
  const accepted = await page.evaluate(async (list) => {
    const { safeNext } = await import('/assets/js/auth.js');
    return list.map((n) => safeNext(n));
  }, fine);
  assert.deepEqual(accepted, fine);

  // A page of the app named in next still comes back after sign-in.
  await context.clearCookies();
  await page.goto(`${server.url}/login?next=${encodeURIComponent('/settings#agents')}`);
  const form = page.locator('#login-form');
  await form.getByLabel('Email').fill(OWNER.email);
  await form.getByLabel('Password').fill(OWNER.password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/settings#agents');
  assertClean(tab);
  await tab.close();
});
