// FrameLink: the review page's end of the bridge to the sandboxed artifact frame (review spec §4;
// protocol in docs/review-bridge.md).
//
//   const link = new FrameLink(iframe, { onHello, onAnchored, onSelection, onSelectionTooLong,
//     onSelectionCleared, onActivate, onKey, onNavigated, onLeaving, onNoBridge }, { adopted: true });
//   link.setAnchors([{ id, selector, state, active }], { showResolved });
//   link.focus(id); link.clearSelection(); link.destroy();
//
// Create it before the iframe's first document loads (before setting `src`), or adopt a frame whose
// document was started earlier (`adopted: true`: the review page's HTML comes with its frame's
// address, so the artifact loads while the page's modules do). Keep one per iframe: a document
// connects once, so a second FrameLink would not hear from it.
//
// Everything the frame sends is hostile: the artifact's own scripts share the bridge's realm and
// can forge any message. So this module owns the handshake (a MessagePort per document), checks
// every message's shape and lengths before a callback sees it, rate-limits, and sends the frame
// nothing but ids, selectors, states and booleans. Callbacks get fresh objects built here, never
// the frame's; strings from the frame are data, to be shown with textContent only.

const PROTOCOL = 1;
const NO_BRIDGE_AFTER_MS = 2000; // after an iframe `load` that no connected document claims
const MAX_CANDIDATES = 4; // documents offered a port and not confirmed yet
// Beyond these, messages are dropped before being read: at most 200 a second in all. The window
// (hellos, which any script of the artifact can forge) and the port (the bridge's traffic, which
// the artifact cannot reach) have separate budgets, so a flood of forgeries cannot starve the link.
const RATE_WINDOW_MS = 1000;
const MAX_WINDOW_MESSAGES = 50; // a bridge says hello 4 times a second
const MAX_PORT_MESSAGES = 150;
const MAX_SELECTIONS = 20;
const MAX_EXACT = 2000; // code points, like the API's TextQuoteSelector.exact
const MAX_CONTEXT = 500; // prefix, suffix
const MAX_PATH = 4096;
const MAX_HASH = 1024;
const MAX_TITLE = 500;
const MAX_ID = 200;
const MAX_CSS_SELECTOR = 4096;
const MAX_COORDINATE = 1e7;
const MAX_LIST = 10_000; // entries read from one `anchored` or `activate` (each filtered by id)
const DOC_ID = /^[0-9a-f]{32}$/;
const STATES = new Set(['open', 'resolved', 'draft']);
const KEYS = new Set(['comment', 'escape', 'nextThread', 'prevThread']);
const STATUSES = new Set(['exact', 'fuzzy', 'orphan']);
const ERRORS = new Set(['grant', 'missing', 'link']);

export class FrameLink {
  #iframe;
  #window; // the review page's window, where hellos arrive
  #callbacks;
  #destroyed = false;

  #current = null; // the connected document: {port, doc, seq, loaded, ownLoadSeen}
  #candidates = new Map(); // doc id -> {port, hello, seq}: offered a port, waiting for `ready`
  #seq = 0; // orders first hellos and iframe `load` events as they arrive

  #anchorsMessage = null; // the last setAnchors, sanitised, re-sent to every new document
  #anchorIds = new Set();
  #anchorsSentTo = null; // the port that has the current anchors

  #noBridgeTimers = new Set();
  #everConnected = false;
  #adopting = false; // adopted, and no document confirmed since
  #lastLoadSeq = 0; // the order of the last `load` this link has seen (0: none yet)

  #rateStart = -Infinity;
  #windowMessages = 0;
  #portMessages = 0;
  #selections = 0;

  #onWindowMessage = (event) => this.#receiveHello(event);
  #onLoad = () => this.#frameLoaded();

  /**
   * @param {HTMLIFrameElement} iframe the artifact frame (sandboxed, without allow-same-origin)
   * @param {object} callbacks any of onHello, onAnchored, onSelection, onSelectionTooLong,
   *   onSelectionCleared, onActivate, onKey, onNavigated, onLeaving, onNoBridge
   */
  constructor(iframe, callbacks = {}, { adopted = false } = {}) {
    this.#iframe = iframe;
    this.#window = iframe.ownerDocument.defaultView;
    this.#callbacks = { ...callbacks };
    this.#window.addEventListener('message', this.#onWindowMessage);
    iframe.addEventListener('load', this.#onLoad);
    if (adopted) this.#adopt();
  }

  /**
   * The complete set of anchors to draw (replacing the previous set), remembered and sent again to
   * every document that connects later. Only `id` (a string), `selector` (TextQuoteSelector,
   * TextPositionSelector and CssSelector fields), `state` ('open' | 'resolved' | 'draft') and
   * `active` (boolean) are sent; any other field of an item is left behind.
   */
  setAnchors(anchors, { showResolved = false } = {}) {
    if (this.#destroyed) return;
    const clean = [];
    const ids = new Set();
    for (const item of Array.isArray(anchors) ? anchors : []) {
      if (!isRecord(item) || !isId(item.id) || ids.has(item.id)) continue;
      ids.add(item.id);
      clean.push({
        id: item.id,
        selector: cleanSelector(item.selector),
        state: STATES.has(item.state) ? item.state : 'open',
        active: item.active === true,
      });
    }
    this.#anchorIds = ids;
    this.#anchorsMessage = { ar: PROTOCOL, type: 'anchors', anchors: clean, showResolved: showResolved === true };
    this.#anchorsSentTo = null;
    this.#sendAnchors();
  }

  /**
   * Scrolls the frame to the anchor's passage and marks it active (ids of the last setAnchors);
   * with `caret`, also puts the caret at its start (the focus is going into the frame).
   */
  focus(id, { caret = false } = {}) {
    if (isId(id) && this.#anchorIds.has(id)) this.#send({ ar: PROTOCOL, type: 'focus', id, caret: caret === true });
  }

  /** Sends the document to one of its #fragments (the page was opened on it). */
  fragment(hash) {
    if (isHash(hash) && hash !== '') this.#send({ ar: PROTOCOL, type: 'fragment', hash });
  }

  /** Removes the reader's selection in the frame (no onSelectionCleared follows). */
  clearSelection() {
    this.#send({ ar: PROTOCOL, type: 'clearSelection' });
  }

  /** Stops listening, closes the port; no callback is called afterwards. */
  destroy() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#window.removeEventListener('message', this.#onWindowMessage);
    this.#iframe.removeEventListener('load', this.#onLoad);
    for (const timer of this.#noBridgeTimers) clearTimeout(timer);
    this.#disconnect();
    this.#dropCandidates();
  }

  /* ---------------------------------------------------------------------------------------------
   * The handshake
   *
   * A document's bridge says hello on the window, with a random id of its own, every 250 ms until
   * it is connected. The sender must be our iframe's window with the opaque origin "null" (not a
   * frame nested in the artifact, not a popup, not another page). The iframe's window object stays
   * the same across navigations, so a hello alone cannot tell a new document from a forgery by the
   * connected one's scripts. Hence two steps: the hello is answered with `connect {doc}` and a new
   * port, and only once `ready` arrives on that port does the document count as connected (the
   * old port is closed, onHello called, the anchors sent). Only the bridge whose id that is takes
   * the port, and the artifact's scripts never see `connect` messages (the bridge, their first
   * listener, stops them), so a forged hello is never confirmed. Repeats of a hello (the same id)
   * are ignored: one onHello per document.
   * ------------------------------------------------------------------------------------------ */

  #receiveHello(event) {
    if (this.#destroyed) return;
    // Cheap checks first: a flood from the frame costs one comparison each and is never read.
    const frameWindow = this.#iframe.contentWindow;
    if (!frameWindow || event.source !== frameWindow || event.origin !== 'null') return;
    if (!this.#admit('window')) return;
    const hello = readHello(event.data);
    if (!hello || this.#current?.doc === hello.doc || this.#candidates.has(hello.doc)) return;
    if (this.#candidates.size >= MAX_CANDIDATES) this.#dropCandidate(this.#candidates.keys().next().value);
    const channel = new MessageChannel();
    const port = channel.port1;
    this.#candidates.set(hello.doc, { port, hello, seq: ++this.#seq });
    port.onmessage = (message) => this.#receive(port, hello.doc, message);
    // '*' because an opaque origin cannot be named; the port makes later traffic private anyway.
    frameWindow.postMessage({ ar: PROTOCOL, type: 'connect', doc: hello.doc }, '*', [channel.port2]);
  }

  /** The document offered `port` confirmed it: it becomes the connected one. */
  #confirm(doc, loaded) {
    const { port, hello, seq } = this.#candidates.get(doc);
    this.#candidates.delete(doc);
    this.#disconnect();
    // The first document of an adopted frame may have loaded before this link listened. If it says
    // it has, its `load` has come already: before this link listened, or since, before its hello
    // (a document's `load` reaches this page before the messages it sends later). Either way it
    // is counted as its own; a `load` after its hello is judged as usual.
    const loadCame = this.#adopting && loaded && this.#lastLoadSeq < seq;
    this.#adopting = false;
    this.#current = { port, doc, seq, loaded, ownLoadSeen: loadCame };
    this.#everConnected = true;
    const { path, hash, title, textLength, error } = hello;
    this.#call('onHello', { path, hash, title, textLength, error });
    this.#sendAnchors(); // unless onHello already called setAnchors for this document
  }

  /*
   * Whose is an iframe `load`? The event and the bridge's messages travel apart, in no set order,
   * so each `load` is judged 2 s later. A document's first hello comes before its own `load`, so:
   * - a document that said hello after this `load` is connected: the `load` was of an earlier one;
   * - the connected document has said it loaded (in `ready` or `loaded`) and no earlier `load` was
   *   counted as its own: this one was;
   * - otherwise the frame holds a document without a bridge (an image, a page elsewhere).
   */
  #frameLoaded() {
    if (this.#destroyed) return;
    const iframe = this.#iframe;
    if (!this.#everConnected && !iframe.hasAttribute('src') && !iframe.hasAttribute('srcdoc')) return; // the initial about:blank
    this.#lastLoadSeq = this.#judgeLoad();
  }

  /**
   * Judges, 2 s from now, whose the `load` just seen was; or, `missed`, a `load` that may have
   * passed before this link listened (see #adopt), unless a real one arrives meanwhile. Returns
   * the load's place in the order of hellos and loads.
   */
  #judgeLoad({ missed = false } = {}) {
    const seq = ++this.#seq;
    const timer = setTimeout(() => {
      this.#noBridgeTimers.delete(timer);
      if (this.#destroyed || (missed && this.#lastLoadSeq > 0)) return;
      const current = this.#current;
      if (current && current.seq > seq) return;
      if (current && current.loaded && !current.ownLoadSeen) {
        current.ownLoadSeen = true;
        return;
      }
      this.#disconnect(); // whatever was connected before has gone
      this.#call('onNoBridge');
    }, NO_BRIDGE_AFTER_MS);
    this.#noBridgeTimers.add(timer);
    return seq;
  }

  /**
   * The iframe's document was started before this link listened: its first hellos may have gone
   * unheard, and its `load` may have passed unseen. Such a `load` is judged as if it came now (a
   * document that never connects has no bridge), and the frame is asked to say hello again at
   * once (its bridge says it only every 250 ms, and for 10 s).
   */
  #adopt() {
    this.#adopting = true;
    this.#judgeLoad({ missed: true });
    // '*' because an opaque origin cannot be named; the message carries nothing but its type.
    this.#iframe.contentWindow?.postMessage({ ar: PROTOCOL, type: 'sayHello' }, '*');
  }

  #disconnect() {
    if (this.#current) {
      this.#current.port.onmessage = null;
      this.#current.port.close();
    }
    this.#current = null;
    this.#anchorsSentTo = null;
  }

  #dropCandidate(doc) {
    const candidate = this.#candidates.get(doc);
    candidate.port.onmessage = null;
    candidate.port.close();
    this.#candidates.delete(doc);
  }

  #dropCandidates() {
    for (const doc of [...this.#candidates.keys()]) this.#dropCandidate(doc);
  }

  #send(message) {
    if (!this.#destroyed && this.#current) this.#current.port.postMessage(message);
  }

  #sendAnchors() {
    if (!this.#anchorsMessage || !this.#current || this.#anchorsSentTo === this.#current.port) return;
    this.#send(this.#anchorsMessage);
    this.#anchorsSentTo = this.#current.port;
  }

  /* ---------------------------------------------------------------------------------------------
   * Messages on the port
   * ------------------------------------------------------------------------------------------ */

  /** Counts a message ('window' or 'port') against the rate limits; false: drop it unread. */
  #admit(channel) {
    const now = performance.now();
    if (now - this.#rateStart >= RATE_WINDOW_MS) {
      this.#rateStart = now;
      this.#windowMessages = 0;
      this.#portMessages = 0;
      this.#selections = 0;
    }
    if (channel === 'window') return ++this.#windowMessages <= MAX_WINDOW_MESSAGES;
    return ++this.#portMessages <= MAX_PORT_MESSAGES;
  }

  #admitSelection() {
    return ++this.#selections <= MAX_SELECTIONS;
  }

  /** A message on the port offered to document `doc`. */
  #receive(port, doc, event) {
    if (this.#destroyed || !this.#admit('port')) return;
    if (port !== this.#current?.port) {
      // On a candidate's port, nothing but its confirmation counts.
      if (this.#candidates.get(doc)?.port !== port) return;
      const data = event.data;
      if (isRecord(data) && data.ar === PROTOCOL && data.type === 'ready' && typeof data.loaded === 'boolean') this.#confirm(doc, data.loaded);
      return;
    }
    const data = event.data;
    if (!isRecord(data) || data.ar !== PROTOCOL || typeof data.type !== 'string') return;
    switch (data.type) {
      case 'anchored': {
        const results = readAnchored(data, this.#anchorIds);
        if (results) this.#call('onAnchored', results);
        break;
      }
      case 'selection': {
        if (!this.#admitSelection()) return;
        if (data.tooLong !== undefined) {
          if (Number.isSafeInteger(data.tooLong) && data.tooLong > MAX_EXACT) this.#call('onSelectionTooLong', data.tooLong);
          return;
        }
        const selection = readSelection(data);
        if (selection) {
          selection.rect = this.#toPageViewport(selection.rect);
          this.#call('onSelection', selection);
        }
        break;
      }
      case 'selectionCleared':
        if (this.#admitSelection()) this.#call('onSelectionCleared');
        break;
      case 'activate': {
        const ids = readIds(data.ids, this.#anchorIds);
        if (ids && typeof data.viaKeyboard === 'boolean') this.#call('onActivate', ids, data.viaKeyboard);
        break;
      }
      case 'key':
        if (KEYS.has(data.name)) this.#call('onKey', data.name);
        break;
      case 'hidden': {
        // A passage asked for is laid out nowhere in the document now.
        const ids = readIds([data.id], this.#anchorIds);
        if (ids) this.#call('onHidden', ids[0]);
        break;
      }
      case 'navigated':
        if (isPath(data.path) && isHash(data.hash ?? '')) this.#call('onNavigated', data.path, data.hash ?? '');
        break;
      case 'loaded':
        this.#current.loaded = true;
        break;
      case 'leaving': {
        // The document is being left; where to, when a link it followed says so.
        const to = isPath(data.to) ? data.to : null;
        this.#call('onLeaving', { to, elsewhere: to === null && data.elsewhere === true });
        break;
      }
      default:
        break; // unknown types are ignored
    }
  }

  /** A rectangle in the frame's viewport, moved into the review page's viewport. */
  #toPageViewport(rect) {
    const box = this.#iframe.getBoundingClientRect();
    const style = this.#window.getComputedStyle(this.#iframe);
    const left = box.left + (parseFloat(style.borderLeftWidth) || 0) + (parseFloat(style.paddingLeft) || 0);
    const top = box.top + (parseFloat(style.borderTopWidth) || 0) + (parseFloat(style.paddingTop) || 0);
    return { x: rect.x + left, y: rect.y + top, width: rect.width, height: rect.height };
  }

  #call(name, ...args) {
    const fn = this.#callbacks[name];
    if (typeof fn !== 'function') return;
    try {
      fn(...args);
    } catch (err) {
      // The page's bug must not break the link; report it like an uncaught error.
      reportError(err);
    }
  }
}

/* -----------------------------------------------------------------------------------------------
 * Validation: every function returns a fresh, well-formed value or null
 * -------------------------------------------------------------------------------------------- */

function isRecord(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(n) {
  return Number.isSafeInteger(n) && n >= 0;
}

function isId(id) {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID;
}

/** Code points of `s`, counting at most up to `max + 1` (enough to reject). */
function codePoints(s, max) {
  let n = 0;
  for (let i = 0; i < s.length && n <= max; i++, n++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
}

/** A well-formed string of min..max code points (a length far over is rejected before counting). */
function isText(s, min, max) {
  if (typeof s !== 'string' || s.length > max * 2 || !s.isWellFormed()) return false;
  const n = codePoints(s, max);
  return n >= min && n <= max;
}

function isPath(p) {
  return typeof p === 'string' && p.length <= MAX_PATH && p.startsWith('/') && p.isWellFormed();
}

/** A document's #fragment: '' or '#…', bounded, well-formed (it may go into the page's address). */
function isHash(h) {
  return typeof h === 'string' && h.length <= MAX_HASH && (h === '' || h.startsWith('#')) && h.isWellFormed();
}

function isCoordinate(n) {
  return typeof n === 'number' && Number.isFinite(n) && Math.abs(n) <= MAX_COORDINATE;
}

function readHello(data) {
  if (!isRecord(data) || data.ar !== PROTOCOL || data.type !== 'hello') return null;
  if (typeof data.doc !== 'string' || !DOC_ID.test(data.doc)) return null;
  if (!isPath(data.path) || !isText(data.title, 0, MAX_TITLE) || !isCount(data.textLength)) return null;
  if (data.error !== undefined && !ERRORS.has(data.error)) return null;
  if (!isHash(data.hash ?? '')) return null;
  return {
    doc: data.doc, path: data.path, hash: data.hash ?? '', title: data.title, textLength: data.textLength, error: data.error ?? null,
  };
}

function readSelection(data) {
  const { quote, position, rect } = data;
  if (!isRecord(quote) || quote.type !== 'TextQuoteSelector') return null;
  if (!isText(quote.exact, 1, MAX_EXACT) || !isText(quote.prefix, 0, MAX_CONTEXT) || !isText(quote.suffix, 0, MAX_CONTEXT)) return null;
  if (!isRecord(position) || position.type !== 'TextPositionSelector') return null;
  if (!isCount(position.start) || !isCount(position.end)) return null;
  // The bridge measures both in the same text: they must agree.
  if (position.end - position.start !== codePoints(quote.exact, MAX_EXACT)) return null;
  if (!isRecord(rect) || !isCoordinate(rect.x) || !isCoordinate(rect.y)) return null;
  if (!isCoordinate(rect.width) || !isCoordinate(rect.height) || rect.width < 0 || rect.height < 0) return null;
  return {
    quote: { type: 'TextQuoteSelector', exact: quote.exact, prefix: quote.prefix, suffix: quote.suffix },
    position: { type: 'TextPositionSelector', start: position.start, end: position.end },
    rect: { x: rect.x, y: rect.y, width: rect.width, height: rect.height },
  };
}

function readAnchored(data, knownIds) {
  if (!Array.isArray(data.results) || data.results.length > MAX_LIST) return null;
  const seen = new Set();
  const out = [];
  for (const r of data.results) {
    if (!isRecord(r) || !isId(r.id) || !knownIds.has(r.id) || seen.has(r.id) || !STATUSES.has(r.status)) continue;
    if (r.status === 'orphan') {
      out.push({ id: r.id, status: 'orphan', start: null });
    } else if (isCount(r.start)) {
      out.push({ id: r.id, status: r.status, start: r.start });
    } else {
      continue;
    }
    seen.add(r.id);
  }
  return out;
}

function readIds(ids, knownIds) {
  if (!Array.isArray(ids) || ids.length > MAX_LIST) return null;
  const out = [];
  for (const id of ids) {
    if (isId(id) && knownIds.has(id) && !out.includes(id)) out.push(id);
  }
  return out.length ? out : null;
}

/** The selector as a list holding only the fields of the three known types, correctly typed. */
function cleanSelector(selector) {
  const out = [];
  for (const s of Array.isArray(selector) ? selector : [selector]) {
    if (!isRecord(s)) continue;
    if (s.type === 'TextQuoteSelector' && typeof s.exact === 'string' && s.exact.length > 0) {
      const quote = { type: 'TextQuoteSelector', exact: s.exact };
      if (typeof s.prefix === 'string') quote.prefix = s.prefix;
      if (typeof s.suffix === 'string') quote.suffix = s.suffix;
      out.push(quote);
    } else if (s.type === 'TextPositionSelector' && isCount(s.start) && isCount(s.end) && s.end >= s.start) {
      out.push({ type: 'TextPositionSelector', start: s.start, end: s.end });
    } else if (s.type === 'CssSelector' && typeof s.value === 'string' && s.value.length > 0 && s.value.length <= MAX_CSS_SELECTOR) {
      out.push({ type: 'CssSelector', value: s.value });
    }
  }
  return out;
}
