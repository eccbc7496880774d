// The artifact in its sandboxed frame: loaded under a viewing grant (renewed when it runs out),
// told which passages to highlight, and followed as the reader moves between its pages.
//
// Which file the frame shows is learnt from each new document's hello (through FrameLink); for
// files without a bridge (a stylesheet, an image opened from the tree) from the navigation this
// page started. History: a file opened by the page (the Files tree) is a step of the page's own
// history that records the file, and replaces the frame's document; Back/Forward to such a step
// tells the page which file to show again (returnedTo), bridge or not. A link followed inside the
// artifact is a step of the frame's history; the document it returns to says hello. Either way one
// Back press is one step, and the page's address, tree and sidebar follow the file shown.

import { api } from '../api.js';
import { h, setChildren, announce } from '../dom.js';
import { FrameLink } from './frame-link.js';
import { frameSrc, fileOfFramePath } from './route.js';

/** Renew a grant this long before it expires rather than let a navigation fail. */
const GRANT_MARGIN_MS = 60_000;
/** A dead grant is renewed at most once per minute; after that a person decides (Reload). */
const RENEW_INTERVAL_MS = 60_000;
// A document that moves its #fragment often (a table of contents that follows the scrolling) has
// the page's address follow at most this often: browsers throttle a flood of address changes.
const FRAGMENT_EVERY_MS = 200;

const HTML_TYPES = /^(text\/html|text\/markdown|text\/x-markdown)\b/;

/**
 * Outlines the frame while it holds a focus that the keyboard moved there (Tab, or a key on a
 * control that sends it there), so that a keyboard user sees that the arrow keys now scroll the
 * artifact. A click into the artifact happens inside the frame, unseen here: it draws nothing.
 */
function outlineWhenKeyed(iframe) {
  let keyedAt = -Infinity;
  document.addEventListener('keydown', () => { keyedAt = performance.now(); }, true);
  document.addEventListener('pointerdown', () => { keyedAt = -Infinity; }, true);
  // Focus moving into the frame blurs this window (the iframe element gets no focus event of its
  // own when Tab takes it there); focus coming back focuses it again. The time is taken when the
  // focus moved, not when the check runs a task later (a loaded machine may run it much later).
  // A click inside the frame is unseen here: a key more than a second before it draws nothing.
  const check = (movedAt) => iframe.classList.toggle('keyboard-focus', document.activeElement === iframe && movedAt - keyedAt < 1000);
  iframe.addEventListener('focus', () => check(performance.now()));
  window.addEventListener('blur', () => {
    const movedAt = performance.now();
    setTimeout(() => check(movedAt), 0);
  });
  window.addEventListener('focus', () => iframe.classList.remove('keyboard-focus'));
  iframe.addEventListener('blur', () => iframe.classList.remove('keyboard-focus'));
}

/**
 * What the page came with: `<meta name="artifact-frame">` names where a version's files are served
 * (the review page: a viewing grant made with the page; a share link's page: the link's folder),
 * the version and a file, and the iframe was started on that file when it has a bridge (its `src`
 * is in the page, so the artifact loads while the page's modules do). Returns
 * {grant: {path, expiresAt}, version, file, started}, or null; the meta is removed (a grant is a
 * capability, not for later scripts to find).
 */
export function startedFrame(iframe) {
  const meta = document.querySelector('meta[name="artifact-frame"][content]');
  if (!meta) return null;
  meta.remove();
  const grantPath = /^\/(?:v|share)\/[A-Za-z0-9_-]+\/$/.exec(meta.getAttribute('content'))?.[0];
  const version = Number(meta.dataset.version);
  const expiresAt = meta.dataset.expires === undefined ? Number.POSITIVE_INFINITY : Number(meta.dataset.expires);
  const file = meta.dataset.file;
  if (!grantPath || !Number.isSafeInteger(version) || Number.isNaN(expiresAt) || typeof file !== 'string') return null;
  const src = iframe.getAttribute('src');
  return { grant: { path: grantPath, expiresAt }, version, file, started: src !== null && src.startsWith(grantPath) };
}

export class ArtifactFrame {
  /**
   * @param iframe      the sandboxed <iframe>
   * @param messageEl   where problems with the frame are shown (over the frame)
   * @param artifact    {token, name}
   * @param version     the API's version object
   * @param files       Map path → the API's file info
   * @param entryPoint  the version's first page
   * @param grant       async () → {path: "/v/GRANT/", expiresAt}: where the files are served
   *                    (default: a viewing grant for the signed-in reader; a share link's page
   *                    passes its own address, which does not expire)
   * @param firstGrant  optionally, the promise of a grant asked for already (used once)
   * @param first       optionally, what the page came with (see startedFrame): a grant for a
   *                    version, and the file the iframe was started on, if it was; the first
   *                    show() keeps that document if it is the file it shows, of this version
   * @param fragment    the #fragment the page's address named when it opened ('' for none): the
   *                     first document shown of that file is sent there
   * @param on          {document({path, bridged, hash}), fragment(hash), selection,
   *                     selectionTooLong, selectionCleared, activate, key, anchored, signedOut}
   */
  constructor({ iframe, messageEl, artifact, version, files, entryPoint, grant, firstGrant = null, first = null, fragment = '', on }) {
    this.iframe = iframe;
    this.messageEl = messageEl;
    this.artifact = artifact;
    this.version = version;
    this.files = files;
    this.entryPoint = entryPoint;
    this.on = on;
    this.grant = null;
    this.newGrant = grant ?? (() => api.viewGrant(this.artifact.token, this.version.number));
    this.firstGrant = firstGrant;
    this.lastRenewAt = 0;
    /** The file this page last sent the frame to, until the frame shows it. */
    this.expected = null;
    /** The file shown now (null: none of this version's files). */
    this.path = null;
    /** The document started before this frame existed, until the first show() keeps or replaces it. */
    this.first = first?.started ? first : null;
    /** The page's #fragment, until the first document is shown. */
    this.fragment = fragment;
    /** The frame shows a page that is not part of the artifact (and the page says so). */
    this.isOutside = false;
    /** The document's latest #fragment, while its report to the page waits (`fragmentMoved`). */
    this.movedTo = '';
    this.fragmentTimer = null;

    outlineWhenKeyed(iframe);
    this.link = new FrameLink(iframe, {
      onHello: (hello) => this.hello(hello),
      onAnchored: (results) => on.anchored(results),
      onSelection: (selection) => on.selection(selection),
      onSelectionTooLong: (length) => on.selectionTooLong(length),
      onSelectionCleared: () => on.selectionCleared(),
      onActivate: (ids, viaKeyboard) => on.activate(ids, viaKeyboard),
      onKey: (name) => on.key(name),
      onHidden: () => announce('That passage is in a part of the page that is hidden now (a collapsed section or a closed tab, say): open that part of the page to see it.'),
      onNavigated: (path, hash) => {
        // pushState or a #fragment inside one document: still the same file, same comments; a
        // #fragment goes into the page's address, so a reload or a sent address comes back to it.
        if (this.path !== null && this.resolve(path) === this.path) this.fragmentMoved(hash);
      },
      onLeaving: (where) => this.leaving(where),
      onNoBridge: () => this.noBridge(),
    }, { adopted: this.first !== null });
    iframe.addEventListener('load', () => this.loaded());
    // A #fragment typed into the page's address (no reload): the document shown goes there.
    window.addEventListener('hashchange', () => {
      if (this.path !== null) this.link.fragment(location.hash);
    });
  }

  /** Whether a file is shown without a bridge (no passages, whole-file comments only). */
  static isBridged(file) {
    return !file || HTML_TYPES.test(file.contentType ?? '') || /\.(html?|md|markdown)$/i.test(file.path);
  }

  async ensureGrant() {
    if (this.grant && Date.now() < this.grant.expiresAt - GRANT_MARGIN_MS) return this.grant;
    const asked = this.firstGrant ?? this.newGrant();
    this.firstGrant = null;
    this.grant = await asked;
    return this.grant;
  }

  /**
   * Shows a file. The first document replaces the frame's blank one; later ones are new history
   * entries (so Back returns to the previous page of the artifact) unless `replace`.
   */
  async show(path, { replace = false } = {}) {
    const first = this.first;
    this.first = null;
    if (first && first.file === path && first.version === this.version.number) {
      // The page started this very document: keep it (its hello tells the rest).
      this.grant = first.grant;
      this.firstGrant = null;
      this.hideProblem();
      this.expected = path;
      return;
    }
    // Another file than the one started: it replaces that one in the frame's history.
    if (first) replace = true;
    let grant;
    try {
      grant = await this.ensureGrant();
    } catch (err) {
      this.problem(err.status === 401 ? null : `The artifact could not be opened: ${err.message}`, { reload: true });
      if (err.status === 401) this.on.signedOut(err);
      return;
    }
    this.hideProblem();
    this.expected = path;
    const src = frameSrc(grant.path, path);
    if (replace && this.iframe.contentWindow && this.iframe.getAttribute('src')) {
      // Location.replace is one of the few things allowed on a cross-origin (opaque) frame.
      this.iframe.contentWindow.location.replace(src);
    } else {
      this.iframe.src = src;
    }
  }

  /** Names the frame for assistive technology: artifact, version and file. */
  setTitle(path) {
    const file = path ?? 'a page outside this version';
    this.iframe.title = `Artifact “${this.artifact.name}”, version ${this.version.number}, ${file}`;
  }

  /** The file a frame path names in this version, or null. */
  resolve(framePath) {
    const file = fileOfFramePath(framePath);
    if (file === null) return null;
    if (file === '') return this.entryPoint;
    if (this.files.has(file)) return file;
    if (this.files.has(`${file}/index.html`)) return `${file}/index.html`;
    return null;
  }

  hello({ path, hash, error }) {
    this.isOutside = false;
    const file = this.resolve(path);
    if (error === 'grant') {
      this.grantDied(file ?? this.expected ?? this.path ?? this.entryPoint);
      return;
    }
    if (error === 'link') {
      this.expected = null;
      // Said first, while what is being written in the page is still there to keep.
      this.on.linkGone?.();
      this.problem('This share link is no longer available: its owner turned it off, or deleted the artifact.', { reload: true });
      this.current(null, false);
      return;
    }
    this.expected = null;
    if (error === 'missing' || file === null) {
      const named = fileOfFramePath(path);
      this.problem(
        named
          ? `Version ${this.version.number} has no file “${named}”.`
          : 'This page is not part of this version of the artifact.',
        { back: true },
      );
      this.current(null, false);
      return;
    }
    this.hideProblem();
    // The first document shown (the file the page was opened on) goes to the page's #fragment.
    const fragment = this.fragment;
    this.fragment = '';
    if (fragment && !hash) this.link.fragment(fragment);
    this.current(file, true, hash || fragment);
  }

  /** Tells the page the document's new #fragment: the latest one, at most every FRAGMENT_EVERY_MS. */
  fragmentMoved(hash) {
    this.movedTo = hash;
    if (this.fragmentTimer) return;
    this.fragmentTimer = setTimeout(() => {
      this.fragmentTimer = null;
      this.on.fragment(this.movedTo);
    }, FRAGMENT_EVERY_MS);
  }

  /**
   * The document shown is being left (its `pagehide`: the next one is replacing it). When a link
   * it followed says where to, a file of this version without a bridge (an image, say), which has
   * no other way to say which file it is, is shown at once, and so is a page elsewhere. Otherwise
   * the next document's hello, or the judgement of its `load`, tells. (This message and the next
   * document's `load` arrive in either order: what it does holds in both.)
   */
  leaving({ to, elsewhere }) {
    if (this.expected !== null) return; // the page sent the frame somewhere itself
    if (elsewhere) {
      this.outside();
      return;
    }
    const file = to === null ? null : this.resolve(to);
    if (file !== null && !ArtifactFrame.isBridged(this.files.get(file))) {
      this.hideProblem();
      this.current(file, false);
    }
  }

  /** The frame finished loading a document; one without a bridge says so only this way. */
  loaded() {
    const expected = this.expected;
    if (expected !== null && !ArtifactFrame.isBridged(this.files.get(expected))) {
      this.expected = null;
      this.hideProblem();
      this.current(expected, false);
    }
  }

  /**
   * Back/Forward returned to a step of the page's history that records `path`: the frame is
   * shown that file again, unless it shows it already (a step within the frame's own history
   * changes the frame's document, which then says hello itself).
   */
  returnedTo(path) {
    if (!path || !this.files.has(path) || path === this.path || path === this.expected) return;
    this.show(path, { replace: true });
  }

  noBridge() {
    if (this.expected !== null && ArtifactFrame.isBridged(this.files.get(this.expected))) {
      // A page of the artifact that did not connect (it may have replaced its own document).
      const path = this.expected;
      this.expected = null;
      this.current(path, false);
      this.problem('Passages of this page cannot be highlighted or commented on: it did not connect to the review page. Comments on the whole file still work.', { dismiss: true });
      return;
    }
    if (this.isOutside) return; // said already (`leaving`)
    if (this.path !== null && !ArtifactFrame.isBridged(this.files.get(this.path))) return;
    this.outside();
  }

  /** The frame shows a page that is not part of the artifact. */
  outside() {
    this.expected = null;
    this.isOutside = true;
    this.problem('This page is not part of the artifact (a link led outside it), so it cannot be reviewed here.', { back: true });
    this.current(null, false);
  }

  current(path, bridged, hash = '') {
    if (path !== null) this.isOutside = false;
    // Another document: a #fragment still to report was the previous one's.
    clearTimeout(this.fragmentTimer);
    this.fragmentTimer = null;
    this.path = path;
    this.setTitle(path);
    this.on.document({ path, bridged, hash });
  }

  async grantDied(path) {
    if (Date.now() - this.lastRenewAt < RENEW_INTERVAL_MS) {
      this.problem('The link that shows this artifact has expired and could not be renewed.', { reload: true });
      return;
    }
    this.lastRenewAt = Date.now();
    this.grant = null;
    await this.show(path, { replace: true });
  }

  problem(text, { reload = false, back = false, dismiss = false } = {}) {
    if (text === null) return;
    const actions = [];
    if (back) {
      actions.push(h('button', {
        type: 'button', class: 'button small', text: `Open ${this.entryPoint}`,
        on: { click: () => this.show(this.entryPoint) },
      }));
    }
    if (reload) {
      actions.push(h('button', { type: 'button', class: 'button small primary', text: 'Reload', on: { click: () => location.reload() } }));
    }
    if (dismiss) {
      actions.push(h('button', { type: 'button', class: 'button small subtle', text: 'Dismiss', on: { click: () => this.hideProblem() } }));
    }
    setChildren(this.messageEl, h('p', { text }), actions.length ? h('div', { class: 'frame-message-actions' }, actions) : null);
    this.messageEl.hidden = false;
    announce(text);
  }

  hideProblem() {
    this.messageEl.hidden = true;
    setChildren(this.messageEl);
  }

  setAnchors(anchors, showResolved) {
    this.link.setAnchors(anchors, { showResolved });
  }

  focusAnchor(id, options = {}) {
    this.link.focus(id, options);
  }

  clearSelection() {
    this.link.clearSelection();
  }
}
