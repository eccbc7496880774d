// A share link's page (/share/{linkToken}): the artifact's latest version in its sandboxed frame,
// for anyone holding the link, without an account. When the link shows comments they are in the
// sidebar, highlighted in the artifact; when it takes comments, a signed-in person comments on a
// passage or a file and replies, and anyone else is offered to sign in and come back. Built from
// the review page's parts; the frame loads the files from the link's own address.

import { api } from '../api.js';
import { $, setChildren, announce } from '../dom.js';
import { ThreadSet } from '../review/threads.js';
import { Anchors } from '../review/anchors.js';
import { ArtifactFrame, startedFrame } from '../review/frame.js';
import { Sidebar, threadFocus } from '../review/sidebar.js';
import { Composer } from '../review/composer.js';
import { FileTree } from '../review/files.js';
import { pageLayout } from '../review/layout.js';
import { pageSelectionButton } from '../review/selection.js';
import { showPageMessage, showLoadError, unsentTexts } from '../review/messages.js';
import { encodePath, signInPath, reviewPath } from '../review/route.js';

const state = {
  link: null,
  shared: null,
  files: new Map(),
  path: null,
  bridged: false,
  threads: null,
  selection: null,
  activeId: null,
  /** Whether comments are shown, and whether this reader may add to them. */
  showsComments: false,
  /** The link stopped working while the page was open (the page says so). */
  over: false,
  checkTimer: null,
  canComment: false,
};

const parts = {};
const anchors = new Anchors();

function showUnavailable(unsent = []) {
  showPageMessage({
    title: 'This link is no longer available',
    text: 'The link you followed does not exist, or the artifact\u2019s owner turned it off or deleted the artifact. Ask them for a new link.',
    actions: [],
    unsent,
  });
}

/** How often an open page looks whether its link still works (and for others' comments). */
const CHECK_EVERY_MS = 30_000;

/** Ends the open page once (its checks stop), as `show` shows it. */
function end(show) {
  if (state.over) return;
  state.over = true;
  clearInterval(state.checkTimer);
  show();
}

/**
 * The link was turned off (or its artifact deleted) while the page was open: the whole page says
 * so, with what was being written to copy, rather than a page that looks alive and fails file by
 * file.
 */
function linkGone() {
  end(() => showUnavailable(unsentTexts()));
}

/**
 * The link's owner changed what it allows while the page was open (comments hidden, or no longer
 * taken): the page is loaded again, as the link now is; with something being written, that text
 * is offered to copy first.
 */
function capabilitiesChanged() {
  end(() => {
    const unsent = unsentTexts();
    if (!unsent.length) {
      location.reload();
      return;
    }
    showPageMessage({
      title: 'What this link allows has changed',
      text: 'The artifact\u2019s owner changed what people with this link can do. Reload the page to go on.',
      actions: [{ text: 'Reload', onClick: () => location.reload() }],
      unsent,
    });
  });
}

/** After a 404 from the link's API (a comment gone, or the link): the page ends if the link did. */
async function checkLink() {
  try {
    await api.shared(state.link);
  } catch (err) {
    if (err.status === 404) linkGone();
  }
}

/**
 * Calls `call`; a 404 from it has the link checked, and a 403 saying the link takes no comments
 * (any more) has the page follow what it now allows.
 */
async function onLink(call) {
  try {
    return await call();
  } catch (err) {
    if (err.status === 404) await checkLink();
    else if (err.status === 403 && err.code === 'comments_closed') capabilitiesChanged();
    throw err;
  }
}

/**
 * Whether the link still shows its entry page, asked without counting a view (the page's own
 * `GET /api/v1/share/…` counts one): a file of a link turned off is a 404.
 */
async function linkStillWorks() {
  try {
    const response = await fetch(`${state.shared.filesPath}${encodePath(state.shared.version.entryPoint)}`, { method: 'HEAD', cache: 'no-store' });
    return response.status !== 404;
  } catch {
    return true; // the server unreachable says nothing about the link
  }
}

// ---- comments -----------------------------------------------------------------------------------

async function loadComments() {
  if (!state.showsComments) return;
  let data;
  try {
    data = await api.sharedComments(state.link);
  } catch (err) {
    if (err.status === 404) {
      linkGone();
      return;
    }
    if (err.status === 403) {
      capabilitiesChanged(); // the comments are no longer shown on this link
      return;
    }
    announce(`Comments could not be loaded: ${err.message}`);
    throw err;
  }
  state.threads = new ThreadSet(data.comments ?? [], {
    version: state.shared.version,
    files: [...state.files.keys()],
    entryPoint: state.shared.version.entryPoint,
  });
  refresh();
}

const reloadComments = () => loadComments().catch(() => {});

function threadsHere() {
  return state.threads && state.path !== null ? state.threads.onFile(state.path) : [];
}

function refresh() {
  if (!state.showsComments) return;
  sendAnchors();
  parts.sidebar.render({
    path: state.path,
    threads: threadsHere(),
    placement: (id) => anchors.placement(id),
    loading: state.threads === null,
  });
  const n = parts.sidebar.openCount;
  $('#sidebar-toggle-count').textContent = n ? `(${n} open)` : '';
  parts.tree?.setCounts(state.threads?.openCounts() ?? new Map());
}

function sendAnchors() {
  if (!parts.frame || !state.showsComments) return;
  const draft = parts.composer?.source === state.path ? parts.composer.draftSelector : null;
  anchors.sendTo(parts.frame, threadsHere(), { activeId: state.activeId, draft, showResolved: parts.sidebar.showResolved });
}

function anchored(results) {
  anchors.record(results);
  if (state.threads !== null) parts.sidebar?.release();
  refresh();
}

// ---- the document in the frame ------------------------------------------------------------------

// ---- the page's address: the file shown, after the link (`?file=dir/page.html`) -----------------

/** The file the address names (`?file=…`), if it is one of the shared version's; else null. */
function fileOfAddress() {
  const path = new URLSearchParams(location.search).get('file');
  return path !== null && state.files.has(path) ? path : null;
}

/**
 * The page's address for a file: the link's page itself for the entry page. The server starts
 * the frame on the file it names, so a reload shows it at once.
 */
function addressOf(path) {
  const entry = state.shared.version.entryPoint;
  return `${location.pathname}${path && path !== entry ? `?file=${encodePath(path)}` : ''}`;
}

/** Where signing in leads back to (this page, on the file shown), and the review page's file. */
function updateSignInLinks() {
  const back = signInPath(location.pathname + location.search);
  $('#share-sign-in').href = back;
  $('#sign-in-hint-link').href = back;
  const review = state.shared?.viewer?.reviewPath;
  if (review) {
    const token = review.replace(/^\/a\//, '');
    const { version } = state.shared;
    $('#share-review-page').href = reviewPath(decodeURIComponent(token), {
      version: version.number, isLatest: true, path: state.path, entryPoint: version.entryPoint,
    });
  }
}

/** Opens a file as a step of the page's history that records it (as the review page does). */
function openFile(path) {
  history.pushState({ file: path }, '', addressOf(path));
  updateSignInLinks();
  parts.frame.show(path, { replace: true });
}

function documentShown({ path, bridged, hash = '' }) {
  state.path = path;
  if (path !== null) {
    history.replaceState({ file: path }, '', addressOf(path) + hash);
    updateSignInLinks();
  }
  state.bridged = bridged;
  state.selection = null;
  parts.selectionButton.hide();
  anchors.reset(bridged);
  if (!bridged) parts.sidebar?.release();
  parts.tree?.setCurrent(path);
  $('#stage').dataset.file = path ?? '';
  $('#stage').dataset.bridged = String(bridged);
  const multi = state.files.size > 1 && path;
  document.title = `${multi ? `${path} · ` : ''}${state.shared.artifact.name} · Artifact Review`;
  updateCommenting();
  refresh();
}

function updateCommenting() {
  const here = state.canComment && state.path !== null;
  $('#comment-file').hidden = !here;
  $('#sidebar-hint').hidden = !(here && state.bridged);
  if (!here) parts.selectionButton.hide();
}

// ---- commenting ---------------------------------------------------------------------------------

function onSelection({ quote, position, rect }) {
  if (!state.canComment || state.path === null || !state.bridged) return;
  state.selection = { quote, position, rect, path: state.path };
  parts.selectionButton.showFor(quote.exact, rect);
}

function onSelectionTooLong(length) {
  state.selection = null;
  if (!state.canComment) return;
  const note = `${length.toLocaleString()} characters are selected; a comment can quote at most 2,000. Select a shorter passage.`;
  const frameRect = $('#artifact-frame').getBoundingClientRect();
  parts.selectionButton.showNote(note, { x: frameRect.left, y: frameRect.top, width: frameRect.width, height: 0 });
  announce(note);
}

function commentOnSelection() {
  const sel = state.selection;
  if (!state.canComment || !sel) return;
  parts.selectionButton.hide();
  parts.layout.open('sidebar');
  parts.composer.openForPassage(sel.path, sel.quote, sel.position);
}

async function submitComment({ target, content }) {
  const created = await onLink(() => api.sharedComment(state.link, { content, target }));
  state.selection = null;
  parts.frame.clearSelection();
  await reloadComments();
  // The form outlives a change of file: say where a comment on another file went.
  announce(target.source === state.path ? 'Comment added' : `Comment added on ${target.source}`);
  return created.id;
}

/** A new comment made here: its thread gets the focus, scrolled into view. */
function showPosted(id) {
  if (!parts.sidebar.focusThread(id)) $('#comments-title').focus();
}

function onActivate(ids) {
  if (!state.showsComments) return;
  const id = parts.sidebar.visibleIds().find((v) => ids.includes(v)) ?? ids.find((v) => state.threads?.get(v));
  if (!id) return;
  parts.layout.open('sidebar');
  parts.sidebar.focusThread(id, { quiet: true });
}

function onKey(name) {
  if (name === 'comment') commentOnSelection();
  else if (name === 'escape') parts.selectionButton.hide();
  else if (state.showsComments && (name === 'nextThread' || name === 'prevThread')) {
    parts.layout.open('sidebar');
    parts.sidebar.step(name === 'nextThread' ? 1 : -1);
  }
}

// ---- start --------------------------------------------------------------------------------------

function renderHeader() {
  const { artifact, version, viewer, capabilities } = state.shared;
  setChildren($('#artifact-name'), artifact.name);
  $('#version-label').textContent = `Version ${version.number}${version.name ? ` \u00b7 ${version.name}` : ''}`;
  if (viewer) {
    $('#share-viewer').textContent = `Signed in as ${viewer.name}`;
    $('#share-viewer').hidden = false;
    // Someone who may review it: the review page is where they comment and resolve as usual.
    if (viewer.reviewPath) {
      $('#share-review-page').href = viewer.reviewPath;
      $('#share-review-page').hidden = false;
    }
  } else if (capabilities.writeComments) {
    $('#share-sign-in').hidden = false;
  }
  $('#review-tools').hidden = false;
}

async function boot() {
  state.link = /^\/share\/([A-Za-z0-9_-]+)$/.exec(location.pathname)?.[1] ?? null;
  const started = startedFrame($('#artifact-frame'));
  if (!state.link) {
    showUnavailable();
    return;
  }
  try {
    state.shared = await api.shared(state.link);
  } catch (err) {
    if (err.status === 404) showUnavailable();
    else showLoadError(err);
    return;
  }
  const { capabilities, viewer, version } = state.shared;
  state.files = new Map(state.shared.files.map((f) => [f.path, f]));
  state.showsComments = capabilities.readComments || capabilities.writeComments;
  state.canComment = capabilities.writeComments && viewer !== null;
  renderHeader();

  parts.selectionButton = pageSelectionButton();
  if (!state.showsComments) $('#review-app').classList.add('no-sidebar');
  $('#sidebar').hidden = !state.showsComments;
  $('#sidebar-toggle').hidden = !state.showsComments;
  parts.layout = pageLayout();
  if (state.showsComments) {
    parts.sidebar = new Sidebar({
      root: $('#sidebar'),
      meId: viewer?.id ?? null,
      isOwner: () => false,
      reload: reloadComments,
      // Signed in on a link that takes comments: replying, and changing or deleting what one
      // wrote through the link; resolving is the reviewers'.
      can: { reply: state.canComment, resolve: false, edit: state.canComment, linkOnly: true },
      calls: {
        createReply: (commentId, content) => onLink(() => api.sharedReply(state.link, commentId, content)),
        updateComment: (id, body) => onLink(() => api.sharedUpdateComment(state.link, id, body)),
        deleteComment: (id) => onLink(() => api.sharedDeleteComment(state.link, id)),
        updateReply: (id, content) => onLink(() => api.sharedUpdateReply(state.link, id, content)),
        deleteReply: (id) => onLink(() => api.sharedDeleteReply(state.link, id)),
      },
      on: threadFocus({ setActive: (id) => { state.activeId = id; }, sendAnchors, anchors, parts }),
    });
    // Until the frame has placed the passages: see Sidebar.hold.
    parts.sidebar.hold();
    if (capabilities.writeComments && !viewer) {
      $('#sign-in-hint').hidden = false;
    } else if (!capabilities.writeComments) {
      $('#read-only-hint').hidden = false;
    }
  }
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
    onCancel: () => {
      if (state.selection && state.selection.path === state.path) parts.selectionButton.showAgain(state.selection.rect);
    },
  });
  if (state.files.size > 1) {
    $('#files').hidden = false;
    $('#files-toggle').hidden = false;
    $('#review-app').classList.add('has-files');
    parts.tree = new FileTree({
      container: $('#file-tree'),
      hrefFor: (path) => state.shared.filesPath + encodePath(path),
      onOpen: (path) => {
        if (parts.layout.isDrawer('files')) parts.layout.close('files', false);
        openFile(path);
      },
    });
    parts.tree.render([...state.files.keys()]);
  }
  parts.frame = new ArtifactFrame({
    iframe: $('#artifact-frame'),
    messageEl: $('#frame-message'),
    artifact: { token: state.link, name: state.shared.artifact.name },
    version,
    files: state.files,
    entryPoint: version.entryPoint,
    grant: async () => ({ path: state.shared.filesPath, expiresAt: Number.POSITIVE_INFINITY }),
    // The page's HTML started the frame on the entry page (kept if it is still the link's version).
    first: started,
    fragment: location.hash,
    on: {
      document: documentShown,
      fragment: (hash) => history.replaceState(history.state, '', addressOf(state.path) + hash),
      anchored,
      selection: onSelection,
      selectionTooLong: onSelectionTooLong,
      selectionCleared: () => {
        state.selection = null;
        parts.selectionButton.hide();
      },
      activate: onActivate,
      key: onKey,
      signedOut: () => {},
      linkGone,
    },
  });
  $('#comment-selection').addEventListener('click', commentOnSelection);
  $('#comment-file').addEventListener('click', () => {
    if (state.canComment && state.path !== null) parts.composer.openForFile(state.path);
  });
  // The page's own shortcuts are the frame's (onKey): Alt+C, and Alt+↓ / Alt+↑ between threads.
  const shortcuts = { KeyC: 'comment', ArrowDown: 'nextThread', ArrowUp: 'prevThread' };
  document.addEventListener('keydown', (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest?.('input, textarea, select, [contenteditable]')) return;
    const name = shortcuts[event.code];
    if (name) {
      event.preventDefault();
      onKey(name);
    }
  });
  // Back/Forward to a file opened here (or an address edited to name another file).
  window.addEventListener('popstate', (event) => parts.frame.returnedTo(event.state?.file ?? fileOfAddress() ?? version.entryPoint));
  const first = fileOfAddress() ?? version.entryPoint;
  history.replaceState({ file: first }, '', addressOf(first) + location.hash);
  updateSignInLinks();
  state.path = first;
  updateCommenting();
  if (state.showsComments) {
    refresh();
    reloadComments();
  }
  // No live stream on a link: the page looks now and then (and when it is looked at again)
  // whether the link still works, and for others' comments.
  const look = async () => {
    if (state.over || document.hidden) return;
    if (state.showsComments) reloadComments();
    else if (!(await linkStillWorks())) linkGone();
  };
  state.checkTimer = setInterval(look, CHECK_EVERY_MS);
  document.addEventListener('visibilitychange', look);
  await parts.frame.show(first);
}

boot().catch((err) => showLoadError(err));
