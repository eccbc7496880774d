// A hostile artifact against the review page. Its own script shares the frame with the bridge: it
// records everything that reaches the frame, and forges bridge messages: a selection with oversized
// fields, unknown and dangerous-looking message types, a hello claiming another file, and a flood
// of 10,000 messages on the window and 10,000 on the port.
//
// The bridge keeps its port to itself, so to try the page's side against forged port messages too,
// this test plays the worst case: a listener placed before the bridge (the test serves the bridge
// with it prepended) hands the artifact's script the port the page gives the bridge, as if the
// artifact had defeated the bridge. The page's side is watched as well: every message it posts on
// any MessagePort is recorded.
//
// Through it all: no comment is created unless the person writes and submits one, the page keeps
// answering clicks, and nothing the frame received holds a comment's text or an author's name.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, assertClean, eventually } from './harness.mjs';
import {
  OWNER, completeSetup, agentKey, userKey, apiOk, upload, reviewFrame, openReview, selectInFrame,
  thread, isHighlighted,
} from './flows.mjs';

const SECRETS = ['SECRET-COMMENT-ONE', 'SECRET-COMMENT-TWO', 'SECRET-REPLY-THREE', 'SECRET-TYPED-FOUR'];
const AGENT = { name: 'Mallory Agentname', role: 'qa' };

// Runs before the bridge: the first listener of the window sees the page's `connect` and its port.
const STEAL_PORT = `window.addEventListener('message', (e) => { if (e.ports && e.ports[0]) window.__stolenPort = e.ports[0]; }, true);\n`;

// The artifact. Its script records every message it can see and forges on request.
const HOSTILE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Quarterly numbers</title>
<script>
window.__received = [];
const record = (via, data) => {
  try { window.__received.push(via + ' ' + JSON.stringify(data)); } catch (e) { window.__received.push(via + ' ' + String(data)); }
};
let listening = null;
const listen = () => {
  const port = window.__stolenPort;
  if (port && port !== listening) {
    listening = port;
    port.addEventListener('message', (m) => record('port', m.data));
    port.start();
  }
};
window.addEventListener('message', (event) => { record('window', event.data); setTimeout(listen); }, true);
window.__hasPort = () => { listen(); return listening !== null; };
const hex = () => Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
window.__forge = () => {
  const huge = 'A'.repeat(200000);
  const sel = (exact) => ({ ar: 1, type: 'selection',
    quote: { type: 'TextQuoteSelector', exact, prefix: '', suffix: '' },
    position: { type: 'TextPositionSelector', start: 0, end: exact.length },
    rect: { x: 10, y: 10, width: 50, height: 20 } });
  const p = window.__stolenPort;
  // On the window, where only a hello is ever accepted: bridge messages, big and small.
  parent.postMessage(sel(huge), '*');
  parent.postMessage({ ar: 1, type: 'createComment', content: 'forged', target: { source: 'hostile.html' } }, '*');
  parent.postMessage({ ar: 1, type: 'hello', doc: hex(), path: '/v/x/' + 'a'.repeat(100000), title: huge, textLength: -1 }, '*');
  // A hello claiming another file, from a "new document" that is not one.
  parent.postMessage({ ar: 1, type: 'hello', doc: hex(), path: '/v/other-grant/secret.html', title: 'Other', textLength: 5 }, '*');
  // On the port: oversized and malformed selections, unknown and dangerous-looking types.
  p.postMessage(sel(huge));
  p.postMessage({ ar: 1, type: 'selection', quote: { type: 'TextQuoteSelector', exact: 'x', prefix: huge, suffix: huge }, position: { type: 'TextPositionSelector', start: 0, end: 1 }, rect: { x: 1e308, y: -1, width: NaN, height: 1 } });
  p.postMessage({ ar: 1, type: 'selection', tooLong: 1e12 });
  p.postMessage({ ar: 1, type: 'createComment', content: 'forged', target: { source: 'hostile.html' } });
  p.postMessage({ ar: 1, type: 'submit' });
  p.postMessage({ ar: 2, type: 'anchored', results: [] });
  p.postMessage('not even an object');
  p.postMessage({ ar: 1, type: 'activate', ids: ['1', '2', 'nope'], viaKeyboard: 'yes' });
  p.postMessage({ ar: 1, type: 'navigated', path: '/v/other-grant/secret.html' });
  // A plausible selection and the comment shortcut: at most the composer opens, empty.
  p.postMessage(sel('twelve percent'));
  p.postMessage({ ar: 1, type: 'key', name: 'comment' });
  // The flood.
  for (let i = 0; i < 10000; i++) {
    parent.postMessage({ ar: 1, type: i % 2 ? 'hello' : 'bogus', doc: hex(), path: '/v/g/f' + i + '.html', title: '', textLength: i }, '*');
    p.postMessage(i % 3 === 0 ? sel('forged ' + i) : { ar: 1, type: i % 3 === 1 ? 'key' : 'activate', name: i % 2 ? 'comment' : 'nextThread', ids: ['1'], viaKeyboard: false });
  }
  return true;
};
</script></head>
<body>
<h1>Quarterly numbers</h1>
<p>Revenue grew by twelve percent in the third quarter.</p>
<p>Costs stayed flat across every region we operate in.</p>
</body></html>`;

// In the review page only: records every message it posts on a MessagePort (its bridge traffic).
function recordPortMessages() {
  if (window !== window.top) return;
  window.__sent = [];
  const post = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (message, ...rest) {
    try {
      window.__sent.push(JSON.stringify(message));
    } catch {
      window.__sent.push(String(message));
    }
    return post.call(this, message, ...rest);
  };
}

let server;
let browser;
let tab;
let page;
let ownerKey;
let mallory;
let artifact;

const comments = async () =>
  (await apiOk(server, 'GET', `/api/v1/artifacts/${artifact.shareToken}/comments?version=all`, ownerKey)).comments;

/** Everything the frame's current document saw arrive, and everything the page posted on ports. */
async function traffic() {
  const frame = await reviewFrame(page);
  const received = (await frame.evaluate(() => window.__received ?? [])).join('\n');
  const sent = (await page.evaluate(() => window.__sent)).join('\n');
  return { received, sent };
}

function assertNothingLeaked({ received, sent }, extra = []) {
  for (const [what, log] of [['the frame received', received], ['the page sent', sent]]) {
    for (const secret of [...SECRETS, ...extra]) assert.ok(!log.includes(secret), `${what} “${secret}”`);
    assert.ok(!log.includes(OWNER.name), `${what} the owner's name`);
    assert.ok(!log.includes(AGENT.name), `${what} the agent's name`);
  }
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  tab = await openPage(browser);
  page = tab.page;
  await tab.context.addInitScript(recordPortMessages);
  await tab.context.route('**/_ar/bridge.js*', async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: STEAL_PORT + (await response.text()) });
  });
  await completeSetup(page, server);
  ownerKey = await userKey(server);
  mallory = await agentKey(server, { agent: AGENT.name, role: AGENT.role });
  artifact = await upload(server, ownerKey, { name: 'Quarterly numbers', fileName: 'hostile.html', content: HOSTILE });
  const target = (exact) => ({ source: 'hostile.html', selector: { type: 'TextQuoteSelector', exact } });
  const one = await apiOk(server, 'POST', `/api/v1/artifacts/${artifact.shareToken}/comments`, mallory, { content: SECRETS[0], target: target('twelve percent') });
  await apiOk(server, 'POST', `/api/v1/artifacts/${artifact.shareToken}/comments`, ownerKey, { content: SECRETS[1], target: target('stayed flat') });
  await apiOk(server, 'POST', `/api/v1/comments/${one.id}/replies`, ownerKey, { content: SECRETS[2] });
});

after(async () => {
  await server?.saveLog('review-hostile.server.log');
  await browser?.close();
  await server?.stop();
});

test('the page sends the frame ids, selectors and states only: no comment text, no names', async () => {
  await openReview(page, `${server.url}/a/${artifact.shareToken}`, 'hostile.html');
  await thread(page, SECRETS[0]).waitFor();
  await thread(page, SECRETS[1]).waitFor();
  await eventually(() => isHighlighted(page, 'twelve percent'), { message: 'anchored' });
  const frame = await reviewFrame(page);
  assert.equal(await frame.evaluate(() => window.__hasPort()), true, "the artifact's script holds the port");
  // Make the page send more: an active thread, its passage shown, resolved threads shown.
  await thread(page, SECRETS[0]).getByRole('button', { name: 'Show in document' }).click();
  await page.locator('[data-filter="resolved"]').click();
  await page.locator('[data-filter="all"]').click();
  const t = await traffic();
  assert.ok(t.sent.includes('"type":"anchors"'), 'the anchors went out');
  assert.ok(t.sent.includes('twelve percent'), 'selectors are what is sent');
  assertNothingLeaked(t);
  assertClean(tab);
});

test('forged messages and a flood of 20,000 create nothing, and the page keeps answering', async () => {
  const before = (await comments()).length;
  const frame = await reviewFrame(page);
  assert.equal(await frame.evaluate(() => window.__forge()), true);

  // The page answers clicks while (and after) it works through the flood.
  await page.locator('[data-filter="open"]').click();
  await page.locator('[data-filter="open"][aria-pressed="true"]').waitFor();
  await page.locator('[data-filter="all"]').click();
  await page.locator('[data-filter="all"][aria-pressed="true"]').waitFor();
  // Still the artifact's own file: the hello claiming another one was not taken.
  assert.equal(await page.locator('#stage').getAttribute('data-file'), 'hostile.html');
  await thread(page, SECRETS[0]).waitFor();
  // The forged shortcut may have opened the composer; nothing was typed into it, nothing posted.
  const composer = page.locator('#composer');
  if (await composer.isVisible()) {
    assert.equal(await composer.getByLabel('Your comment').inputValue(), '');
    await composer.getByRole('button', { name: 'Cancel' }).click();
  }
  assert.equal((await comments()).length, before, 'no comment was created');
  const t = await traffic();
  assert.ok(t.received.includes('port {"ar":1,"type":"anchors"'), 'the artifact did read the port');
  assertNothingLeaked(t);
  assertClean(tab);
});

test('a comment exists only once the person writes and submits it; its text stays out of the frame', async () => {
  // A fresh page and document: the flood of the test before may still be spending the page's
  // budget of messages from the frame (FrameLink reads at most 20 selections a second), which
  // would drop this selection's report on a slow machine.
  await openReview(page, `${server.url}/a/${artifact.shareToken}`, 'hostile.html');
  await thread(page, SECRETS[0]).waitFor();
  await selectInFrame(page, 'every region');
  await page.locator('#comment-selection').click();
  await page.locator('#composer').getByLabel('Your comment').fill(SECRETS[3]);
  assert.equal((await comments()).length, 2, 'typing creates nothing');
  await page.keyboard.press('Control+Enter');
  await thread(page, SECRETS[3]).waitFor();
  const all = await comments();
  assert.equal(all.length, 3);
  const mine = all.find((c) => c.content === SECRETS[3]);
  assert.equal([].concat(mine.target.selector).find((x) => x.type === 'TextQuoteSelector').exact, 'every region', 'on the passage the person chose');
  await eventually(() => isHighlighted(page, 'every region'), { message: 'highlighted' });
  assertNothingLeaked(await traffic());
  assertClean(tab);
});
