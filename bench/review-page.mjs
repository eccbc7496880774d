#!/usr/bin/env node
// `make bench`, browser row (issue 10): the review page of a 1 MB HTML artifact carrying 500
// comments, in Debian's Chromium. Measures, over fresh page loads:
//   - navigation -> every highlight drawn: from the review page's navigation start to the moment
//     the artifact frame's `ar-open` highlight holds all 500 ranges (checked on every frame);
//   - long tasks (> 50 ms) in the page and in the frame during that load;
//   - scrolling the artifact from top to bottom, driven frame by frame: frames per second, the
//     95th-percentile frame time and frames slower than 50 ms, with every highlight drawn.
// Prints one JSON object on stdout (bench.py puts it in its report); progress goes to stderr.
//
// With `--compare OTHER_BINARY`, two builds are compared in one browser: a server of each with
// the same document, loads alternating between them (which cancels most of a machine's drift),
// and the JSON holds each one's navigation → drawn times, their median, and in how many pairs it
// was the faster (no scrolling is measured then).
//
// Usage: node bench/review-page.mjs [--binary target/release/artifact-review] [--loads 5]
//                                   [--compare OTHER_BINARY]
// Needs the browser-test packages (`scripts/install-browser-deps`).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser, apiCall } from '../tests/browser/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const COMMENTS = 500;
const TARGET_BYTES = 1024 * 1024;
const LONG_TASK_MS = 50;

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const log = (msg) => process.stderr.write(`[review-page] ${msg}\n`);

/** Words of an ordinary business report. */
const VOCABULARY = (
  'revenue margin growth quarter forecast customer retention churn pipeline region market share segment product '+
  'launch release pricing discount contract renewal invoice payment backlog capacity hiring headcount budget spend '+
  'cost savings efficiency latency uptime incident outage recovery deployment rollout migration database storage network '+
  'traffic request response error rate target baseline estimate actual variance trend increase decrease stable '+
  'steady sharp modest significant minor major early late delayed ahead behind schedule milestone roadmap '+
  'priority risk issue dependency owner team review approval feedback survey score rating support ticket '+
  'escalation resolution onboarding training documentation policy compliance audit security access vendor supplier partner channel '+
  'campaign conversion funnel lead prospect signup trial subscription plan tier feature usage adoption engagement '+
  'session visit page click search query report dashboard metric chart table summary detail appendix '+
  'source data sample method model analysis result finding recommendation action next step follow up '+
  'weekly monthly annual previous current projected expected observed measured reported adjusted normalized seasonal regional '+
  'global local north south east west central enterprise small medium large mobile desktop web '+
  'api service platform infrastructure cluster node instance region zone cache queue worker job batch '+
  'stream event log alert threshold limit quota throughput volume peak average median percentile distribution '+
  'outlier anomaly correlation driver factor impact benefit trade off option alternative proposal decision rationale '+
  'assumption constraint scope phase stage pilot experiment test control variant uplift confidence interval significance '+
  'the of and to in for with on by from at as that this '+
  'which while because although however therefore overall'
).split(' ');

/** A deterministic stream of words, so every run reviews the same document. */
function* words(seed) {
  const vocabulary = VOCABULARY;
  let x = seed;
  for (;;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    yield vocabulary[(x >>> 8) % vocabulary.length];
  }
}

/**
 * A 1 MB report: sections of headings and paragraphs of plain text. Returns the HTML and the
 * text of its body as the bridge models it (every Text node under <body>, in order), so selectors
 * can carry exact code-point positions.
 */
function buildDocument() {
  const next = words(20261206);
  const head = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Quarterly operations report</title>' +
    '<style>body{font:16px/1.6 system-ui;max-width:46rem;margin:2rem auto;padding:0 1rem}</style></head>\n<body>';
  const tail = '</body></html>\n';
  const parts = [];
  const text = [];
  let size = head.length + tail.length;
  let section = 0;
  let paragraph = 0;
  while (size < TARGET_BYTES) {
    if (paragraph % 12 === 0) {
      section += 1;
      const title = `Section ${section}: ${next.next().value} ${next.next().value}`;
      parts.push(`\n<h2>${title}</h2>`);
      text.push('\n', title);
      size += title.length + 10;
    }
    const sentence = [];
    const length = 60 + (paragraph % 40);
    for (let i = 0; i < length; i += 1) sentence.push(next.next().value);
    const body = `Paragraph ${paragraph + 1}. ${sentence.join(' ')}.`;
    parts.push(`\n<p>${body}</p>`);
    text.push('\n', body);
    size += body.length + 8;
    paragraph += 1;
  }
  parts.push('\n');
  text.push('\n');
  return { html: head + parts.join('') + tail, text: text.join('') };
}

/** 500 passages spread over the document, each with 32 characters of context and its position. */
function passages(text) {
  const out = [];
  const step = Math.floor(text.length / (COMMENTS + 1));
  for (let i = 0; i < COMMENTS; i += 1) {
    // Start on a word boundary after each step, quote 3 to 8 words.
    let start = text.indexOf(' ', step * (i + 1)) + 1;
    let end = start;
    for (let w = 0; w < 3 + (i % 6); w += 1) end = text.indexOf(' ', end + 1);
    const exact = text.slice(start, end);
    out.push([
      {
        type: 'TextQuoteSelector',
        exact,
        prefix: text.slice(Math.max(0, start - 32), start),
        suffix: text.slice(end, end + 32),
      },
      // The text is ASCII: code points and UTF-16 units are the same.
      { type: 'TextPositionSelector', start, end },
    ]);
  }
  return out;
}

async function fixture(server) {
  const setup = await apiCall(server.url, 'POST', '/api/v1/setup', {
    body: { token: server.setupToken, email: 'bench@example.com', name: 'Bench', password: 'bench password' },
  });
  if (setup.status !== 201) throw new Error(`setup: ${setup.status} ${JSON.stringify(setup.body)}`);
  const cookie = setup.headers.get('set-cookie').match(/ar_session=([^;]+)/)[1];
  const headers = { Cookie: `ar_session=${cookie}` };
  const { html, text } = buildDocument();
  const created = await apiCall(server.url, 'POST', '/api/v1/artifacts', {
    headers,
    body: { name: 'Quarterly operations report', fileName: 'report.html', content: html },
  });
  if (created.status !== 201) throw new Error(`upload: ${created.status} ${JSON.stringify(created.body)}`);
  const share = created.body.shareToken;
  const selectors = passages(text);
  for (let i = 0; i < selectors.length; i += 25) {
    const batch = selectors.slice(i, i + 25).map((selector, j) =>
      apiCall(server.url, 'POST', `/api/v1/artifacts/${share}/comments`, {
        headers,
        body: {
          content: `Comment ${i + j + 1}: please double-check this figure against the source data.`,
          target: { source: 'report.html', selector },
        },
      }),
    );
    for (const r of await Promise.all(batch)) {
      if (r.status !== 201) throw new Error(`comment: ${r.status} ${JSON.stringify(r.body)}`);
    }
  }
  return { cookie, share, bytes: Buffer.byteLength(html) };
}

/** Installed in every document: records long tasks. */
function recordLongTasks() {
  window.__longTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // Not supported: no entries.
  }
}

async function artifactFrame(page) {
  for (;;) {
    const frame = page.frames().find((f) => /\/v\/[A-Za-z0-9_-]+\//.test(f.url()));
    if (frame) return frame;
    await page.waitForEvent('framenavigated', { timeout: 30_000 });
  }
}

async function oneLoad(browser, server, fx, { scroll: scrolling = true } = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addCookies([{ name: 'ar_session', value: fx.cookie, url: server.url }]);
  await context.addInitScript(recordLongTasks);
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await page.goto(`${server.url}/a/${fx.share}`, { waitUntil: 'commit' });
  const frame = await artifactFrame(page);
  // Checked on every animation frame inside the artifact: the moment all highlights exist.
  const drawnAt = await frame.waitForFunction(
    (n) => {
      const h = globalThis.CSS?.highlights?.get('ar-open');
      return h && h.size >= n ? performance.timeOrigin + performance.now() : false;
    },
    COMMENTS,
    { polling: 'raf', timeout: 60_000 },
  ).then((h) => h.jsonValue());
  const navigationStart = await page.evaluate(() => performance.timeOrigin);
  const drawn = await frame.evaluate(() => CSS.highlights.get('ar-open').size);
  const long = (tasks) => tasks.filter((t) => t.duration > LONG_TASK_MS);
  const pageTasks = long(await page.evaluate(() => window.__longTasks ?? []));
  const frameTasks = long(await frame.evaluate(() => window.__longTasks ?? []));
  const longTasks = [...pageTasks, ...frameTasks];

  // Scroll the artifact top to bottom, one step per frame, recording frame times.
  const scroll = scrolling && await frame.evaluate(async () => {
    const before = (window.__longTasks ?? []).length;
    const height = document.documentElement.scrollHeight - innerHeight;
    const steps = 240;
    const times = [];
    let last = performance.now();
    for (let i = 1; i <= steps; i += 1) {
      window.scrollTo(0, (height * i) / steps);
      await new Promise((r) => requestAnimationFrame(r));
      const now = performance.now();
      times.push(now - last);
      last = now;
    }
    const sorted = [...times].sort((a, b) => a - b);
    const total = times.reduce((a, b) => a + b, 0);
    return {
      fps: (times.length * 1000) / total,
      p95: sorted[Math.floor(sorted.length * 0.95)],
      slow: times.filter((t) => t > 50).length,
      longTasks: (window.__longTasks ?? []).slice(before).filter((t) => t.duration > 50).length,
    };
  });
  await context.close();
  return {
    ms: drawnAt - navigationStart,
    drawn,
    longTasks: longTasks.length,
    longestTask: Math.max(0, ...longTasks.map((t) => t.duration)),
    pageTasks: pageTasks.map((t) => Math.round(t.duration)),
    frameTasks: frameTasks.map((t) => Math.round(t.duration)),
    scroll,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

/** `--compare`: `loads` loads of each build, alternating (and which goes first, too). */
async function compare(browser, binaries, loads) {
  const sides = [];
  for (const binary of binaries) {
    const server = await startServer({ binary });
    sides.push({ binary, server, fx: await fixture(server), ms: [] });
  }
  try {
    for (const side of sides) await oneLoad(browser, side.server, side.fx, { scroll: false }); // warm-up
    for (let i = 0; i < loads; i += 1) {
      for (const side of i % 2 ? [...sides].reverse() : sides) {
        const r = await oneLoad(browser, side.server, side.fx, { scroll: false });
        side.ms.push(Math.round(r.ms));
      }
      log(`pair ${i + 1}: ${sides.map((side) => `${side.ms.at(-1)} ms`).join(' / ')}`);
    }
    const [a, b] = sides;
    const faster = [a.ms.filter((ms, i) => ms < b.ms[i]).length, b.ms.filter((ms, i) => ms < a.ms[i]).length];
    return {
      documentBytes: a.fx.bytes,
      comments: COMMENTS,
      pairs: loads,
      builds: sides.map((side, i) => ({ binary: side.binary, drawnMs: side.ms, median: median(side.ms), fasterInPairs: faster[i] })),
      chromium: browser.version(),
    };
  } finally {
    for (const side of sides) await side.server.stop();
  }
}

async function main() {
  const binary = path.resolve(arg('binary', path.join(root, 'target', 'release', 'artifact-review')));
  const loads = Number(arg('loads', '5'));
  const other = arg('compare', null);
  if (other) {
    const browser = await launchBrowser();
    try {
      process.stdout.write(`${JSON.stringify(await compare(browser, [binary, path.resolve(other)], loads))}\n`);
    } finally {
      await browser.close();
    }
    return;
  }
  const server = await startServer({ binary });
  const browser = await launchBrowser();
  try {
    log('building the 1 MB document and its 500 comments');
    const fx = await fixture(server);
    log(`document ${fx.bytes} bytes; ${loads} loads`);
    await oneLoad(browser, server, fx); // warm-up: caches, first compilation
    const runs = [];
    for (let i = 0; i < loads; i += 1) {
      const r = await oneLoad(browser, server, fx);
      log(`load ${i + 1}: ${r.ms.toFixed(0)} ms, ${r.drawn} highlights, long tasks: page [${r.pageTasks}] ms, ` +
        `frame [${r.frameTasks}] ms; scroll ${r.scroll.fps.toFixed(0)} fps`);
      runs.push(r);
    }
    const out = {
      documentBytes: fx.bytes,
      comments: COMMENTS,
      loads,
      highlightsDrawnMs: { median: median(runs.map((r) => r.ms)), max: Math.max(...runs.map((r) => r.ms)) },
      highlights: Math.min(...runs.map((r) => r.drawn)),
      longTasksPerLoad: { median: median(runs.map((r) => r.longTasks)), max: Math.max(...runs.map((r) => r.longTasks)) },
      longestTaskMs: Math.max(...runs.map((r) => r.longestTask)),
      longTasks: runs.map((r) => ({ page: r.pageTasks, frame: r.frameTasks })),
      scroll: {
        fps: median(runs.map((r) => r.scroll.fps)),
        p95FrameMs: median(runs.map((r) => r.scroll.p95)),
        slowFrames: Math.max(...runs.map((r) => r.scroll.slow)),
        longTasks: Math.max(...runs.map((r) => r.scroll.longTasks)),
      },
      chromium: browser.version(),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(2);
});
