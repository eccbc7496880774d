// The bridge (assets/bridge/bridge.js, inside every artifact HTML document) and FrameLink
// (assets/js/review/frame-link.js, in the review page), tested together in Chromium against a
// stand-in server (bridge-server.mjs) that serves them exactly as the real one does: the artifact
// sandboxed in an opaque origin with the bridge tag injected after the doctype, the parent page
// under the review page's CSP. No test sleeps to synchronise or asserts on durations: each waits
// for an event, a condition or a marker message that can only arrive after what it checks. (To
// check that no onNoBridge follows a load, a test waits for a page timer that fires after
// FrameLink's own 2 s judgement of that load: an ordering of timers, not a measured time.)

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, openPage, assertClean, eventually } from './harness.mjs';
import { startBridgeServer } from './bridge-server.mjs';

const FRAME_BORDER = 7; // from the parent page's CSS (bridge-server.mjs)

const BASIC = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quarterly report</title>
<style>p { margin: 0 0 12px; } .note::after { content: "generated"; }</style></head>
<body>
<h1>Quarterly report</h1>
<p id="intro">Revenue grew 12% in the third quarter, driven by new customers in Europe.</p>
<p id="first">The results were strong. Costs fell as planned.</p>
<p id="second">The results were mixed. Costs rose after the move.</p>
<p id="emoji">Launch 🚀 went well 👍🏽, and the team 🎉 celebrated.</p>
<p id="after">Next quarter we expect steady growth in every region.</p>
<script>document.body.dataset.ready = '1';</script>
<p><a id="next" href="second.html">Next page</a></p>
</body></html>`;

const SECOND = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Second page</title></head>
<body><p id="p2">Page two says it again: The results were strong. Costs fell as planned.</p>
<p><a id="data" href="data.json">The data</a></p></body></html>`;

// Version 2 of the report: a few characters changed, a passage deleted, whitespace moved.
const CHANGED = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quarterly report v2</title></head>
<body>
<h1>Quarterly report</h1>
<p id="intro">Revenue grew 14% in the third quarter, driven by new clients in Europe.</p>
<p id="first">The results were strong. Costs fell as planned.</p>
<p id="second">The results were mixed. Costs rose after the move.</p>
<pre id="ws">Margins   held
   steady overall</pre>
<ul id="plan"><li>Roll out to all three regions.</li></ul>
<h2>5. Generated appendix</h2>
<p id="appendix">Appendix 1 applies to region 1. Appendix 2 applies to region 2. Appendix 3 applies to region 3.</p>
</body></html>`;

// Version 2 of passages quoted in version 1, each changed a little; blocks without whitespace
// between them, so the text joins "Summary" and "Revenue".
const WIDENED = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Changed a little</title></head>
<body><h2>Summary</h2><p id="rev">Revenue grew five percent in the third quarter.</p><p id="ja">東京都は日本国の首都であり人口が最も多い都市で経済と文化の中心地として世界的に知られている</p><p id="emoji">Emoji 🎉 party with 👨‍👩‍👧 family and 🇯🇵 flag today</p><p id="th">タイ語: ภาษาไทยไม่มีช่องว่างระหว่างคำในประโยคยาวแบบนี้</p><p id="nfd">${'Dessert: crème brûlée daily'.normalize('NFD')}</p></body></html>`;

const LONG_SELECTIONS = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Long</title></head>
<body><p id="over">${'a'.repeat(2000)}${'😀'.repeat(100)}</p>
<p id="limit">${'b'.repeat(1999)}😀</p></body></html>`;

const FOCUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Long page</title></head>
<body>${Array.from({ length: 150 }, (_, i) => `<p>Paragraph ${i} of filler text that pushes the target down.</p>`).join('\n')}
<p id="target">The passage to focus sits at the very bottom.</p>
<details id="more"><summary>More</summary><p>Replies within five working days.</p></details>
<div hidden><p>Refunds within ten working days.</p></div></body></html>`;

const LOCKED_DOWN = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="script-src 'none'; style-src 'none'">
<base href="https://elsewhere.example/">
<title>Locked down</title><style>p { color: red; }</style></head>
<body><p id="text">A page that forbids every script and style still gets its highlights.</p>
<script>document.body.dataset.ran = 'yes';</script>
<p><a id="away" href="basic.html">A relative link that now points elsewhere</a></p></body></html>`;

// Both forge a hello to the review page directly, then post a marker after it. The nested frame is
// a srcdoc frame that loads the bridge too (an artifact's own file in a frame would do the same).
const FORGED_HELLO = (path) =>
  `{ ar: 1, type: 'hello', doc: '${'0'.repeat(32)}', path: '${path}', title: 'forged', textLength: 1 }`;
const INNER = `<!doctype html><script src="/_ar/bridge.js?v=test"></script>
<p>A frame inside the artifact.</p>
<script>
top.postMessage(${FORGED_HELLO('/v/inner-forged.html')}, '*');
top.postMessage({ marker: 'inner-done' }, '*');
</script>`;
const attribute = (s) => s.replaceAll('&', '&amp;').replaceAll('"', '&quot;');

const NESTING = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nesting</title></head>
<body><p id="outer">The outer document holds a frame and opens a popup.</p>
<iframe id="inner" srcdoc="${attribute(INNER)}"></iframe>
<button id="open" type="button">Open popup</button>
<script>
window.__fromChildren = [];
addEventListener('message', (event) => window.__fromChildren.push(event.data));
document.getElementById('open').addEventListener('click', () => window.open('popup.html', '_blank'));
</script></body></html>`;

const POPUP = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Popup</title></head>
<body><p>A popup of the artifact.</p>
<script>
const review = opener.top;
review.postMessage(${FORGED_HELLO('/v/popup-forged.html')}, '*');
review.postMessage({ marker: 'popup-done' }, '*');
</script></body></html>`;

// A hostile artifact with the real bridge: it listens for everything (and tries to grab ports),
// replaces the globals the bridge relies on, and forges messages to the review page on demand.
const HOSTILE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hostile</title></head>
<body><p id="text">Hostile artifacts forge messages all through the third quarter but cannot fool the review page.</p>
<script>
const seen = { messages: [], ports: 0, portMessages: [] };
window.__seen = seen;
const grab = (event) => {
  seen.messages.push(JSON.stringify(event.data));
  for (const port of event.ports) {
    seen.ports += 1;
    port.onmessage = (m) => seen.portMessages.push(JSON.stringify(m.data));
  }
};
addEventListener('message', grab, true);
addEventListener('message', grab);
document.addEventListener('message', grab, true);
const realParent = window.parent;
// Sniff any port the bridge might set up later, then break the globals it uses.
const addListener = EventTarget.prototype.addEventListener;
MessagePort.prototype.addEventListener = function (...args) { seen.ports += 1; return addListener.apply(this, args); };
Object.defineProperty(MessageEvent.prototype, 'data', { get() { return { ar: 1, type: 'anchors', anchors: [] }; } });
Object.defineProperty(MessageEvent.prototype, 'ports', { get() { return []; } });
Object.defineProperty(window, 'parent', { value: window });
window.postMessage = () => {};
EventTarget.prototype.addEventListener = () => {};
window.setTimeout = () => 0;
window.setInterval = () => 0;
History.prototype.pushState = function () {};

const big = 'x'.repeat(100000);
const junk = 'j'.repeat(2000);
const selection = (exact, extra = {}) => ({ ar: 1, type: 'selection',
  quote: { type: 'TextQuoteSelector', exact, prefix: '', suffix: '' },
  position: { type: 'TextPositionSelector', start: 0, end: [...exact].length },
  rect: { x: 1, y: 1, width: 1, height: 1 }, ...extra });
window.forge = (count) => {
  const send = (m) => realParent.postMessage(m, '*');
  send({ ar: 1, type: 'selection', quote: { type: 'TextQuoteSelector', exact: big, prefix: big, suffix: big },
    position: { type: 'TextPositionSelector', start: 0, end: 100000 }, rect: { x: 1e300, y: NaN, width: -1, height: 1 } });
  send(selection('a well-formed selection, but on the window'));
  send({ ar: 1, type: 'activate', ids: ['o1'], viaKeyboard: false });
  send({ ar: 1, type: 'key', name: 'comment' });
  send({ ar: 1, type: 'navigated', path: '/v/elsewhere/other.html' });
  send({ ar: 1, type: 'anchored', results: [{ id: 'o1', status: 'orphan', start: null }] });
  send({ ar: 1, type: 'createComment', content: 'spam', target: { source: 'index.html' } });
  send({ ar: 1, type: 'deleteComment', id: 'o1' });
  send({ ar: 1, type: 'hello', doc: 'f'.repeat(32), path: '/v/GRANT/other.html', title: 'Other file', textLength: 5 });
  send('<img src=x onerror=alert(1)>');
  for (let i = 0; i < count; i++) {
    send(i % 3 === 0
      ? { ar: 1, type: 'hello', doc: (i % 16).toString(16).repeat(32), path: '/v/GRANT/flood-' + i + '.html', title: 'flood', textLength: i }
      : i % 3 === 1 ? selection('flood ' + i, { junk }) : { ar: 1, type: 'junk-' + i, payload: junk });
  }
  send({ marker: 'flood-done' });
};
</script></body></html>`;

// No injected bridge: the document's own script plays one, so it holds the port and can send
// anything on it (what a compromised bridge could do), and it records everything it receives.
const FAKE_BRIDGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake bridge</title></head>
<body><p id="text">A document whose own script plays the bridge.</p>
<script>
const received = [];
window.__received = received;
window.__connects = 0;
window.__ports = [];
const ownId = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
const accepted = new Set([ownId]);
window.acceptDoc = (doc) => accepted.add(doc);
addEventListener('message', (event) => {
  received.push({ via: 'window', data: event.data, ports: event.ports.length });
  if (event.data && event.data.type === 'connect' && event.ports[0] && accepted.has(event.data.doc)) {
    accepted.delete(event.data.doc);
    const port = event.ports[0];
    window.__connects += 1;
    window.__ports.push(port);
    port.onmessage = (m) => received.push({ via: 'port', data: m.data });
    port.postMessage({ ar: 1, type: 'ready', loaded: document.readyState === 'complete' });
  }
});
window.hello = (doc, path = location.pathname) =>
  parent.postMessage({ ar: 1, type: 'hello', doc, path, title: document.title, textLength: 44 }, '*');
// Like the real bridge: say hello again and again until a (new) port arrives.
window.helloUntilConnected = (doc, path) => {
  const connects = window.__connects;
  window.hello(doc, path);
  const timer = setInterval(() => (window.__connects > connects ? clearInterval(timer) : window.hello(doc, path)), 100);
};
window.post = (message, which = window.__ports.length - 1) => window.__ports[which].postMessage(message);
window.helloUntilConnected(ownId);
</script></body></html>`;

let server;
let browser;
const tabs = [];

before(async () => {
  server = await startBridgeServer();
  for (const [name, body] of Object.entries({
    'basic.html': BASIC,
    'second.html': SECOND,
    'changed.html': CHANGED,
    'widened.html': WIDENED,
    'long-selections.html': LONG_SELECTIONS,
    'focus.html': FOCUS_PAGE,
    'locked-down.html': LOCKED_DOWN,
    'nesting.html': NESTING,
    'popup.html': POPUP,
    'hostile.html': HOSTILE,
    'redirect.html': `<!doctype html><html><head><title>Moved</title><script>location.replace('basic.html');</script></head><body><p>Moved.</p></body></html>`,
  })) {
    server.setFile(name, body);
  }
  server.setFile('fake-bridge.html', FAKE_BRIDGE, { bridge: false });
  server.setFile('data.json', '{"revenue": [1, 2, 3]}');
  browser = await launchBrowser();
});

afterEach(async () => {
  while (tabs.length) await tabs.pop().close();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------ */

// In the review page only: records every message FrameLink posts on a MessagePort, and counts
// the channels it makes (one per port offered to a document).
function spyOnParentSends() {
  if (window !== window.top) return;
  const sent = [];
  Object.defineProperty(window, '__sent', { value: sent });
  const original = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (message, ...rest) {
    sent.push(JSON.parse(JSON.stringify(message)));
    return original.call(this, message, ...rest);
  };
  window.__channels = 0;
  const Channel = MessageChannel;
  window.MessageChannel = class extends Channel {
    constructor() {
      super();
      window.__channels += 1;
    }
  };
}

// In artifact frames only: as if the browser had no CSS Custom Highlight API.
function removeHighlightApi() {
  if (window !== window.top) delete CSS.highlights;
}

async function openReview(src, { init, waitForHello = true, adopt = false, waitUntil = 'load', ...contextOptions } = {}) {
  const tab = await openPage(browser, contextOptions);
  tabs.push(tab);
  await tab.context.addInitScript(spyOnParentSends);
  if (init) await tab.context.addInitScript(init);
  // adopt: the frame's document starts first; FrameLink adopts the frame when the test says so.
  const url = server.parentUrl(src.startsWith('/') ? src : server.fileUrl(src));
  await tab.page.goto(adopt ? `${url}&adopt` : url, { waitUntil });
  if (waitForHello) await waitForEvents(tab.page, 'hello', 1);
  return tab;
}

const artifactFrame = (page) => page.mainFrame().childFrames()[0];

function events(page, type) {
  return page.evaluate((t) => window.__events.filter((e) => e.type === t).map((e) => e.payload), type);
}

function waitForEvents(page, type, count = 1) {
  return page.waitForFunction(([t, n]) => window.__events.filter((e) => e.type === t).length >= n, [type, count]);
}

async function latest(page, type) {
  return (await events(page, type)).at(-1);
}

function sentToFrame(page) {
  return page.evaluate(() => window.__sent);
}

/** setAnchors, then the `anchored` results that answer it. */
async function setAnchors(page, anchors, options = {}) {
  const before = (await events(page, 'anchored')).length;
  await page.evaluate(([a, o]) => window.__link.setAnchors(a, o), [anchors, options]);
  await waitForEvents(page, 'anchored', before + 1);
  return latest(page, 'anchored');
}

const quote = (exact, prefix, suffix) => ({
  type: 'TextQuoteSelector',
  exact,
  ...(prefix !== undefined ? { prefix } : {}),
  ...(suffix !== undefined ? { suffix } : {}),
});

/** The text model, computed independently of the bridge (TreeWalker, closest()). */
function modelText(frame) {
  return frame.evaluate(() => {
    const root = document.body || document.documentElement;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) =>
        n.parentElement && n.parentElement.closest('script, style, noscript, template')
          ? NodeFilter.FILTER_REJECT
          : NodeFilter.FILTER_ACCEPT,
    });
    let text = '';
    while (walker.nextNode()) text += walker.currentNode.data;
    return text;
  });
}

const cp = (s) => Array.from(s).length;

/** What a selection of `exact` (its `occurrence`-th place in `text`) must be described as. */
function expectedSelectors(text, exact, occurrence = 0) {
  let at = -1;
  for (let k = 0; k <= occurrence; k++) at = text.indexOf(exact, at + 1);
  assert.notEqual(at, -1, `"${exact}" is in the text`);
  const before = Array.from(text.slice(0, at));
  const afterText = Array.from(text.slice(at + exact.length));
  const start = before.length;
  return {
    quote: { type: 'TextQuoteSelector', exact, prefix: before.slice(-32).join(''), suffix: afterText.slice(0, 32).join('') },
    position: { type: 'TextPositionSelector', start, end: start + cp(exact) },
  };
}

/** The text of every range of every registered highlight, by highlight name. */
function highlightTexts(frame) {
  return frame.evaluate(() => {
    const out = {};
    for (const [name, highlight] of CSS.highlights) {
      out[name] = [...highlight]
        .map((r) => {
          const range = document.createRange();
          range.setStart(r.startContainer, r.startOffset);
          range.setEnd(r.endContainer, r.endOffset);
          return range.toString();
        })
        .sort();
    }
    return out;
  });
}

/** Where the frame's viewport starts in the page (the iframe has a 7 px border, no padding). */
async function frameOrigin(page) {
  const box = await page.locator('#frame').boundingBox();
  return { x: box.x + FRAME_BORDER, y: box.y + FRAME_BORDER };
}

/** The box, in page coordinates, of the `occurrence`-th place of `phrase` within one text node. */
async function phraseBox(page, phrase, occurrence = 0) {
  const box = await artifactFrame(page).evaluate(([p, k]) => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    let seen = 0;
    while (walker.nextNode()) {
      const node = walker.currentNode;
      for (let i = node.data.indexOf(p); i !== -1; i = node.data.indexOf(p, i + 1)) {
        if (seen++ !== k) continue;
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + p.length);
        const b = range.getBoundingClientRect();
        return { x: b.x, y: b.y, width: b.width, height: b.height };
      }
    }
    return null;
  }, [phrase, occurrence]);
  assert.ok(box, `"${phrase}" is on the page`);
  const origin = await frameOrigin(page);
  return { x: box.x + origin.x, y: box.y + origin.y, width: box.width, height: box.height };
}

const ALLOWED_SELECTOR_KEYS = {
  TextQuoteSelector: ['exact', 'prefix', 'suffix', 'type'],
  TextPositionSelector: ['end', 'start', 'type'],
  CssSelector: ['type', 'value'],
};

/** Everything sent to a frame carries only ids, selectors, states and booleans. */
function assertOnlyIdsSelectorsStates(messages) {
  assert.ok(messages.length > 0, 'something was sent');
  for (const m of messages) {
    assert.equal(m.ar, 1);
    const keys = Object.keys(m).sort();
    switch (m.type) {
      case 'connect':
        assert.deepEqual(keys, ['ar', 'doc', 'type']);
        assert.match(m.doc, /^[0-9a-f]{32}$/);
        break;
      case 'clearSelection':
        assert.deepEqual(keys, ['ar', 'type']);
        break;
      case 'focus':
        assert.deepEqual(keys, ['ar', 'id', 'type']);
        assert.equal(typeof m.id, 'string');
        break;
      case 'anchors':
        assert.deepEqual(keys, ['anchors', 'ar', 'showResolved', 'type']);
        assert.equal(typeof m.showResolved, 'boolean');
        for (const a of m.anchors) {
          assert.deepEqual(Object.keys(a).sort(), ['active', 'id', 'selector', 'state']);
          assert.equal(typeof a.id, 'string');
          assert.equal(typeof a.active, 'boolean');
          assert.ok(['open', 'resolved', 'draft'].includes(a.state));
          for (const s of a.selector) {
            assert.ok(ALLOWED_SELECTOR_KEYS[s.type], `selector type ${s.type}`);
            for (const k of Object.keys(s)) assert.ok(ALLOWED_SELECTOR_KEYS[s.type].includes(k), `selector field ${k}`);
          }
        }
        break;
      default:
        assert.fail(`unexpected message type ${m.type}`);
    }
  }
}

// What a review page would hold for a comment: the frame must get none of it but id/selector/state.
const SECRET_ANCHORS = [
  {
    id: 'o1',
    selector: [quote('third quarter', 'Revenue grew 12% in the ', ', driven by'), { type: 'TextPositionSelector', start: 42, end: 55, note: 'SECRET-NOTE' }],
    state: 'open',
    active: false,
    content: 'SECRET-BODY of the comment',
    author: { kind: 'user', name: 'SECRET-AUTHOR', email: 'secret@example.com' },
    replies: [{ content: 'SECRET-REPLY' }],
  },
  { id: 'o2', selector: { ...quote('steady growth'), comment: 'SECRET-IN-SELECTOR' }, state: 'resolved', active: 'yes', html: '<b>SECRET</b>' },
];

/* ---------------------------------------------------------------------------------------------
 * Handshake
 * ------------------------------------------------------------------------------------------ */

test('the bridge says hello once per document, gets a port, and forged hellos from a live document are refused', async () => {
  const tab = await openReview('basic.html');
  const { page } = tab;
  assert.deepEqual(await events(page, 'hello'), [
    // The first hello leaves before the title and body are parsed (the bridge is the first script).
    { path: `/v/${server.grant}/basic.html`, hash: '', title: '', textLength: 0, error: null },
  ]);
  assert.equal(server.bridgeRequests() > 0, true);
  // The port works both ways: anchors out, results back.
  const text = await modelText(artifactFrame(page));
  const results = await setAnchors(page, [{ id: 'a', selector: quote('third quarter'), state: 'open', active: false }]);
  assert.deepEqual(results, [{ id: 'a', status: 'exact', start: text.indexOf('third quarter') }]);

  // A hello forged by the artifact (another document id, another path): FrameLink offers that id
  // a port, but no bridge has it, and the artifact's own listener never sees the offer.
  const seenByArtifact = await artifactFrame(page).evaluate(() => {
    window.__offers = 0;
    addEventListener('message', (e) => (window.__offers += e.data?.type === 'connect' ? 1 : 0), true);
    window.parent.postMessage({ ar: 1, type: 'hello', doc: 'e'.repeat(32), path: '/v/x/forged.html', title: 'Forged', textLength: 3 }, '*');
    window.parent.postMessage({ marker: 'forged' }, '*');
    return window.__offers;
  });
  await page.waitForFunction(() => window.__events.some((e) => e.type === 'marker' && e.payload === 'forged'));
  assert.equal(await page.evaluate(() => window.__channels), 2);
  await setAnchors(page, [{ id: 'b', selector: quote('steady growth'), state: 'open', active: false }]);
  assert.equal((await events(page, 'hello')).length, 1);
  assert.equal(seenByArtifact + (await artifactFrame(page).evaluate(() => window.__offers)), 0);
  await afterNoBridgeDecision(page, 1);
  assert.deepEqual(await events(page, 'noBridge'), []);
  assertClean(tab);
});

test('hellos from a frame nested in the artifact and from its popup are ignored', async () => {
  const tab = await openReview('nesting.html');
  const { page } = tab;
  const [popup] = await Promise.all([
    tab.context.waitForEvent('page'),
    artifactFrame(page).locator('#open').click(),
  ]);
  await popup.waitForLoadState('load');
  await page.waitForFunction(() => ['inner-done', 'popup-done'].every((m) => window.__events.some((e) => e.type === 'marker' && e.payload === m)));
  const hellos = await events(page, 'hello');
  assert.equal(hellos.length, 1);
  assert.equal(hellos[0].path, `/v/${server.grant}/nesting.html`);
  // Refused on their source alone: no port was offered to them.
  assert.equal(await page.evaluate(() => window.__channels), 1);
  // The bridges in the nested frame and the popup stayed idle (an active bridge wraps
  // history.pushState); nothing reached the artifact.
  const wrapsHistory = () => Object.getOwnPropertyDescriptor(history, 'pushState') !== undefined;
  const inner = artifactFrame(page).childFrames()[0];
  await inner.waitForFunction(() => document.readyState === 'complete');
  const loadedBridge = () => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/_ar/bridge.js?v=test'));
  assert.equal(await inner.evaluate(loadedBridge), true);
  assert.equal(await popup.evaluate(loadedBridge), true);
  assert.equal(await artifactFrame(page).evaluate(wrapsHistory), true);
  assert.equal(await inner.evaluate(wrapsHistory), false);
  assert.equal(await popup.evaluate(wrapsHistory), false);
  assert.deepEqual(await artifactFrame(page).evaluate(() => window.__fromChildren), []);
  assertClean(tab);
});

test('our 404 pages report why in the hello: an expired grant, a missing file', async () => {
  const dead = await openReview('/v/not-a-grant/index.html');
  assert.deepEqual((await events(dead.page, 'hello'))[0].error, 'grant');
  const missing = await openReview('no-such-file.html');
  const hello = (await events(missing.page, 'hello'))[0];
  assert.equal(hello.error, 'missing');
  assert.equal(hello.title, 'No such file'); // sent once the page was parsed, to read its <meta>
});

test('a document without a bridge (a JSON file) is reported as onNoBridge after its load', async () => {
  const tab = await openReview('second.html');
  const { page } = tab;
  await artifactFrame(page).locator('#data').click();
  await waitForEvents(page, 'noBridge', 1);
  assert.equal((await events(page, 'hello')).length, 1);
  // Anchors set now are remembered for the next document, not sent anywhere.
  const sentBefore = (await sentToFrame(page)).length;
  await page.evaluate(() => window.__link.setAnchors([{ id: 'k', selector: { type: 'TextQuoteSelector', exact: 'again' }, state: 'open' }]));
  assert.equal((await sentToFrame(page)).length, sentBefore);
  await page.evaluate(() => history.back());
  await waitForEvents(page, 'hello', 2);
  const text = await modelText(artifactFrame(page));
  assert.deepEqual(await waitForAnchored(page, 1), [{ id: 'k', status: 'exact', start: text.indexOf('again') }]);
  // That document has a bridge: no second onNoBridge once its load is judged.
  await afterNoBridgeDecision(page, 3);
  assert.equal((await events(page, 'noBridge')).length, 1);
});

test('a document being left says where a link it followed leads: a file here, a page elsewhere, or nothing known', async () => {
  server.setFile('links.html', `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Links</title></head>
<body><p><a id="here" href="data.json">The data</a> <a id="part" href="#part">A part</a>
<a id="elsewhere" href="http://127.0.0.1:9/away">Away</a> <a id="held" href="second.html">Held</a></p>
<p><a id="scripted" href="second.html">Scripted</a></p>
<script>
document.getElementById('held').addEventListener('click', (event) => event.preventDefault());
document.getElementById('scripted').addEventListener('click', (event) => { event.preventDefault(); location.href = 'basic.html'; });
</script></body></html>`);
  const tab = await openReview('links.html');
  const { page } = tab;
  const frame = () => artifactFrame(page);
  // A #fragment link and a click the page's script took over leave nothing.
  await frame().locator('#part').click();
  await waitForEvents(page, 'navigated', 1);
  await frame().locator('#held').click();
  // A file of this server: its path (data.json has no bridge, so only this names it).
  await frame().locator('#here').click();
  await waitForEvents(page, 'leaving', 1);
  const [toData] = await events(page, 'leaving');
  assert.match(toData.to, /\/data\.json$/);
  assert.equal(toData.elsewhere, false);
  await page.evaluate(() => history.back());
  await waitForEvents(page, 'hello', 2);
  // A link whose click the page's script turned into a navigation of its own: nowhere known.
  await frame().locator('#scripted').click();
  await waitForEvents(page, 'hello', 3);
  assert.deepEqual((await events(page, 'leaving'))[1], { to: null, elsewhere: false });
  // Back leaves that document too, by no link.
  await page.evaluate(() => history.back());
  await waitForEvents(page, 'hello', 4);
  assert.deepEqual((await events(page, 'leaving'))[2], { to: null, elsewhere: false });
  // Another origin (the review page's CSP then keeps it out of the frame).
  await frame().locator('#elsewhere').click();
  await waitForEvents(page, 'leaving', 4);
  assert.deepEqual((await events(page, 'leaving'))[3], { to: null, elsewhere: true });
  assert.equal((await events(page, 'leaving')).length, 4);
  // The review page's CSP keeps other sites out of its frame; Chromium says so in the console.
  const framing = /Framing 'http:\/\/127\.0\.0\.1:9\/' violates the following Content Security Policy directive/;
  await eventually(() => tab.problems.some((p) => framing.test(p.text)), { message: 'the CSP report' });
  assertClean(tab, { allow: [framing] });
});

/* ---------------------------------------------------------------------------------------------
 * Adopting a frame whose document was started before FrameLink listened (the review page's first
 * frame, see first-frame.js)
 * ------------------------------------------------------------------------------------------ */

/** Waits `ms` in the page: past FrameLink's timers set before, before any set after. */
function pageTimer(page, ms) {
  return page.evaluate((t) => new Promise((resolve) => setTimeout(resolve, t)), ms);
}

/** A page whose frame's address was in its HTML, once that document has loaded (not adopted yet). */
async function openLoadedUnadopted(src) {
  const tab = await openReview(src, { adopt: true, waitForHello: false });
  await artifactFrame(tab.page).waitForFunction(() => document.readyState === 'complete');
  return tab;
}

test('a frame adopted after its document loaded and stopped saying hello connects at once', async () => {
  const tab = await openLoadedUnadopted('second.html');
  const { page } = tab;
  // The bridge says hello for 10 s; nobody listened. Past that, only `sayHello` brings one.
  await pageTimer(page, 10_500);
  await page.evaluate(() => window.__adopt());
  await waitForEvents(page, 'hello', 1);
  assert.equal((await events(page, 'hello'))[0].path, server.fileUrl('second.html'));
  const text = await modelText(artifactFrame(page));
  assert.deepEqual(await setAnchors(page, [{ id: 'a', selector: quote('says it again'), state: 'open' }]),
    [{ id: 'a', status: 'exact', start: text.indexOf('says it again') }]);
  // The missed load is judged like one seen at adoption: this document's own, not a page without
  // a bridge.
  await pageTimer(page, 2000);
  assert.deepEqual(await events(page, 'noBridge'), []);
  // It was counted as the document's own: the next document's load is judged on its own, and a
  // JSON file has no bridge.
  await artifactFrame(page).locator('#data').click();
  await waitForEvents(page, 'noBridge', 1);
  assert.equal((await events(page, 'hello')).length, 1);
  assertClean(tab);
});

test('a frame adopted while its document still parses connects, and its own load is not mistaken', async () => {
  const release = server.hold('adopt');
  server.setFile('adopt-held.html', `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Held</title></head>
<body><p id="top">Written before the parser waits.</p>
<script src="/held/adopt.js"></script>
<p><a id="data" href="data.json">The data</a></p></body></html>`);
  // Not waiting for the parent's load: it waits for the frame, which waits for the held script.
  const tab = await openReview('adopt-held.html', { adopt: true, waitForHello: false, waitUntil: 'domcontentloaded' });
  const { page } = tab;
  // The bridge has run (its first hello went unheard): the frame's document is parsing.
  await artifactFrame(page).waitForSelector('#top', { state: 'attached' });
  await page.evaluate(() => window.__adopt());
  await waitForEvents(page, 'hello', 1);
  release();
  await afterNoBridgeDecision(page, 1);
  assert.deepEqual(await events(page, 'noBridge'), [], 'its own load');
  await artifactFrame(page).locator('#data').click();
  await waitForEvents(page, 'noBridge', 1);
  assertClean(tab);
});

test('a frame adopted with a document without a bridge is reported as onNoBridge', async () => {
  const tab = await openLoadedUnadopted('data.json');
  const { page } = tab;
  await page.evaluate(() => window.__adopt());
  await waitForEvents(page, 'noBridge', 1);
  await pageTimer(page, 2000);
  assert.equal((await events(page, 'noBridge')).length, 1);
  assert.deepEqual(await events(page, 'hello'), []);
  assertClean(tab);
});

test('the artifact never sees the page\'s `sayHello`', async () => {
  const tab = await openLoadedUnadopted('hostile.html');
  const { page } = tab;
  await page.evaluate(() => window.__adopt());
  await waitForEvents(page, 'hello', 1);
  const frame = artifactFrame(page);
  // The artifact's own listeners saw no message of the review page's.
  const seen = await frame.evaluate(() => window.__seen.messages.map((m) => JSON.parse(m)));
  assert.deepEqual(seen.filter((m) => m && (m.type === 'sayHello' || m.type === 'connect')), []);
  assert.equal((await events(page, 'hello')).length, 1);
  assertClean(tab);
});

/**
 * Resolves once FrameLink has judged the frame's `load` number `loads` (2 s after it, a timer that
 * fires before one the page sets later for as long): onNoBridge would have been called by then.
 */
async function afterNoBridgeDecision(page, loads) {
  await waitForEvents(page, 'frameLoad', loads);
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 2000)));
}

async function waitForAnchored(page, count) {
  await waitForEvents(page, 'anchored', count);
  return latest(page, 'anchored');
}

/* ---------------------------------------------------------------------------------------------
 * Describing selections
 * ------------------------------------------------------------------------------------------ */

test('selecting a paragraph gives a TextQuoteSelector and a TextPositionSelector in code points', async () => {
  const tab = await openReview('basic.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  // Padding on the iframe (set through CSSOM, which the page's CSP allows) must be accounted for.
  await page.evaluate(() => {
    document.getElementById('frame').style.padding = '3px';
  });
  const text = await modelText(frame);

  await frame.locator('#after').selectText();
  await waitForEvents(page, 'selection', 1);
  const selection = await latest(page, 'selection');
  const expected = expectedSelectors(text, 'Next quarter we expect steady growth in every region.');
  assert.deepEqual(selection.quote, expected.quote);
  assert.deepEqual(selection.position, expected.position);
  // Emoji before it: code points, not UTF-16 units (🚀 👍 🏽 🎉 are two units each).
  assert.equal(text.indexOf('Next quarter') - selection.position.start, 4);

  // The rectangle, moved from the frame's viewport into the page's.
  const inFrame = await frame.evaluate(() => getSelection().getRangeAt(0).getBoundingClientRect().toJSON());
  const box = await page.locator('#frame').boundingBox();
  const offset = FRAME_BORDER + 3;
  assert.ok(Math.abs(selection.rect.x - (inFrame.x + box.x + offset)) < 0.01, JSON.stringify({ selection, inFrame, box }));
  assert.ok(Math.abs(selection.rect.y - (inFrame.y + box.y + offset)) < 0.01);
  assert.ok(Math.abs(selection.rect.width - inFrame.width) < 0.01);

  // A selection made of emoji counts them as one code point each.
  await frame.locator('#emoji').selectText();
  await waitForEvents(page, 'selection', 2);
  const emoji = await latest(page, 'selection');
  assert.deepEqual(emoji.quote, expectedSelectors(text, 'Launch 🚀 went well 👍🏽, and the team 🎉 celebrated.').quote);
  assert.equal(emoji.position.end - emoji.position.start, cp('Launch 🚀 went well 👍🏽, and the team 🎉 celebrated.'));

  // The page clearing it is not echoed back (it would look like the reader cancelling)...
  await page.evaluate(() => window.__link.clearSelection());
  await frame.waitForFunction(() => getSelection().isCollapsed);
  await frame.locator('#first').selectText();
  await waitForEvents(page, 'selection', 3);
  assert.equal((await latest(page, 'selection')).quote.exact, 'The results were strong. Costs fell as planned.');
  assert.deepEqual(await events(page, 'selectionCleared'), []);
  // ...the reader clearing it is, once.
  await frame.evaluate(() => getSelection().removeAllRanges());
  await waitForEvents(page, 'selectionCleared', 1);
  assertClean(tab);
});

test('a mouse drag selects a passage, trimmed, with its context', async () => {
  const tab = await openReview('basic.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  const text = await modelText(frame);
  // From just inside the "C" of "Costs" to just inside the last "r" of "after" (plus a space after
  // it, which is trimmed off).
  const from = await phraseBox(page, 'Costs rose');
  const to = await phraseBox(page, 'after ');
  await page.mouse.move(from.x + 1, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 5 });
  await page.mouse.move(to.x + to.width - 1, to.y + to.height / 2, { steps: 3 });
  await page.mouse.up();
  await waitForEvents(page, 'selection', 1);
  const selection = await latest(page, 'selection');
  assert.match(await frame.evaluate(() => getSelection().toString()), /^Costs rose after\s*$/);
  const expected = expectedSelectors(text, 'Costs rose after');
  assert.deepEqual(selection.quote, expected.quote);
  assert.deepEqual(selection.position, expected.position);
  assertClean(tab);
});

test('a selection over 2,000 code points is reported as too long, not truncated', async () => {
  const tab = await openReview('long-selections.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  await frame.locator('#over').selectText();
  await waitForEvents(page, 'tooLong', 1);
  assert.deepEqual(await events(page, 'tooLong'), [2100]); // 2,200 UTF-16 units
  // Exactly 2,000 code points (2,001 UTF-16 units) is still allowed.
  await frame.locator('#limit').selectText();
  await waitForEvents(page, 'selection', 1);
  const selection = await latest(page, 'selection');
  assert.equal(selection.quote.exact, `${'b'.repeat(1999)}😀`);
  assert.equal(selection.position.end - selection.position.start, 2000);
  assertClean(tab);
});

/* ---------------------------------------------------------------------------------------------
 * Highlights
 * ------------------------------------------------------------------------------------------ */

test('anchors are drawn with the CSS Custom Highlight API without changing the DOM', async () => {
  const tab = await openReview('basic.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  const domBefore = await frame.evaluate(() => document.documentElement.outerHTML);
  const anchors = [
    { id: 'open', selector: quote('third quarter'), state: 'open', active: false },
    { id: 'active', selector: quote('Costs fell as planned'), state: 'open', active: true },
    { id: 'draft', selector: quote('celebrated'), state: 'draft', active: false },
    { id: 'resolved', selector: quote('steady growth'), state: 'resolved', active: false },
  ];
  const results = await setAnchors(page, anchors);
  assert.deepEqual(results.map((r) => [r.id, r.status]), [['open', 'exact'], ['active', 'exact'], ['draft', 'exact'], ['resolved', 'exact']]);
  assert.deepEqual(await highlightTexts(frame), {
    'ar-open': ['third quarter'],
    'ar-active': ['Costs fell as planned'],
    'ar-draft': ['celebrated'],
  });
  assert.equal(await frame.evaluate(() => document.documentElement.outerHTML), domBefore);
  // Styled from a constructed stylesheet: a fill and an underline.
  const look = await frame.evaluate(() => {
    const s = getComputedStyle(document.getElementById('intro'), '::highlight(ar-open)');
    return { fill: s.backgroundColor, line: s.textDecorationLine, sheets: document.adoptedStyleSheets.length };
  });
  assert.notEqual(look.fill, 'rgba(0, 0, 0, 0)');
  assert.equal(look.line, 'underline');
  assert.equal(look.sheets, 1);

  // Resolved ones only with showResolved.
  await setAnchors(page, anchors, { showResolved: true });
  assert.deepEqual((await highlightTexts(frame))['ar-resolved'], ['steady growth']);
  await setAnchors(page, []);
  assert.deepEqual(await highlightTexts(frame), {});
  assert.equal(await frame.evaluate(() => document.documentElement.outerHTML), domBefore);
  assertClean(tab);
});

test('anchors sent while the document still parses are drawn when parsing ends, before its own handlers run; a passage they write is reported placed, never missing', async () => {
  // The bridge draws what it finds as soon as parsing ends, so the first paint shows it, but
  // reports only after the artifact's DOMContentLoaded handlers: what they write must not be
  // reported missing first. (The anchors reach the frame while its parser waits for the held
  // script: the page sends them in the task that records the hello, before the test releases it.)
  const release = server.hold('parse');
  server.setFile('late.html', `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Late</title>
<script>document.addEventListener('DOMContentLoaded', () => {
  document.body.dataset.drawnBefore = String(CSS.highlights.get('ar-open')?.size ?? 0);
  document.getElementById('late').textContent = 'Written by the page when parsed.';
});</script></head>
<body><p id="early">Parsed before the wait.</p>
<script src="/held/parse.js"></script>
<p id="after">Parsed after the wait.</p>
<p id="late"></p></body></html>`);
  const tab = await openPage(browser);
  tabs.push(tab);
  await tab.context.addInitScript(spyOnParentSends);
  const { page } = tab;
  // Not waiting for the parent's load: it waits for the frame, which waits for the held script.
  await page.goto(server.parentUrl(server.fileUrl('late.html')), { waitUntil: 'domcontentloaded' });
  // Kept by FrameLink and sent the moment the document connects, while its parser waits.
  await page.evaluate((anchors) => window.__link.setAnchors(anchors), [
    { id: 'after', selector: quote('Parsed after the wait'), state: 'open', active: false },
    { id: 'written', selector: quote('Written by the page when parsed'), state: 'open', active: false },
  ]);
  await waitForEvents(page, 'hello', 1);
  release();
  await waitForEvents(page, 'anchored', 1);
  const frame = artifactFrame(page);
  assert.equal(await frame.evaluate(() => document.body.dataset.drawnBefore), '1', 'the passage parsed after the wait, drawn');
  for (const results of await events(page, 'anchored')) {
    assert.deepEqual(results.map((r) => [r.id, r.status]), [['after', 'exact'], ['written', 'exact']]);
  }
  assert.deepEqual(await highlightTexts(frame), {
    'ar-open': ['Parsed after the wait', 'Written by the page when parsed'],
  });
  assertClean(tab);
});

test('without the Highlight API, text is wrapped in <ar-hl> with the same textContent, and unwrapped again', async () => {
  const tab = await openReview('basic.html', { init: removeHighlightApi });
  const { page } = tab;
  const frame = artifactFrame(page);
  assert.equal(await frame.evaluate(() => 'highlights' in CSS), false);
  const before = await frame.evaluate(() => ({ html: document.documentElement.outerHTML, text: document.body.textContent }));
  await setAnchors(page, [
    { id: 'x', selector: quote('third quarter'), state: 'open', active: false },
    { id: 'y', selector: quote('Costs fell'), state: 'open', active: true },
    { id: 'z', selector: quote('fell as planned'), state: 'open', active: false }, // overlaps y
  ]);
  const wrapped = await frame.evaluate(() =>
    [...document.querySelectorAll('ar-hl')].map((el) => ({ text: el.textContent, fill: getComputedStyle(el).backgroundColor })),
  );
  assert.deepEqual(wrapped.map((w) => w.text), ['third quarter', 'Costs ', 'fell', ' as planned']);
  assert.equal(wrapped[1].fill, wrapped[2].fill); // "fell" is in both: drawn as the active one
  assert.notEqual(wrapped[0].fill, wrapped[1].fill);
  assert.equal(await frame.evaluate(() => document.body.textContent), before.text);

  // Hit-testing works on the wrapped text too.
  const box = await phraseBox(page, 'third');
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await waitForEvents(page, 'activate', 1);
  assert.deepEqual(await latest(page, 'activate'), { ids: ['x'], viaKeyboard: false });

  await setAnchors(page, []);
  assert.equal(await frame.evaluate(() => document.querySelectorAll('ar-hl').length), 0);
  assert.equal(await frame.evaluate(() => document.documentElement.outerHTML), before.html);
  assertClean(tab);
});

test('a page whose meta CSP forbids scripts and styles, with a hostile <base>, still connects and is highlighted', async () => {
  for (const init of [undefined, removeHighlightApi]) {
    const tab = await openReview('locked-down.html', { init });
    const { page } = tab;
    const frame = artifactFrame(page);
    assert.equal(await frame.evaluate(() => document.body.dataset.ran), undefined, "the artifact's own script is blocked");
    assert.equal(await frame.evaluate(() => document.getElementById('away').href), 'https://elsewhere.example/basic.html');
    const results = await setAnchors(page, [{ id: 'a', selector: quote('every script and style'), state: 'open', active: false }]);
    assert.equal(results[0].status, 'exact');
    const fill = init
      ? await frame.evaluate(() => getComputedStyle(document.querySelector('ar-hl')).backgroundColor)
      : await frame.evaluate(() => getComputedStyle(document.getElementById('text'), '::highlight(ar-open)').backgroundColor);
    assert.notEqual(fill, 'rgba(0, 0, 0, 0)', 'styled despite style-src none');
    if (!init) assert.deepEqual(await highlightTexts(frame), { 'ar-open': ['every script and style'] });
    await frame.locator('#text').selectText();
    await waitForEvents(page, 'selection', 1);
    assert.equal((await latest(page, 'selection')).quote.exact, 'A page that forbids every script and style still gets its highlights.');
    // The browser reports the artifact's blocked inline style and script; nothing else may fail.
    assertClean(tab, { allow: [/Content Security Policy/] });
  }
});

/* ---------------------------------------------------------------------------------------------
 * Anchoring
 * ------------------------------------------------------------------------------------------ */

test('re-anchoring in changed text: fuzzy, by context among repeats, whitespace-insensitive, orphans', async () => {
  const tab = await openReview('changed.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  const text = await modelText(frame);
  const results = await setAnchors(page, [
    // Quoted from version 1: "12%" and "customers" changed since.
    { id: 'fuzzy', selector: [quote('Revenue grew 12% in the third quarter, driven by new customers in Europe.', 'Quarterly report\n', '\n')], state: 'open', active: false },
    // "The results were" is on the page twice: the context says which.
    { id: 'repeat', selector: quote('The results were', 'lanned.\n', ' mixed. Costs rose'), state: 'open', active: false },
    { id: 'spaces', selector: quote('Margins held steady overall'), state: 'open', active: false },
    { id: 'gone', selector: quote('This sentence was deleted in the second version entirely.'), state: 'open', active: false },
    // A stale position hint; the quote occurs once: found exactly.
    { id: 'hint', selector: [quote('Costs rose'), { type: 'TextPositionSelector', start: 3, end: 13 }], state: 'open', active: false },
    // A hint that still holds wins even when the quote occurs more than once.
    { id: 'held', selector: [quote('The results were'), { type: 'TextPositionSelector', start: cp(text.slice(0, text.indexOf('The results were'))), end: 0 }], state: 'open', active: false },
    { id: 'css', selector: { type: 'CssSelector', value: '#second' }, state: 'open', active: false },
    { id: 'bad-css', selector: { type: 'CssSelector', value: '##' }, state: 'open', active: false },
    // A short quote whose number changed, its context intact: found changed.
    { id: 'short-changed', selector: quote('grew 12%', 'Revenue ', ' in the third quarter'), state: 'open', active: false },
    // A number rewritten in words ("14%" was "twelve percent"): nothing alike, but the text just
    // before and after it still stands, so the passage between is found changed.
    { id: 'rewritten', selector: quote('twelve percent', 'Quarterly report\nRevenue grew ', ' in the third quarter, driven'), state: 'open', active: false },
    // Only one side of the context left: not placed on whatever follows it.
    { id: 'one-side', selector: quote('twelve percent', 'Quarterly report\nRevenue grew ', ' after a hard year'), state: 'open', active: false },
    // The words quoted remain, but in another sentence ("Costs fell" of the first paragraph),
    // while the quote's own sentence was rewritten in place ("Costs rose" now): found there.
    { id: 'twin', selector: quote('Costs fell', 'The results were mixed. ', ' after the move.'), state: 'open', active: false },
    // A short quote whose passage was removed: not put on a neighbour that looks like it but
    // reads otherwise after it.
    { id: 'short-removed', selector: quote('region 6', 'Appendix 6 applies to ', '. See the regional map'), state: 'open', active: false },
    // Half of a passage removed: not put on whatever now follows the half that is left.
    { id: 'half-removed', selector: quote('all three regions.\nReview on-call load', 'Roll out to ', '\n'), state: 'open', active: false },
  ]);
  const byId = Object.fromEntries(results.map((r) => [r.id, r]));
  assert.equal(byId.fuzzy.status, 'fuzzy');
  assert.equal(byId.fuzzy.start, cp(text.slice(0, text.indexOf('Revenue grew 14%'))));
  assert.deepEqual(byId.repeat, { id: 'repeat', status: 'exact', start: text.lastIndexOf('The results were') });
  assert.deepEqual(byId.spaces, { id: 'spaces', status: 'fuzzy', start: text.indexOf('Margins') });
  assert.deepEqual(byId.gone, { id: 'gone', status: 'orphan', start: null });
  assert.deepEqual(byId.hint, { id: 'hint', status: 'exact', start: text.indexOf('Costs rose') });
  assert.deepEqual(byId.held, { id: 'held', status: 'exact', start: text.indexOf('The results were') });
  assert.deepEqual(byId.css, { id: 'css', status: 'exact', start: text.indexOf('The results were mixed') });
  assert.deepEqual(byId['bad-css'], { id: 'bad-css', status: 'orphan', start: null });
  assert.deepEqual(byId['short-changed'], { id: 'short-changed', status: 'fuzzy', start: text.indexOf('grew 14%') });
  assert.deepEqual(byId.rewritten, { id: 'rewritten', status: 'fuzzy', start: text.indexOf('14%') });
  assert.deepEqual(byId['one-side'], { id: 'one-side', status: 'orphan', start: null });
  assert.deepEqual(byId.twin, { id: 'twin', status: 'fuzzy', start: text.indexOf('Costs rose') });
  assert.deepEqual(byId['short-removed'], { id: 'short-removed', status: 'orphan', start: null });
  assert.deepEqual(byId['half-removed'], { id: 'half-removed', status: 'orphan', start: null });

  const drawn = (await highlightTexts(frame))['ar-open'];
  assert.ok(drawn.includes('Revenue grew 14% in the third quarter, driven by new clients in Europe.'), JSON.stringify(drawn));
  assert.ok(drawn.includes('14%'), JSON.stringify(drawn));
  assert.ok(drawn.includes('Margins   held\n   steady overall'));
  assert.ok(drawn.includes('The results were mixed. Costs rose after the move.'));
  // The repeated phrase is highlighted in the second paragraph, not the first.
  assert.equal(
    await frame.evaluate(() => [...CSS.highlights.get('ar-open')].filter((r) => r.startContainer.parentElement.id === 'second').length),
    4, // "repeat", "hint" and "twin" (both on Costs rose) and "css" (#second)
  );
  assertClean(tab);
});

test('a passage found changed is drawn in whole words and characters of its own block, in any script', async () => {
  const tab = await openReview('widened.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  const drawn = async (selector) => {
    const [result] = await setAnchors(page, [{ id: 'a', selector, state: 'open', active: false }]);
    assert.equal(result.status, 'fuzzy', JSON.stringify(result));
    return (await highlightTexts(frame))['ar-open'].join('|');
  };
  // Not "SummaryRevenue ...": the heading is another block.
  assert.equal(await drawn(quote('Revenue grew four percent', 'Summary', ' in the third quarter.')), 'Revenue grew five percent');
  // Japanese has no spaces: its words are the browser's, not the whole run of letters.
  assert.equal(await drawn(quote('日本の首都', '東京都は', 'であり人口が')), '日本国の首都');
  // Never half an emoji, nor the paragraph before (the edits may be read as starting at "Emoji").
  const emoji = await drawn(quote('🎉🎉 party with 👨‍👩‍👧‍👦 family', 'Emoji ', ' and 🇯🇵 flag'));
  assert.ok(['🎉 party with 👨‍👩‍👧 family', 'Emoji 🎉 party with 👨‍👩‍👧 family'].includes(emoji), emoji);
  // Thai: whole words, and never a consonant without its marks.
  const thai = await drawn(quote('ช่องว่างระหว่างคำในประโยคยาวๆ', 'ภาษาไทยไม่มี', 'แบบนี้'));
  assert.ok(thai.startsWith('ช่องว่าง') && thai.endsWith('ยาว'), thai);
  // Quoted composed (NFC), the page now decomposed (NFD): found as it stands.
  assert.equal(await drawn(quote('crème brûlée', 'Dessert: ', ' daily')), 'crème brûlée'.normalize('NFD'));
  assertClean(tab);
});

test('the artifact re-rendering its DOM is followed: anchors move with the text', async () => {
  const tab = await openReview('basic.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  const first = await setAnchors(page, [{ id: 'a', selector: quote('steady growth'), state: 'open', active: false }]);
  const inserted = 'A new first paragraph 🌱 arrived.';
  await frame.evaluate((t) => {
    const p = document.createElement('p');
    p.textContent = t;
    document.body.prepend(p);
    const old = document.getElementById('after');
    old.replaceWith(old.cloneNode(true)); // the highlighted node is gone; an equal one replaces it
  }, inserted);
  await waitForEvents(page, 'anchored', 2);
  const moved = await latest(page, 'anchored');
  assert.deepEqual(moved, [{ id: 'a', status: 'exact', start: first[0].start + cp(inserted) }]);
  assert.deepEqual(await highlightTexts(frame), { 'ar-open': ['steady growth'] });
  assert.equal(await frame.evaluate(() => [...CSS.highlights.get('ar-open')][0].startContainer.isConnected), true);
  assertClean(tab);
});

/* ---------------------------------------------------------------------------------------------
 * Clicks, focus, keys
 * ------------------------------------------------------------------------------------------ */

test('clicking a highlight activates every anchor under the point; plain text activates nothing', async () => {
  const tab = await openReview('basic.html');
  const { page } = tab;
  await setAnchors(page, [
    { id: 'x', selector: quote('third quarter'), state: 'open', active: false },
    { id: 'y', selector: quote('Costs fell as planned'), state: 'open', active: false },
    { id: 'z', selector: quote('fell as'), state: 'resolved', active: false }, // hidden: not clickable
    { id: 'w', selector: quote('fell'), state: 'draft', active: false },
  ]);
  const click = async (phrase) => {
    const box = await phraseBox(page, phrase);
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  };
  await click('Revenue'); // not highlighted
  await click('third');
  await waitForEvents(page, 'activate', 1);
  await click('fell');
  await waitForEvents(page, 'activate', 2);
  // Reading with the caret (caret browsing): Enter on a highlight activates it too.
  await artifactFrame(page).evaluate(() => {
    document.activeElement.blur();
    const text = document.getElementById('intro').firstChild;
    getSelection().collapse(text, text.data.indexOf('quarter'));
  });
  await page.keyboard.press('Enter');
  await waitForEvents(page, 'activate', 3);
  assert.deepEqual(await events(page, 'activate'), [
    { ids: ['x'], viaKeyboard: false },
    { ids: ['y', 'w'], viaKeyboard: false },
    { ids: ['x'], viaKeyboard: true },
  ]);
  assertClean(tab);
});

test('focus scrolls the passage into view and marks it active', async () => {
  const tab = await openReview('focus.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  await setAnchors(page, [
    { id: 'top', selector: quote('Paragraph 1 of'), state: 'open', active: true },
    { id: 'bottom', selector: quote('at the very bottom'), state: 'open', active: false },
  ]);
  const inView = () => {
    const r = document.getElementById('target').getBoundingClientRect();
    return r.top >= 0 && r.bottom <= innerHeight;
  };
  assert.equal(await frame.evaluate(inView), false);
  await page.evaluate(() => window.__link.focus('bottom'));
  await frame.waitForFunction(inView);
  assert.deepEqual(await highlightTexts(frame), { 'ar-active': ['at the very bottom'], 'ar-open': ['Paragraph 1 of'] });
  assert.deepEqual(await events(page, 'hidden'), []);
  // A passage in a closed <details> is laid out nowhere: the page is told, to say so.
  await setAnchors(page, [{ id: 'folded', selector: quote('within five working days'), state: 'open', active: false }]);
  await page.evaluate(() => window.__link.focus('folded'));
  await waitForEvents(page, 'hidden', 1);
  assert.deepEqual(await events(page, 'hidden'), ['folded']);
  // One hidden outright (display: none) alike.
  await setAnchors(page, [{ id: 'gone-from-view', selector: quote('within ten working days'), state: 'open', active: false }]);
  await page.evaluate(() => window.__link.focus('gone-from-view'));
  await waitForEvents(page, 'hidden', 2);
  assert.deepEqual(await events(page, 'hidden'), ['folded', 'gone-from-view']);
  assertClean(tab);
});

test('Alt+C, Escape and Alt+Arrow keys pressed in the frame reach the page; Alt+C brings the selection first', async () => {
  const tab = await openReview('basic.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  await frame.locator('#intro').click();
  await frame.evaluate(() => {
    const p = document.getElementById('first');
    getSelection().selectAllChildren(p);
  });
  await page.keyboard.press('Alt+KeyC');
  await waitForEvents(page, 'key', 1);
  const order = await page.evaluate(() => window.__events.filter((e) => ['selection', 'key'].includes(e.type)).map((e) => e.type));
  assert.deepEqual(order, ['selection', 'key']);
  await page.keyboard.press('Escape');
  await page.keyboard.press('Alt+ArrowDown');
  await page.keyboard.press('Alt+ArrowUp');
  await page.keyboard.press('ArrowDown'); // not ours
  await page.keyboard.press('Alt+KeyC');
  await waitForEvents(page, 'key', 5);
  assert.deepEqual(await events(page, 'key'), ['comment', 'escape', 'nextThread', 'prevThread', 'comment']);
  assertClean(tab);
});

/* ---------------------------------------------------------------------------------------------
 * Navigation
 * ------------------------------------------------------------------------------------------ */

test('a link followed inside the frame brings a new hello and port; the anchors are sent again', async () => {
  const tab = await openReview('basic.html');
  const { page } = tab;
  const anchors = [{ id: 'a', selector: quote('The results were strong.'), state: 'open', active: false }];
  const first = await setAnchors(page, anchors);
  assert.equal(first[0].status, 'exact');
  await artifactFrame(page).locator('#next').click();
  await waitForEvents(page, 'hello', 2);
  assert.equal((await latest(page, 'hello')).path, `/v/${server.grant}/second.html`);
  const text = await modelText(artifactFrame(page));
  assert.deepEqual(await waitForAnchored(page, 2), [{ id: 'a', status: 'exact', start: text.indexOf('The results were strong.') }]);
  assert.deepEqual(await highlightTexts(artifactFrame(page)), { 'ar-open': ['The results were strong.'] });
  // One `anchors` per document, each on its own port.
  assert.equal((await sentToFrame(page)).filter((m) => m.type === 'anchors').length, 2);

  // Same-document navigation: a #fragment, the history API, and back, each reported with its
  // path and #fragment.
  const frame = artifactFrame(page);
  await frame.evaluate(() => { location.hash = '#data'; });
  await waitForEvents(page, 'navigated', 1);
  await frame.evaluate(() => history.pushState({}, '', 'routed/page'));
  await waitForEvents(page, 'navigated', 2);
  await frame.evaluate(() => history.back());
  await waitForEvents(page, 'navigated', 3);
  assert.deepEqual(await events(page, 'navigated'), [
    `/v/${server.grant}/second.html#data`, `/v/${server.grant}/routed/page`, `/v/${server.grant}/second.html#data`,
  ]);
  // The page sends the document to a #fragment (it was opened on one): the bridge goes there
  // without a new entry in the frame's history, and reports it.
  const entries = await frame.evaluate(() => history.length);
  await page.evaluate(() => window.__link.fragment('#results'));
  await waitForEvents(page, 'navigated', 4);
  assert.equal(await latest(page, 'navigated'), `/v/${server.grant}/second.html#results`);
  assert.equal(await frame.evaluate(() => location.hash), '#results');
  assert.equal(await frame.evaluate(() => history.length), entries, 'replaced, not pushed');
  await page.evaluate(() => window.__link.fragment('no-hash'));
  assert.equal((await events(page, 'hello')).length, 2);
  await afterNoBridgeDecision(page, 2);
  assert.deepEqual(await events(page, 'noBridge'), []);
  assertClean(tab);
});

/* ---------------------------------------------------------------------------------------------
 * Hostile artifacts
 * ------------------------------------------------------------------------------------------ */

test('a hostile artifact forging messages and breaking globals: nothing gets through, the page stays responsive', async () => {
  const tab = await openReview('hostile.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  await setAnchors(page, SECRET_ANCHORS);

  // 10,000 forged messages in a burst (with oversized fields); meanwhile the page is used.
  await frame.evaluate(() => window.forge(10000));
  for (let i = 0; i < 3; i++) await page.locator('#ping').click();
  assert.equal(await page.evaluate(() => 6 * 7), 42);
  await page.waitForFunction(() => document.getElementById('pings').textContent === '3');
  await page.waitForFunction(() => window.__events.some((e) => e.type === 'marker' && e.payload === 'flood-done'));
  // Any liveness check the forged hellos started is answered before these anchors' results.
  await setAnchors(page, SECRET_ANCHORS);

  for (const type of ['selection', 'tooLong', 'selectionCleared', 'activate', 'key', 'navigated', 'noBridge']) {
    assert.deepEqual(await events(page, type), [], `no ${type} from forged messages`);
  }
  assert.deepEqual(await events(page, 'hello'), [{ path: `/v/${server.grant}/hostile.html`, hash: '', title: '', textLength: 0, error: null }]);

  // The bridge still works with window.parent, postMessage, addEventListener, timers, MessageEvent
  // and history replaced by the artifact.
  assert.deepEqual(await highlightTexts(frame), { 'ar-open': ['third quarter'] });
  await frame.locator('#text').selectText();
  await waitForEvents(page, 'selection', 1);
  assert.equal((await latest(page, 'selection')).quote.exact, 'Hostile artifacts forge messages all through the third quarter but cannot fool the review page.');

  // The artifact saw nothing: the connect message and its port never reached its listeners.
  assert.deepEqual(await frame.evaluate(() => window.__seen), { messages: [], ports: 0, portMessages: [] });
  const sent = await sentToFrame(page);
  assertOnlyIdsSelectorsStates(sent);
  assert.doesNotMatch(JSON.stringify(sent), /SECRET|secret@/);
  assertClean(tab);
});

test('a compromised bridge holding the port: every message is validated, limited, and the frame gets only ids and selectors', async () => {
  const tab = await openReview('fake-bridge.html');
  const { page } = tab;
  const frame = artifactFrame(page);
  await frame.waitForFunction(() => window.__connects === 1);
  await page.evaluate((a) => window.__link.setAnchors(a), SECRET_ANCHORS);
  await frame.waitForFunction(() => window.__received.some((r) => r.data.type === 'anchors'));

  // Each batch ends with a sentinel key; when it arrives, everything before it was handled.
  let sentinels = 0;
  const batch = async (messages) => {
    sentinels += 1;
    await frame.evaluate((list) => list.forEach((m) => window.post(m)), [...messages, { ar: 1, type: 'key', name: 'escape' }]);
    await page.waitForFunction((n) => window.__events.filter((e) => e.type === 'key' && e.payload === 'escape').length >= n, sentinels);
  };
  const selection = (exact, { prefix = '', suffix = '', start = 10, end = start + cp(exact), rect = { x: 5, y: 6, width: 7, height: 8 } } = {}) => ({
    ar: 1,
    type: 'selection',
    quote: { type: 'TextQuoteSelector', exact, prefix, suffix },
    position: { type: 'TextPositionSelector', start, end },
    rect,
  });

  await frame.evaluate(() => window.post({ ar: 1, type: 'selection', // a lone surrogate, made in the page
    quote: { type: 'TextQuoteSelector', exact: '\uD800 lone', prefix: '', suffix: '' },
    position: { type: 'TextPositionSelector', start: 0, end: 6 }, rect: { x: 0, y: 0, width: 1, height: 1 } }));
  await batch([
    selection(`${'a'.repeat(2000)}😀`), // 2,001 code points
    selection('fine', { prefix: 'p'.repeat(501) }),
    selection('fine', { suffix: 's'.repeat(501) }),
    selection('fine', { end: 99 }), // positions that disagree with the quote
    selection('fine', { rect: { x: NaN, y: 0, width: 1, height: 1 } }),
    selection('fine', { rect: { x: 0, y: 0, width: -1, height: 1 } }),
    selection('fine', { rect: { x: 0, y: 0, width: 1e300, height: 1 } }),
    { ...selection('fine'), quote: { type: 'XPathSelector', exact: 'fine', prefix: '', suffix: '' } },
    { ...selection('fine'), position: { type: 'TextPositionSelector', start: -1, end: 3 } },
    { ar: 1, type: 'selection', tooLong: 1500 },
    { ar: 1, type: 'selection', tooLong: '5000' },
    { ar: 1, type: 'activate', ids: ['nope'], viaKeyboard: false },
    { ar: 1, type: 'activate', ids: ['o1'], viaKeyboard: 'yes' },
    { ar: 1, type: 'activate', ids: 'o1', viaKeyboard: false },
    { ar: 1, type: 'key', name: 'deleteEverything' },
    { ar: 1, type: 'navigated', path: `/${'x'.repeat(5000)}` },
    { ar: 1, type: 'navigated', path: 'relative/path' },
    { ar: 1, type: 'navigated', path: '/v/x/page.html', hash: 'no-hash-sign' },
    { ar: 1, type: 'navigated', path: '/v/x/page.html', hash: `#${'x'.repeat(2000)}` },
    { ar: 1, type: 'navigated', path: '/v/x/page.html', hash: 5 },
    { ar: 1, type: 'anchored', results: 'all' },
    { ar: 1, type: 'createComment', content: 'spam' },
    { ar: 2, type: 'key', name: 'comment' },
    { type: 'key', name: 'comment' },
    '<img src=x onerror=alert(1)>',
    null,
  ]);
  for (const type of ['selection', 'tooLong', 'activate', 'navigated', 'anchored']) {
    assert.deepEqual(await events(page, type), [], `invalid ${type} dropped`);
  }
  assert.deepEqual(await events(page, 'key'), ['escape']);

  await batch([
    { ...selection(`${'b'.repeat(1999)}😀`, { prefix: 'before ', suffix: ' after' }), html: '<b>junk</b>' },
    { ar: 1, type: 'selection', tooLong: 5000 },
    { ar: 1, type: 'selectionCleared' },
    { ar: 1, type: 'activate', ids: ['nope', 'o1', 'o1', 'o2'], viaKeyboard: true },
    { ar: 1, type: 'anchored', results: [
      { id: 'o1', status: 'exact', start: 5, note: 'junk' },
      { id: 'nope', status: 'exact', start: 1 },
      { id: 'o2', status: 'weird', start: 1 },
      { id: 'o2', status: 'fuzzy', start: -1 },
      { id: 'o2', status: 'orphan', start: 7 },
    ] },
    { ar: 1, type: 'navigated', path: '/v/elsewhere/page.html' },
  ]);
  assert.deepEqual(await events(page, 'selection'), [{
    quote: { type: 'TextQuoteSelector', exact: `${'b'.repeat(1999)}😀`, prefix: 'before ', suffix: ' after' },
    position: { type: 'TextPositionSelector', start: 10, end: 2010 },
    rect: { x: 5 + 101 + FRAME_BORDER, y: 6 + 53 + FRAME_BORDER, width: 7, height: 8 },
  }]);
  assert.deepEqual(await events(page, 'tooLong'), [5000]);
  assert.equal((await events(page, 'selectionCleared')).length, 1);
  assert.deepEqual(await events(page, 'activate'), [{ ids: ['o1', 'o2'], viaKeyboard: true }]);
  assert.deepEqual(await events(page, 'anchored'), [[{ id: 'o1', status: 'exact', start: 5 }, { id: 'o2', status: 'orphan', start: null }]]);
  assert.deepEqual(await events(page, 'navigated'), ['/v/elsewhere/page.html']);

  // A flood on the port: 10,000 selections. At most 20 a second get through, the page stays usable.
  const before = (await events(page, 'selection')).length;
  await frame.evaluate(() => {
    for (let i = 0; i < 10000; i++) {
      window.post({ ar: 1, type: 'selection', quote: { type: 'TextQuoteSelector', exact: `flood ${i}`, prefix: '', suffix: '' },
        position: { type: 'TextPositionSelector', start: 0, end: `flood ${i}`.length }, rect: { x: 0, y: 0, width: 1, height: 1 } });
    }
  });
  for (let i = 0; i < 3; i++) await page.locator('#ping').click();
  await page.waitForFunction(() => document.getElementById('pings').textContent === '3');
  // The sentinel may itself be dropped while the limit is exhausted: send it until one arrives.
  const escapes = (await events(page, 'key')).length;
  await frame.evaluate(() => {
    window.__sentinel = setInterval(() => window.post({ ar: 1, type: 'key', name: 'escape' }), 50);
  });
  await waitForEvents(page, 'key', escapes + 1);
  await frame.evaluate(() => clearInterval(window.__sentinel));
  const flood = await page.evaluate((n) => window.__events.filter((e) => e.type === 'selection').slice(n).map((e) => e.at), before);
  const seconds = flood.length ? Math.ceil((flood.at(-1) - flood[0]) / 1000) + 1 : 1;
  assert.ok(flood.length <= 20 * seconds, `${flood.length} selections in ${seconds} s`);

  // A hello with another document id is offered a port, but nothing happens until a bridge
  // with that id confirms it...
  const hellos = (await events(page, 'hello')).length;
  await frame.evaluate(() => window.hello('b'.repeat(32), '/v/GRANT/other.html'));
  await frame.waitForFunction(() => window.__received.some((r) => r.data.type === 'connect' && r.data.doc === 'b'.repeat(32)));
  await batch([]);
  assert.equal((await events(page, 'hello')).length, hellos);
  // ...and when one does (here: the same script, as a compromised bridge can), that document is
  // the connected one: a new port, the old one closed.
  await frame.evaluate(() => {
    window.acceptDoc('c'.repeat(32));
    window.helloUntilConnected('c'.repeat(32), '/v/GRANT/other.html');
  });
  await waitForEvents(page, 'hello', hellos + 1);
  assert.equal(await frame.evaluate(() => window.__connects), 2);
  assert.equal((await latest(page, 'hello')).path, '/v/GRANT/other.html');
  await frame.waitForFunction(() => window.__received.filter((r) => r.data.type === 'anchors').length === 2);
  await frame.evaluate(() => window.post({ ar: 1, type: 'key', name: 'prevThread' }, 0));
  await batch([]);
  assert.deepEqual((await events(page, 'key')).filter((k) => k === 'prevThread'), []);

  // What the frame received, window and ports: connects and anchors. No comment text, no names.
  const received = await frame.evaluate(() => window.__received.map((r) => r.data));
  assertOnlyIdsSelectorsStates(received);
  assert.deepEqual(await frame.evaluate(() => window.__received.filter((r) => r.via === 'window').map((r) => [r.data.type, r.ports])), [
    ['connect', 1],
    ['connect', 1],
    ['connect', 1],
  ]);
  const json = JSON.stringify(received);
  assert.doesNotMatch(json, /SECRET|secret@/);
  assert.deepEqual(received.find((m) => m.type === 'anchors').anchors, [
    { id: 'o1', selector: [quote('third quarter', 'Revenue grew 12% in the ', ', driven by'), { type: 'TextPositionSelector', start: 42, end: 55 }], state: 'open', active: false },
    { id: 'o2', selector: [quote('steady growth')], state: 'resolved', active: false },
  ]);
  assertClean(tab);
});

test('a document that navigates to another: the new one connects on its own confirmation', async () => {
  const tab = await openReview('fake-bridge.html');
  const { page } = tab;
  await artifactFrame(page).waitForFunction(() => window.__connects === 1);
  const anchors = [{ id: 'a', selector: quote('third quarter'), state: 'open', active: false }];
  await page.evaluate((a) => window.__link.setAnchors(a), anchors);
  await artifactFrame(page).evaluate(() => {
    location.href = 'basic.html';
  });
  await waitForEvents(page, 'hello', 2);
  assert.equal((await latest(page, 'hello')).path, `/v/${server.grant}/basic.html`);
  const text = await modelText(artifactFrame(page));
  assert.deepEqual(await waitForAnchored(page, 1), [{ id: 'a', status: 'exact', start: text.indexOf('third quarter') }]);
  await afterNoBridgeDecision(page, 2);
  assert.deepEqual(await events(page, 'noBridge'), []);
  assertClean(tab);
});

test('an artifact that redirects at once ends up connected as the page it redirected to', async () => {
  // Its bridge says hello before the redirect; the port offered to it may reach the next document,
  // which must not take it.
  const tab = await openReview('redirect.html', { waitForHello: false });
  const { page } = tab;
  await page.evaluate(() => window.__link.setAnchors([{ id: 'a', selector: { type: 'TextQuoteSelector', exact: 'third quarter' }, state: 'open' }]));
  await page.waitForFunction((path) => window.__events.filter((e) => e.type === 'hello').at(-1)?.payload.path === path, `/v/${server.grant}/basic.html`);
  await waitForEvents(page, 'anchored', 1);
  const text = await modelText(artifactFrame(page));
  assert.deepEqual(await latest(page, 'anchored'), [{ id: 'a', status: 'exact', start: text.indexOf('third quarter') }]);
  assert.deepEqual(await highlightTexts(artifactFrame(page)), { 'ar-open': ['third quarter'] });
  await afterNoBridgeDecision(page, 1);
  assert.deepEqual(await events(page, 'noBridge'), []);
  assertClean(tab);
});
