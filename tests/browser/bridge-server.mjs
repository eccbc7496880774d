// A tiny stand-in for the Artifact Review server, for testing the bridge and FrameLink on their own
// (review spec §1): it serves
//   /parent.html?src=URL[&adopt]  a review-like page (the review page's CSP) whose module imports
//                          /assets/js/review/frame-link.js, opens URL in a sandboxed iframe and
//                          records every FrameLink callback in window.__events; with
//                          `adopt`, the iframe has URL as its src in the page's HTML and
//                          FrameLink adopts it on __adopt()
//   /assets/...            the repository's assets/ directory
//   /_ar/bridge.js         the exact concatenation the server serves (vendored matcher + bridge)
//   /v/GRANT/PATH          files registered with setFile(), sandboxed like the real grant route;
//                          text/html gets the bridge tag right after the doctype; an unknown grant
//                          or file gets the server's 404 pages (with their artifact-review-error meta)
//   /plain/PATH            files registered with setFile(PATH, ..., { bridge: false }) are also
//                          reachable here, sandboxed but never injected (a page "elsewhere")
//   /held/NAME.js          an empty script, answered only once the test releases NAME (hold()):
//                          a document that loads it stops parsing there until then

import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from './harness.mjs';

export const GRANT = 'g-test-grant-0123456789';

const SANDBOX_CSP = 'sandbox allow-scripts allow-popups allow-forms';
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; connect-src 'self'; frame-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'";
const BRIDGE_TAG = '<script src="/_ar/bridge.js?v=test"></script>';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

const PARENT_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Review (test)</title>
<link rel="stylesheet" href="/test/parent.css">
<script type="module" src="/test/parent.js"></script></head>
<body><button id="ping" type="button">Ping</button> <output id="pings">0</output>
<iframe id="frame" title="Artifact" sandbox="allow-scripts allow-popups allow-forms"></iframe>
</body></html>`;

// The frame sits at an odd offset with a border, so rect translation is exercised. (No padding
// here: Playwright's mouse misses inside a padded iframe; one test adds padding through CSSOM.)
const PARENT_CSS = `body { margin: 0; font: 14px sans-serif; }
#frame { position: absolute; left: 101px; top: 53px; width: 800px; height: 600px;
  border: 7px solid #888; padding: 0; }`;

const PARENT_JS = `import { FrameLink } from '/assets/js/review/frame-link.js';
const frame = document.getElementById('frame');
const events = [];
window.__events = events;
const record = (type, payload) => events.push({ type, payload, at: performance.now() });
const callbacks = {
  onHello: (hello) => record('hello', hello),
  onAnchored: (results) => record('anchored', results),
  onSelection: (selection) => record('selection', selection),
  onSelectionTooLong: (length) => record('tooLong', length),
  onSelectionCleared: () => record('selectionCleared', null),
  onActivate: (ids, viaKeyboard) => record('activate', { ids, viaKeyboard }),
  onKey: (name) => record('key', name),
  onHidden: (id) => record('hidden', id),
  onNavigated: (path, hash) => record('navigated', path + hash),
  onLeaving: (where) => record('leaving', where),
  onNoBridge: () => record('noBridge', null),
};
const params = new URLSearchParams(location.search);
const src = params.get('src');
// After FrameLink's own listener: when a frameLoad is recorded, FrameLink has seen that load.
const recordLoads = () => frame.addEventListener('load', () => record('frameLoad', null));
if (params.has('adopt')) {
  // As on the review page: the frame's address is in the page, so its document started while the
  // page parsed; FrameLink, made later (when the test calls __adopt()), adopts the frame.
  window.__adopt = () => {
    window.__link = new FrameLink(frame, callbacks, { adopted: true });
    recordLoads();
    record('adopted', null);
  };
} else {
  window.__link = new FrameLink(frame, callbacks);
  recordLoads();
  if (src) frame.src = src;
}
document.getElementById('ping').addEventListener('click', () => {
  const out = document.getElementById('pings');
  out.textContent = String(Number(out.textContent) + 1);
});
// Test pages post {marker} after forged messages: when it is recorded, those were handled.
window.addEventListener('message', (event) => {
  if (event.data && typeof event.data.marker === 'string') record('marker', event.data.marker);
});
`;

/** The bridge as the server serves it (spec §1), read from the asset files on each request. */
export async function bridgeBundle() {
  const vendor = await readFile(path.join(repoRoot, 'assets/vendor/approx-string-match.js'), 'utf8');
  const bridge = await readFile(path.join(repoRoot, 'assets/bridge/bridge.js'), 'utf8');
  return `(() => {\n'use strict';\n${vendor}\n${bridge}\n})();\n`;
}

/** Inserts the bridge tag after leading BOM/whitespace/comments and the doctype, else at the start. */
export function injectBridge(html) {
  const m = /^(\uFEFF?(?:\s|<!--[\s\S]*?-->)*)(<!doctype[^>]*>)?/i.exec(html);
  const at = m && m[2] ? m[0].length : 0;
  return html.slice(0, at) + BRIDGE_TAG + html.slice(at);
}

function errorPage(kind) {
  const title = kind === 'grant' ? 'This view has expired' : 'No such file';
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="artifact-review-error" content="${kind}">` +
    `<title>${title}</title></head><body><h1>${title}</h1></body></html>`;
}

export async function startBridgeServer() {
  const files = new Map(); // path under the grant -> { body, type, bridge }
  const held = new Map(); // name -> a promise resolved by the test
  let bridgeRequests = 0;

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      const p = decodeURIComponent(url.pathname);
      const send = (status, type, body, headers = {}) => {
        res.writeHead(status, { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff', ...headers });
        res.end(body);
      };
      if (p === '/parent.html') {
        const adopt = url.searchParams.has('adopt') ? url.searchParams.get('src') : null;
        const html = adopt === null ? PARENT_HTML
          : PARENT_HTML.replace('<iframe id="frame" ', `<iframe id="frame" src="${adopt.replaceAll('&', '&amp;').replaceAll('"', '&quot;')}" `);
        return send(200, TYPES['.html'], html, { 'Content-Security-Policy': PAGE_CSP });
      }
      if (p === '/test/parent.js') return send(200, TYPES['.js'], PARENT_JS);
      if (p === '/test/parent.css') return send(200, TYPES['.css'], PARENT_CSS);
      if (p === '/favicon.ico') return send(204, TYPES['.txt'], '');
      if (p === '/_ar/bridge.js') {
        bridgeRequests += 1;
        return send(200, TYPES['.js'], await bridgeBundle(), { 'Cache-Control': 'public, max-age=31536000, immutable' });
      }
      if (p.startsWith('/assets/') && !p.includes('..')) {
        const file = path.join(repoRoot, p);
        const body = await readFile(file).catch(() => null);
        if (!body) return send(404, TYPES['.txt'], 'not found');
        return send(200, TYPES[path.extname(file)] ?? 'application/octet-stream', body);
      }
      const sandboxed = { 'Content-Security-Policy': SANDBOX_CSP, 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'private', 'Access-Control-Allow-Origin': '*' };
      const grantMatch = /^\/v\/([^/]+)\/(.*)$/.exec(p);
      if (grantMatch) {
        if (grantMatch[1] !== GRANT) return send(404, TYPES['.html'], injectBridge(errorPage('grant')), sandboxed);
        const file = files.get(grantMatch[2]);
        if (!file) return send(404, TYPES['.html'], injectBridge(errorPage('missing')), sandboxed);
        const html = file.type.startsWith('text/html');
        return send(200, file.type, html && file.bridge ? injectBridge(file.body) : file.body, sandboxed);
      }
      const heldScript = /^\/held\/([\w-]+)\.js$/.exec(p);
      if (heldScript && held.has(heldScript[1])) {
        await held.get(heldScript[1]);
        return send(200, TYPES['.js'], '', { 'Cache-Control': 'no-store' });
      }
      const plain = /^\/plain\/(.*)$/.exec(p);
      if (plain && files.has(plain[1])) {
        const file = files.get(plain[1]);
        return send(200, file.type, file.body, sandboxed);
      }
      return send(404, TYPES['.txt'], 'not found');
    } catch (err) {
      res.writeHead(500, { 'Content-Type': TYPES['.txt'] });
      res.end(String(err?.stack ?? err));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    grant: GRANT,
    /** Registers a file under the grant; `bridge: false` serves HTML without the bridge tag. */
    setFile(filePath, body, { type, bridge = true } = {}) {
      files.set(filePath, { body, type: type ?? TYPES[path.extname(filePath)] ?? 'application/octet-stream', bridge });
    },
    /** Holds /held/NAME.js back; returns the function that lets it go. */
    hold(name) {
      let release;
      held.set(name, new Promise((resolve) => {
        release = resolve;
      }));
      return release;
    },
    /** The URL of a file under the grant. */
    fileUrl(filePath) {
      return `/v/${GRANT}/${filePath}`;
    },
    /** The review-like page showing `src` in its frame. */
    parentUrl(src) {
      return `${url}/parent.html?src=${encodeURIComponent(src)}`;
    },
    bridgeRequests: () => bridgeRequests,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}
