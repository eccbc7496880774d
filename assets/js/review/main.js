// The review page (/a/{t}, /a/{t}/v/{n}/, /a/{t}/v/{n}/{path}): the artifact in its sandboxed
// frame, the file tree of a site, and the comment sidebar, kept current by the live event stream.
// This module loads what the page shows and connects the parts; each part lives in its own module.

import { api, whenSessionLost } from '../api.js';
import { $, setChildren, announce } from '../dom.js';
import { parseReviewPath, reviewPath } from './route.js';
import { ThreadSet } from './threads.js';
import { Anchors } from './anchors.js';
import { ArtifactFrame, startedFrame } from './frame.js';
import { Sidebar, threadFocus } from './sidebar.js';
import { Composer } from './composer.js';
import { FileTree } from './files.js';
import { Versions } from './versions.js';
import { OwnerActions } from './owner.js';
import { LiveUpdates } from './events.js';
import { pageLayout } from './layout.js';
import { pageSelectionButton } from './selection.js';
import {
  showSignedOutBy, showNoAccess, showAccessRemoved, showDeleted, showVersionGone, showLoadError, ConnectionBanner,
  unsentTexts,
} from './messages.js';

/** Live events arriving close together cause one reload of the comments. */
const RELOAD_DELAY_MS = 120;

const state = {
  token: null,
  me: null,
  artifact: null,
  version: null,
  files: new Map(),
  entryPoint: null,
  /** The file the frame shows (null: none of this version's). */
  path: null,
  bridged: false,
  threads: null,
  /** The passage selected in the frame: {quote, position, path}, or null. */
  selection: null,
  activeId: null,
  /** What the last selection was refused for (too long), said again when Comment is asked for. */
  tooLong: null,
  /** Why the event stream last ended, as the server said (e.g. access_removed). */
  endedBecause: null,
  over: false,
};

const parts = {};
const anchors = new Anchors();

const isLatest = () => state.version?.isLatest === true;
const pathFor = (path) => reviewPath(state.token, {
  version: state.version.number, isLatest: isLatest(), path, entryPoint: state.entryPoint,
});

// ---- the page ending: signed out, artifact gone -------------------------------------------------

/** The artifact is not shown to this reader any more: their access removed (what they were
 *  writing is offered to copy), or not found. */
function lostSight() {
  end(state.endedBecause === 'access_removed' ? () => showAccessRemoved(unsentTexts()) : showNoAccess);
}

function end(show) {
  if (state.over) return;
  state.over = true;
  parts.live?.stop();
  show();
}

// ---- comments -----------------------------------------------------------------------------------

let inflight = null;
let queued = null;
let reloadTimer = null;

/** Reloads the comments; resolves once a load that started after this call has finished. */
function reloadComments() {
  if (inflight) {
    queued ??= inflight.catch(() => {}).then(() => {
      queued = null;
      return startLoad();
    });
    return queued;
  }
  return startLoad();
}

function startLoad() {
  inflight = loadComments().finally(() => {
    inflight = null;
  });
  return inflight;
}

function scheduleReload() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => reloadComments().catch(() => {}), RELOAD_DELAY_MS);
}

async function loadComments() {
  if (state.over) return;
  let data;
  try {
    data = await api.comments(state.token, { version: 'all' });
  } catch (err) {
    if (err.status === 401) return; // whenSessionLost shows it
    if (err.status === 404) {
      lostSight();
      return;
    }
    if (err.status === 0) {
      parts.connection.show('The server cannot be reached, so comments may be out of date.', () => reloadComments().catch(() => {}));
    } else {
      parts.connection.show(`Comments could not be loaded: ${err.message}`, () => reloadComments().catch(() => {}));
    }
    throw err;
  }
  parts.connection.hide();
  state.threads = new ThreadSet(data.comments ?? [], {
    version: state.version,
    files: [...state.files.keys()],
    entryPoint: state.entryPoint,
  });
  refresh();
}

/** Threads of the file shown. */
function threadsHere() {
  return state.threads && state.path !== null ? state.threads.onFile(state.path) : [];
}

/** Re-renders the sidebar and counts from what is known; sends the frame its anchors if they changed. */
function refresh() {
  // The frame anchors in its own process: give it the work first, then build the sidebar.
  sendAnchors();
  renderSidebar();
  parts.tree?.setCounts(state.threads?.openCounts() ?? new Map());
}

function renderSidebar() {
  parts.sidebar.render({
    path: state.path,
    threads: threadsHere(),
    placement: (id) => anchors.placement(id),
    loading: state.threads === null,
  });
  const n = parts.sidebar.openCount;
  $('#sidebar-toggle-count').textContent = n ? `(${n} open)` : '';
}

/** Tells the frame what to highlight (see Anchors.sendTo). */
function sendAnchors() {
  if (!parts.frame) return;
  const draft = parts.composer?.source === state.path ? parts.composer.draftSelector : null;
  anchors.sendTo(parts.frame, threadsHere(), { activeId: state.activeId, draft, showResolved: parts.sidebar.showResolved });
}

function anchored(results) {
  anchors.record(results);
  // Placed: the comments' passages, not merely a document connecting before they were loaded.
  if (state.threads !== null) parts.sidebar.release();
  renderSidebar();
  // Once per document, when every passage of the loaded comments has been looked for and the
  // places found have stayed as they are for a moment: a page's own scripts may write its text
  // after it loads, and the bridge then places those passages too (the count said at once was
  // too high, and never corrected).
  clearTimeout(orphansTimer);
  if (state.threads !== null && !anchors.orphansAnnounced && anchors.settled()) {
    orphansTimer = setTimeout(() => {
      if (anchors.orphansAnnounced || state.threads === null || !anchors.settled()) return;
      anchors.orphansAnnounced = true;
      const n = parts.sidebar.notFoundCount;
      if (n) announce(n === 1 ? '1 comment could not be placed' : `${n} comments could not be placed`);
    }, ORPHANS_SETTLE_MS);
  }
}

/** How long the places found must stay as they are before the page says how many were not found. */
const ORPHANS_SETTLE_MS = 1000;
let orphansTimer = null;

// ---- the document in the frame ------------------------------------------------------------------

function documentShown({ path, bridged, hash = '' }) {
  state.path = path;
  state.bridged = bridged;
  state.selection = null;
  hideFloat();
  clearTimeout(orphansTimer);
  anchors.reset(bridged);
  // No passages to place in a document without a bridge: nothing to wait for.
  if (!bridged) parts.sidebar.release();
  if (path !== null) {
    history.replaceState({ file: path }, '', pathFor(path) + hash);
    const raw = $('#raw-link');
    // A page or a Markdown document as its source text, as a code host's "Raw" shows it (served
    // as it is, the browser would render it again); any other file as it is.
    const source = ArtifactFrame.isBridged(state.files.get(path)) ? '?as=text' : '';
    raw.href = api.rawFileUrl(state.token, state.version.number, path) + source;
    raw.setAttribute('aria-label', `Raw file ${path} (opens in a new tab)`);
    raw.hidden = false;
  } else {
    $('#raw-link').hidden = true;
  }
  parts.tree?.setCurrent(path);
  // What the stage shows, for styles and for tests that wait for a page to be connected.
  $('#stage').dataset.file = path ?? '';
  $('#stage').dataset.bridged = String(bridged);
  updateTitle();
  updateCommenting();
  refresh();
}

/**
 * Opens a file of this version as a step of the page's own history, recording which file it is:
 * Back and Forward then tell the page (popstate) which file to show, also for files without a
 * bridge, which cannot say so themselves. The frame's document is replaced, not stacked, so the
 * frame keeps no entries of its own for these steps.
 */
function openFile(path) {
  history.pushState({ file: path }, '', pathFor(path));
  parts.frame.show(path, { replace: true });
}

function updateTitle() {
  const multi = state.files.size > 1 && state.path;
  document.title = `${multi ? `${state.path} · ` : ''}${state.artifact.name} · v${state.version.number} · Artifact Review`;
}

/** New comments: only on the latest version, on a file of it. */
function updateCommenting() {
  const canComment = isLatest() && state.path !== null;
  $('#comment-file').hidden = !canComment;
  $('#sidebar-hint').hidden = !(canComment && state.bridged);
  if (!canComment) hideFloat();
}

// ---- selection and the composer -----------------------------------------------------------------

const hideFloat = () => parts.selectionButton.hide();

function onSelection({ quote, position, rect }) {
  state.tooLong = null;
  if (!isLatest() || state.path === null || !state.bridged) return;
  state.selection = { quote, position, rect, path: state.path };
  parts.selectionButton.showFor(quote.exact, rect);
}

function onSelectionTooLong(length) {
  state.selection = null;
  if (!isLatest()) return;
  const note = `${length.toLocaleString()} characters are selected; a comment can quote at most 2,000. Select a shorter passage.`;
  state.tooLong = note;
  const frameRect = $('#artifact-frame').getBoundingClientRect();
  parts.selectionButton.showNote(note, { x: frameRect.left, y: frameRect.top, width: frameRect.width, height: 0 });
  announce(note);
}

function onSelectionCleared() {
  state.selection = null;
  state.tooLong = null;
  hideFloat();
}

function commentOnSelection() {
  if (!isLatest()) {
    announce('Comments are locked on old versions');
    return;
  }
  const sel = state.selection;
  if (!sel) {
    announce(state.tooLong ?? 'Select a passage in the artifact first, or comment on the whole file');
    return;
  }
  hideFloat();
  parts.layout.open('sidebar');
  parts.composer.openForPassage(sel.path, sel.quote, sel.position);
}

function commentOnFile() {
  if (!isLatest() || state.path === null) return;
  parts.composer.openForFile(state.path);
}

async function submitComment({ target, content }) {
  // On the version shown: one published meanwhile refuses it (the text stays in the composer)
  // rather than taking it with a passage of the old text.
  const version = state.version.number;
  let created;
  try {
    created = await api.createComment(state.token, { content, target, version });
  } catch (err) {
    if (err?.code === 'not_latest_version') {
      throw new Error(`A newer version was published while you wrote, and comments go on the latest one. Your text is kept here: copy it, open the latest version and comment on the passage there.`);
    }
    throw err;
  }
  state.selection = null;
  parts.frame.clearSelection();
  await reloadComments().catch(() => {});
  // The form outlives a change of file: say where a comment on another file went.
  announce(target.source === state.path ? 'Comment added' : `Comment added on ${target.source}`);
  return created.id;
}

/** A new comment made here: its thread gets the focus, scrolled into view. */
function showPosted(id) {
  if (!parts.sidebar.focusThread(id)) $('#comments-title').focus();
}

// ---- messages from the frame (each only moves focus or shows something; none writes) -------------

function onActivate(ids) {
  const visible = parts.sidebar.visibleIds();
  const id = visible.find((v) => ids.includes(v)) ?? ids.find((v) => state.threads?.get(v));
  if (!id) return;
  parts.layout.open('sidebar');
  parts.sidebar.focusThread(id, { quiet: true });
}

function onKey(name) {
  if (name === 'comment') commentOnSelection();
  else if (name === 'escape') {
    hideFloat();
  } else if (name === 'nextThread' || name === 'prevThread') {
    parts.layout.open('sidebar');
    parts.sidebar.step(name === 'nextThread' ? 1 : -1);
  }
}

// ---- live updates -------------------------------------------------------------------------------

const isMe = (actor) => actor?.kind === 'user' && actor.id === state.me.user.id;
const actorName = (actor) => (actor?.kind === 'agent' ? `${actor.name} (agent)` : actor?.name ?? 'Someone');

/** The artifact again, after a live event of type `cause` (or a reconnection) may have changed it. */
async function reloadArtifact(cause = null) {
  let artifact;
  try {
    artifact = await api.artifact(state.token);
  } catch (err) {
    if (err.status === 404) lostSight();
    return;
  }
  const version = artifact.versions.find((v) => v.number === state.version.number);
  if (!version) {
    const latest = artifact.versions.find((v) => v.isLatest);
    const unsent = unsentTexts();
    if (state.followsLatest && latest && !unsent.length) {
      // The address means "the latest", which is another version now: shown, with a word why.
      history.replaceState({ ...history.state, note: `Version ${state.version.number} was deleted; v${latest.number} is the latest now` }, '');
      state.over = true;
      parts.live?.stop();
      location.reload();
      return;
    }
    end(() => showVersionGone(state.version.number, latest ? `/a/${encodeURIComponent(state.token)}` : null, unsent));
    return;
  }
  const wasLatest = isLatest();
  state.artifact = artifact;
  state.version = version;
  renderHeader();
  if (wasLatest && !version.isLatest) {
    // A newer version was published (or restored): this one is read-only now (its threads stay,
    // replies and resolving go on), and the address names it, so a reload shows it again.
    const newer = parts.versions.announceNewer(artifact, version, cause === 'version.restored' ? 'restored' : 'published');
    if (newer) announce(newer);
    state.followsLatest = false;
    history.replaceState(history.state, '', pathFor(state.path) + location.hash);
    if (parts.composer.isOpen && !parts.composer.textarea.value.trim()) parts.composer.close();
    updateCommenting();
    await reloadComments().catch(() => {});
  } else if (!wasLatest && version.isLatest) {
    // The versions after this one were deleted: it is the latest again, open to comments.
    parts.versions.showBanner(artifact, version);
    announce(`v${version.number} is the latest version again`);
    updateCommenting();
    await reloadComments().catch(() => {});
  } else if (!version.isLatest) {
    // Still an old version: its banner names the latest as it is now (one may have been deleted).
    parts.versions.showBanner(artifact, version);
  }
}

function onLiveEvent(event) {
  const type = event.type;
  if (type === 'reset') {
    reloadArtifact();
    scheduleReload();
    return;
  }
  if (type === 'artifact.deleted') {
    end(showDeleted);
    return;
  }
  if (type === 'artifact.updated' || type.startsWith('version.')) {
    reloadArtifact(type);
    return;
  }
  if (type.startsWith('comment.') || type.startsWith('reply.')) {
    scheduleReload();
    if (!isMe(event.actor) && (type === 'reply.created' || type === 'comment.created')) {
      // After the reload, so the announcement matches what is on screen.
      const what = type === 'reply.created' ? 'replied' : 'commented';
      setTimeout(() => announce(`${actorName(event.actor)} ${what}`), RELOAD_DELAY_MS + 50);
    }
  }
}

// ---- header ---------------------------------------------------------------------------------------

function renderHeader() {
  setChildren($('#artifact-name'), state.artifact.name);
  parts.versions.render(state.artifact, state.version);
  parts.owner.show(state.artifact.role === 'owner');
  parts.frame?.setTitle(state.path);
  updateTitle();
}

// ---- keyboard shortcuts of the page -------------------------------------------------------------

function shortcuts(event) {
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  const typing = event.target.closest?.('input, textarea, select, [contenteditable]');
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    if (typing) return;
    event.preventDefault();
    parts.sidebar.step(event.key === 'ArrowDown' ? 1 : -1);
  } else if ((event.code === 'KeyC') && !typing) {
    event.preventDefault();
    commentOnSelection();
  }
}

// ---- start --------------------------------------------------------------------------------------

async function boot() {
  const route = parseReviewPath(location.pathname);
  if (!route) {
    showNoAccess();
    return;
  }
  state.token = route.token;
  const started = startedFrame($('#artifact-frame'));
  parts.connection = new ConnectionBanner($('#connection-banner'));
  whenSessionLost((err) => end(() => showSignedOutBy(err)));

  try {
    // Both at once: neither needs the other, and every round trip delays the artifact.
    [state.me, state.artifact] = await Promise.all([api.me(), api.artifact(state.token)]);
  } catch (err) {
    if (err.status === 401) end(() => showSignedOutBy(err));
    else if (err.status === 404) showNoAccess();
    else showLoadError(err);
    return;
  }
  const versions = state.artifact.versions ?? [];
  const latest = versions.find((v) => v.isLatest);
  state.followsLatest = route.version === null;
  state.version = route.version === null ? latest : versions.find((v) => v.number === route.version);
  if (!state.version) {
    showVersionGone(route.version ?? '', latest ? `/a/${encodeURIComponent(state.token)}` : null);
    return;
  }
  // The page came with a grant for this version (and the frame already loading its file), or the
  // grant is asked for with the file list, not after it: the frame waits for both.
  const firstGrant = started && started.version === state.version.number
    ? Promise.resolve(started.grant)
    : api.viewGrant(state.token, state.version.number);
  firstGrant.catch(() => {}); // the frame reports its failure when it awaits it
  let listing;
  try {
    listing = await api.versionFiles(state.token, state.version.number);
  } catch (err) {
    if (err.status === 401) end(() => showSignedOutBy(err));
    else if (err.status === 404) showVersionGone(state.version.number, `/a/${encodeURIComponent(state.token)}`);
    else showLoadError(err);
    return;
  }
  state.files = new Map(listing.files.map((f) => [f.path, f]));
  state.entryPoint = listing.entryPoint ?? state.version.entryPoint;
  const first = route.path ?? state.entryPoint;
  // The address's #fragment (a place in the first file) is kept, and the frame sent there.
  const fragment = location.hash;
  // A word left by the page before a reload it made (its version was deleted), said once.
  const note = history.state?.note;
  history.replaceState({ file: first }, '', pathFor(first) + fragment);

  // The frame first: its document loads while the rest of the page is put together. Its messages
  // arrive as tasks of their own, after this function has built every part they reach.
  parts.frame = new ArtifactFrame({
    iframe: $('#artifact-frame'),
    messageEl: $('#frame-message'),
    artifact: { token: state.token, get name() { return state.artifact.name; } },
    version: state.version,
    files: state.files,
    entryPoint: state.entryPoint,
    firstGrant,
    first: started,
    fragment,
    on: {
      document: documentShown,
      fragment: (hash) => history.replaceState(history.state, '', pathFor(state.path) + hash),
      anchored,
      selection: onSelection,
      selectionTooLong: onSelectionTooLong,
      selectionCleared: onSelectionCleared,
      activate: onActivate,
      key: onKey,
      signedOut: (err) => end(() => showSignedOutBy(err)),
    },
  });
  parts.frame.setTitle(first);
  await parts.frame.show(first);
  if (state.over) return;

  parts.selectionButton = pageSelectionButton();
  parts.layout = pageLayout();
  // "Skip to comments" where the comments are a closed drawer: open it, at its heading.
  $('.skip-link').addEventListener('click', (event) => {
    if (!parts.layout.isDrawer('sidebar')) return;
    event.preventDefault();
    parts.layout.open('sidebar', { focus: true });
  });
  parts.versions = new Versions({
    button: $('#version-button'), panel: $('#version-panel'), list: $('#version-list'),
    banner: $('#version-banner'), token: state.token, meId: state.me.user.id,
  });
  parts.owner = new OwnerActions({
    token: state.token,
    getArtifact: () => state.artifact,
    onRenamed: (artifact) => {
      state.artifact = { ...state.artifact, ...artifact };
      renderHeader();
    },
  });
  parts.sidebar = new Sidebar({
    root: $('#sidebar'),
    meId: state.me.user.id,
    isOwner: () => state.artifact.role === 'owner',
    reload: () => reloadComments().catch(() => {}),
    on: threadFocus({ setActive: (id) => { state.activeId = id; }, sendAnchors, anchors, parts }),
  });
  // Until the frame has placed the passages: see Sidebar.hold.
  parts.sidebar.hold();
  parts.composer = new Composer({
    form: $('#composer'),
    submit: submitComment,
    posted: showPosted,
    // Back to the artifact, which a comments drawer would cover: that closes first.
    fallbackFocus: () => {
      parts.layout?.uncoverStage();
      return $('#artifact-frame');
    },
    onChange: () => sendAnchors(),
    // The passage is still selected in the frame (which reports a selection only when it
    // changes): offer its Comment button again.
    onCancel: () => {
      if (state.selection && state.selection.path === state.path && isLatest()) parts.selectionButton.showAgain(state.selection.rect);
    },
  });
  if (state.files.size > 1) {
    $('#files').hidden = false;
    $('#files-toggle').hidden = false;
    $('#review-app').classList.add('has-files');
    parts.tree = new FileTree({
      container: $('#file-tree'),
      hrefFor: pathFor,
      onOpen: (path) => {
        if (parts.layout.isDrawer('files')) parts.layout.close('files', false);
        openFile(path);
      },
    });
    parts.tree.render([...state.files.keys()]);
  }

  $('#comment-selection').addEventListener('click', commentOnSelection);
  $('#comment-file').addEventListener('click', commentOnFile);
  document.addEventListener('keydown', shortcuts);
  window.addEventListener('popstate', (event) => parts.frame.returnedTo(event.state?.file ?? null));

  renderHeader();
  $('#review-tools').hidden = false;
  const locked = parts.versions.showBanner(state.artifact, state.version);
  state.path = first;
  parts.tree?.setCurrent(first);
  updateCommenting();
  renderSidebar();
  if (locked) announce(locked);
  if (note) {
    // In the banner too: a toast is soon replaced (by "a comment could not be placed", say).
    parts.versions.showNote(`${note}.`);
    announce(note);
  }

  let connectedBefore = false;
  parts.live = new LiveUpdates(state.token, {
    // The first load at once (the frame waits for it); after a reconnection, with any events
    // that come with it.
    ready: () => {
      if (connectedBefore) scheduleReload();
      else reloadComments().catch(() => {});
      connectedBefore = true;
    },
    event: onLiveEvent,
    poll: () => reloadComments().catch(() => {}),
    signedOut: (err) => end(() => showSignedOutBy(err)),
    ended: (code) => { state.endedBecause = code; },
    gone: () => reloadArtifact(),
    connection: (ok) => {
      if (ok) parts.connection.hide();
      else parts.connection.show('Live updates are interrupted; reconnecting…', null);
    },
  });
  parts.live.start();
}

boot().catch((err) => showLoadError(err));
