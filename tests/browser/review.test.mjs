// The review page in a real browser, through the real server, API and bridge: a ZIP site whose
// second page is reached by a link in the frame, a passage selected and commented on, its
// highlight, re-anchoring after a reload, Back and Forward, an agent's reply arriving live,
// keyboard-only reply and resolve, a comment on a whole file, comment text that looks like HTML,
// editing and deleting, a new version (comments from v1 found again or listed as not found), an
// old version locked, a version published while the page is open, a Markdown document, the narrow
// layout, the owner's actions, a session that ends, and the README's screenshot.
// The tests share one server and one signed-in page, in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startServer, launchBrowser, openPage, assertClean, resetProblems, allowHttpError, apiCall,
  saveScreenshot, repoRoot, eventually,
} from './harness.mjs';
import {
  OWNER, completeSetup, agentKey, userKey, apiOk, upload, publishVersion, reviewFrame, waitForFile,
  openReview, selectInFrame, frameHighlights, isHighlighted, thread, group, sessionCookie, signIn, cli,
} from './flows.mjs';
import { makeZip } from './zip.mjs';

const SITE = {
  'index.html': `<!doctype html>
<html><head><meta charset="utf-8"><title>Quarterly site</title><link rel="stylesheet" href="css/site.css"></head>
<body><h1>Quarterly site</h1>
<p id="intro">Welcome to the quarterly site. Read the <a id="to-details" href="details.html">details page</a> next.</p>
</body></html>`,
  'details.html': `<!doctype html>
<html><head><meta charset="utf-8"><title>Details</title><link rel="stylesheet" href="css/site.css"></head>
<body><h1>Details</h1>
<p>Revenue grew by twelve percent in the third quarter, driven by the new subscription plans.</p>
<p>Costs stayed flat across every region we operate in, and hiring slowed.</p>
<p><a id="to-home" href="index.html">Back to the start</a></p>
</body></html>`,
  'css/site.css': 'body { font: 16px/1.5 serif; margin: 2rem; }',
};

const DOC_V1 = `<!doctype html>
<html><head><meta charset="utf-8"><title>Launch plan</title></head><body>
<h1>Launch plan</h1>
<p>The launch is planned for the second week of March, after the final review.</p>
<p>This paragraph about the old pricing model will be removed in the next draft.</p>
<p>Support will be staffed around the clock during the first month.</p>
</body></html>`;
const DOC_V2 = `<!doctype html>
<html><head><meta charset="utf-8"><title>Launch plan</title></head><body>
<h1>Launch plan</h1>
<p>Our launch is planned for the second week of March, right after the final review.</p>
<p>Support will be staffed around the clock during the first month.</p>
</body></html>`;

const LONG = Array.from({ length: 60 }, (_, i) => `Transect ${i + 1} was walked twice and logged.`).join(' ');
const MARKDOWN = `# Field notes

The survey covered **forty-two** sites along the northern coast.

Most sites showed erosion of the dunes, worst where the paths cross them.

${LONG}
`;

// A 1x1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

const XSS = '<img src=x onerror=alert(1)>';
const AGENT = { name: 'Claude', role: 'coding' };

let server;
let browser;
let tab;
let page;
let ownerKey;
let claudeKey;
let site; // the ZIP artifact
let plan; // the HTML artifact that gets a v2
let notes; // the Markdown artifact

const ui = (p) => `${server.url}${p}`;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  tab = await openPage(browser);
  page = tab.page;
  await completeSetup(page, server);
  ownerKey = await userKey(server);
  claudeKey = await agentKey(server, { agent: AGENT.name, role: AGENT.role });
  site = await upload(server, ownerKey, { name: 'Quarterly site', fileName: 'site.zip', content: makeZip(SITE) });
  plan = await upload(server, ownerKey, { name: 'Launch plan', fileName: 'plan.html', content: DOC_V1 });
  notes = await upload(server, ownerKey, { name: 'Field notes', fileName: 'notes.md', content: MARKDOWN });
});

after(async () => {
  await server?.saveLog('review.server.log');
  await browser?.close();
  await server?.stop();
});

/** Presses Tab (or Shift+Tab) until the focused element matches `selector`. */
async function tabTo(selector, { back = false, max = 40 } = {}) {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  assert.fail(`Tab never reached ${selector}`);
}

async function comments(token, version = 'all') {
  return (await apiOk(server, 'GET', `/api/v1/artifacts/${token}/comments?version=${version}`, ownerKey)).comments;
}

const toast = () => page.locator('#toast');

test('a ZIP site: a link followed in the frame updates the file tree, the address and the sidebar', async () => {
  await openReview(page, ui(`/a/${site.shareToken}`), 'index.html');
  const tree = page.getByRole('navigation', { name: 'Files' });
  await tree.getByRole('link', { name: /details\.html/ }).waitFor();
  assert.equal(await tree.locator('[aria-current="page"]').innerText(), 'index.html');
  assert.match(await page.locator('#artifact-frame').getAttribute('title'), /Quarterly site.*version 1.*index\.html/);
  assert.equal(await page.locator('#artifact-frame').getAttribute('sandbox'), 'allow-scripts allow-popups allow-forms');

  const frame = await reviewFrame(page);
  await frame.locator('#to-details').click();
  await waitForFile(page, 'details.html');
  assert.equal(new URL(page.url()).pathname, `/a/${site.shareToken}/v/1/details.html`);
  assert.equal(await tree.locator('[aria-current="page"]').innerText(), 'details.html');
  assert.equal(await page.locator('#sidebar-file').innerText(), 'details.html');
  assert.match(await page.title(), /details\.html/);
  assertClean(tab);
});

test('Back and Forward step through the pages of the site, one press per page', async () => {
  await page.goBack();
  await waitForFile(page, 'index.html');
  assert.equal(new URL(page.url()).pathname, `/a/${site.shareToken}`);
  await page.goForward();
  await waitForFile(page, 'details.html');
  assert.equal(new URL(page.url()).pathname, `/a/${site.shareToken}/v/1/details.html`);
  // The tree navigates the frame too, and that is a step of its own.
  await page.getByRole('navigation', { name: 'Files' }).getByRole('link', { name: 'index.html' }).click();
  await waitForFile(page, 'index.html');
  await page.goBack();
  await waitForFile(page, 'details.html');
  assertClean(tab);
});

test('Back and Forward over files without a bridge show each file again, and a comment goes on the file shown', async () => {
  const styled = await upload(server, ownerKey, {
    name: 'Styled site',
    fileName: 'styled.zip',
    content: makeZip({
      'index.html': '<!doctype html><html><head><meta charset="utf-8"><title>Home</title></head><body><h1>Home</h1><p>The styled home page.</p></body></html>',
      'css/style.css': 'h1 { color: teal; }',
      'js/app.js': 'console.log("app");',
    }),
  });
  const base = `/a/${styled.shareToken}`;
  await openReview(page, ui(base), 'index.html');
  const tree = page.getByRole('navigation', { name: 'Files' });
  /** The page, its address, tree and sidebar all name `file`, and the frame shows it. */
  const showing = async (file, address) => {
    await waitForFile(page, file, { bridged: file.endsWith('.html') });
    assert.equal(new URL(page.url()).pathname, address, `address for ${file}`);
    assert.equal(await tree.locator('[aria-current="page"]').innerText(), file.split('/').pop());
    assert.equal(await page.locator('#sidebar-file').innerText(), file);
    const frame = page.frames().find((f) => f.parentFrame() === page.mainFrame());
    assert.ok(decodeURIComponent(new URL(frame.url()).pathname).endsWith(`/${file}`), `the frame shows ${file}: ${frame.url()}`);
    assert.equal(await page.locator('#frame-message').isHidden(), true, `no problem shown for ${file}`);
  };
  await tree.getByRole('link', { name: /style\.css/ }).click();
  await showing('css/style.css', `${base}/v/1/css/style.css`);
  await tree.getByRole('link', { name: /app\.js/ }).click();
  await showing('js/app.js', `${base}/v/1/js/app.js`);
  await page.goBack();
  await showing('css/style.css', `${base}/v/1/css/style.css`);
  await page.goBack();
  await showing('index.html', base);
  await page.goForward();
  await showing('css/style.css', `${base}/v/1/css/style.css`);
  await page.goForward();
  await showing('js/app.js', `${base}/v/1/js/app.js`);
  await page.goBack();
  await showing('css/style.css', `${base}/v/1/css/style.css`);
  // The comment goes on the file shown, the one the form names.
  await page.getByRole('button', { name: 'Comment on this file' }).click();
  const composer = page.locator('#composer');
  assert.match(await composer.locator('.composer-title').innerText(), /whole file css\/style\.css/);
  await composer.getByLabel('Your comment').fill('Teal is hard to read.');
  await composer.getByRole('button', { name: 'Post comment' }).click();
  await thread(page, 'Teal is hard to read.').waitFor();
  const [made] = await comments(styled.shareToken);
  assert.deepEqual(made.target, { source: 'css/style.css' });
  // A form left open while another file is opened still posts where it said, and says so.
  await page.getByRole('button', { name: 'Comment on this file' }).click();
  await composer.getByLabel('Your comment').fill('And the heading size?');
  await tree.getByRole('link', { name: 'index.html' }).click();
  await showing('index.html', base);
  assert.match(await composer.locator('.composer-title').innerText(), /whole file css\/style\.css/);
  await composer.getByRole('button', { name: 'Post comment' }).click();
  await page.locator('#toast', { hasText: 'Comment added on css/style.css' }).waitFor();
  const later = (await comments(styled.shareToken)).find((c) => c.content === 'And the heading size?');
  assert.deepEqual(later.target, { source: 'css/style.css' });
  assertClean(tab);
});

test('a link in the frame to an image of the artifact shows that file, for comments on it; one elsewhere is said to lead outside', async () => {
  const away = 'http://127.0.0.1:9/elsewhere';
  const pictures = await upload(server, ownerKey, {
    name: 'Pictures',
    fileName: 'pictures.zip',
    content: makeZip({
      'index.html': `<!doctype html><html><head><meta charset="utf-8"><title>Pictures</title></head><body><h1>Pictures</h1>
<p>The <a id="to-pic" href="img/dot.png">dot</a>, and <a id="away" href="${away}">a page elsewhere</a>.</p></body></html>`,
      'img/dot.png': PNG,
    }),
  });
  const base = `/a/${pictures.shareToken}`;
  await openReview(page, ui(base), 'index.html');
  const rawPage = await page.locator('#raw-link').getAttribute('href');
  assert.match(rawPage, /\/files\/index\.html\?as=text$/);
  const source = await page.evaluate(async (href) => {
    const res = await fetch(href);
    return { type: res.headers.get('content-type'), text: await res.text() };
  }, rawPage);
  assert.equal(source.type, 'text/plain; charset=utf-8');
  assert.match(source.text, /^<!doctype html>/);
  // The image has no bridge to say which file it is: the link it was reached by says so.
  await (await reviewFrame(page)).locator('#to-pic').click();
  await waitForFile(page, 'img/dot.png', { bridged: false });
  assert.equal(new URL(page.url()).pathname, `${base}/v/1/img/dot.png`);
  // "Raw file": the image as it is (a page, as its source text: see below).
  assert.match(await page.locator('#raw-link').getAttribute('href'), /\/files\/img\/dot\.png$/);
  assert.equal(await page.locator('#sidebar-file').innerText(), 'img/dot.png');
  assert.equal(await page.locator('#frame-message').isHidden(), true);
  await page.getByRole('button', { name: 'Comment on this file' }).click();
  const composer = page.locator('#composer');
  await composer.getByLabel('Your comment').fill('The dot is too small.');
  await composer.getByRole('button', { name: 'Post comment' }).click();
  await thread(page, 'The dot is too small.').waitFor();
  assert.deepEqual((await comments(pictures.shareToken))[0].target, { source: 'img/dot.png' });

  assertClean(tab);

  // In a tab of its own: Chromium reports the review page's CSP keeping another site out of the
  // frame, at times more than once and late.
  const other = await openPage(browser);
  try {
    await signIn(other.page, server.url, OWNER);
    await openReview(other.page, ui(base), 'index.html');
    await (await reviewFrame(other.page)).locator('#away').click();
    await other.page.locator('#frame-message', { hasText: 'This page is not part of the artifact' }).waitFor();
    assert.equal(await other.page.locator('#stage').getAttribute('data-file'), '');
    assert.equal(await other.page.locator('#comment-file').isHidden(), true);
    await other.page.getByRole('button', { name: 'Open index.html' }).click();
    await waitForFile(other.page, 'index.html');
    assert.equal(await other.page.locator('#comment-file').isVisible(), true);
    const framing = /Framing 'http:\/\/127\.0\.0\.1:9\/' violates the following Content Security Policy directive/;
    assert.deepEqual(other.problems.filter((p) => !framing.test(p.text)), []);
  } finally {
    await other.close();
  }
});

test('with the keyboard alone, Tab reaches an artifact that has nothing focusable of its own, and the keys then scroll it', async () => {
  const paragraphs = Array.from({ length: 120 }, (_, i) => `<p>Paragraph ${i + 1} of a long report without a single link.</p>`).join('\n');
  const report = await upload(server, ownerKey, {
    name: 'Long report',
    fileName: 'report.html',
    content: `<!doctype html><html><head><meta charset="utf-8"><title>Report</title></head><body><h1>Report</h1>\n${paragraphs}\n</body></html>`,
  });
  await openReview(page, ui(`/a/${report.shareToken}`), 'report.html');
  await page.locator('#comment-file').focus();
  await tabTo('#artifact-frame', { back: true });
  const frame = page.frames().find((f) => f.parentFrame() === page.mainFrame());
  assert.equal(await frame.evaluate(() => document.hasFocus()), true, 'the focus is in the artifact');
  const before = await frame.evaluate(() => window.scrollY);
  await page.keyboard.press('PageDown');
  await eventually(async () => (await frame.evaluate(() => window.scrollY)) > before + 100, { message: 'PageDown scrolls the artifact' });
  assert.equal(await frame.evaluate(() => document.body.getAttribute('tabindex')), '0', 'the body is the Tab stop');
  // A document with Tab stops of its own (links) is left as it is.
  await openReview(page, ui(`/a/${site.shareToken}`), 'index.html');
  const site1 = page.frames().find((f) => f.parentFrame() === page.mainFrame());
  assert.equal(await site1.evaluate(() => document.body.getAttribute('tabindex')), null);
  assertClean(tab);
});

test('the page comes with its frame started: the script asks for no grant, and a file without a bridge opened by its address is shown as such', async () => {
  const grants = [];
  const onRequest = (request) => {
    if (request.method() === 'POST' && /\/versions\/\d+\/view$/.test(new URL(request.url()).pathname)) grants.push(request.url());
  };
  page.on('request', onRequest);
  try {
    await openReview(page, ui(`/a/${site.shareToken}`), 'index.html');
    // The capability is in the frame, not left in the page.
    assert.equal(await page.locator('meta[name="artifact-frame"]').count(), 0);
    assert.match(await page.locator('#artifact-frame').getAttribute('src'), /^\/v\/[A-Za-z0-9_-]+\/index\.html$/);
    // A stylesheet has no bridge: its page says which file it is, without passages to select.
    await page.goto(ui(`/a/${site.shareToken}/v/1/css/site.css`));
    await waitForFile(page, 'css/site.css', { bridged: false });
    assert.equal(await page.locator('#sidebar-file').innerText(), 'css/site.css');
    assert.equal(await page.locator('#frame-message').isHidden(), true);
    // A page of the site by its address (where the next test starts).
    await openReview(page, ui(`/a/${site.shareToken}/v/1/details.html`), 'details.html');
    assert.deepEqual(grants, [], 'the grants came with the pages');
  } finally {
    page.off('request', onRequest);
  }
  assertClean(tab);
});

test('selecting a passage on the second page and commenting on it highlights it', async () => {
  const passage = 'twelve percent in the third quarter';
  await selectInFrame(page, passage);
  await page.locator('#comment-selection').click();
  const composer = page.locator('#composer');
  await composer.waitFor();
  assert.equal(await composer.locator('.composer-quote').innerText(), passage);
  // The selection stays visible in the frame as a draft while the comment is typed.
  await eventually(async () => (await frameHighlights(page)).draft.includes(passage), { message: 'draft highlight' });
  // Escape cancels and gives focus back; the selection can be commented on again.
  await page.keyboard.press('Escape');
  await composer.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'artifact-frame', 'focus is back in the artifact');
  await selectInFrame(page, passage);
  await page.locator('#comment-selection').click();
  await composer.waitFor();
  // Typed text is not thrown away by Escape without asking.
  const box = composer.getByLabel('Your comment');
  await box.fill('Is this in constant currency?\nPlease say so.');
  await page.keyboard.press('Escape');
  const discard = page.locator('#confirm-dialog');
  await discard.filter({ hasText: 'Discard this comment?' }).waitFor();
  await page.keyboard.press('Escape');
  await discard.waitFor({ state: 'hidden' });
  assert.equal(await composer.isVisible(), true, 'kept on "no"');
  assert.equal(await box.inputValue(), 'Is this in constant currency?\nPlease say so.');
  // Another passage chosen while writing: the text moves there, said so, with a way back.
  await selectInFrame(page, 'hiring slowed');
  await page.locator('#comment-selection').click();
  assert.equal(await composer.locator('.composer-quote').innerText(), 'hiring slowed');
  const moved = composer.locator('.composer-moved');
  assert.match(await moved.innerText(), /Your text now comments on this passage; it was on \u201ctwelve percent in the third quarter\u201d/);
  await moved.getByRole('button', { name: 'Move it back' }).click();
  assert.equal(await composer.locator('.composer-quote').innerText(), passage);
  assert.equal(await box.inputValue(), 'Is this in constant currency?\nPlease say so.');
  await box.focus();
  await page.keyboard.press('Control+Enter');
  const t = thread(page, 'Is this in constant currency?');
  await t.waitFor();
  await toast().filter({ hasText: 'Comment added' }).waitFor();
  // Focus went to the new thread; its text keeps its line break.
  assert.equal(await page.evaluate(() => document.activeElement?.closest('article')?.innerText.includes('constant currency')), true);
  assert.equal(await t.locator('.comment-text').innerText(), 'Is this in constant currency?\nPlease say so.');
  assert.equal(await t.locator('.thread-quote').innerText(), passage);
  await eventually(() => isHighlighted(page, passage), { message: 'the passage is highlighted' });

  const [c] = await comments(site.shareToken);
  assert.equal(c.target.source, 'details.html');
  const quote = [].concat(c.target.selector).find((s) => s.type === 'TextQuoteSelector');
  assert.equal(quote.exact, passage);
  assert.ok(quote.prefix.endsWith('Revenue grew by '), `prefix ${JSON.stringify(quote.prefix)}`);
  assert.ok(quote.suffix.startsWith(', driven by'), `suffix ${JSON.stringify(quote.suffix)}`);
  assertClean(tab);
});

test('after a reload the comment is found again and highlighted', async () => {
  await page.reload();
  await waitForFile(page, 'details.html');
  await group(page, 'open').locator('article', { hasText: 'constant currency' }).waitFor();
  await eventually(() => isHighlighted(page, 'twelve percent in the third quarter'), { message: 're-anchored highlight' });
  assertClean(tab);
});

test("an agent's reply posted through the API appears live, labelled as an agent", async () => {
  const [c] = await comments(site.shareToken);
  const started = Date.now();
  await apiOk(server, 'POST', `/api/v1/comments/${c.id}/replies`, claudeKey, { content: 'Yes: constant currency, see note 4.' });
  const reply = thread(page, 'constant currency').locator('li.reply', { hasText: 'see note 4' });
  await reply.waitFor();
  const latency = Date.now() - started;
  const author = reply.locator('.author');
  assert.equal(await author.getAttribute('data-kind'), 'agent');
  assert.match(await author.innerText(), /Claude\s*,?\s*Agent\s*,?\s*coding/);
  await toast().filter({ hasText: 'Claude (agent) replied' }).waitFor();
  console.log(`# the agent's reply was on the page ${latency} ms after the API call`);
  assertClean(tab);
});

test('a thread deleted by someone else under a reply gives the text back; a changed edit asks before Escape drops it', async () => {
  const made = await apiOk(server, 'POST', `/api/v1/artifacts/${site.shareToken}/comments`, claudeKey, {
    content: 'Is this the final figure?', target: { source: 'details.html' },
  });
  const doomed = thread(page, 'Is this the final figure?');
  const box = doomed.locator('textarea[data-focus="reply"]');
  await box.fill('It is, see the appendix');
  await apiOk(server, 'DELETE', `/api/v1/comments/${made.id}`, claudeKey);
  const dialog = page.locator('#confirm-dialog');
  await dialog.getByRole('heading', { name: 'The thread you were writing in was deleted' }).waitFor();
  assert.equal(await dialog.getByRole('textbox', { name: 'Your text' }).inputValue(), 'It is, see the appendix');
  await dialog.locator('[data-close]').click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await doomed.count(), 0, 'the thread is gone');

  // An edit of one's own comment: Escape with the text changed asks first; kept, then dropped.
  const mine = await apiOk(server, 'POST', `/api/v1/artifacts/${site.shareToken}/comments`, ownerKey, {
    content: 'Check the totals', target: { source: 'details.html' },
  });
  await thread(page, 'Check the totals').waitFor();
  // By its id: while it is edited, its text is in a text box, not in the thread's text.
  const own = page.locator(`article.thread[data-id="${mine.id}"]`);
  await own.getByRole('button', { name: 'Edit your comment' }).click();
  const edit = own.getByRole('textbox', { name: 'Edit your comment' });
  await edit.fill('Check the totals and the footnotes');
  await edit.press('Escape');
  await dialog.getByRole('heading', { name: 'Discard your changes?' }).waitFor();
  await dialog.locator('[data-close]').click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await edit.inputValue(), 'Check the totals and the footnotes', 'kept when not discarded');
  await edit.press('Escape');
  await dialog.getByRole('button', { name: 'Discard changes' }).click();
  await own.getByRole('button', { name: 'Edit your comment' }).waitFor();
  assert.match(await own.innerText(), /Check the totals/);
  assert.ok(!(await own.innerText()).includes('footnotes'), 'the change was dropped');
  await apiOk(server, 'DELETE', `/api/v1/comments/${mine.id}`, ownerKey);
  await own.waitFor({ state: 'detached' });
  assertClean(tab);
});

test('a thread resolved by someone else while a reply to it is being written stays in view, the text kept', async () => {
  const [c] = await comments(site.shareToken);
  const box = thread(page, 'constant currency').locator('textarea[data-focus="reply"]');
  await box.fill('Half-written reply');
  await apiOk(server, 'PATCH', `/api/v1/comments/${c.id}`, claudeKey, { resolved: true });
  await toast().filter({ hasText: 'Claude (agent) resolved the thread you are writing in' }).waitFor();
  const resolved = group(page, 'resolved');
  assert.equal(await resolved.locator('#resolved-toggle').getAttribute('aria-expanded'), 'true');
  assert.equal(await box.isVisible(), true, 'the thread and its reply box are on screen');
  assert.equal(await box.inputValue(), 'Half-written reply');
  // As it was for the tests that follow: open again, no draft, a fresh page.
  await apiOk(server, 'PATCH', `/api/v1/comments/${c.id}`, claudeKey, { resolved: false });
  await box.fill('');
  await page.reload();
  await thread(page, 'constant currency').waitFor();
  assertClean(tab);
});

test('with too many event streams open (429), the page polls instead and still shows the reply', async () => {
  // A reviewer of their own, whose streams are only the ones made here: the owner's pages of
  // earlier tests may hold slots until the server sees them gone, and free them at any moment.
  const ownerCookie = await sessionCookie(tab.context);
  const invite = await apiCall(server.url, 'POST', '/api/v1/team/invites', { headers: { Cookie: ownerCookie }, body: {} });
  assert.equal(invite.status, 201, JSON.stringify(invite.body));
  const joined = await apiCall(server.url, 'POST', '/api/v1/invites/accept', {
    body: { token: new URL(invite.body.url).hash.replace('#token=', ''), email: 'poller@example.com', name: 'Poller', password: 'a long password 1' },
  });
  assert.equal(joined.status, 201, JSON.stringify(joined.body));
  const session = /ar_session=([^;]+)/.exec(joined.headers.get('set-cookie') ?? '')?.[1];
  assert.ok(session, 'the new reviewer is signed in');
  const cookie = `ar_session=${session}`;
  await apiOk(server, 'POST', `/api/v1/artifacts/${site.shareToken}/access`, ownerKey, { email: 'poller@example.com' });
  // Fill this reviewer's share of event streams from outside the browser.
  const held = [];
  for (let i = 0; i < 40; i++) {
    const abort = new AbortController();
    const res = await fetch(ui(`/api/v1/artifacts/${site.shareToken}/events`), { headers: { Cookie: cookie, Accept: 'text/event-stream' }, signal: abort.signal });
    if (res.status === 429) break;
    assert.equal(res.status, 200);
    // The response is kept too: one no longer referenced may be collected, and its connection
    // closed, freeing its slot (then the page below got a stream, and no 429).
    held.push({ abort, res });
  }
  assert.ok(held.length < 40, 'the reviewer\'s share of streams was reached');
  const other = await openPage(browser);
  await other.context.addCookies([{ name: 'ar_session', value: session, url: server.url }]);
  // What the server answered the page's stream, seen on the network (Chromium's console line for
  // it may come late).
  const streams = [];
  other.page.on('response', (r) => {
    if (/\/api\/v1\/artifacts\/[^/]+\/events/.test(r.url())) streams.push(r.status());
  });
  try {
    await openReview(other.page, ui(`/a/${site.shareToken}/v/1/details.html`), 'details.html');
    const [c] = await comments(site.shareToken);
    await apiOk(server, 'POST', `/api/v1/comments/${c.id}/replies`, claudeKey, { content: 'Seen while polling.' });
    await other.page.locator('li.reply', { hasText: 'Seen while polling.' }).waitFor({ timeout: 25_000 });
    await eventually(() => streams.includes(429), { message: `the 429 was met (streams answered ${streams}, ${held.length} held)` });
    assert.ok(!streams.includes(200), `the page got no stream (${streams})`);
    // Chromium's console line for the refused stream, if any, is the one problem allowed.
    assert.deepEqual(other.problems.filter((p) => !/429/.test(p.text)), []);
  } finally {
    for (const { abort } of held) abort.abort();
    await other.close();
  }
});

test('keyboard only: reply to a thread, then resolve it (its highlight goes, it moves to Resolved)', async () => {
  await page.locator('#comments-title').focus();
  await page.keyboard.press('Alt+ArrowDown');
  await page.waitForFunction(() => document.activeElement?.matches('article.thread'));
  await tabTo('textarea[data-focus="reply"]');
  // Tab from the empty reply box reaches its own buttons (they used to fold away under it).
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => {
    const el = document.activeElement;
    return el?.tagName === 'BUTTON' && el.closest('form')?.querySelector('textarea')?.dataset.focus === 'reply';
  }), true, 'focus on a button of the reply form');
  await page.keyboard.press('Shift+Tab');
  await page.waitForFunction(() => document.activeElement?.dataset.focus === 'reply');
  await page.keyboard.type('Thanks, resolving.');
  await page.keyboard.press('Control+Enter');
  await thread(page, 'constant currency').locator('li.reply', { hasText: 'Thanks, resolving.' }).waitFor();
  await toast().filter({ hasText: 'Reply added' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.focus), 'reply', 'focus stays in the reply box');

  await tabTo('button[data-focus="resolve"]', { back: true });
  await page.keyboard.press('Enter');
  await toast().filter({ hasText: 'Thread resolved' }).waitFor();
  const resolved = group(page, 'resolved');
  await resolved.waitFor();
  assert.equal(await resolved.locator('#resolved-toggle').getAttribute('aria-expanded'), 'false', 'resolved threads are collapsed');
  assert.equal(await group(page, 'open').isVisible(), false);
  await eventually(async () => !(await isHighlighted(page, 'twelve percent')), { message: 'the highlight is gone' });
  const focused = await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  assert.notEqual(focused, 'BODY', 'focus is not lost');
  assert.equal(focused, 'resolved-toggle');
  // Opening the disclosure shows it, with Reopen.
  await page.keyboard.press('Enter');
  await resolved.getByRole('button', { name: 'Reopen' }).waitFor();
  const [c] = await comments(site.shareToken);
  assert.equal(c.resolved, true);
  assertClean(tab);
});

test('a comment on the whole file, and comment text that looks like HTML, shown as text', async () => {
  await page.getByRole('button', { name: 'Comment on this file' }).click();
  const composer = page.locator('#composer');
  assert.match(await composer.locator('.composer-title').innerText(), /whole file details\.html/);
  await composer.getByLabel('Your comment').fill(XSS);
  await composer.getByRole('button', { name: 'Post comment' }).click();
  const t = thread(page, XSS);
  await t.waitFor();
  assert.equal(await t.locator('.comment-text').innerText(), XSS);
  assert.match(await t.innerText(), /On the whole file/);
  assert.equal(await page.locator('#threads img').count(), 0, 'no img element was made');
  const first = group(page, 'open').locator('article').first();
  assert.match(await first.innerText(), /On the whole file/, 'whole-file comments come first');
  const created = (await comments(site.shareToken)).find((c) => c.content === XSS);
  assert.deepEqual(created.target, { source: 'details.html' });
  assert.deepEqual(tab.dialogs, [], 'no script ran');
  assertClean(tab);
});

test('the author edits a comment; a reply and then the thread are deleted, focus kept', async () => {
  // While it is edited its text is in a field, not in the page's text: follow the thread by id.
  const t = page.locator(`article.thread[data-id="${await thread(page, XSS).getAttribute('data-id')}"]`);
  await t.getByRole('button', { name: 'Edit your comment' }).click();
  const editor = t.getByLabel('Edit your comment');
  await editor.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'TEXTAREA', 'the editor has focus');
  await editor.fill('Edited: the totals need a source.');
  await page.keyboard.press('Control+Enter');
  const edited = t;
  await edited.locator('.comment-text', { hasText: 'Edited: the totals need a source.' }).waitFor();
  await toast().filter({ hasText: 'Comment saved' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.focus), 'edit', 'focus back on Edit');
  // Said to be edited, here and in the API (resolving alone would not make it so).
  assert.match(await edited.locator('.thread-head .edited-mark').innerText(), /edited just now/);
  const stored = (await comments(site.shareToken)).find((c) => c.content === 'Edited: the totals need a source.');
  assert.equal(typeof stored.editedAt, 'number');

  await edited.getByRole('textbox', { name: 'Reply' }).fill('A reply to delete.');
  await edited.getByRole('button', { name: 'Reply', exact: true }).click();
  const reply = edited.locator('li.reply', { hasText: 'A reply to delete.' });
  await reply.waitFor();
  await reply.getByRole('button', { name: 'Delete this reply' }).click();
  await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete reply' }).click();
  await reply.waitFor({ state: 'detached' });

  await edited.getByRole('button', { name: 'Delete this thread' }).click();
  await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete thread' }).click();
  await edited.waitFor({ state: 'detached' });
  await toast().filter({ hasText: 'Thread deleted' }).waitFor();
  assert.notEqual(await page.evaluate(() => document.activeElement?.tagName), 'BODY', 'focus is not lost');
  assert.equal((await comments(site.shareToken)).some((c) => c.content.startsWith('Edited:')), false);
  assertClean(tab);
});

test('v2 of a page: a v1 comment is found again under "From earlier versions"; a removed passage is under "Not found"', async () => {
  const changed = 'launch is planned for the second week of March, after the final review';
  const removed = 'about the old pricing model will be removed';
  const target = (exact) => ({ source: 'plan.html', selector: { type: 'TextQuoteSelector', exact } });
  await apiOk(server, 'POST', `/api/v1/artifacts/${plan.shareToken}/comments`, claudeKey, { content: 'Is March still realistic?', target: target(changed) });
  await apiOk(server, 'POST', `/api/v1/artifacts/${plan.shareToken}/comments`, ownerKey, { content: 'Drop this paragraph.', target: target(removed) });
  await publishVersion(server, ownerKey, plan.shareToken, { fileName: 'plan.html', content: DOC_V2, name: 'Second draft' });

  await openReview(page, ui(`/a/${plan.shareToken}`), 'plan.html');
  const earlier = group(page, 'earlier');
  await earlier.locator('article', { hasText: 'Is March still realistic?' }).waitFor();
  assert.match(await earlier.innerText(), /from v1/);
  await eventually(() => isHighlighted(page, 'planned for the second week of March'), { message: 'fuzzy highlight in v2' });
  const notFound = group(page, 'notFound');
  await notFound.locator('article', { hasText: 'Drop this paragraph.' }).waitFor();
  assert.equal(await notFound.locator('.thread-quote').innerText(), removed);
  await toast().filter({ hasText: '1 comment could not be placed' }).waitFor();
  assertClean(tab);
});

test('an old version is locked: a banner links to the latest, no new comments', async () => {
  await openReview(page, ui(`/a/${plan.shareToken}/v/1/`), 'plan.html');
  const banner = page.locator('#version-banner');
  await banner.filter({ hasText: 'Comments are locked on old versions' }).waitFor();
  assert.equal(await banner.getByRole('link').getAttribute('href'), `/a/${plan.shareToken}`);
  assert.equal(await page.getByRole('button', { name: 'Comment on this file' }).isVisible(), false);
  // Its own comments are there, in place.
  await group(page, 'open').locator('article', { hasText: 'Is March still realistic?' }).waitFor();
  await selectInFrame(page, 'Support will be staffed', { expectButton: false });
  await page.locator('#comments-title').focus();
  await page.keyboard.press('Alt+KeyC');
  await toast().filter({ hasText: 'Comments are locked on old versions' }).waitFor();
  assert.equal(await page.locator('#comment-selection').isVisible(), false);
  // The version switcher lists both, the latest marked.
  await page.locator('#version-button').click();
  const list = page.locator('#version-list');
  await list.waitFor();
  assert.match(await list.innerText(), /v2[\s\S]*Second draft[\s\S]*latest/);
  assert.equal(await list.locator('[aria-current="page"]').getAttribute('href'), `/a/${plan.shareToken}/v/1/`);
  await page.keyboard.press('Escape');
  assertClean(tab);
});

test('a version published while the page is open: a banner says so and new comments stop', async () => {
  await openReview(page, ui(`/a/${plan.shareToken}`), 'plan.html');
  await page.getByRole('button', { name: 'Comment on this file' }).click();
  const composer = page.locator('#composer');
  await composer.getByLabel('Your comment').fill('Written on v2');
  const before = (await comments(plan.shareToken)).length;
  await publishVersion(server, ownerKey, plan.shareToken, { fileName: 'plan.html', content: DOC_V2, name: 'Third draft' });
  const banner = page.locator('#version-banner');
  await banner.filter({ hasText: 'Version 3 was published' }).waitFor();
  // A comment written on v2 and posted after v3 came is refused, not moved to v3; the text stays.
  await composer.getByLabel('Your comment').focus();
  await page.keyboard.press('Control+Enter');
  await composer.filter({ hasText: 'A newer version was published while you wrote' }).waitFor();
  assert.equal(await composer.getByLabel('Your comment').inputValue(), 'Written on v2');
  assert.equal((await comments(plan.shareToken)).length, before, 'nothing stored');
  await composer.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('#confirm-dialog').getByRole('button', { name: 'Discard' }).click();
  await composer.waitFor({ state: 'hidden' });
  assert.equal(await banner.getByRole('link', { name: 'Open v3' }).getAttribute('href'), `/a/${plan.shareToken}`);
  await page.getByRole('button', { name: 'Comment on this file' }).waitFor({ state: 'hidden' });
  await banner.getByRole('link', { name: 'Open v3' }).click();
  await waitForFile(page, 'plan.html');
  assert.match(await page.locator('#version-button').innerText(), /v3/);
  assertClean(tab, { allow: [allowHttpError(400, '/comments')] });
  resetProblems(tab);
});

test('a Markdown document: comment on a passage, see it highlighted, find it again after a reload', async () => {
  await openReview(page, ui(`/a/${notes.shareToken}`), 'notes.md');
  // Over 2,000 characters: said so, not cut short.
  assert.ok(LONG.length > 2000);
  await selectInFrame(page, LONG, { expectButton: false });
  const note = page.locator('#selection-note');
  await note.filter({ hasText: `${LONG.length.toLocaleString('en-US')} characters are selected; a comment can quote at most 2,000` }).waitFor();
  assert.equal(await page.locator('#comment-selection').isVisible(), false);
  const passage = 'erosion of the dunes';
  await selectInFrame(page, passage);
  await page.locator('#comment-selection').click();
  await page.locator('#composer').getByLabel('Your comment').fill('Which years does this compare?');
  await page.keyboard.press('Control+Enter');
  await thread(page, 'Which years').waitFor();
  await eventually(() => isHighlighted(page, passage), { message: 'markdown highlight' });
  await page.reload();
  await waitForFile(page, 'notes.md');
  await eventually(() => isHighlighted(page, passage), { message: 'markdown highlight after reload' });
  const [c] = await comments(notes.shareToken);
  assert.equal(c.target.source, 'notes.md');
  assertClean(tab);
});

test("a passage the page's own script writes, quoted by an agent with scripted, is highlighted and listed", async () => {
  const app = await upload(server, ownerKey, {
    name: 'Orders app',
    fileName: 'app.html',
    content: `<!doctype html><html><head><meta charset="utf-8"><title>Orders</title></head><body>
<h1>Orders</h1><p id="total"></p>
<script>document.getElementById('total').textContent = 'Total due: 42 EUR';</script>
</body></html>`,
  });
  // The server cannot see the text in the file, so it keeps the quote as given.
  await apiOk(server, 'POST', `/api/v1/artifacts/${app.shareToken}/comments`, claudeKey, {
    content: 'Which currency do customers see?', quote: 'Total due: 42 EUR', scripted: true,
  });
  await openReview(page, ui(`/a/${app.shareToken}`), 'app.html');
  await eventually(async () => (await frameHighlights(page)).open.includes('Total due: 42 EUR'), { message: 'the highlight' });
  await eventually(async () => (await group(page, 'open').locator('article.thread').filter({ hasText: 'Which currency do customers see?' }).count()) === 1,
    { message: 'the thread among the placed ones' });
  assert.equal(await group(page, 'notFound').locator('article.thread').count(), 0);
  assertClean(tab);
});

test('150 threads on one page: every passage highlighted, every thread listed, in document order', async () => {
  // More threads than the sidebar builds in one slice: the rest come once the frame has placed
  // the passages (see Sidebar.hold), and none may be left out.
  const n = 150;
  const findings = Array.from({ length: n }, (_, i) => `<p>Finding ${i + 1} of the audit concerns ledger ${i + 1}.</p>`);
  const audit = await upload(server, ownerKey, {
    name: 'Audit findings',
    fileName: 'audit.html',
    content: `<!doctype html><html><head><meta charset="utf-8"><title>Audit</title></head><body>\n${findings.join('\n')}\n</body></html>`,
  });
  // Posted last to first: the sidebar's order must come from where the passages are.
  for (let i = n; i >= 1; i--) {
    await apiOk(server, 'POST', `/api/v1/artifacts/${audit.shareToken}/comments`, ownerKey, {
      content: `Note on finding ${i}`,
      target: { source: 'audit.html', selector: { type: 'TextQuoteSelector', exact: `Finding ${i} of`, suffix: ' the audit' } },
    });
  }
  await openReview(page, ui(`/a/${audit.shareToken}`), 'audit.html');
  await eventually(async () => (await frameHighlights(page)).open.length === n, { message: `${n} highlights` });
  const listed = group(page, 'open').locator('article.thread .comment-text');
  await eventually(async () => (await listed.count()) === n, { message: `${n} threads in the sidebar` });
  assert.deepEqual(await listed.allTextContents(), Array.from({ length: n }, (_, i) => `Note on finding ${i + 1}`));
  const highlighted = (await frameHighlights(page)).open;
  assert.deepEqual(new Set(highlighted), new Set(Array.from({ length: n }, (_, i) => `Finding ${i + 1} of`)));
  assert.equal(await page.locator('#sidebar [data-group="open"] .group-count').textContent(), String(n));
  assertClean(tab);
});

test('390 px wide: no sideways scrolling; files and comments open as drawers; actions reachable', async () => {
  const narrow = await openPage(browser, { viewport: { width: 390, height: 844 } });
  await narrow.context.addCookies(await tab.context.cookies());
  const p = narrow.page;
  await p.goto(ui(`/a/${site.shareToken}/v/1/details.html`));
  await p.locator('#stage[data-bridged="true"]').waitFor({ state: 'attached' });
  const overflow = () => p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(await overflow(), 0, 'no horizontal scroll');
  assert.equal(await p.locator('#sidebar').isVisible(), false, 'the comments start closed, the artifact gets the width');
  const frameBox = await p.locator('#artifact-frame').boundingBox();
  assert.ok(frameBox.width >= 380, `the frame takes the width (${frameBox.width})`);
  // The header takes two rows: the title with the Comments toggle, then the tools.
  const bar = await p.locator('header.review-bar').boundingBox();
  const heading = await p.locator('#artifact-name').boundingBox();
  const toggle = await p.locator('#sidebar-toggle').boundingBox();
  assert.ok(bar.height <= 100, `the header takes two rows, not three (${bar.height} px)`);
  assert.ok(toggle.y < heading.y + heading.height, 'Comments sits on the title row');
  assert.ok(heading.x + heading.width <= toggle.x, 'the title does not run under it');
  // A long name and a wide count keep to their row: the name takes two lines at most, cut with an
  // ellipsis, and never runs under the toggle.
  await p.evaluate(() => {
    document.getElementById('artifact-name').textContent = 'Dashboard Prototype for the Q3 board review with a rather long descriptive name for testing';
    document.getElementById('sidebar-toggle-count').textContent = '(125 open)';
  });
  const long = await p.locator('#artifact-name').boundingBox();
  const wide = await p.locator('#sidebar-toggle').boundingBox();
  const lineHeight = await p.locator('#artifact-name').evaluate((el) => parseFloat(getComputedStyle(el).lineHeight) || 20);
  assert.ok(long.x + long.width <= wide.x, `the long title stops before the toggle (${long.x + long.width} > ${wide.x})`);
  assert.ok(long.height <= lineHeight * 2 + 1, `two lines at most (${long.height} px for lines of ${lineHeight})`);
  assert.ok(wide.x + wide.width <= 390, 'the toggle is on screen');
  assert.equal(await overflow(), 0);

  await p.getByRole('button', { name: /^Comments/ }).click();
  await p.locator('#sidebar').waitFor();
  await p.getByRole('button', { name: 'Comment on this file' }).waitFor();
  await p.getByRole('button', { name: /^Resolved threads/ }).click();
  const t = p.locator('article.thread', { hasText: 'constant currency' });
  await t.waitFor();
  const reopen = await t.getByRole('button', { name: 'Reopen' }).boundingBox();
  assert.ok(reopen.x >= 0 && reopen.x + reopen.width <= 390, 'Reopen is on screen');
  assert.ok(reopen.height >= 24 && reopen.width >= 24, 'targets are at least 24 px');
  const reply = await t.getByRole('textbox', { name: 'Reply' }).boundingBox();
  assert.ok(reply.x >= 0 && reply.x + reply.width <= 390, 'the reply box fits');
  assert.equal(await overflow(), 0);
  // The artifact under the open drawer is out of reach: Shift+Tab from the drawer's heading does
  // not land behind it.
  assert.equal(await p.locator('#stage').evaluate((el) => el.inert), true);
  await p.locator('#comments-title').focus();
  await p.keyboard.press('Shift+Tab');
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'sidebar-toggle');
  await p.locator('#comments-title').focus();
  await p.keyboard.press('Escape');
  await p.locator('#sidebar').waitFor({ state: 'hidden' });
  assert.equal(await p.locator('#stage').evaluate((el) => el.inert), false);
  // "Skip to comments" opens the drawer at its heading.
  await p.locator('.skip-link').focus();
  await p.keyboard.press('Enter');
  await p.locator('#sidebar').waitFor();
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'comments-title');
  await p.keyboard.press('Escape');
  await p.locator('#sidebar').waitFor({ state: 'hidden' });
  // The home link keeps its name where its text is hidden from sight.
  assert.equal(await p.locator('header .home-link').getAttribute('href'), '/');
  assert.equal(await p.getByRole('link', { name: 'Artifacts' }).count(), 1);

  await p.getByRole('button', { name: 'Files' }).click();
  const tree = p.getByRole('navigation', { name: 'Files' });
  await tree.getByRole('link', { name: 'index.html' }).click();
  await p.locator('#stage[data-file="index.html"][data-bridged="true"]').waitFor({ state: 'attached' });
  assert.equal(await tree.isVisible(), false, 'the drawer closes after choosing a file');
  assert.equal(await overflow(), 0);
  await saveScreenshot(p, 'review-page-390.png', { fullPage: false });
  assertClean(narrow);
  await narrow.close();
});

test('keyboard at 390 px: the frame shows it has the focus, a cancelled comment gives it back uncovered, a posted one is in view and says its passage', async () => {
  const paragraphs = Array.from({ length: 12 }, (_, i) => `<p>Section ${i + 1} says the figures for region ${i + 1} were checked twice.</p>`).join('\n');
  const report = await upload(server, ownerKey, {
    name: 'Regional report', fileName: 'regions.html',
    content: `<!doctype html><html><head><meta charset="utf-8"><title>Regions</title></head><body><h1>Regions</h1>\n${paragraphs}\n</body></html>`,
  });
  for (let i = 1; i <= 10; i++) {
    await apiOk(server, 'POST', `/api/v1/artifacts/${report.shareToken}/comments`, ownerKey, {
      content: `Source for region ${i}?`, quote: `the figures for region ${i} were`,
    });
  }
  const narrow = await openPage(browser, { viewport: { width: 390, height: 700 } });
  await narrow.context.addCookies(await tab.context.cookies());
  const p = narrow.page;
  await openReview(p, ui(`/a/${report.shareToken}`), 'regions.html');
  const focused = () => p.evaluate(() => ({ id: document.activeElement?.id, cls: document.activeElement?.className ?? '' }));

  // Tab into the artifact: the frame is outlined while it has the focus; a click draws nothing.
  // The header's controls first, in order; the last of them, then one Tab more, is the artifact.
  // (The focus enters the sandboxed frame's own process asynchronously, so the test waits for it
  // there rather than pressing on past it.)
  const stops = [];
  for (let i = 0; i < 12 && (await focused()).id !== 'sidebar-toggle'; i++) {
    await p.keyboard.press('Tab');
    stops.push((await focused()).id || (await focused()).cls);
  }
  assert.deepEqual(stops, ['skip-link', 'brand home-link', 'version-button', 'raw-link', 'owner-button', 'sidebar-toggle']);
  await p.keyboard.press('Tab');
  await eventually(async () => (await focused()).id === 'artifact-frame', { message: 'Tab reaches the artifact' });
  const outline = () => p.locator('#artifact-frame').evaluate((el) => getComputedStyle(el).outlineStyle);
  // Drawn once this window has heard it lost the focus to the frame (a task after the focus moved).
  await eventually(async () => (await outline()) === 'solid', { message: 'outlined when the keyboard put the focus there' });
  await p.keyboard.press('Shift+Tab');
  await eventually(async () => (await focused()).id === 'sidebar-toggle', { message: 'Shift+Tab leaves the artifact' });
  assert.equal(await outline(), 'none', 'not once it has left');

  // A passage selected, the Comment button said to be there; Alt+C, then Escape on an empty box:
  // the drawer closes and the focus is back on the artifact, not lost behind the drawer.
  await selectInFrame(p, 'Section 12 says');
  assert.match(await p.locator('#selection-status').textContent(), /Alt\+C/);
  await p.locator('#artifact-frame').focus();
  await p.keyboard.press('Alt+c');
  await p.locator('#composer-text').waitFor();
  assert.equal(await p.locator('#stage').evaluate((el) => el.inert), true, 'the drawer covers the artifact');
  await p.keyboard.press('Escape');
  await p.locator('#composer').waitFor({ state: 'hidden' });
  assert.equal((await focused()).id, 'artifact-frame', 'the focus is back on the artifact');
  assert.equal(await p.locator('#stage').evaluate((el) => el.inert), false, 'which is no longer covered');

  // Posted: the new thread has the focus, in sight in the drawer, and its name says its passage.
  await selectInFrame(p, 'Section 11 says');
  await p.locator('#artifact-frame').focus();
  await p.keyboard.press('Alt+c');
  await p.locator('#composer-text').fill('Which year?');
  await p.keyboard.press('Control+Enter');
  const posted = p.locator('article.thread', { hasText: 'Which year?' });
  await posted.waitFor();
  await eventually(async () => (await focused()).cls.includes('thread'), { message: 'the new thread has the focus' });
  await eventually(async () => {
    const box = await posted.boundingBox();
    const panel = await p.locator('#sidebar').boundingBox();
    return box && box.y >= panel.y - 1 && box.y < panel.y + panel.height;
  }, { message: 'the new thread is in sight' });
  const name = await posted.evaluate((el) => document.getElementById(el.getAttribute('aria-labelledby')).textContent);
  assert.match(name, /^Thread on “Section 11 says”/);
  // Its buttons say which thread they act on.
  const resolve = posted.getByRole('button', { name: 'Resolve' });
  assert.match(await resolve.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby')).textContent), /Section 11 says/);
  // "Show in document": the drawer closes and the focus is in the artifact, at the passage.
  await posted.getByRole('button', { name: 'Show in document' }).press('Enter');
  await p.locator('#sidebar').waitFor({ state: 'hidden' });
  assert.equal((await focused()).id, 'artifact-frame');
  assert.equal(await p.locator('#stage').evaluate((el) => el.inert), false);
  // The caret is at the passage's start, for caret browsing and a screen reader to go on from.
  const frame = await reviewFrame(p);
  await eventually(() => frame.evaluate(() => {
    const s = getSelection();
    return s.isCollapsed && s.anchorNode?.nodeType === 3 && s.anchorNode.data.slice(s.anchorOffset).startsWith('Section 11 says');
  }), { message: 'the caret at the passage' });
  assertClean(narrow);
  await narrow.close();
});

test('the review page with an agent thread next to a person\'s is saved as a screenshot', async () => {
  const passage = 'Support will be staffed around the clock';
  await apiOk(server, 'POST', `/api/v1/artifacts/${plan.shareToken}/comments`, claudeKey, {
    content: 'Staffing plan attached in the appendix.\nShould we say which time zones?',
    target: { source: 'plan.html', selector: { type: 'TextQuoteSelector', exact: passage } },
  });
  await openReview(page, ui(`/a/${plan.shareToken}`), 'plan.html');
  await selectInFrame(page, 'Launch plan');
  await page.locator('#comment-selection').click();
  await page.locator('#composer').getByLabel('Your comment').fill('Title should name the product.');
  await page.keyboard.press('Control+Enter');
  await thread(page, 'Title should name the product.').waitFor();
  await thread(page, 'Staffing plan attached').waitFor();
  await eventually(() => isHighlighted(page, passage), { message: 'agent thread highlighted' });
  // The announcement toast fades after a few seconds; the picture is of the page, not of it.
  await page.waitForFunction(() => getComputedStyle(document.getElementById('toast')).opacity === '0', null, { timeout: 8000 });
  await page.locator('#sidebar').evaluate((el) => el.scrollTo(0, 0));
  const refreshDocs = process.env.UPDATE_DOCS_SCREENSHOT === '1';
  await saveScreenshot(page, 'review-page.png', {
    fullPage: false,
    extraPaths: refreshDocs ? [path.join(repoRoot, 'docs', 'review-page.png')] : [],
  });
  assertClean(tab);
});

test('a #fragment in the address: the frame opens there, and one followed in the frame goes into the address', async () => {
  // A wider site page with places to go to.
  const address = ui(`/a/${site.shareToken}/v/1/details.html#to-home`);
  await openReview(page, address, 'details.html');
  const frame = await reviewFrame(page);
  await eventually(async () => (await frame.evaluate(() => location.hash)) === '#to-home', { message: 'the frame went to #to-home' });
  const url = () => new URL(page.url());
  assert.equal(url().pathname, `/a/${site.shareToken}/v/1/details.html`);
  assert.equal(url().hash, '#to-home', 'the address keeps its #fragment');
  // The artifact moves to another place of the same document: the address follows, the file
  // stays the same (no reload, same sidebar).
  await frame.evaluate(() => { location.hash = '#intro-of-details'; });
  await eventually(() => url().hash === '#intro-of-details', { message: 'the address took the new #fragment' });
  assert.equal(url().pathname, `/a/${site.shareToken}/v/1/details.html`);
  assert.equal(await page.locator('#sidebar-file').innerText(), 'details.html');
  // A document that moves its #fragment a hundred times at once (a contents list following the
  // scrolling): the address ends on the last, in a few changes, not a hundred.
  await page.evaluate(() => {
    window.__addressChanges = 0;
    const replace = history.replaceState.bind(history);
    history.replaceState = (...args) => { window.__addressChanges += 1; return replace(...args); };
  });
  await frame.evaluate(() => { for (let i = 0; i < 100; i += 1) history.replaceState(null, '', `#s${i}`); });
  await eventually(() => url().hash === '#s99', { message: 'the address took the last #fragment' });
  assert.ok(await page.evaluate(() => window.__addressChanges) <= 3, 'coalesced');
  await frame.evaluate(() => { location.hash = '#intro-of-details'; });
  await eventually(() => url().hash === '#intro-of-details', { message: 'and the next one' });
  // A reload comes back to the same place.
  await page.reload();
  await waitForFile(page, 'details.html');
  const again = await reviewFrame(page);
  await eventually(async () => (await again.evaluate(() => location.hash)) === '#intro-of-details', { message: 'back at the place after a reload' });
  assertClean(tab);
});

test('a long comment is folded to its first lines, with Show more that stays open through live updates', async () => {
  await openReview(page, ui(`/a/${plan.shareToken}`), 'plan.html');
  await apiOk(server, 'POST', `/api/v1/artifacts/${plan.shareToken}/comments`, claudeKey, {
    content: `Long review. ${LONG}`,
    target: { source: 'plan.html' },
  });
  const t = thread(page, 'Long review.');
  await t.waitFor();
  const text = t.locator('.comment-text');
  const more = t.getByRole('button', { name: 'Show more' });
  assert.equal(await more.getAttribute('aria-expanded'), 'false');
  assert.equal(await more.getAttribute('aria-controls'), await text.getAttribute('id'));
  const folded = (await text.boundingBox()).height;
  assert.ok(folded < 220, `folded to a few lines: ${folded} px`);
  await more.click();
  const less = t.getByRole('button', { name: 'Show less' });
  assert.equal(await less.getAttribute('aria-expanded'), 'true');
  const unfolded = (await text.boundingBox()).height;
  assert.ok(unfolded > folded * 2, `${unfolded} px unfolded, ${folded} folded`);
  // A live update rebuilds the thread (a reply arrives): it stays unfolded.
  const id = await t.getAttribute('data-id');
  await apiOk(server, 'POST', `/api/v1/comments/${id}/replies`, ownerKey, { content: 'Noted.' });
  await t.getByText('Noted.').waitFor();
  assert.equal(await t.getByRole('button', { name: 'Show less' }).getAttribute('aria-expanded'), 'true');
  // Short texts have no such button.
  assert.equal(await t.locator('li.reply').getByRole('button', { name: /Show (more|less)/ }).count(), 0);
  assertClean(tab);
});

test('a comment is limited in characters as the server counts them: pasted emoji are not cut in half', async () => {
  await openReview(page, ui(`/a/${plan.shareToken}`), 'plan.html');
  // 6,008 characters, 12,008 UTF-16 units: under the 10,000-character limit.
  const emoji = `${'🎉'.repeat(6000)} THE END`;
  await page.getByRole('button', { name: 'Comment on this file' }).click();
  const composer = page.locator('#composer');
  await composer.getByLabel('Your comment').fill(emoji);
  await composer.getByRole('button', { name: 'Post comment' }).click();
  await thread(page, 'THE END').waitFor();
  const stored = (await comments(plan.shareToken)).find((c) => c.content.endsWith('THE END'));
  assert.equal(stored?.content, emoji, 'stored whole');
  // Over the limit, the form says so before sending, and keeps the text.
  const over = '🎉'.repeat(10001);
  await page.getByRole('button', { name: 'Comment on this file' }).click();
  await composer.getByLabel('Your comment').fill(over);
  await composer.getByRole('button', { name: 'Post comment' }).click();
  await composer.getByText('This is 10,001 characters long; the limit is 10,000.').waitFor();
  assert.equal(await composer.getByLabel('Your comment').inputValue(), over);
  await composer.getByLabel('Your comment').fill('');
  await page.keyboard.press('Escape');
  assertClean(tab);
});

test('the owner renames the artifact, adds and removes a reviewer, and deletes it', async () => {
  const doomed = await upload(server, ownerKey, { name: 'Scratch page', fileName: 'scratch.html', content: '<!doctype html><p>Scratch text.</p>' });
  await openReview(page, ui(`/a/${doomed.shareToken}`), 'scratch.html');
  await page.getByRole('button', { name: 'Manage' }).click();
  await page.getByRole('button', { name: 'Rename…' }).click();
  const rename = page.locator('#rename-dialog');
  await rename.getByLabel('Name').fill('Scratch page, renamed');
  await rename.getByRole('button', { name: 'Save name' }).click();
  await page.locator('#artifact-name', { hasText: 'Scratch page, renamed' }).waitFor();
  assert.match(await page.title(), /Scratch page, renamed/);

  await page.getByRole('button', { name: 'Manage' }).click();
  await page.getByRole('button', { name: 'Reviewers…' }).click();
  const reviewers = page.locator('#reviewers-dialog');
  await reviewers.getByText('Only you can see this artifact so far.').waitFor();
  await reviewers.getByLabel('Add by email').fill('new.reviewer@example.com');
  await page.keyboard.press('Enter');
  const item = reviewers.locator('li.reviewer', { hasText: 'new.reviewer@example.com' });
  await item.waitFor();
  assert.match(await item.innerText(), /pending/);
  // How to reach someone without an account: an invite from an admin, or the share link.
  const pending = reviewers.locator('#reviewers-pending');
  await pending.waitFor();
  assert.match(await pending.innerText(), /invite link on the Team page/);
  assert.equal(await pending.getByRole('link', { name: 'Team page' }).getAttribute('href'), '/settings#team');
  // Said inside the dialog: while it is open, nothing outside it reaches assistive technology.
  const said = reviewers.locator('.dialog-status[role="status"]');
  await said.filter({ hasText: 'new.reviewer@example.com added as a reviewer' }).waitFor({ state: 'attached' });
  await reviewers.getByLabel('Add by email').fill('new.reviewer@example.com');
  await page.keyboard.press('Enter');
  await reviewers.locator('.field-error', { hasText: 'already has access' }).waitFor();
  // The button stays beside the input when an error shows under it.
  const input = await reviewers.getByLabel('Add by email').boundingBox();
  const add = await reviewers.getByRole('button', { name: 'Add reviewer' }).boundingBox();
  assert.ok(Math.abs((add.y + add.height / 2) - (input.y + input.height / 2)) <= 2, `button at ${add.y}, input at ${input.y}`);
  // Removing asks first; cancelled, nothing changes.
  await item.getByRole('button', { name: 'Remove new.reviewer@example.com' }).click();
  const confirm = page.locator('#confirm-dialog');
  await confirm.getByRole('heading', { name: 'Remove new.reviewer@example.com?' }).waitFor();
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  assert.equal(await item.isVisible(), true);
  await item.getByRole('button', { name: 'Remove new.reviewer@example.com' }).click();
  await confirm.getByRole('button', { name: 'Remove reviewer' }).click();
  await item.waitFor({ state: 'detached' });
  await pending.waitFor({ state: 'hidden' });
  await reviewers.getByRole('button', { name: 'Done' }).click();

  await page.getByRole('button', { name: 'Manage' }).click();
  await page.getByRole('button', { name: 'Delete artifact…' }).click();
  await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete artifact' }).click();
  await page.waitForURL(`${server.url}/`);
  const gone = await apiCall(server.url, 'GET', `/api/v1/artifacts/${doomed.shareToken}`, { key: ownerKey });
  assert.equal(gone.status, 404);
  assertClean(tab, { allow: [allowHttpError(409, '/access')] });
  resetProblems(tab);
});

test('a session that ends while the page is open: "You were signed out", with a way back', async () => {
  const other = await openPage(browser);
  await signIn(other.page, server.url, OWNER);
  await openReview(other.page, ui(`/a/${notes.shareToken}`), 'notes.md');
  const cookie = await sessionCookie(other.context);
  const out = await apiCall(server.url, 'DELETE', '/api/v1/session', { headers: { Cookie: cookie } });
  assert.equal(out.status, 200);
  // The event stream notices by itself; any action would too.
  await other.page.getByRole('heading', { name: 'You were signed out' }).waitFor({ timeout: 30_000 });
  const link = other.page.getByRole('link', { name: 'Sign in again' });
  assert.equal(await link.getAttribute('href'), `/login?next=${encodeURIComponent(`/a/${notes.shareToken}`)}`);
  assert.equal(await other.page.locator('#review-app').isVisible(), false);
  await other.close();
});

test('a reviewer whose account an admin disables while the page is open is told so, not asked to sign in', async () => {
  const rita = { email: 'rita@example.com', password: 'rita reviews everything' };
  await cli(server, ['user', 'create', '--email', rita.email, '--name', 'Rita Reviewer', '--password-stdin'], `${rita.password}\n`);
  await apiOk(server, 'POST', `/api/v1/artifacts/${notes.shareToken}/access`, ownerKey, { email: rita.email, role: 'can-comment' });
  const other = await openPage(browser);
  await signIn(other.page, server.url, rita);
  await openReview(other.page, ui(`/a/${notes.shareToken}`), 'notes.md');
  // From the command line: the server notices the other process's change, and the page by itself.
  await cli(server, ['user', 'disable', rita.email]);
  await other.page.getByRole('heading', { name: 'Your account was disabled' }).waitFor({ timeout: 30_000 });
  assert.equal(await other.page.getByRole('link', { name: 'Sign in again' }).count(), 0);
  assert.equal(await other.page.locator('#review-app').isVisible(), false);
  await other.close();
});

test('a reviewer whose access is removed while they write a reply is told so, with their text to copy', async () => {
  const ray = { email: 'ray@example.com', password: 'ray reviews carefully' };
  await cli(server, ['user', 'create', '--email', ray.email, '--name', 'Ray Reviewer', '--password-stdin'], `${ray.password}\n`);
  const grant = await apiOk(server, 'POST', `/api/v1/artifacts/${notes.shareToken}/access`, ownerKey, { email: ray.email, role: 'can-comment' });
  const other = await openPage(browser);
  await signIn(other.page, server.url, ray);
  await openReview(other.page, ui(`/a/${notes.shareToken}`), 'notes.md');
  const reply = other.page.locator('article.thread textarea[data-focus="reply"]').first();
  await reply.fill('My half-written answer');
  await apiOk(server, 'DELETE', `/api/v1/artifacts/${notes.shareToken}/access/${grant.id}`, ownerKey);
  await other.page.getByRole('heading', { name: 'Your access was removed' }).waitFor();
  assert.equal(await other.page.getByLabel('What you were writing, not posted (copy it to keep it):').inputValue(), 'My half-written answer');
  assert.equal(await other.page.locator('#review-app').isVisible(), false);
  await other.close();
});

test('the latest version deleted while the page is on it: the page moves to the new latest and says why; with a draft, the text is kept to copy', async () => {
  const doc = (n) => `<!doctype html><html><head><meta charset="utf-8"><title>Brief</title></head><body><h1>Brief ${n}</h1><p>Budget line ${n} is final.</p></body></html>`;
  const brief = await upload(server, ownerKey, { name: 'Brief', fileName: 'brief.html', content: doc(1) });
  await publishVersion(server, ownerKey, brief.shareToken, { fileName: 'brief.html', content: doc(2) });
  await publishVersion(server, ownerKey, brief.shareToken, { fileName: 'brief.html', content: doc(3) });
  const other = await openPage(browser);
  await other.context.addCookies(await tab.context.cookies());
  const p = other.page;
  await openReview(p, ui(`/a/${brief.shareToken}`), 'brief.html');
  assert.match(await p.locator('#version-button').innerText(), /v3/);
  // Nothing being written: the page shows v2, the latest now, and says why.
  await apiOk(server, 'DELETE', `/api/v1/artifacts/${brief.shareToken}/versions/3`, ownerKey);
  await p.locator('#toast').filter({ hasText: 'Version 3 was deleted; v2 is the latest now' }).waitFor();
  // Said in the banner as well, where it stays (a toast is soon replaced).
  await p.locator('#version-banner').filter({ hasText: 'Version 3 was deleted; v2 is the latest now.' }).waitFor();
  await eventually(async () => /v2/.test(await p.locator('#version-button').innerText()), { message: 'v2 shown' });
  assert.equal(await p.getByRole('button', { name: 'Comment on this file' }).isVisible(), true, 'open to comments');
  // A comment being written: it is kept, to copy, and the latest is a link away.
  await p.getByRole('button', { name: 'Comment on this file' }).click();
  await p.locator('#composer').getByLabel('Your comment').fill('Half a thought on v2');
  await apiOk(server, 'DELETE', `/api/v1/artifacts/${brief.shareToken}/versions/2`, ownerKey);
  await p.getByRole('heading', { name: 'Version 2 is not available' }).waitFor();
  assert.equal(await p.getByLabel('What you were writing, not posted (copy it to keep it):').inputValue(), 'Half a thought on v2');
  assert.equal(await p.getByRole('link', { name: 'Open the latest version' }).getAttribute('href'), `/a/${brief.shareToken}`);
  assertClean(other);
  await other.close();
});

test('an old version\'s banner follows the versions: the latest deleted, it names the one before; it becomes the latest, it opens to comments', async () => {
  const doc = (n) => `<!doctype html><html><head><meta charset="utf-8"><title>Memo</title></head><body><p>Memo ${n}.</p></body></html>`;
  const memo = await upload(server, ownerKey, { name: 'Memo', fileName: 'memo.html', content: doc(1) });
  await publishVersion(server, ownerKey, memo.shareToken, { fileName: 'memo.html', content: doc(2) });
  await publishVersion(server, ownerKey, memo.shareToken, { fileName: 'memo.html', content: doc(3) });
  const other = await openPage(browser);
  await other.context.addCookies(await tab.context.cookies());
  const p = other.page;
  await openReview(p, ui(`/a/${memo.shareToken}/v/2/`), 'memo.html');
  const banner = p.locator('#version-banner');
  await banner.filter({ hasText: 'v3 is the latest' }).waitFor();
  assert.equal(await p.getByRole('button', { name: 'Comment on this file' }).isVisible(), false);
  await apiOk(server, 'DELETE', `/api/v1/artifacts/${memo.shareToken}/versions/3`, ownerKey);
  // v2 is the latest now: the banner goes, and comments open.
  await banner.waitFor({ state: 'hidden' });
  await p.getByRole('button', { name: 'Comment on this file' }).waitFor();
  await p.locator('#toast').filter({ hasText: 'v2 is the latest version again' }).waitFor();
  // v3 restored: said as such (not "published"), and the address names v2, which is shown.
  await apiOk(server, 'POST', `/api/v1/artifacts/${memo.shareToken}/versions/3/restore`, ownerKey);
  await banner.filter({ hasText: 'Version 3 was restored' }).waitFor();
  assert.equal(new URL(p.url()).pathname, `/a/${memo.shareToken}/v/2/`);
  await apiOk(server, 'DELETE', `/api/v1/artifacts/${memo.shareToken}/versions/3`, ownerKey);
  await p.getByRole('button', { name: 'Comment on this file' }).waitFor();
  // On v1, the banner named v2... until v3 is restored: then v3.
  await openReview(p, ui(`/a/${memo.shareToken}/v/1/`), 'memo.html');
  await banner.filter({ hasText: 'v2 is the latest' }).waitFor();
  await apiOk(server, 'POST', `/api/v1/artifacts/${memo.shareToken}/versions/3/restore`, ownerKey);
  await banner.filter({ hasText: 'v3 is the latest' }).waitFor();
  assert.match(await banner.getByRole('link').getAttribute('href'), new RegExp(`/a/${memo.shareToken}`));
  assertClean(other);
  await other.close();
});

test('a thread on a file the version does not have offers no "Show in document"', async () => {
  const site = await upload(server, ownerKey, {
    name: 'Two pages', fileName: 'two.zip',
    content: makeZip({ 'index.html': '<!doctype html><p>Home page text.</p>', 'about.html': '<!doctype html><p>About page text.</p>' }),
  });
  await apiOk(server, 'POST', `/api/v1/artifacts/${site.shareToken}/comments`, ownerKey, {
    content: 'About this about page', target: { source: 'about.html', selector: { type: 'TextQuoteSelector', exact: 'About page text' } },
  });
  await publishVersion(server, ownerKey, site.shareToken, {
    fileName: 'two.zip', content: makeZip({ 'index.html': '<!doctype html><p>Home page text, v2.</p>', 'contact.html': '<!doctype html><p>Write to us.</p>' }),
  });
  await openReview(page, ui(`/a/${site.shareToken}`), 'index.html');
  const gone = group(page, 'notFound').locator('article', { hasText: 'About this about page' });
  await gone.waitFor();
  assert.match(await gone.innerText(), /On about\.html, which is not in this version/);
  assert.equal(await gone.getByRole('button', { name: 'Show in document' }).count(), 0);
  assert.equal(await gone.getByRole('button', { name: 'Resolve' }).count(), 1, 'it can still be resolved');
  assertClean(tab);
});

test('threads stay on a version once it is no longer the latest: its own and the earlier ones, never later ones', async () => {
  const doc = (n) => `<!doctype html><html><head><meta charset="utf-8"><title>Plan</title></head><body><p>The rollout starts in May.</p><p>Version ${n} of the plan.</p></body></html>`;
  const rollout = await upload(server, ownerKey, { name: 'Rollout', fileName: 'rollout.html', content: doc(1) });
  const target = { source: 'rollout.html', selector: { type: 'TextQuoteSelector', exact: 'The rollout starts in May.' } };
  await apiOk(server, 'POST', `/api/v1/artifacts/${rollout.shareToken}/comments`, claudeKey, { content: 'Said on v1', target });
  await publishVersion(server, ownerKey, rollout.shareToken, { fileName: 'rollout.html', content: doc(2) });
  await apiOk(server, 'POST', `/api/v1/artifacts/${rollout.shareToken}/comments`, claudeKey, { content: 'Said on v2', target });
  await openReview(page, ui(`/a/${rollout.shareToken}`), 'rollout.html');
  await group(page, 'earlier').locator('article', { hasText: 'Said on v1' }).waitFor();
  await group(page, 'open').locator('article', { hasText: 'Said on v2' }).waitFor();
  // v3 is published while the page is open: v2 is an old version now, and keeps both threads.
  await publishVersion(server, ownerKey, rollout.shareToken, { fileName: 'rollout.html', content: doc(3) });
  await page.locator('#version-banner').filter({ hasText: 'Version 3 was published' }).waitFor();
  await apiOk(server, 'POST', `/api/v1/artifacts/${rollout.shareToken}/comments`, claudeKey, { content: 'Said on v3', target });
  // The address names v2 now, so a reload shows it again.
  assert.equal(new URL(page.url()).pathname, `/a/${rollout.shareToken}/v/2/`);
  await page.reload();
  await waitForFile(page, 'rollout.html');
  assert.match(await page.locator('#version-button').innerText(), /v2/);
  await group(page, 'earlier').locator('article', { hasText: 'Said on v1' }).waitFor();
  await group(page, 'open').locator('article', { hasText: 'Said on v2' }).waitFor();
  await eventually(() => isHighlighted(page, 'The rollout starts in May.'), { message: 'highlighted on v2' });
  assert.equal(await page.locator('article.thread', { hasText: 'Said on v3' }).count(), 0, 'nothing said on a later version');
  // v1 shows its own only.
  await openReview(page, ui(`/a/${rollout.shareToken}/v/1/`), 'rollout.html');
  await group(page, 'open').locator('article', { hasText: 'Said on v1' }).waitFor();
  assert.equal(await page.locator('article.thread', { hasText: /Said on v[23]/ }).count(), 0);
  assertClean(tab);
});
