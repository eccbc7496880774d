// Artifact Review bridge: runs inside every artifact HTML document served under /v/{grant}/ and
// links it to the review page around it (docs/review-bridge.md; the contract is §3 of the review
// spec).
//
// This file is not loaded on its own. The server serves /_ar/bridge.js as
//
//     (() => {
//     'use strict';
//     <assets/vendor/approx-string-match.js>
//     <this file>
//     })();
//
// so `search(text, pattern, maxErrors)` (the vendored approximate matcher) is a local of that one
// function scope, and nothing here becomes a global of the artifact's window.
//
// The server inserts the script tag right after the doctype, so this runs before any script, <meta>
// CSP or <base> of the artifact. It shares its realm with the artifact's scripts, which may replace
// globals later: everything the messaging depends on is captured below, first thing. Whatever the
// artifact does can only spoil its own review; the review page treats every message as hostile.

/* ------------------------------------------------------------------------------------------------
 * 1. References captured before any artifact script runs
 * --------------------------------------------------------------------------------------------- */

const win = window;
const doc = document;
const loc = win.location; // [LegacyUnforgeable]: the artifact cannot replace it
const apply = Reflect.apply;
const parentWin = win.parent;
const topWin = win.top;
const ownOrigin = loc.origin; // the URL's origin (our server), although self.origin is "null"

function getterOf(proto, name) {
  const descriptor = Object.getOwnPropertyDescriptor(proto, name);
  return descriptor ? descriptor.get : undefined;
}

const addListener = EventTarget.prototype.addEventListener;
const stopImmediatePropagation = Event.prototype.stopImmediatePropagation;
const preventDefault = Event.prototype.preventDefault;
const messageData = getterOf(MessageEvent.prototype, 'data');
const messageSource = getterOf(MessageEvent.prototype, 'source');
const messagePorts = getterOf(MessageEvent.prototype, 'ports');
const portPostMessage = MessagePort.prototype.postMessage;
const portStart = MessagePort.prototype.start;
const postToParent = parentWin.postMessage.bind(parentWin);
const setTimer = win.setTimeout.bind(win);
const clearTimer = win.clearTimeout.bind(win);
const setRepeating = win.setInterval.bind(win);
const clearRepeating = win.clearInterval.bind(win);
const nowMs = performance.now.bind(performance);
const matchMedia = win.matchMedia.bind(win);
const getSelection = win.getSelection.bind(win);
const HistoryProto = History.prototype;
const MutationObserverCtor = MutationObserver;
const StaticRangeCtor = StaticRange;
const CSSStyleSheetCtor = CSSStyleSheet;
const adoptedSheets = Object.getOwnPropertyDescriptor(Document.prototype, 'adoptedStyleSheets');
const anchorHref = getterOf(HTMLAnchorElement.prototype, 'href');
const areaHref = getterOf(HTMLAreaElement.prototype, 'href');
const eventPrevented = getterOf(Event.prototype, 'defaultPrevented');
const eventComposedPath = Event.prototype.composedPath;
const getAttribute = Element.prototype.getAttribute;
const URLCtor = URL;
const caretPositionFromPoint = typeof doc.caretPositionFromPoint === 'function' ? doc.caretPositionFromPoint.bind(doc) : null;
const caretRangeFromPoint = typeof doc.caretRangeFromPoint === 'function' ? doc.caretRangeFromPoint.bind(doc) : null;

// The CSS Custom Highlight API draws highlights without touching the artifact's DOM; without it we
// fall back to wrapper elements. Decided once, at start (tests remove CSS.highlights beforehand).
const highlightRegistry = typeof CSS !== 'undefined' && CSS.highlights ? CSS.highlights : null;
const HighlightCtor = typeof Highlight === 'function' ? Highlight : null;
const useHighlightApi = Boolean(highlightRegistry && HighlightCtor);
const registrySet = useHighlightApi ? highlightRegistry.set : null;
const registryDelete = useHighlightApi ? highlightRegistry.delete : null;

// Identifies this document in its hellos. The review page answers a hello with a `connect` naming
// that id, and only the bridge that sent it takes the port: a hello forged by the artifact's
// scripts (with an id of their own) is never confirmed, since they never see `connect` messages.
const docId = randomHex(16);

/* ------------------------------------------------------------------------------------------------
 * 2. Constants
 * --------------------------------------------------------------------------------------------- */

const PROTOCOL = 1;
const CONTEXT_CODE_POINTS = 32;
const MAX_QUOTE_CODE_POINTS = 2000;
const MAX_TITLE_CODE_POINTS = 500;
// A #fragment longer than this is not reported (the page's address would carry it).
const MAX_HASH = 1024;
const MAX_PATH = 4096; // as the review page takes paths
const HELLO_EVERY_MS = 250;
const HELLO_FOR_MS = 10_000;
const REPORT_AFTER_POINTER_MS = 10;
const REPORT_AFTER_CHANGE_MS = 100;
const MUTATION_QUIET_MS = 300;
const MUTATION_MAX_WAIT_MS = 1000; // a page that never stops mutating (a clock) still re-anchors
const SLICE_MS = 25; // anchoring yields to the artifact after this long, keeping tasks under 50 ms
const SEARCH_CHUNK = 1 << 16; // UTF-16 units scanned by one approximate-search step
const LOCAL_SLACK = 256; // how far beyond the expected place an approximate match is first looked for
const LOCAL_ACCEPT_SCORE = 0.75; // a match near the expected place this good ends the search
const CLICK_SLOP_PX = 4;
const SKIPPED_ELEMENTS = new Set(['script', 'style', 'noscript', 'template']);
const STATES = ['resolved', 'open', 'draft', 'active']; // drawing order: later ones paint on top
const KNOWN_STATES = new Set(['open', 'resolved', 'draft']);

// Quote 50, prefix 20, suffix 20, position 2: Hypothesis' weights for scoring candidate matches.
const WEIGHT_QUOTE = 50;
const WEIGHT_PREFIX = 20;
const WEIGHT_SUFFIX = 20;
const WEIGHT_POSITION = 2;
const MIN_FUZZY_SCORE = 0.5; // of the best possible score; below it a quote is an orphan
// An approximate match is believed only this alike: at most a quarter of the quote edited. A
// short quote (a number, a few words) differs from others of its kind by a character, so it is
// believed only where the text before and after it still reads much as it did.
const MIN_QUOTE_SIMILARITY = 0.75;
const SHORT_QUOTE = 32;
const MIN_SHORT_CONTEXT = 0.5;
// A passage rewritten in place is found between the context that stood around it: the last and
// first this many characters of its prefix and suffix, each at least MIN_CONTEXT_ANCHOR long.
const CONTEXT_ANCHOR = 24;
const MIN_CONTEXT_ANCHOR = 8;

// One table for both drawings: ::highlight() rules and the fallback wrappers' inline styles.
// Open: translucent yellow fill with a 2 px underline; active: another hue and a thicker line;
// draft: a dashed underline over a faint fill; resolved (only with showResolved): dotted, no fill.
const LOOKS = {
  open: { fill: 'rgba(255, 214, 10, 0.38)', line: 'rgba(180, 120, 0, 0.95)', style: 'solid', width: '2px', forced: 'CanvasText' },
  active: { fill: 'rgba(96, 200, 255, 0.45)', line: 'rgba(0, 105, 180, 1)', style: 'solid', width: '3px', forced: 'Highlight' },
  draft: { fill: 'rgba(170, 140, 255, 0.22)', line: 'rgba(100, 60, 210, 0.95)', style: 'dashed', width: '2px', forced: 'Highlight' },
  resolved: { fill: 'transparent', line: 'rgba(100, 110, 125, 0.95)', style: 'dotted', width: '2px', forced: 'GrayText' },
};

/* ------------------------------------------------------------------------------------------------
 * 3. Small helpers: code points, whitespace, searching sorted arrays
 * --------------------------------------------------------------------------------------------- */

function randomHex(bytes) {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  let out = '';
  for (const v of values) out += (v < 16 ? '0' : '') + v.toString(16);
  return out;
}

const SURROGATE = /[\uD800-\uDFFF]/;
const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

function isHighSurrogate(c) {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** UTF-16 indexes of the high halves of every surrogate pair in `text`, or null when none. */
function surrogatePairs(text) {
  if (!SURROGATE.test(text)) return null;
  const pairs = [];
  SURROGATE_PAIR.lastIndex = 0;
  for (let m = SURROGATE_PAIR.exec(text); m; m = SURROGATE_PAIR.exec(text)) pairs.push(m.index);
  return pairs.length ? Int32Array.from(pairs) : null;
}

function codePointLength(s) {
  const pairs = surrogatePairs(s);
  return s.length - (pairs ? pairs.length : 0);
}

/** The longest start of `s` with at most `max` code points, never splitting a pair. */
function clipCodePoints(s, max) {
  if (s.length <= max) return s;
  let units = 0;
  for (let n = 0; n < max && units < s.length; n++) {
    units += isHighSurrogate(s.charCodeAt(units)) && isLowSurrogate(s.charCodeAt(units + 1)) ? 2 : 1;
  }
  return s.slice(0, units);
}

/** Replaces lone surrogates (the page's text may hold them; JSON and the server do not). */
function wellFormed(s) {
  return typeof s.isWellFormed === 'function' && !s.isWellFormed() ? s.toWellFormed() : s;
}

/** JavaScript's \s, as a char code test (cheaper than a regular expression per character). */
function isSpaceCode(c) {
  return (
    c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff
  );
}

/** First index i with sorted[i] > x. */
function upperBound(sorted, x) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** First index i with sorted[i] >= x. */
function lowerBound(sorted, x) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] >= x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function isRecord(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(n) {
  return Number.isSafeInteger(n) && n >= 0;
}

function listen(target, type, handler, options = true) {
  apply(addListener, target, [type, handler, options]);
}

function whenParsed(fn) {
  if (doc.readyState === 'loading') listen(doc, 'DOMContentLoaded', fn, { capture: true, once: true });
  else fn();
}

/* ------------------------------------------------------------------------------------------------
 * 4. The text model: what offsets and quotes are measured against
 *
 * The text is the data of every Text node under the root (document.body, else the document
 * element) in document order, skipping script/style/noscript/template, with nothing added or
 * normalised. Selectors count Unicode code points; JavaScript strings count UTF-16 units, so the
 * model keeps the positions of surrogate pairs to convert (and skips that when there are none).
 * A model is built once per anchoring pass (and cached for describing selections until the DOM
 * changes); a sorted table of node start offsets maps offsets back to nodes by binary search.
 * --------------------------------------------------------------------------------------------- */

function textRoot() {
  return doc.body || doc.documentElement;
}

function buildTextModel() {
  const root = textRoot();
  const nodes = [];
  const starts = [];
  const parts = [];
  let length = 0;
  let node = root ? root.firstChild : null;
  while (node) {
    const type = node.nodeType;
    if (type === 3 || type === 4) {
      const data = node.data;
      nodes.push(node);
      starts.push(length);
      parts.push(data);
      length += data.length;
    } else if (type === 1 && node.firstChild && !SKIPPED_ELEMENTS.has(node.localName)) {
      node = node.firstChild;
      continue;
    }
    while (node !== root && !node.nextSibling) node = node.parentNode;
    node = node === root ? null : node.nextSibling;
  }
  const text = parts.join('');
  return { root, nodes, starts, text, length, pairs: surrogatePairs(text), index: null };
}

let cachedModel = null;

/** The model of the DOM as it is now (rebuilt after any mutation that touched the text). */
function currentModel() {
  if (!cachedModel) cachedModel = buildTextModel();
  return cachedModel;
}

function codePointAt(model, u) {
  return model.pairs ? u - upperBound(model.pairs, u - 2) : u;
}

function unitAt(model, cp) {
  const pairs = model.pairs;
  if (!pairs) return cp;
  // The k-th pair (0-based) starts at code point pairs[k] - k; count the pairs starting before cp.
  let lo = 0;
  let hi = pairs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pairs[mid] - mid < cp) lo = mid + 1;
    else hi = mid;
  }
  return cp + lo;
}

function nodeEnd(model, i) {
  return i + 1 < model.starts.length ? model.starts[i + 1] : model.length;
}

/** The DOM point at text offset u: at the start of the next node, or (atEnd) the end of the previous. */
function pointAt(model, u, atEnd) {
  if (!model.nodes.length) return null;
  const i = Math.max(0, atEnd ? lowerBound(model.starts, u) - 1 : upperBound(model.starts, u) - 1);
  const offset = Math.min(Math.max(0, u - model.starts[i]), nodeEnd(model, i) - model.starts[i]);
  return { node: model.nodes[i], offset };
}

function indexOfTextNode(model, node) {
  if (!model.index) {
    model.index = new Map();
    model.nodes.forEach((n, i) => model.index.set(n, i));
  }
  const i = model.index.get(node);
  return i === undefined ? -1 : i;
}

/** The text offset of a DOM boundary point (container, offset), e.g. a selection's start. */
function offsetOfPoint(model, container, offset) {
  if (container.nodeType === 3 || container.nodeType === 4) {
    const i = indexOfTextNode(model, container);
    if (i >= 0) return model.starts[i] + Math.min(offset, nodeEnd(model, i) - model.starts[i]);
  }
  // Between elements: the offset of the first text node at or after the point.
  const probe = doc.createRange();
  probe.setStart(container, offset);
  const nodes = model.nodes;
  let lo = 0;
  let hi = nodes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (probe.comparePoint(nodes[mid], 0) >= 0) hi = mid;
    else lo = mid + 1;
  }
  return lo < nodes.length ? model.starts[lo] : model.length;
}

function liveRange(model, startU, endU) {
  const a = pointAt(model, startU, false);
  const b = pointAt(model, endU, true);
  if (!a || !b) return null;
  try {
    const range = doc.createRange();
    range.setStart(a.node, a.offset);
    range.setEnd(b.node, b.offset);
    return range;
  } catch {
    return null; // the DOM changed since the model was built; a re-anchoring pass follows
  }
}

// Static ranges cost the artifact nothing on later DOM changes (live ranges are updated on every
// mutation); they are rebuilt by the next anchoring pass anyway.
function staticRange(model, startU, endU) {
  const a = pointAt(model, startU, false);
  const b = pointAt(model, endU, true);
  if (!a || !b) return null;
  try {
    return new StaticRangeCtor({ startContainer: a.node, startOffset: a.offset, endContainer: b.node, endOffset: b.offset });
  } catch {
    return null;
  }
}

/* ------------------------------------------------------------------------------------------------
 * 5. Describing the reader's selection
 * --------------------------------------------------------------------------------------------- */

/** null (nothing selected), {tooLong: n} or {quote, position, rect} for the current selection. */
function describeSelection() {
  const selection = getSelection();
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  const model = currentModel();
  if (!model.root || !model.root.contains(range.commonAncestorContainer)) return null;
  const text = model.text;
  let start = offsetOfPoint(model, range.startContainer, range.startOffset);
  let end = offsetOfPoint(model, range.endContainer, range.endOffset);
  while (start < end && isSpaceCode(text.charCodeAt(start))) start++;
  while (end > start && isSpaceCode(text.charCodeAt(end - 1))) end--;
  if (start >= end) return null;
  const startCp = codePointAt(model, start);
  const endCp = codePointAt(model, end);
  if (endCp - startCp > MAX_QUOTE_CODE_POINTS) return { tooLong: endCp - startCp };
  const totalCp = codePointAt(model, model.length);
  const prefixStart = unitAt(model, Math.max(0, startCp - CONTEXT_CODE_POINTS));
  const suffixEnd = unitAt(model, Math.min(totalCp, endCp + CONTEXT_CODE_POINTS));
  const box = liveRange(model, start, end)?.getBoundingClientRect();
  return {
    quote: {
      type: 'TextQuoteSelector',
      exact: wellFormed(text.slice(start, end)),
      prefix: wellFormed(text.slice(prefixStart, start)),
      suffix: wellFormed(text.slice(end, suffixEnd)),
    },
    position: { type: 'TextPositionSelector', start: startCp, end: endCp },
    rect: box ? { x: box.x, y: box.y, width: box.width, height: box.height } : { x: 0, y: 0, width: 0, height: 0 },
  };
}

/* ------------------------------------------------------------------------------------------------
 * 6. Anchoring: finding each selector in the current text
 *
 * Order (spec §3): CssSelector alone; the position hint if its text equals the quote; every exact
 * occurrence, the best one by context and closeness to the hint; a whitespace-insensitive exact
 * match; approximate matches scored like Hypothesis. The cheap steps run for all anchors first
 * (a page whose hints still hold is anchored in one short task); the rest is time-sliced.
 * --------------------------------------------------------------------------------------------- */

/** The parent's anchors, re-validated (the parent is trusted, but a bad selector must not throw). */
function readAnchors(list) {
  const out = [];
  const seen = new Set();
  if (!Array.isArray(list)) return out;
  for (const item of list) {
    if (!isRecord(item) || typeof item.id !== 'string' || seen.has(item.id)) continue;
    seen.add(item.id);
    const anchor = {
      id: item.id,
      state: KNOWN_STATES.has(item.state) ? item.state : 'open',
      active: item.active === true,
      quote: null,
      position: null,
      css: null,
    };
    for (const s of Array.isArray(item.selector) ? item.selector : [item.selector]) {
      if (!isRecord(s)) continue;
      if (s.type === 'TextQuoteSelector' && !anchor.quote && typeof s.exact === 'string' && s.exact.length > 0) {
        anchor.quote = {
          exact: s.exact,
          prefix: typeof s.prefix === 'string' ? s.prefix : '',
          suffix: typeof s.suffix === 'string' ? s.suffix : '',
        };
      } else if (s.type === 'TextPositionSelector' && !anchor.position && isCount(s.start) && isCount(s.end) && s.end >= s.start) {
        anchor.position = { start: s.start, end: s.end };
      } else if (s.type === 'CssSelector' && anchor.css === null && typeof s.value === 'string' && s.value.length > 0) {
        anchor.css = s.value;
      }
    }
    out.push(anchor);
  }
  return out;
}

const ORPHAN = Object.freeze({ status: 'orphan', startU: 0, endU: 0, element: null });

function found(status, startU, endU, element = null) {
  return { status, startU, endU, element };
}

/** The steps that cost O(quote length) or one indexOf; null when the slow steps are needed. */
function anchorQuickly(ctx, anchor, previous) {
  const { model } = ctx;
  const text = model.text;
  if (!anchor.quote) {
    if (anchor.css !== null) return anchorCss(model, anchor.css);
    if (anchor.position) {
      const startU = unitAt(model, anchor.position.start);
      const endU = unitAt(model, anchor.position.end);
      return endU > startU && endU <= model.length ? found('exact', startU, endU) : ORPHAN;
    }
    return ORPHAN;
  }
  const exact = anchor.quote.exact;
  if (anchor.position) {
    const hint = unitAt(model, anchor.position.start);
    if (text.startsWith(exact, hint)) return found('exact', hint, hint + exact.length);
    // Text inserted or removed before it moves a passage by the same amount as its neighbour in
    // document order: try there, but only with the whole context matching too.
    const moved = unitAt(model, anchor.position.start + lastShift(ctx));
    if (moved !== hint && quoteWithContextAt(text, moved, anchor.quote)) return found('exact', moved, moved + exact.length);
  }
  // Where the same quote was found by the previous pass (the page re-rendered; text before it grew).
  if (previous && previous.exact === exact && text.startsWith(exact, previous.startU)) {
    return found('exact', previous.startU, previous.startU + exact.length);
  }
  const first = text.indexOf(exact);
  if (first === -1) ctx.absent.add(anchor);
  else if (text.indexOf(exact, first + 1) === -1 && contextHolds(text, first, first + exact.length, anchor.quote)) {
    return found('exact', first, first + exact.length);
  }
  return null;
}

function quoteWithContextAt(text, at, quote) {
  return (
    at >= 0 &&
    text.startsWith(quote.exact, at) &&
    text.startsWith(quote.prefix, at - quote.prefix.length) &&
    text.startsWith(quote.suffix, at + quote.exact.length)
  );
}

/**
 * Notes how far a passage moved from its position hint, in code points: text inserted before a
 * passage moves it by a constant number of code points, not of UTF-16 units.
 */
function learnShift(ctx, anchor, result) {
  if (!anchor.position || result.status === 'orphan' || result.element) return;
  const hint = anchor.position.start;
  const i = upperBound(ctx.shiftHints, hint); // the end, while placing in hint order
  ctx.shiftHints.splice(i, 0, hint);
  ctx.shifts.splice(i, 0, codePointAt(ctx.model, result.startU) - hint);
}

function lastShift(ctx) {
  return ctx.shifts.length ? ctx.shifts[ctx.shifts.length - 1] : 0;
}

/** The shift of the placed passage whose hint (code points) is nearest to `hint`. */
function nearestShift(ctx, hint) {
  const i = lowerBound(ctx.shiftHints, hint);
  if (i === 0) return ctx.shifts.length ? ctx.shifts[0] : 0;
  if (i === ctx.shiftHints.length) return ctx.shifts[i - 1];
  return hint - ctx.shiftHints[i - 1] <= ctx.shiftHints[i] - hint ? ctx.shifts[i - 1] : ctx.shifts[i];
}

function anchorCss(model, value) {
  let element = null;
  try {
    element = doc.querySelector(value);
  } catch {
    return ORPHAN; // not a valid selector
  }
  if (!element) return ORPHAN;
  const startU = offsetOfPoint(model, element, 0);
  const endU = Math.max(startU, offsetOfPoint(model, element, element.childNodes.length));
  return found('exact', startU, endU, element);
}

/** A pass's shared, lazily built state and its time budget. */
function passContext(model, token) {
  return { model, token, deadline: nowMs() + SLICE_MS, collapsed: null, shiftHints: [], shifts: [], absent: new Set() };
}

/**
 * Yields to the event loop when this slice is used up (with `fresh`: unless it has just begun, before
 * a step over the whole text); false when a newer pass took over.
 */
async function keepGoing(ctx, fresh = false) {
  const left = ctx.deadline - nowMs();
  if (left > (fresh ? SLICE_MS - 2 : 0)) return ctx.token === passToken;
  await new Promise((resolve) => setTimer(resolve, 0));
  ctx.deadline = nowMs() + SLICE_MS;
  return ctx.token === passToken;
}

const CANCELLED = Symbol('cancelled');

async function anchorSlowly(ctx, anchor) {
  const { model } = ctx;
  const text = model.text;
  const quote = anchor.quote;
  const exact = quote.exact;
  // Where the passage is expected: its hint, moved like its nearest placed neighbour's.
  const expected = anchor.position ? unitAt(model, anchor.position.start + nearestShift(ctx, anchor.position.start)) : null;

  // Every exact occurrence, the best by its context (and closeness to where it is expected).
  const occurrences = [];
  for (let i = ctx.absent.has(anchor) ? -1 : text.indexOf(exact); i !== -1; i = text.indexOf(exact, i + 1)) {
    occurrences.push({ start: i, end: i + exact.length, errors: 0 });
    if (occurrences.length % 512 === 0 && !(await keepGoing(ctx))) return CANCELLED;
  }
  if (occurrences.length) {
    const best = await bestCandidate(ctx, occurrences, quote, expected);
    if (best === CANCELLED) return CANCELLED;
    // The words remain, but elsewhere, with other text around them ("twelve percent" of project
    // Alpha's line, the quote being of Bravo's, since rewritten): where the quote's own context
    // still stands, the passage rewritten in place is the one meant.
    if (!contextHolds(text, best.start, best.end, quote)) {
      const between = await betweenContext(ctx, quote, expected);
      if (between === CANCELLED) return CANCELLED;
      if (between) return found('fuzzy', between.start, between.end);
    }
    return found('exact', best.start, best.end);
  }

  // The same text with its accents encoded the other way (a version saved decomposed, NFD, or
  // composed, NFC): found as it now stands.
  for (const form of ['NFC', 'NFD']) {
    const other = exact.normalize(form);
    if (other === exact) continue;
    const recoded = [];
    for (let i = text.indexOf(other); i !== -1; i = text.indexOf(other, i + 1)) {
      recoded.push({ start: i, end: i + other.length, errors: 0 });
      if (recoded.length % 512 === 0 && !(await keepGoing(ctx))) return CANCELLED;
    }
    if (recoded.length) {
      const best = await bestCandidate(ctx, recoded, quote, expected);
      return best === CANCELLED ? CANCELLED : found('fuzzy', best.start, best.end);
    }
  }

  // The same text with every run of whitespace collapsed to one space, on both sides. (A quote
  // without whitespace would only find its exact occurrences again.)
  const wanted = collapseWhitespace(exact).text.trim();
  if (wanted.length && HAS_WHITESPACE.test(exact)) {
    if (!ctx.collapsed) {
      if (!(await keepGoing(ctx, true))) return CANCELLED; // a fresh slice for the whole text
      ctx.collapsed = collapseWhitespace(text);
    }
    const { text: flat, originalIndex } = ctx.collapsed;
    const candidates = [];
    for (let i = flat.indexOf(wanted); i !== -1; i = flat.indexOf(wanted, i + 1)) {
      candidates.push({ start: originalIndex(i), end: originalIndex(i + wanted.length - 1) + 1, errors: 0 });
      if (candidates.length % 512 === 0 && !(await keepGoing(ctx))) return CANCELLED;
    }
    if (candidates.length) {
      const best = await bestCandidate(ctx, candidates, quote, expected);
      return best === CANCELLED ? CANCELLED : found('fuzzy', best.start, best.end);
    }
  }

  // The passage rewritten between its unchanged context ("twelve" now "12"): what lies between the
  // text that stood just before it and the text that stood just after.
  const between = await betweenContext(ctx, quote, expected);
  if (between === CANCELLED) return CANCELLED;
  if (between) return found('fuzzy', between.start, between.end);

  // Approximate matches, at most min(256, len/2) edits away: first near where the passage is
  // expected, then in the whole text.
  const maxErrors = Math.min(256, Math.floor(codePointLength(exact) / 2));
  if (maxErrors < 1) return ORPHAN;
  if (expected !== null) {
    const from = Math.max(0, expected - maxErrors - LOCAL_SLACK);
    const to = Math.min(text.length, expected + exact.length + maxErrors + LOCAL_SLACK);
    const near = search(text.slice(from, to), exact, maxErrors).map((m) => ({ start: m.start + from, end: m.end + from, errors: m.errors }));
    const best = near.length ? await bestCandidate(ctx, near, quote, expected) : null;
    if (best === CANCELLED) return CANCELLED;
    if (best && best.score >= LOCAL_ACCEPT_SCORE && believable(best, quote)) return foundInWords(model, best);
  }
  const candidates = await approximateMatches(ctx, text, exact, maxErrors);
  if (candidates === CANCELLED) return CANCELLED;
  if (!candidates.length) return ORPHAN;
  const best = await bestCandidate(ctx, candidates, quote, expected);
  if (best === CANCELLED) return CANCELLED;
  return best.score >= MIN_FUZZY_SCORE && believable(best, quote) ? foundInWords(model, best) : ORPHAN;
}

/**
 * The passage as it now reads between its context, when the last CONTEXT_ANCHOR characters of
 * its prefix and the first of its suffix both still stand, in that order, with at most about twice
 * the quote's length between them: a passage rewritten in place (a number, a word), however
 * unlike its old text, is found changed. Both sides are needed (one would place it on whatever
 * follows the heading before it), each at least MIN_CONTEXT_ANCHOR characters; the nearest to
 * where the passage is expected wins. Null when there is no such place.
 */
async function betweenContext(ctx, quote, expected) {
  const { before, after } = contextEnds(quote);
  if (!before || !after) return null;
  const text = ctx.model.text;
  const maxGap = 2 * quote.exact.length + 32;
  let best = null;
  let seen = 0;
  for (let i = text.indexOf(before); i !== -1; i = text.indexOf(before, i + 1)) {
    let start = i + before.length;
    const j = text.indexOf(after, start);
    if (j !== -1 && j - start <= maxGap) {
      let end = j;
      while (start < end && HAS_WHITESPACE.test(text[start])) start++;
      while (end > start && HAS_WHITESPACE.test(text[end - 1])) end--;
      const distance = expected === null ? 0 : Math.abs(start - expected);
      if (end > start && (best === null || distance < best.distance)) best = { start, end, distance };
    }
    if (++seen % 512 === 0 && !(await keepGoing(ctx))) return CANCELLED;
  }
  return best;
}

/**
 * The ends of a quote's context that `betweenContext` looks for: the last CONTEXT_ANCHOR
 * characters of its prefix and the first of its suffix, each null when shorter than
 * MIN_CONTEXT_ANCHOR.
 */
function contextEnds(quote) {
  const before = [...quote.prefix].slice(-CONTEXT_ANCHOR).join('');
  const after = [...quote.suffix].slice(0, CONTEXT_ANCHOR).join('');
  return {
    before: codePointLength(before) >= MIN_CONTEXT_ANCHOR ? before : null,
    after: codePointLength(after) >= MIN_CONTEXT_ANCHOR ? after : null,
  };
}

/**
 * Whether the text around an exact occurrence [start, end) still reads as the quote's context,
 * both sides as far as `betweenContext` looks (true when the quote has too little context to
 * judge by).
 */
function contextHolds(text, start, end, quote) {
  const { before, after } = contextEnds(quote);
  if (!before || !after) return true;
  return text.startsWith(before, start - before.length) && text.startsWith(after, end);
}

/**
 * Whether an approximate match (scored by bestCandidate) is the passage changed rather than
 * other text that happens to look like it: a removed passage belongs under "Not found", not on
 * its neighbour.
 */
function believable(match, quote) {
  if (match.parts.quote < MIN_QUOTE_SIMILARITY) return false;
  if (codePointLength(quote.exact) >= SHORT_QUOTE) return true;
  return (!quote.prefix || match.parts.prefix >= MIN_SHORT_CONTEXT) && (!quote.suffix || match.parts.suffix >= MIN_SHORT_CONTEXT);
}

/**
 * An approximate match widened to whole words: one that starts or ends inside a word takes it all,
 * and never part of a character (a letter without its accents, half an emoji). Words are the
 * browser's own (Intl.Segmenter: dictionary words in Japanese or Thai, not whole runs of them),
 * and a widening stays in its text node: blocks are joined without a separator in the text, so
 * "Summary" of a heading and "Revenue" of the paragraph after it would read as one word.
 */
function foundInWords(model, match) {
  return found('fuzzy', widened(model, match.start, false), widened(model, match.end, true));
}

const WORDS = typeof Intl === 'object' && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: 'word' }) : null;
const GRAPHEMES = typeof Intl === 'object' && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;
/** How far around a match's edge the words are looked for (longer words are left cut). */
const WORD_REACH = 64;

/** The edge `u` of a match (its end if `atEnd`), moved out of the character and word it cuts. */
function widened(model, u, atEnd) {
  if (!WORDS || !model.nodes.length) return u;
  const i = Math.max(0, atEnd ? lowerBound(model.starts, u) - 1 : upperBound(model.starts, u) - 1);
  const nodeStart = model.starts[i];
  const from = Math.max(nodeStart, u - WORD_REACH);
  const to = Math.min(nodeEnd(model, i), u + WORD_REACH);
  if (u <= from || u >= to) return u; // at the edge of its text node, or outside it
  const around = model.text.slice(from, to);
  let at = u - from;
  for (const [segmenter, always] of [[GRAPHEMES, true], [WORDS, false]]) {
    const piece = segmenter.segment(around).containing(at);
    if (!piece || piece.index >= at || !(always || piece.isWordLike)) continue;
    at = atEnd ? piece.index + piece.segment.length : piece.index;
  }
  return from + at;
}

/** `search` over the text in overlapping chunks, yielding between them; the lowest-error matches. */
async function approximateMatches(ctx, text, pattern, maxErrors) {
  const overlap = pattern.length + maxErrors; // no match is longer, so none is cut at a seam
  const keys = new Set();
  let best = [];
  let limit = maxErrors;
  for (let from = 0; from < text.length; from += SEARCH_CHUNK) {
    const to = Math.min(text.length, from + SEARCH_CHUNK + overlap);
    for (const m of search(text.slice(from, to), pattern, limit)) {
      if (m.errors < limit) {
        limit = m.errors;
        best = [];
        keys.clear();
      }
      const key = `${m.start + from}:${m.end + from}`;
      if (m.errors === limit && !keys.has(key)) {
        keys.add(key);
        best.push({ start: m.start + from, end: m.end + from, errors: m.errors });
      }
    }
    if (to === text.length) break;
    if (!(await keepGoing(ctx))) return CANCELLED;
  }
  return best;
}

/** How alike two short strings are: 1 - edits / length of `wanted` (Hypothesis' textMatchScore). */
function similarity(actual, wanted) {
  if (!wanted.length || !actual.length) return 0;
  const matches = search(actual, wanted, wanted.length);
  return matches.length ? 1 - matches[0].errors / wanted.length : 0;
}

/** A candidate's score, with its parts (how alike the quote, the prefix and the suffix are). */
function scoreCandidate(text, candidate, quote, hint) {
  const quoteScore = 1 - candidate.errors / quote.exact.length;
  const prefixScore = quote.prefix
    ? similarity(text.slice(Math.max(0, candidate.start - quote.prefix.length), candidate.start), quote.prefix)
    : 1;
  const suffixScore = quote.suffix ? similarity(text.slice(candidate.end, candidate.end + quote.suffix.length), quote.suffix) : 1;
  const positionScore = hint === null ? 1 : 1 - Math.abs(candidate.start - hint) / Math.max(1, text.length);
  const raw = WEIGHT_QUOTE * quoteScore + WEIGHT_PREFIX * prefixScore + WEIGHT_SUFFIX * suffixScore + WEIGHT_POSITION * positionScore;
  return {
    score: raw / (WEIGHT_QUOTE + WEIGHT_PREFIX + WEIGHT_SUFFIX + WEIGHT_POSITION),
    parts: { quote: quoteScore, prefix: prefixScore, suffix: suffixScore },
  };
}

async function bestCandidate(ctx, candidates, quote, hint) {
  let best = null;
  for (let i = 0; i < candidates.length; i++) {
    const { score, parts } = scoreCandidate(ctx.model.text, candidates[i], quote, hint);
    if (!best || score > best.score) best = { ...candidates[i], score, parts };
    if (i % 64 === 63 && !(await keepGoing(ctx))) return CANCELLED;
  }
  return best;
}

const HAS_WHITESPACE = /\s/;
// What collapsing changes: runs of whitespace, and single whitespace characters other than a
// space. Both are rare in text, so one scan finds them fast (a global replace of every \s+ can
// take 50 ms on 1 MB while the engine still interprets a new regular expression).
const IRREGULAR_WHITESPACE = /\s{2,}|[^\S ]/g;

/**
 * The text with each run of whitespace as one space, and `originalIndex(i)`: where its char i is
 * in `text`. Only runs of two or more move offsets; they are recorded and searched by bisection.
 */
function collapseWhitespace(text) {
  const parts = [];
  const runs = []; // where each long run's space is in the collapsed text
  const removed = []; // UTF-16 units removed up to and including that run
  let total = 0;
  let last = 0;
  IRREGULAR_WHITESPACE.lastIndex = 0;
  for (let m = IRREGULAR_WHITESPACE.exec(text); m; m = IRREGULAR_WHITESPACE.exec(text)) {
    parts.push(text.slice(last, m.index), ' ');
    last = m.index + m[0].length;
    if (m[0].length > 1) {
      runs.push(m.index - total);
      total += m[0].length - 1;
      removed.push(total);
    }
  }
  parts.push(text.slice(last));
  const originalIndex = (i) => {
    const k = upperBound(runs, i) - 1;
    if (k < 0) return i;
    return i === runs[k] ? i + (k > 0 ? removed[k - 1] : 0) : i + removed[k];
  };
  return { text: parts.join(''), originalIndex };
}

/* ------------------------------------------------------------------------------------------------
 * 7. Anchoring passes
 * --------------------------------------------------------------------------------------------- */

let anchors = []; // from the last `anchors` message, re-validated
let showResolved = false;
let focusedId = null; // set by `focus`: that anchor is the active one until the next `anchors`
let pendingFocus = null;
/** The pending focus also puts the caret at its passage. */
let pendingCaret = false;
let results = new Map(); // id -> {status, startU, endU, element}
let remembered = new Map(); // id -> {exact, startU}: where the last pass found each quote
let passToken = 0;
let passRunning = false;
let lastPassText = null;
let anchorsChanged = false; // an `anchors` message arrived since the last pass
let lastReport = ''; // the last `anchored` results sent, to skip repeating them
let reportForced = false; // the next pass reports even unchanged results (new anchors)

/** Places and draws the anchors; `report`: then tells the page where they are. */
function runPass({ report = true } = {}) {
  const token = ++passToken;
  if (doc.readyState === 'loading' || !port) return; // the pass at DOMContentLoaded covers this
  passRunning = true;
  cancelMutationPass();
  anchorPass(token, report).finally(() => {
    if (token === passToken) passRunning = false;
  });
}

async function anchorPass(token, report) {
  if (!useHighlightApi) withoutObserving(unwrapAll);
  const model = buildTextModel();
  cachedModel = model;
  let next;
  if (!anchorsChanged && model.text === lastPassText) {
    next = reuseResults(model); // same text (e.g. a re-render): same offsets, fresh nodes
  } else {
    next = await anchorAll(model, token);
    if (next === CANCELLED) return;
  }
  if (token !== passToken) return;
  anchorsChanged = false;
  lastPassText = model.text;
  results = next;
  remembered = new Map();
  for (const a of anchors) {
    const r = results.get(a.id);
    if (a.quote && r && r.status !== 'orphan') remembered.set(a.id, { exact: a.quote.exact, startU: r.startU });
  }
  draw(model);
  if (!report) return; // a pass before the artifact's own handlers: the next one reports, and scrolls
  reportAnchored(model);
  if (pendingFocus !== null) {
    const id = pendingFocus;
    pendingFocus = null;
    scrollToAnchor(id, pendingCaret);
  }
}

function reuseResults(model) {
  const next = new Map();
  for (const a of anchors) {
    const r = results.get(a.id) || ORPHAN;
    next.set(a.id, a.css !== null && !a.quote ? anchorCss(model, a.css) : r);
  }
  return next;
}

/** Anchors with a position hint in hint order (so neighbours teach each other how text moved), then the rest. */
function placingOrder() {
  const hinted = anchors.filter((a) => a.quote && a.position);
  hinted.sort((a, b) => a.position.start - b.position.start);
  return hinted.concat(anchors.filter((a) => !(a.quote && a.position)));
}

async function anchorAll(model, token) {
  const ctx = passContext(model, token);
  const next = new Map();
  const slow = [];
  for (const anchor of placingOrder()) {
    const r = anchorQuickly(ctx, anchor, remembered.get(anchor.id));
    if (r) {
      next.set(anchor.id, r);
      learnShift(ctx, anchor, r);
    } else {
      slow.push(anchor);
    }
    if (!(await keepGoing(ctx))) return CANCELLED;
  }
  if (slow.length) {
    // Show what is already placed while the rest is searched for.
    results = new Map(next);
    draw(model);
    for (const anchor of slow) {
      const r = await anchorSlowly(ctx, anchor);
      if (r === CANCELLED || !(await keepGoing(ctx))) return CANCELLED;
      next.set(anchor.id, r);
      learnShift(ctx, anchor, r);
    }
  }
  return next;
}

/** `anchored` after a pass: always after new anchors, otherwise only when something moved. */
function reportAnchored(model) {
  const list = anchors.map((a) => {
    const r = results.get(a.id) || ORPHAN;
    return { id: a.id, status: r.status, start: r.status === 'orphan' ? null : codePointAt(model, r.startU) };
  });
  const key = JSON.stringify(list);
  if (key === lastReport && !reportForced) return;
  reportForced = false;
  lastReport = key;
  send('anchored', { results: list });
}

function setAnchors(message) {
  anchors = readAnchors(message.anchors);
  showResolved = message.showResolved === true;
  focusedId = null;
  anchorsChanged = true;
  reportForced = true;
  runPass();
}

/* ------------------------------------------------------------------------------------------------
 * 8. Drawing highlights
 * --------------------------------------------------------------------------------------------- */

let drawn = []; // [{id, startU, endU}] of what is drawn, for hit-testing clicks

function visualState(anchor) {
  if (anchor.state === 'draft') return 'draft';
  const active = focusedId !== null ? anchor.id === focusedId : anchor.active;
  if (active) return 'active';
  if (anchor.state === 'resolved') return showResolved ? 'resolved' : null;
  return 'open';
}

function draw(model) {
  const groups = { resolved: [], open: [], draft: [], active: [] };
  drawn = [];
  for (const anchor of anchors) {
    const r = results.get(anchor.id);
    if (!r || r.status === 'orphan' || r.endU <= r.startU) continue;
    const state = visualState(anchor);
    if (!state) continue;
    const item = { id: anchor.id, startU: r.startU, endU: r.endU, state };
    groups[state].push(item);
    drawn.push(item);
  }
  if (useHighlightApi) drawWithHighlightApi(model, groups);
  else withoutObserving(() => drawWithWrappers(groups));
}

/** Redraws after a change of state only (focus), with the DOM as it is now. */
function redraw() {
  draw(useHighlightApi ? currentModel() : null);
}

let styleSheet = null;

function highlightCss() {
  let css = '';
  for (const state of STATES) {
    const look = LOOKS[state];
    css += `::highlight(ar-${state}) { background-color: ${look.fill}; text-decoration-line: underline; ` +
      `text-decoration-style: ${look.style}; text-decoration-color: ${look.line}; ` +
      `text-decoration-thickness: ${look.width}; text-decoration-skip-ink: none; }\n`;
  }
  css += '@media (forced-colors: active) {\n';
  for (const state of STATES) {
    const look = LOOKS[state];
    css += `  ::highlight(ar-${state}) { background-color: transparent; text-decoration-color: ${look.forced}; }\n`;
  }
  return css + '}\n';
}

// A constructed stylesheet: an artifact's `style-src` (even 'none') does not apply to it. It is
// appended to the page's own adopted sheets, and put back if the page replaces that list.
function ensureStyleSheet() {
  try {
    if (!styleSheet) {
      styleSheet = new CSSStyleSheetCtor();
      styleSheet.replaceSync(highlightCss());
    }
    const sheets = apply(adoptedSheets.get, doc, []);
    if (!sheets.includes(styleSheet)) apply(adoptedSheets.set, doc, [[...sheets, styleSheet]]);
  } catch {
    // Nothing else to try: the highlights stay registered, merely unstyled.
  }
}

function drawWithHighlightApi(model, groups) {
  if (drawn.length) ensureStyleSheet();
  STATES.forEach((state, priority) => {
    const name = `ar-${state}`;
    const items = groups[state];
    if (!items.length) {
      apply(registryDelete, highlightRegistry, [name]);
      return;
    }
    const highlight = new HighlightCtor();
    highlight.priority = priority;
    for (const item of items) {
      const range = staticRange(model, item.startU, item.endU);
      if (range) highlight.add(range);
    }
    apply(registrySet, highlightRegistry, [name, highlight]);
  });
}

// Fallback without the Highlight API: each highlighted stretch of a text node is split off and
// wrapped in an <ar-hl> element coloured through CSSOM (which no CSP blocks). Overlapping anchors
// are cut at every boundary first, so each piece gets one wrapper, in the look of its top state.
// Everything is undone (unwrapped, split text merged back) before the next pass.
let wrappers = [];
let splits = []; // [left, right] text nodes made by splitText, merged back in reverse order

function unwrapAll() {
  for (const wrapper of wrappers) {
    const parent = wrapper.parentNode;
    if (!parent) continue;
    while (wrapper.firstChild) parent.insertBefore(wrapper.firstChild, wrapper);
    parent.removeChild(wrapper);
  }
  for (let i = splits.length - 1; i >= 0; i--) {
    const [left, right] = splits[i];
    if (left.parentNode && left.nextSibling === right) {
      left.appendData(right.data);
      right.parentNode.removeChild(right);
    }
  }
  wrappers = [];
  splits = [];
  cachedModel = null;
}

function drawWithWrappers(groups) {
  unwrapAll();
  const model = currentModel();
  const items = STATES.flatMap((state) => groups[state]);
  if (!items.length) return;
  const pieces = piecesToWrap(model, items);
  for (const [nodeIndex, list] of pieces) {
    const node = model.nodes[nodeIndex];
    const parent = node.parentNode;
    if (!parent || !canWrapIn(parent)) continue;
    list.sort((a, b) => b.from - a.from); // right to left: `node` keeps the part before each piece
    for (const piece of list) {
      if (piece.to < node.data.length) splits.push([node, node.splitText(piece.to)]);
      let target = node;
      if (piece.from > 0) {
        target = node.splitText(piece.from);
        splits.push([node, target]);
      }
      const wrapper = doc.createElement('ar-hl');
      styleWrapper(wrapper, piece.state);
      parent.insertBefore(wrapper, target);
      wrapper.appendChild(target);
      wrappers.push(wrapper);
    }
  }
  cachedModel = null; // same text, different nodes
}

/**
 * Map of node index -> [{from, to, state}]: the node-local pieces of every drawn anchor. A sweep
 * over the anchors' ends cuts the text into stretches, each in the top state of those covering it.
 */
function piecesToWrap(model, items) {
  const ends = [];
  for (const it of items) {
    ends.push({ at: it.startU, state: it.state, step: 1 }, { at: it.endU, state: it.state, step: -1 });
  }
  ends.sort((a, b) => a.at - b.at);
  const covering = { resolved: 0, open: 0, draft: 0, active: 0 };
  const text = model.text;
  const pieces = new Map();
  for (let e = 0; e < ends.length; ) {
    const from = ends[e].at;
    for (; e < ends.length && ends[e].at === from; e++) covering[ends[e].state] += ends[e].step;
    if (e === ends.length) break;
    const to = ends[e].at;
    const state = STATES.findLast((s) => covering[s] > 0);
    if (!state || text.slice(from, to).trim() === '') continue; // no stray wrappers in tables and lists
    for (let i = Math.max(0, upperBound(model.starts, from) - 1); i < model.nodes.length && model.starts[i] < to; i++) {
      const nodeFrom = Math.max(from, model.starts[i]) - model.starts[i];
      const nodeTo = Math.min(to, nodeEnd(model, i)) - model.starts[i];
      if (nodeTo <= nodeFrom || text.slice(model.starts[i] + nodeFrom, model.starts[i] + nodeTo).trim() === '') continue;
      if (!pieces.has(i)) pieces.set(i, []);
      pieces.get(i).push({ from: nodeFrom, to: nodeTo, state });
    }
  }
  return pieces;
}

/** An unknown element would not render inside SVG, and does not belong in form controls. */
function canWrapIn(parent) {
  if (parent.namespaceURI !== 'http://www.w3.org/1999/xhtml') return false;
  return !['textarea', 'option', 'optgroup', 'select', 'title'].includes(parent.localName);
}

function styleWrapper(el, state) {
  const look = LOOKS[state];
  const forced = matchMedia('(forced-colors: active)').matches;
  const s = el.style;
  s.display = 'inline';
  s.backgroundColor = forced ? 'transparent' : look.fill;
  s.textDecorationLine = 'underline';
  s.textDecorationStyle = look.style;
  s.textDecorationColor = forced ? look.forced : look.line;
  s.textDecorationThickness = look.width;
  s.textDecorationSkipInk = 'none';
}

/* ------------------------------------------------------------------------------------------------
 * 9. Watching the DOM: re-anchoring after the artifact changes its text
 * --------------------------------------------------------------------------------------------- */

let observer = null;
let mutationTimer = null;
let firstPendingMutation = 0;

function startObserving() {
  if (observer || !doc.documentElement) return;
  observer = new MutationObserverCtor(onMutations);
  observer.observe(doc.documentElement, { childList: true, characterData: true, subtree: true });
}

/** Runs our own DOM changes (fallback wrappers) without mistaking them for the artifact's. */
function withoutObserving(fn) {
  const before = observer ? observer.takeRecords() : [];
  try {
    fn();
  } finally {
    if (observer) observer.takeRecords();
    if (before.length) onMutations(before);
  }
}

function onMutations(records) {
  if (!records.some(changesText)) return;
  cachedModel = null;
  if (!anchors.length || !port) return;
  const now = nowMs();
  if (!mutationTimer) firstPendingMutation = now;
  clearTimer(mutationTimer);
  const wait = Math.max(0, Math.min(MUTATION_QUIET_MS, firstPendingMutation + MUTATION_MAX_WAIT_MS - now));
  mutationTimer = setTimer(() => {
    mutationTimer = null;
    runPass();
  }, wait);
}

function cancelMutationPass() {
  clearTimer(mutationTimer);
  mutationTimer = null;
}

function insideSkipped(node, root) {
  for (let n = node; n && n !== root; n = n.parentNode) {
    if (n.nodeType === 1 && SKIPPED_ELEMENTS.has(n.localName)) return true;
  }
  return false;
}

function changesText(record) {
  const root = textRoot();
  const target = record.target;
  if (!root) return false;
  if (!root.contains(target)) return target.contains(root); // e.g. a new <body>; not <head>
  if (insideSkipped(target, root)) return false;
  if (record.type === 'characterData') return true;
  const carriesText = (n) => n.nodeType === 3 || n.nodeType === 4 || (n.nodeType === 1 && !SKIPPED_ELEMENTS.has(n.localName));
  return [...record.addedNodes].some(carriesText) || [...record.removedNodes].some(carriesText);
}

/* ------------------------------------------------------------------------------------------------
 * 10. Talking to the review page
 * --------------------------------------------------------------------------------------------- */

let port = null;
let helloTimer = null;
let helloStartedAt = 0;
let helloPath = null;

function send(type, payload = {}) {
  if (!port) return;
  try {
    apply(portPostMessage, port, [{ ...payload, ar: PROTOCOL, type }]);
  } catch {
    // The port is gone with the review page; nothing to report to.
  }
}

function errorMarker() {
  const meta = doc.querySelector('meta[name="artifact-review-error"]');
  const content = meta ? meta.getAttribute('content') : null;
  return content === 'grant' || content === 'missing' || content === 'link' ? content : null;
}

/** Our own 404 pages say what went wrong in a <meta> after this script: wait for it on those. */
function isErrorResponse() {
  try {
    const entry = performance.getEntriesByType('navigation')[0];
    return Boolean(entry && entry.responseStatus >= 400);
  } catch {
    return false;
  }
}

/** The document's #fragment, as the review page may put it in its own address ('' for none). */
function currentHash() {
  const hash = loc.hash;
  return hash.length <= MAX_HASH ? hash : '';
}

function sendHello() {
  helloPath = loc.pathname;
  const model = buildTextModel();
  const error = errorMarker();
  const message = {
    ar: PROTOCOL,
    type: 'hello',
    doc: docId,
    path: helloPath,
    hash: currentHash(),
    title: wellFormed(clipCodePoints(String(doc.title), MAX_TITLE_CODE_POINTS)),
    textLength: codePointAt(model, model.length),
    ...(error ? { error } : {}),
  };
  try {
    postToParent(message, ownOrigin);
  } catch {
    // The parent is not our origin (framed elsewhere): stay quiet.
  }
}

function beginHello() {
  const first = () => {
    helloStartedAt = nowMs();
    sendHello();
    helloTimer = setRepeating(() => {
      if (port || nowMs() - helloStartedAt >= HELLO_FOR_MS) {
        clearRepeating(helloTimer);
        helloTimer = null;
      } else {
        sendHello();
      }
    }, HELLO_EVERY_MS);
  };
  if (doc.readyState === 'loading' && isErrorResponse()) whenParsed(first);
  else first();
}

function onWindowMessage(event) {
  if (apply(messageSource, event, []) !== parentWin) return;
  const data = apply(messageData, event, []);
  if (!isRecord(data) || data.ar !== PROTOCOL) return;
  if (data.type === 'sayHello') {
    // A review page that started this document before it listened asks for a hello now instead
    // of the next repeat (or after the repeats have stopped).
    apply(stopImmediatePropagation, event, []);
    if (!port && helloPath !== null) sendHello();
    return;
  }
  if (data.type !== 'connect') return;
  // The port travels with this event; keep it from the artifact's own listeners, even when it is
  // not ours to take (a connect answering someone else's hello).
  apply(stopImmediatePropagation, event, []);
  const ports = apply(messagePorts, event, []);
  if (port || data.doc !== docId || !ports || ports.length !== 1) return; // only the first, for us
  connect(ports[0]);
}

function connect(newPort) {
  port = newPort;
  if (helloTimer) clearRepeating(helloTimer);
  helloTimer = null;
  listen(port, 'message', onPortMessage, false);
  apply(portStart, port, []);
  // Confirms the connection; `loaded` lets the page tell this document's `load` from a later one's.
  send('ready', { loaded: doc.readyState === 'complete' });
  if (loc.pathname !== helloPath) checkNavigated(true);
}

function onPortMessage(event) {
  const data = apply(messageData, event, []);
  if (!isRecord(data) || data.ar !== PROTOCOL) return;
  switch (data.type) {
    case 'anchors':
      setAnchors(data);
      break;
    case 'focus':
      if (typeof data.id === 'string') focusAnchor(data.id, data.caret === true);
      break;
    case 'clearSelection':
      clearSelection();
      break;
    case 'fragment':
      // The review page was opened on a #fragment of this document: go there, as a browser
      // would have (replacing the entry; the hashchange reports it back).
      if (typeof data.hash === 'string' && data.hash.startsWith('#') && data.hash.length <= MAX_HASH) {
        loc.replace(data.hash);
      }
      break;
    default:
      break; // unknown: ignore
  }
}

/* ------------------------------------------------------------------------------------------------
 * 11. The reader's actions inside the frame
 * --------------------------------------------------------------------------------------------- */

let reportTimer = null;
let reported = null; // a key of the selection last reported, null when none is
let pointerIsDown = false;
let downX = 0;
let downY = 0;

function scheduleSelectionReport(delay) {
  clearTimer(reportTimer);
  reportTimer = setTimer(reportSelection, delay);
}

function reportSelection() {
  clearTimer(reportTimer);
  reportTimer = null;
  if (!port) return;
  const d = describeSelection();
  if (!d) {
    if (reported !== null) {
      reported = null;
      send('selectionCleared');
    }
    return;
  }
  const key = d.tooLong
    ? `long:${d.tooLong}`
    : `${d.position.start}:${d.position.end}:${Math.round(d.rect.x)}:${Math.round(d.rect.y)}:${Math.round(d.rect.width)}`;
  if (key === reported) return;
  reported = key;
  send('selection', d);
}

function clearSelection() {
  // The page asked for it, so it is not told back (that would look like the reader cancelling).
  clearTimer(reportTimer);
  reportTimer = null;
  reported = null;
  const selection = getSelection();
  if (selection) selection.removeAllRanges();
}

function onSelectionChange() {
  if (!pointerIsDown) scheduleSelectionReport(REPORT_AFTER_CHANGE_MS);
}

function onPointerDown(event) {
  if (event.button !== 0) return;
  pointerIsDown = true;
  downX = event.clientX;
  downY = event.clientY;
}

function onPointerUp() {
  if (!pointerIsDown) return;
  pointerIsDown = false;
  scheduleSelectionReport(REPORT_AFTER_POINTER_MS);
}

function onScroll() {
  // The selection's rectangle moved with the page: tell the page where it is now.
  if (reported !== null && !reported.startsWith('long:')) scheduleSelectionReport(REPORT_AFTER_CHANGE_MS);
}

function onClick(event) {
  if (!port || event.button !== 0 || !drawn.length) return;
  if (Math.abs(event.clientX - downX) > CLICK_SLOP_PX || Math.abs(event.clientY - downY) > CLICK_SLOP_PX) return;
  const selection = getSelection();
  if (selection && !selection.isCollapsed) return; // the end of a drag, not a click
  const ids = idsAtPoint(event.clientX, event.clientY);
  if (ids.length) send('activate', { ids, viaKeyboard: false });
}

/** Ids of the drawn highlights under a viewport point: a caret lookup, then the ranges' boxes. */
function idsAtPoint(x, y) {
  let node = null;
  let offset = 0;
  if (caretPositionFromPoint) {
    const p = caretPositionFromPoint(x, y);
    if (p) ({ offsetNode: node, offset } = p);
  } else if (caretRangeFromPoint) {
    const r = caretRangeFromPoint(x, y);
    if (r) ({ startContainer: node, startOffset: offset } = r);
  }
  if (!node) return [];
  const model = currentModel();
  const u = offsetOfPoint(model, node, offset);
  const ids = [];
  for (const item of drawn) {
    // The caret sits between characters, so the clicked one is at u or u - 1.
    if (item.startU > u || item.endU < u) continue;
    const range = liveRange(model, item.startU, item.endU);
    if (range && [...range.getClientRects()].some((b) => x >= b.left - 1 && x <= b.right + 1 && y >= b.top - 1 && y <= b.bottom + 1)) {
      ids.push(item.id);
    }
  }
  return ids;
}

/** Enter on a highlight when reading with the caret (caret browsing, F7), not on a control. */
function caretActivation(event) {
  if (event.key !== 'Enter' || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || !drawn.length) return;
  const active = doc.activeElement;
  if (active && active !== doc.body && active !== doc.documentElement) return; // links, buttons, fields
  const selection = getSelection();
  if (!selection || selection.rangeCount === 0 || !selection.isCollapsed) return;
  const model = currentModel();
  const u = offsetOfPoint(model, selection.focusNode, selection.focusOffset);
  const ids = drawn.filter((item) => item.startU <= u && u < item.endU).map((item) => item.id);
  if (ids.length) send('activate', { ids, viaKeyboard: true });
}

function shortcutName(event) {
  if (event.isComposing || event.repeat) return null;
  const alt = event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey;
  if (event.key === 'Escape' && !event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey) return 'escape';
  if (alt && event.code === 'KeyC') return 'comment'; // by key position: Alt+C types "ç" on a Mac
  if (alt && event.key === 'ArrowDown') return 'nextThread';
  if (alt && event.key === 'ArrowUp') return 'prevThread';
  return null;
}

function onKeyDown(event) {
  if (!port) return;
  const name = shortcutName(event);
  if (name === 'comment') {
    apply(preventDefault, event, []); // it is ours: no "ç" in the artifact's field
    reportSelection(); // the page needs the selection as it is now, not 100 ms later
  }
  if (name) send('key', { name });
  else caretActivation(event);
}

function onKeyUp() {
  scheduleSelectionReport(REPORT_AFTER_POINTER_MS);
}

function focusAnchor(id, caret = false) {
  if (!anchors.some((a) => a.id === id)) return;
  focusedId = id;
  if (passRunning || !results.has(id)) {
    pendingFocus = id; // scrolled to when the running pass has placed it
    pendingCaret = caret;
    return;
  }
  redraw();
  scrollToAnchor(id, caret);
}

/**
 * Whether a passage (its first element, its boxes) is on screen to scroll to: `display: none`
 * gives it no boxes; a closed <details> or `hidden="until-found"` keeps boxes but hides them,
 * which `checkVisibility` tells.
 */
function shown(element, rects) {
  if (element.checkVisibility && !element.checkVisibility({ visibilityProperty: true })) return false;
  for (const rect of rects) if (rect.width > 0 || rect.height > 0) return true;
  return false;
}

function scrollBehavior() {
  return matchMedia('(prefers-reduced-motion: reduce)').matches ? 'instant' : 'smooth';
}

function scrollToAnchor(id, caret = false) {
  const r = results.get(id);
  if (!r || r.status === 'orphan') return;
  const behavior = scrollBehavior();
  if (caret) placeCaret(r);
  if (r.element && r.endU <= r.startU) {
    // Laid out nowhere (in a collapsed section, say): nothing to scroll to, and the page says so.
    if (!shown(r.element, r.element.getClientRects())) send('hidden', { id });
    else r.element.scrollIntoView({ block: 'center', inline: 'nearest', behavior });
    return;
  }
  const range = liveRange(currentModel(), r.startU, r.endU);
  if (!range) return;
  const start = range.startContainer;
  const element = start.nodeType === 1 ? start : start.parentElement;
  if (!element) return;
  if (!shown(element, range.getClientRects())) {
    send('hidden', { id });
    return;
  }
  if (element.getBoundingClientRect().height <= win.innerHeight / 2) {
    element.scrollIntoView({ block: 'center', inline: 'nearest', behavior });
    return;
  }
  // A tall element (a long <pre>): bring it into view in any inner scroller, then centre the passage.
  element.scrollIntoView({ block: 'nearest', inline: 'nearest', behavior: 'instant' });
  const box = range.getBoundingClientRect();
  win.scrollBy({ top: box.top + box.height / 2 - win.innerHeight / 2, behavior });
}

/**
 * Puts the caret (a collapsed selection) at the start of a placed passage, for a reader the page
 * sends here with the keyboard: with caret browsing, reading and selecting go on from there.
 */
function placeCaret(r) {
  const range = r.endU > r.startU ? liveRange(currentModel(), r.startU, r.endU) : null;
  const selection = getSelection();
  if (!selection) return;
  if (range) selection.collapse(range.startContainer, range.startOffset);
  else if (r.element) selection.collapse(r.element, 0);
}

/* ------------------------------------------------------------------------------------------------
 * 12. Navigation inside the same document (history API, hash)
 * --------------------------------------------------------------------------------------------- */

let lastPlace = loc.pathname + loc.hash;

function checkNavigated(force = false) {
  const path = loc.pathname;
  const place = path + loc.hash;
  if (place === lastPlace && !force) return;
  lastPlace = place;
  send('navigated', { path, hash: currentHash() });
}

// The Navigation API is disabled in opaque-origin documents, so wrap the history methods. The
// wrapper calls whatever History.prototype holds at call time, so the artifact's own wrappers of
// the prototype keep working.
function wrapHistory() {
  const history = win.history;
  const wrapped = {
    pushState(...args) {
      const result = apply(HistoryProto.pushState, this, args);
      checkNavigated();
      return result;
    },
    replaceState(...args) {
      const result = apply(HistoryProto.replaceState, this, args);
      checkNavigated();
      return result;
    },
  };
  for (const name of ['pushState', 'replaceState']) {
    try {
      Object.defineProperty(history, name, { value: wrapped[name], writable: true, configurable: true, enumerable: false });
    } catch {
      // A frozen history object: popstate and hashchange still report.
    }
  }
}

/* ------------------------------------------------------------------------------------------------
 * 13. Leaving the document
 * --------------------------------------------------------------------------------------------- */

// The last link clicked in this document whose default action opens its address here: {event,
// href, at}. When the document is then left, its address says where the frame went, which the
// review page cannot see otherwise (the next document may have no bridge: an image, a page
// elsewhere).
let followedLink = null;
const FOLLOWED_FOR_MS = 10_000;

/** The address a link element leads to, or null for anything else (read with our own getters). */
function linkHref(node) {
  for (const getter of [anchorHref, areaHref]) {
    if (!getter) continue;
    try {
      return String(apply(getter, node, []));
    } catch {
      // not that kind of element
    }
  }
  return null;
}

function onLinkClick(event) {
  followedLink = null;
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  let path;
  try {
    path = apply(eventComposedPath, event, []);
  } catch {
    return;
  }
  for (const node of path) {
    const href = linkHref(node);
    if (href === null) continue;
    const target = apply(getAttribute, node, ['target']);
    if (target && target.toLowerCase() !== '_self') return; // another window or frame
    if (apply(getAttribute, node, ['download']) !== null) return; // a download stays here
    followedLink = { event, href, at: nowMs() };
    return;
  }
}

/** Where the document is going, as far as a link just followed says: {to: path} or {elsewhere}. */
function destination() {
  const link = followedLink;
  followedLink = null;
  if (!link || nowMs() - link.at > FOLLOWED_FOR_MS || apply(eventPrevented, link.event, [])) return {};
  let url;
  try {
    url = new URLCtor(link.href);
  } catch {
    return {};
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return {};
  if (url.origin !== ownOrigin) return { elsewhere: true };
  // A link to a place in this very document does not leave it.
  if (url.pathname === loc.pathname && url.search === loc.search && url.hash) return null;
  return url.pathname.length <= MAX_PATH ? { to: url.pathname } : {};
}

function onPageHide() {
  const where = destination();
  if (where) send('leaving', where);
}

/* ------------------------------------------------------------------------------------------------
 * 14. Start
 * --------------------------------------------------------------------------------------------- */

/** What a keyboard reaches in a document by itself (Tab stops). */
const TAB_STOPS = 'a[href], area[href], button, input, select, textarea, summary, iframe, audio[controls], video[controls], [tabindex], [contenteditable]';

/**
 * A document with nothing focusable is skipped by Tab, so a reader using only the keyboard could
 * neither scroll it nor move a caret in it (F7) to select a passage: its body becomes a Tab stop.
 */
function reachableByKeyboard() {
  const body = doc.body;
  if (body && !body.hasAttribute('tabindex') && !doc.querySelector(TAB_STOPS)) body.setAttribute('tabindex', '0');
}

function onParsed() {
  reachableByKeyboard();
  startObserving();
  // Drawn at once when that adds nothing to the DOM (the Highlight API), so the parsed document's
  // first paint shows the passages rather than a later one: with a large document, the first
  // layout after parsing can take hundreds of milliseconds before any timer runs. Not reported:
  // the artifact's own DOMContentLoaded handlers, which often render the page, have not run yet.
  if (anchors.length && useHighlightApi) runPass({ report: false });
  // After those handlers: placed again if they changed the text (else the same results), and
  // reported.
  setTimer(() => {
    if (anchors.length) runPass();
  }, 0);
}

function onLoad() {
  // The review page matches this with the iframe's `load` event (documents without a bridge have
  // only the latter).
  send('loaded');
  // Re-anchoring waiting for the page to settle runs now that it has loaded.
  if (mutationTimer) runPass();
}

function start() {
  // Only the artifact document directly inside the review page talks: not a frame nested in the
  // artifact, not a popup, not the file opened in its own tab.
  if (parentWin === win || parentWin !== topWin) return;
  // Capture phase on the window, registered before any artifact script: ours run first.
  listen(win, 'message', onWindowMessage);
  listen(doc, 'selectionchange', onSelectionChange);
  listen(win, 'pointerdown', onPointerDown);
  listen(win, 'pointerup', onPointerUp);
  listen(win, 'pointercancel', () => (pointerIsDown = false));
  listen(win, 'blur', (event) => {
    if (event.target === win) pointerIsDown = false; // the window lost focus, not an element in it
  });
  listen(win, 'click', onClick);
  listen(win, 'keydown', onKeyDown);
  listen(win, 'keyup', onKeyUp);
  listen(win, 'scroll', onScroll, { capture: true, passive: true });
  listen(win, 'popstate', () => checkNavigated());
  listen(win, 'hashchange', () => checkNavigated());
  listen(win, 'load', onLoad);
  listen(win, 'click', onLinkClick); // whether the artifact prevented it is read when leaving
  listen(win, 'pagehide', onPageHide);
  wrapHistory();
  whenParsed(onParsed);
  beginHello();
}

start();
