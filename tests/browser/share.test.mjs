// A share link in a real browser: an anonymous visitor sees the sandboxed artifact and no
// comments; with readComments the threads and their highlights, read-only, reached with Alt+↓; with writeComments a
// visitor is offered sign-in, comes back and comments on a passage and replies as themself; a link
// turned off stops working on the next load; the artifact's script on the share page cannot read
// the visitor's session or call the API as them; and the owner manages the link from the review
// page. The tests share one server, in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launchBrowser, openPage, assertClean, resetProblems, allowHttpError, saveScreenshot, eventually, apiCall,
} from './harness.mjs';
import {
  OWNER, completeSetup, userKey, apiOk, upload, reviewFrame, selectInFrame, isHighlighted, thread, cli,
} from './flows.mjs';
import { makeZip } from './zip.mjs';

// The entry page probes what its own scripts can reach: the visitor's cookie, the API with the
// visitor's credentials (a read and a comment through the link), and writes what happened.
const PROBE = `<script>
(async () => {
  const out = {};
  try { out.cookie = document.cookie; } catch (e) { out.cookie = 'blocked: ' + e.name; }
  try { out.storage = String(localStorage.length); } catch (e) { out.storage = 'blocked: ' + e.name; }
  try {
    const r = await fetch('/api/v1/me', { credentials: 'include' });
    out.me = 'status ' + r.status;
  } catch (e) { out.me = 'blocked'; }
  const link = location.pathname.split('/')[2];
  try {
    const r = await fetch('/api/v1/share/' + link + '/comments', {
      method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ content: 'forged by the artifact', target: { source: 'index.html' } }),
    });
    out.post = 'status ' + r.status;
  } catch (e) { out.post = 'blocked'; }
  document.getElementById('probe').textContent = JSON.stringify(out);
})();
</script>`;

const SITE = {
  'index.html': `<!doctype html>
<html><head><meta charset="utf-8"><title>Pricing site</title><link rel="stylesheet" href="css/site.css"></head>
<body><h1>Pricing</h1>
<p>The basic plan costs nine euros a month and includes three projects.</p>
<p>The team plan adds shared review and unlimited projects for every member.</p>
<p id="probe">probing</p>
${PROBE}
</body></html>`,
  'faq.html': '<!doctype html><title>FAQ</title><p>Questions and answers.</p>',
  'css/site.css': 'body { font: 16px/1.5 sans-serif; margin: 2rem; } h1 { color: rgb(0, 110, 100); }',
};

/** What the probe's refused requests print in a page that loaded the entry page. */
const PROBED = [
  /has been blocked by CORS policy/,
  (p) => p.kind === 'requestfailed' && /\/api\/v1\//.test(p.text),
  /Failed to load resource: net::ERR_FAILED/,
];

const BOB = { name: 'Bob Visitor', email: 'bob@example.com', password: 'bob visitor password' };

let server;
let browser;
let ownerTab;
let ownerKey;
let site;
let linkToken;
let linkUrl;

const linkApi = () => `/api/v1/artifacts/${site.shareToken}/sharelink`;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  ownerTab = await openPage(browser);
  await completeSetup(ownerTab.page, server);
  ownerKey = await userKey(server);
  site = await upload(server, ownerKey, { name: 'Pricing site', fileName: 'site.zip', content: makeZip(SITE) });
  await cli(server, ['user', 'create', '--email', BOB.email, '--name', BOB.name, '--password-stdin'], `${BOB.password}\n`);
  await apiOk(server, 'POST', `/api/v1/artifacts/${site.shareToken}/comments`, ownerKey, {
    content: 'Is nine euros still right?',
    target: { source: 'index.html', selector: [{ type: 'TextQuoteSelector', exact: 'nine euros a month' }] },
  });
});

after(async () => {
  await server?.saveLog('share.server.log');
  await browser?.close();
  await server?.stop();
});

/** A fresh browser context: a visitor with no cookies at all. */
async function visitor() {
  const tab = await openPage(browser);
  return tab;
}

/** Opens the link's page and waits for its entry page to be connected. */
async function openLink(page, file = 'index.html') {
  await page.goto(linkUrl);
  await page.locator(`#stage[data-file="${file}"][data-bridged="true"]`).waitFor({ state: 'attached' });
}

async function probe(page) {
  const frame = await reviewFrame(page);
  await frame.waitForFunction(() => document.getElementById('probe')?.textContent !== 'probing');
  return JSON.parse(await frame.locator('#probe').textContent());
}

test('the owner makes the link from the review page and copies its address', async () => {
  const page = ownerTab.page;
  await page.goto(`${server.url}/a/${site.shareToken}`);
  await page.locator('#stage[data-file="index.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  await page.getByRole('button', { name: /Manage/ }).click();
  await page.getByRole('button', { name: 'Share link…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Share link' });
  await dialog.getByRole('button', { name: 'Create a link' }).click();
  const field = dialog.getByLabel('Link', { exact: true });
  await eventually(async () => (await field.inputValue()).includes('/share/'), { message: 'the address is shown' });
  linkUrl = await field.inputValue();
  linkToken = linkUrl.split('/').pop();
  const shown = await apiOk(server, 'GET', linkApi(), ownerKey);
  assert.equal(shown.shareUrl, linkUrl);
  assert.deepEqual(shown.capabilities, { readComments: false, writeComments: false });
  assert.equal(shown.enabled, true);
  await dialog.getByRole('button', { name: 'Done' }).click();
  assertClean(ownerTab, { allow: [...PROBED, allowHttpError(404, '/sharelink')] });
  resetProblems(ownerTab);
});

test('an anonymous visitor sees the sandboxed artifact and no comments', async () => {
  const tab = await visitor();
  const { page } = tab;
  await openLink(page);
  // The page's HTML started the frame on the entry page, in the link's folder.
  assert.equal(await page.locator('#artifact-frame').getAttribute('src'), `/share/${linkToken}/index.html`);
  assert.equal(await page.locator('#artifact-name').innerText(), 'Pricing site');
  assert.equal(await page.locator('#artifact-frame').getAttribute('sandbox'), 'allow-scripts allow-popups allow-forms');
  const frame = await reviewFrame(page);
  assert.match(await frame.locator('body').innerText(), /nine euros a month/);
  // Its own stylesheet loads from under the link.
  assert.equal(await frame.locator('h1').evaluate((el) => getComputedStyle(el).color), 'rgb(0, 110, 100)');
  assert.equal(await page.locator('#sidebar').isVisible(), false, 'no comments on a view-only link');
  assert.equal(await page.locator('#share-sign-in').isVisible(), false);
  assert.equal(await page.locator('#threads article.thread').count(), 0);
  // The file tree opens another page of the site, still under the link.
  await page.getByRole('navigation', { name: 'Files' }).getByRole('link', { name: 'faq.html' }).click();
  await page.locator('#stage[data-file="faq.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  assert.match(await (await reviewFrame(page)).locator('body').innerText(), /Questions and answers/);
  assertClean(tab, { allow: PROBED });
  await tab.context.close();
});

test('with readComments the threads are shown and highlighted, read-only', async () => {
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { capabilities: { readComments: true } });
  const tab = await visitor();
  const { page } = tab;
  await openLink(page);
  const t = thread(page, 'Is nine euros still right?');
  await t.waitFor();
  await eventually(() => isHighlighted(page, 'nine euros a month'), { message: 'the passage is highlighted' });
  assert.equal(await t.getByRole('button', { name: 'Resolve' }).count(), 0);
  assert.equal(await t.locator('form').isVisible(), false, 'no reply form');
  assert.equal(await page.locator('#read-only-hint').isVisible(), true);
  assert.equal(await page.locator('#comment-file').isVisible(), false);
  // The page's own keys move between threads, as on the review page.
  await page.locator('#comments-title').focus();
  await page.keyboard.press('Alt+ArrowDown');
  await page.waitForFunction(() => document.activeElement?.closest('article.thread')?.textContent.includes('Is nine euros still right?'));
  await selectInFrame(page, 'team plan', { expectButton: false });
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#selection-float').isVisible(), false, 'no Comment button for a reader');
  assertClean(tab, { allow: PROBED });
  await tab.context.close();
});

/** Follows the page's "Sign in to comment" and signs in as Bob. */
/** Bob on the link's page, signed in from it and back on its entry page. */
async function signedInVisitor() {
  const tab = await visitor();
  const { page } = tab;
  await openLink(page);
  await signInFromLink(page);
  await page.waitForURL((url) => url.pathname === `/share/${linkToken}`);
  await page.locator('#stage[data-file="index.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  return tab;
}

async function signInFromLink(page) {
  await page.locator('#share-sign-in').click();
  await page.waitForURL((url) => url.pathname === '/login');
  const form = page.locator('#login-form');
  await form.getByLabel('Email').fill(BOB.email);
  await form.getByLabel('Password').fill(BOB.password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

test('with writeComments a visitor signs in, comes back, comments on a passage and replies', async () => {
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { capabilities: { writeComments: true } });
  const tab = await visitor();
  const { page } = tab;
  await openLink(page);
  assert.equal(await page.locator('#sign-in-hint').isVisible(), true);
  await signInFromLink(page);
  await page.waitForURL((url) => url.pathname === `/share/${linkToken}`);
  await page.locator('#stage[data-file="index.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  assert.equal(await page.locator('#share-viewer').innerText(), `Signed in as ${BOB.name}`);

  await selectInFrame(page, 'unlimited projects');
  await page.getByRole('button', { name: /^Comment on “unlimited projects/ }).click();
  await page.getByLabel('Your comment').fill('Unlimited for how many members?');
  await page.getByRole('button', { name: 'Post comment' }).click();
  const mine = thread(page, 'Unlimited for how many members?');
  await mine.waitFor();
  await eventually(() => isHighlighted(page, 'unlimited projects'), { message: 'the new passage is highlighted' });

  const owners = thread(page, 'Is nine euros still right?');
  await owners.getByPlaceholder('Reply…').fill('Yes, for this year.');
  await owners.getByRole('button', { name: 'Reply' }).click();
  await owners.getByText('Yes, for this year.').waitFor();

  // Stored as Bob, on the latest version; the owner sees them as usual.
  const { comments } = await apiOk(server, 'GET', `/api/v1/artifacts/${site.shareToken}/comments?version=all`, ownerKey);
  const bobs = comments.find((c) => c.content === 'Unlimited for how many members?');
  assert.equal(bobs.author.name, BOB.name);
  assert.equal(bobs.target.source, 'index.html');
  assert.ok(bobs.target.selector.some((s) => s.type === 'TextQuoteSelector' && s.exact === 'unlimited projects'));
  const reply = comments.find((c) => c.content === 'Is nine euros still right?').replies[0];
  assert.equal(reply.author.name, BOB.name);
  await saveScreenshot(page, 'share-link-commenting.png');

  // What Bob wrote he can change and delete from this page; the owner's comment he cannot, and
  // no one resolves through a link.
  assert.equal(await owners.getByRole('button', { name: 'Edit your comment' }).count(), 0);
  assert.equal(await owners.getByRole('button', { name: 'Delete this thread' }).count(), 0);
  assert.equal(await mine.getByRole('button', { name: 'Resolve' }).count(), 0);
  const mineById = page.locator(`article.thread[data-id="${await mine.getAttribute('data-id')}"]`);
  // The reply form above still has the focus, its Send button showing: pressing Edit takes the
  // focus from it, and the first press counts (it used to fold the buttons away under the
  // pointer, moving Edit up before the press ended).
  await mineById.getByRole('button', { name: 'Edit your comment' }).click();
  await mineById.getByRole('textbox', { name: 'Edit your comment' }).fill('Unlimited for how many seats?');
  await page.keyboard.press('Control+Enter');
  await mineById.locator('.comment-text', { hasText: 'Unlimited for how many seats?' }).waitFor();
  const bobsReply = owners.locator('li.reply', { hasText: 'Yes, for this year.' });
  await bobsReply.getByRole('button', { name: 'Delete this reply' }).click();
  await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete reply' }).click();
  await bobsReply.waitFor({ state: 'detached' });
  const stored = await apiOk(server, 'GET', `/api/v1/artifacts/${site.shareToken}/comments?version=all`, ownerKey);
  assert.ok(stored.comments.some((c) => c.content === 'Unlimited for how many seats?' && c.author.name === BOB.name));
  assert.equal(stored.comments.find((c) => c.content === 'Is nine euros still right?').replies.length, 0);

  // The artifact's own script, running in the page Bob is signed in to, got nowhere.
  const got = await probe(page);
  assert.match(got.cookie, /^blocked/);
  assert.match(got.storage, /^blocked/);
  assert.equal(got.me, 'blocked', 'no answer from the API as Bob');
  assert.equal(got.post, 'blocked', 'no comment through the link as Bob');
  const after = await apiOk(server, 'GET', `/api/v1/artifacts/${site.shareToken}/comments?version=all`, ownerKey);
  assert.ok(!after.comments.some((c) => c.content === 'forged by the artifact'), 'nothing was forged');
  assertClean(tab, { allow: PROBED });
  await tab.context.close();
});

test('someone who may review the artifact is offered its review page from the link; a visitor is not', async () => {
  const { page } = ownerTab;
  await page.goto(linkUrl);
  await page.locator('#stage[data-file="index.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  await probe(page); // the page's probe has run (its refused calls are the owner tab's problems)
  const open = page.getByRole('link', { name: 'Open in the review page' });
  assert.equal(await open.getAttribute('href'), `/a/${site.shareToken}`);
  const shared = await apiCall(server.url, 'GET', `/api/v1/share/${linkToken}`, {});
  assert.equal(shared.body.viewer, null);
  const tab = await signedInVisitor();
  await tab.page.locator('#share-viewer').waitFor();
  assert.equal(await tab.page.getByRole('link', { name: 'Open in the review page' }).isVisible(), false, 'Bob may not review it');
  await open.click();
  await page.waitForURL(`${server.url}/a/${site.shareToken}`);
  await page.locator('#stage[data-file="index.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  await probe(page);
  assertClean(tab, { allow: PROBED });
  // The owner's tab ran the probing page too.
  assertClean(ownerTab, { allow: PROBED });
  resetProblems(ownerTab);
  await tab.context.close();
});

test('what came through the link is marked; what a reviewer wrote on the review page is not changed through it', async () => {
  // Bob becomes a reviewer for a moment and comments as one, with a key of his own.
  const grant = await apiOk(server, 'POST', `/api/v1/artifacts/${site.shareToken}/access`, ownerKey,
    { email: BOB.email, role: 'can-comment' });
  const bobKey = (await cli(server, ['key', 'create', '--user', BOB.email, '--name', 'bob'])).trim();
  const asReviewer = await apiOk(server, 'POST', `/api/v1/artifacts/${site.shareToken}/comments`, bobKey,
    { content: 'Noted as a reviewer.', target: { source: 'index.html' } });
  const tab = await signedInVisitor();
  const { page } = tab;
  const reviewerNote = thread(page, 'Noted as a reviewer.');
  await reviewerNote.waitFor();
  const throughLink = thread(page, 'Unlimited for how many seats?');
  assert.equal(await reviewerNote.getByRole('button', { name: 'Edit your comment' }).count(), 0,
    'not written through the link: not changed through it');
  assert.equal(await reviewerNote.getByRole('button', { name: 'Delete this thread' }).count(), 0);
  assert.equal(await reviewerNote.getByText('via share link').count(), 0);
  assert.equal(await throughLink.getByRole('button', { name: 'Edit your comment' }).count(), 1);
  await throughLink.getByText('via share link').waitFor();
  assertClean(tab, { allow: PROBED });
  await tab.context.close();

  // The owner, on the review page, sees which thread came through the link.
  const { page: owner } = ownerTab;
  await owner.goto(`${server.url}/a/${site.shareToken}`);
  await thread(owner, 'Unlimited for how many seats?').getByText('via share link').waitFor();
  assert.equal(await thread(owner, 'Noted as a reviewer.').getByText('via share link').count(), 0);
  assert.equal(await thread(owner, 'Is nine euros still right?').getByText('via share link').count(), 0);
  const { comments } = await apiOk(server, 'GET', `/api/v1/artifacts/${site.shareToken}/comments`, ownerKey);
  const via = Object.fromEntries(comments.map((c) => [c.content, c.viaShareLink]));
  assert.deepEqual(via, {
    'Is nine euros still right?': false, 'Unlimited for how many seats?': true, 'Noted as a reviewer.': false,
  });
  await apiOk(server, 'DELETE', `/api/v1/comments/${asReviewer.id}`, ownerKey);
  await apiOk(server, 'DELETE', `/api/v1/artifacts/${site.shareToken}/access/${grant.id}`, ownerKey);
  await probe(owner);
  assertClean(ownerTab, { allow: PROBED });
  resetProblems(ownerTab);
});

test("the page's address follows the file shown: signing in, reloading and Back return to it", async () => {
  const tab = await visitor();
  const { page } = tab;
  await openLink(page);
  const tree = page.getByRole('navigation', { name: 'Files' });
  await tree.getByRole('link', { name: 'faq.html' }).click();
  await page.locator('#stage[data-file="faq.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  assert.equal(new URL(page.url()).search, '?file=faq.html');
  const next = new URL(await page.locator('#share-sign-in').getAttribute('href'), server.url).searchParams.get('next');
  assert.equal(next, `/share/${linkToken}?file=faq.html`);
  await signInFromLink(page);
  await page.waitForURL((url) => url.pathname === `/share/${linkToken}` && url.search === '?file=faq.html');
  await page.locator('#stage[data-file="faq.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  assert.equal(await page.locator('#share-viewer').innerText(), `Signed in as ${BOB.name}`);
  // A file without a bridge, then Back: the page follows, and a reload keeps the file.
  await tree.getByRole('link', { name: 'site.css' }).click();
  await page.locator('#stage[data-file="css/site.css"][data-bridged="false"]').waitFor({ state: 'attached' });
  assert.equal(new URL(page.url()).search, '?file=css/site.css');
  await page.goBack();
  await page.locator('#stage[data-file="faq.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  assert.equal(new URL(page.url()).search, '?file=faq.html');
  await page.reload();
  await page.locator('#stage[data-file="faq.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  const frame = page.frames().find((f) => f.parentFrame() === page.mainFrame());
  assert.ok(new URL(frame.url()).pathname.endsWith('/faq.html'), frame.url());
  // An address with a #fragment opens the file there, and keeps it.
  await page.goto(`${server.url}/share/${linkToken}?file=faq.html#answers`);
  await page.locator('#stage[data-file="faq.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  const placed = page.frames().find((f) => f.parentFrame() === page.mainFrame());
  await eventually(async () => (await placed.evaluate(() => location.hash)) === '#answers', { message: 'the frame went to #answers' });
  assert.equal(new URL(page.url()).hash, '#answers');
  assert.equal(new URL(page.url()).search, '?file=faq.html');
  // The entry page is the link's own address.
  await tree.getByRole('link', { name: 'index.html' }).click();
  await page.locator('#stage[data-file="index.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  assert.equal(page.url(), `${server.url}/share/${linkToken}`);
  assertClean(tab, { allow: PROBED });
  await tab.context.close();
});

test('a link turned off stops working on the next load', async () => {
  const tab = await visitor();
  const { page } = tab;
  await openLink(page);
  await apiOk(server, 'DELETE', linkApi(), ownerKey);
  await page.reload();
  await page.getByRole('heading', { name: 'This link is no longer available' }).waitFor();
  assert.equal(await page.locator('#artifact-frame').count(), 0, 'the page is not the share page any more');
  // Its files too.
  const res = await page.goto(`${linkUrl}/index.html`);
  assert.equal(res.status(), 404);
  // On again, same address.
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { enabled: true });
  await openLink(page);
  assertClean(tab, { allow: [...PROBED, allowHttpError(404, '/share/')] });
  await tab.context.close();
});

test('a link turned off while its page is open: the next file or reply ends the page, keeping what was being written', async () => {
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { capabilities: { writeComments: true } });
  const tab = await signedInVisitor();
  const { page } = tab;
  // A reply being written when the owner turns the link off; then the next file is opened.
  const owners = thread(page, 'Is nine euros still right?');
  await owners.getByPlaceholder('Reply…').fill('Half an answer');
  await apiOk(server, 'DELETE', linkApi(), ownerKey);
  await page.getByRole('navigation', { name: 'Files' }).getByRole('link', { name: 'faq.html' }).click();
  await page.getByRole('heading', { name: 'This link is no longer available' }).waitFor();
  assert.equal(await page.getByLabel('What you were writing, not posted (copy it to keep it):').inputValue(), 'Half an answer');
  assert.equal(await page.locator('#review-app').isVisible(), false, 'no page that looks alive');
  // The same when the reply itself is what finds the link gone.
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { enabled: true });
  await openLink(page);
  const again = thread(page, 'Is nine euros still right?');
  await again.getByPlaceholder('Reply…').fill('Another answer');
  await apiOk(server, 'DELETE', linkApi(), ownerKey);
  await again.getByRole('button', { name: 'Reply' }).click();
  await page.getByRole('heading', { name: 'This link is no longer available' }).waitFor();
  assert.equal(await page.getByLabel('What you were writing, not posted (copy it to keep it):').inputValue(), 'Another answer');
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { enabled: true });
  assertClean(tab, { allow: [...PROBED, allowHttpError(404, '/share/')] });
  await tab.context.close();
});

test('the owner narrowing what the link allows while its page is open: the page follows, keeping what was being written', async () => {
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { enabled: true, capabilities: { writeComments: true } });
  const tab = await signedInVisitor();
  const { page } = tab;
  // Comments no longer taken: the reply being sent finds out, and its text is kept to copy.
  const owners = thread(page, 'Is nine euros still right?');
  await owners.getByPlaceholder('Reply…').fill('A reply that came too late');
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { capabilities: { writeComments: false } });
  await owners.getByRole('button', { name: 'Reply' }).click();
  await page.getByRole('heading', { name: 'What this link allows has changed' }).waitFor();
  assert.equal(await page.getByLabel('What you were writing, not posted (copy it to keep it):').inputValue(), 'A reply that came too late');
  // Comments no longer shown: the page, looking again when it is shown, reloads without them.
  await page.getByRole('button', { name: 'Reload' }).click();
  await page.locator('#stage[data-file="index.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  await thread(page, 'Is nine euros still right?').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Comment on this file' }).isVisible(), false, 'read-only now');
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { capabilities: { readComments: false, writeComments: false } });
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await eventually(async () => (await page.locator('#sidebar').isVisible()) === false, { message: 'the comments are gone' });
  assert.equal(await page.locator('article.thread').count(), 0);
  await apiOk(server, 'PATCH', linkApi(), ownerKey, { capabilities: { writeComments: true } });
  assertClean(tab, { allow: [...PROBED, allowHttpError(403, '/share/')] });
  await tab.context.close();
});

test('the owner turns the link off and on from the review page', async () => {
  const page = ownerTab.page;
  await page.getByRole('button', { name: /Manage/ }).click();
  await page.getByRole('button', { name: 'Share link…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Share link' });
  await eventually(async () => (await dialog.getByLabel('Link', { exact: true }).inputValue()) === linkUrl, { message: 'the same address' });
  // The capabilities are filled in from the same answer as the address, but not necessarily in the
  // same frame: wait for the box rather than read it once.
  await eventually(async () => await dialog.getByLabel('Comment and reply, once signed in to this server').isChecked(), { message: 'the link lets signed-in visitors comment' });
  await dialog.getByRole('button', { name: 'Turn off the link' }).click();
  await dialog.getByRole('button', { name: 'Turn the link on' }).waitFor();
  assert.equal((await apiOk(server, 'GET', linkApi(), ownerKey)).enabled, false);
  await dialog.getByRole('button', { name: 'Turn the link on' }).click();
  await dialog.getByRole('button', { name: 'Turn off the link' }).waitFor();
  await dialog.getByLabel('Comment and reply, once signed in to this server').uncheck();
  await eventually(async () => !(await apiOk(server, 'GET', linkApi(), ownerKey)).capabilities.writeComments, { message: 'saved' });
  assert.match(await dialog.locator('#share-views').innerText(), /Views of this artifact, in the review page and through its link: \d+ views? by \d+ viewers?/);
  assertClean(ownerTab);
});
