// The comment sidebar of the file shown: the All / Open / Resolved filter, the groups (open threads
// in document order, "From earlier versions", "Not found in this version", and "Resolved" behind
// a disclosure), and what happens to focus after each action so it is never lost: resolve → the
// next open thread, a new comment → its thread, delete → the next thread.

import { api } from '../api.js';
import { $, $$, h, setChildren, announce } from '../dom.js';
import { confirmAction } from '../dialogs.js';
import { groupThreads, quoteOf } from './threads.js';
import { ThreadView } from './thread.js';

const GROUPS = ['open', 'earlier', 'notFound', 'resolved'];

/**
 * Threads built per slice of work. Building a thread's elements is the costly part of showing
 * hundreds of comments at once (measured: ~250 ms in one task for 500 threads), so a render builds
 * at most this many new ones, shows them, and leaves the rest to the next slices, letting the
 * browser paint and answer input in between.
 */
const NEW_THREADS_PER_SLICE = 60;
/** The longest `hold()` lasts, whatever the frame does. */
const HOLD_MAX_MS = 3000;

/** Puts `nodes` in `parent` in this order, moving only what is out of place (moving drops focus). */
function placeChildren(parent, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...parent.children]) if (!wanted.has(child)) child.remove();
  nodes.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] ?? null);
  });
}

export class Sidebar {
  /**
   * @param root     the <aside>
   * @param meId     the signed-in person's user id
   * @param isOwner  () → whether they own the artifact
   * @param reload   async () → reloads the comments and re-renders (resolves when done)
   * @param on       {active(id, {scroll}), show(id), changed()} — the active thread changed,
   *                 "Show in document", the filter or disclosure changed what is highlighted
   * @param can      what the reader may do to threads: {reply, resolve, edit, linkOnly} (default
   *                 all; a share link's page allows replying, and editing or deleting one's own
   *                 written through the link: linkOnly)
   * @param calls    the API calls that change threads: {updateComment, deleteComment,
   *                 createReply, updateReply, deleteReply} (default: the account's routes; a
   *                 share link's page goes through the link)
   */
  constructor({ root, meId, isOwner, reload, on, can = { reply: true, resolve: true, edit: true }, calls = api }) {
    this.root = root;
    this.reload = reload;
    this.on = on;
    this.filter = 'all';
    this.resolvedOpen = false;
    this.views = new Map();
    this.activeId = null;
    /** Threads held back by a slice's budget, and whether `hold()` keeps them back. */
    this.deferred = false;
    this.held = false;
    this.holdTimer = null;
    this.groups = {};
    for (const name of GROUPS) {
      const section = root.querySelector(`[data-group="${name}"]`);
      this.groups[name] = { section, list: section.querySelector('.thread-list'), count: section.querySelector('.group-count') };
    }
    this.heading = $('#comments-title', root);
    this.empty = $('.threads-empty', root);
    this.fileEl = $('#sidebar-file', root);
    this.resolvedToggle = $('#resolved-toggle', root);
    this.resolvedToggle.addEventListener('click', () => {
      this.resolvedOpen = !this.resolvedOpen;
      this.applyVisibility();
      this.on.changed();
    });
    for (const button of $$('[data-filter]', root)) {
      button.addEventListener('click', () => this.setFilter(button.dataset.filter));
    }
    this.calls = calls;
    this.threadCtx = {
      meId,
      isOwner,
      can,
      actions: {
        resolve: (t) => this.resolve(t),
        reopen: (t) => this.reopen(t),
        remove: (t) => this.remove(t),
        save: (t, content) => this.save(t, content),
        reply: (t, content) => this.reply(t, content),
        saveReply: (t, replyId, content) => this.saveReply(t, replyId, content),
        removeReply: (t, r) => this.removeReply(t, r),
        show: (t) => this.on.show(t.id),
      },
    };
    // Focus entering a thread makes it the active one (and scrolls the artifact to its passage),
    // as clicking a comment does in a document editor.
    root.addEventListener('focusin', (event) => {
      const article = event.target.closest?.('article.thread');
      if (!article || article.dataset.id === this.activeId) return;
      this.setActive(article.dataset.id, { scroll: !this.quietFocus });
    });
  }

  setFilter(filter) {
    this.filter = filter;
    for (const b of $$('[data-filter]', this.root)) b.setAttribute('aria-pressed', String(b.dataset.filter === filter));
    if (filter === 'resolved') this.resolvedOpen = true;
    this.applyVisibility();
    this.on.changed();
  }

  /** Whether resolved threads are on screen now, so their highlights should be drawn. */
  get showResolved() {
    return this.filter !== 'open' && this.resolvedOpen;
  }

  /**
   * Shows the threads of one file.
   * @param path       the file (null: the frame shows no file of this version)
   * @param threads    its ThreadSet items
   * @param placement  (id) → {status, start}
   * @param loading    the comments are not loaded yet
   */
  render(args, { all = false } = {}) {
    const { path, threads, placement, loading = false } = args;
    const previousPath = this.path;
    const budget = all ? Infinity : NEW_THREADS_PER_SLICE;
    this.lastRender = args;
    this.path = path;
    this.loading = loading;
    const focused = this.rememberFocus();
    const groups = groupThreads(threads, placement);
    this.current = groups;
    const seen = new Set();
    let built = 0;
    let deferred = false;
    for (const name of GROUPS) {
      const nodes = [];
      for (const t of groups[name]) {
        seen.add(t.id);
        let view = this.views.get(t.id);
        if (!view) {
          if (built >= budget) {
            deferred = true;
            continue;
          }
          built += 1;
          view = new ThreadView(t, this.threadCtx);
          this.views.set(t.id, view);
        }
        // Resolved by someone else while a reply to it is being written: it stays in view.
        if (name === 'resolved' && !view.thread.comment.resolved && view.hasDraft) keepInView(this, t);
        view.update(t, placement(t.id));
        view.article.classList.toggle('is-active', t.id === this.activeId);
        nodes.push(view.article);
      }
      placeChildren(this.groups[name].list, nodes);
      this.groups[name].count.textContent = String(groups[name].length);
    }
    for (const [id, view] of [...this.views]) {
      if (seen.has(id)) continue;
      this.views.delete(id);
      // Deleted by someone else while a reply or an edit was being written in it (the same file
      // is shown, so it was not merely left): the text is not lost with it.
      const text = view.draftText;
      if (text && path === previousPath && this.deleting !== id) keepDeletedDraft(view.thread, text);
    }
    this.deferred = deferred;
    if (deferred && !this.held) this.continueLater();
    if (this.activeId && !seen.has(this.activeId)) this.activeId = null;
    this.fileEl.textContent = path === null ? '' : path;
    this.applyVisibility();
    this.restoreFocus(focused);
  }

  /** Shows the Resolved threads (switching away from "Open" if need be). */
  showResolvedThreads() {
    if (this.filter === 'open') this.setFilter('all');
    this.resolvedOpen = true;
  }

  /** Renders the next slice in a task of its own: whatever is current by then. */
  continueLater() {
    if (this.continuation) return;
    this.continuation = setTimeout(() => {
      this.continuation = null;
      this.render(this.lastRender);
    }, 0);
  }

  /**
   * Builds no threads past the first slice until `release()`. While the artifact's document loads
   * and its passages are placed, the page's main thread (and the machine's cores) go to that and
   * to the frame's handshake, not to threads below the fold: with 500 threads, building and laying
   * out the rest took the page's main thread for over 300 ms while the frame loaded, so the frame
   * waited for its anchors and its own layout shared the cores. Ends by `release()` (the page
   * calls it when the frame reports the passages placed, or shows a document without a bridge),
   * or after HOLD_MAX_MS.
   */
  hold() {
    this.held = true;
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => this.release(), HOLD_MAX_MS);
  }

  /** Ends `hold()`: the threads held back are built, a slice per task. */
  release() {
    clearTimeout(this.holdTimer);
    if (!this.held) return;
    this.held = false;
    if (this.deferred) this.continueLater();
  }

  /** Open threads of the file shown (for the Comments button's count). */
  get openCount() {
    const g = this.current;
    return g ? g.open.length + g.earlier.length + g.notFound.length : 0;
  }

  get notFoundCount() {
    return this.current?.notFound.length ?? 0;
  }

  applyVisibility() {
    const f = this.filter;
    const show = {
      open: f !== 'resolved',
      earlier: f !== 'resolved',
      notFound: f !== 'resolved',
      resolved: f !== 'open',
    };
    let any = false;
    for (const name of GROUPS) {
      const n = this.current?.[name]?.length ?? 0;
      this.groups[name].section.hidden = !show[name] || n === 0;
      if (show[name] && n > 0) any = true;
    }
    this.resolvedToggle.setAttribute('aria-expanded', String(this.resolvedOpen));
    this.groups.resolved.list.hidden = !this.resolvedOpen;
    this.empty.hidden = any;
    if (!any) {
      let text;
      if (this.loading) text = 'Loading comments…';
      else if (this.path === null) text = 'The frame shows no file of this version, so there are no comments to show here.';
      else if (f === 'resolved') text = 'No resolved comments on this file.';
      else if (f === 'open') text = 'No open comments on this file.';
      else text = 'No comments on this file yet.';
      setChildren(this.empty, text);
    }
  }

  /** The thread ids in the order a person meets them on screen. */
  visibleIds() {
    return $$('article.thread', this.root)
      .filter((a) => !a.closest('[hidden]'))
      .map((a) => a.dataset.id);
  }

  setActive(id, { scroll = false } = {}) {
    this.activeId = id;
    for (const [vid, view] of this.views) view.article.classList.toggle('is-active', vid === id);
    this.on.active(id, { scroll });
  }

  /**
   * Moves focus to a thread, first making it visible (switching the filter or opening "Resolved"
   * if needed). `quiet`: do not scroll the artifact (the person is already there: they clicked its
   * highlight).
   */
  focusThread(id, { quiet = false } = {}) {
    // A thread of a long list may not be built yet: build them all now, the person wants one.
    if (!this.views.has(id) && this.lastRender) this.render(this.lastRender, { all: true });
    const view = this.views.get(id);
    if (!view) return false;
    const resolved = view.thread.comment.resolved;
    if (resolved && !this.showResolved) {
      this.showResolvedThreads();
      this.applyVisibility();
      this.on.changed();
    } else if (!resolved && this.filter === 'resolved') {
      this.setFilter('all');
    }
    this.quietFocus = quiet;
    try {
      view.focus();
    } finally {
      this.quietFocus = false;
    }
    if (this.activeId !== id) this.setActive(id, { scroll: !quiet });
    return true;
  }

  /** Next (+1) or previous (-1) thread from the active one, wrapping around. */
  step(direction) {
    const ids = this.visibleIds();
    if (!ids.length) {
      announce('No threads on this file');
      return;
    }
    const i = ids.indexOf(this.activeId);
    const next = i < 0 ? (direction > 0 ? 0 : ids.length - 1) : (i + direction + ids.length) % ids.length;
    this.focusThread(ids[next]);
  }

  // ---- focus across re-renders ------------------------------------------------------------------

  rememberFocus() {
    const el = document.activeElement;
    if (!el || !this.root.contains(el)) return null;
    const article = el.closest('article.thread');
    if (!article) return null;
    const order = this.visibleIds();
    // Whether it was in sight: a re-render that moves it (threads sorted anew) keeps it there.
    const box = el.getBoundingClientRect();
    const panel = this.root.getBoundingClientRect();
    const inSight = box.bottom > panel.top && box.top < panel.bottom;
    return { el, id: article.dataset.id, key: el.dataset.focus ?? null, index: order.indexOf(article.dataset.id), inSight };
  }

  restoreFocus(focused) {
    if (!focused) return;
    let target = null;
    if (focused.el.isConnected && !focused.el.closest('[hidden]')) {
      target = focused.el;
    } else {
      const view = this.views.get(focused.id);
      if (view && !view.article.closest('[hidden]')) {
        target = (focused.key && view.article.querySelector(`[data-focus="${CSS.escape(focused.key)}"]`)) || view.article;
      }
    }
    if (!target) {
      this.focusNear(focused.index);
      return;
    }
    if (document.activeElement !== target) target.focus({ preventScroll: true });
    if (focused.inSight) target.scrollIntoView({ block: 'nearest' });
  }

  /** Focus for when the thread that had it is gone: the one now at its place, else the heading. */
  focusNear(index) {
    const ids = this.visibleIds();
    const id = ids[Math.min(Math.max(index, 0), ids.length - 1)];
    if (id !== undefined) this.focusThread(id);
    else this.heading.focus();
  }

  // ---- actions ----------------------------------------------------------------------------------

  async resolve(t) {
    const ids = this.visibleIds();
    const i = ids.indexOf(t.id);
    // The next open thread after it, else the one before it.
    const candidates = [...ids.slice(i + 1), ...ids.slice(0, Math.max(i, 0)).reverse()];
    await this.calls.updateComment(t.id, { resolved: true });
    await this.reload();
    announce('Thread resolved');
    const next = candidates.find((id) => {
      const v = this.views.get(id);
      return v && !v.thread.comment.resolved && !v.article.closest('[hidden]');
    });
    if (next) this.focusThread(next);
    else if (!this.groups.resolved.section.hidden) this.resolvedToggle.focus();
    else this.heading.focus();
  }

  async reopen(t) {
    const index = this.visibleIds().indexOf(t.id);
    await this.calls.updateComment(t.id, { resolved: false });
    await this.reload();
    announce('Thread reopened');
    if (!this.focusThread(t.id)) this.focusNear(index);
  }

  async remove(t) {
    const index = this.visibleIds().indexOf(t.id);
    const replies = t.comment.replies?.length ?? 0;
    const deleted = await confirmAction({
      title: 'Delete this thread?',
      body: [h('p', { text: replies
        ? `The comment and its ${replies === 1 ? 'reply' : `${replies} replies`} will be deleted for everyone.`
        : 'The comment will be deleted for everyone.' })],
      confirmLabel: 'Delete thread',
      action: async () => {
        await this.calls.deleteComment(t.id);
      },
      fallbackFocus: () => this.heading,
    });
    if (!deleted) return;
    // The person's own deletion: what they were writing in it goes with it, as they confirmed.
    this.deleting = t.id;
    await this.reload();
    this.deleting = null;
    announce('Thread deleted');
    this.focusNear(index);
  }

  async save(t, content) {
    await this.calls.updateComment(t.id, { content });
    await this.reload();
    announce('Comment saved');
  }

  async reply(t, content) {
    await this.calls.createReply(t.id, content);
    await this.reload();
    announce('Reply added');
  }

  async saveReply(t, replyId, content) {
    await this.calls.updateReply(replyId, content);
    await this.reload();
    announce('Reply saved');
  }

  async removeReply(t, r) {
    const deleted = await confirmAction({
      title: 'Delete this reply?',
      body: [h('p', { text: 'The reply will be deleted for everyone.' })],
      confirmLabel: 'Delete reply',
      action: () => this.calls.deleteReply(r.id),
      fallbackFocus: () => this.views.get(t.id)?.article ?? this.heading,
    });
    if (!deleted) return;
    await this.reload();
    announce('Reply deleted');
    this.views.get(t.id)?.focus();
  }
}

/**
 * The sidebar's `on` handlers of a page built like the review page: the active thread is
 * highlighted as such and, when asked, scrolled to in the frame; "Show in document" also closes
 * the comments drawer on a narrow screen.
 * @param setActive   (id) → records the active thread
 * @param sendAnchors () → tells the frame what to highlight
 * @param anchors     the page's Anchors
 * @param parts       the page's parts ({frame, layout}, read when a handler runs)
 */
export function threadFocus({ setActive, sendAnchors, anchors, parts }) {
  return {
    active: (id, { scroll }) => {
      setActive(id);
      sendAnchors();
      const placed = anchors.placement(id).status;
      if (scroll && (placed === 'exact' || placed === 'fuzzy')) parts.frame.focusAnchor(id);
    },
    show: (id) => {
      setActive(id);
      sendAnchors();
      // Where the comments cover the artifact, they close and the focus goes to the artifact, now
      // showing the passage with the caret at its start (not to the Comments button: the person
      // asked to be in the document).
      const into = parts.layout.isDrawer('sidebar');
      parts.frame.focusAnchor(id, { caret: into });
      if (into) {
        parts.layout.close('sidebar', false);
        parts.frame.iframe.focus();
      }
    },
    changed: () => sendAnchors(),
  };
}

/**
 * A thread deleted by someone else under a reply or an edit being written: the writer is told, and
 * gets the text back to copy (it has nowhere left to go).
 */
function keepDeletedDraft(thread, text) {
  const passage = quoteOf(thread.comment.target);
  const quote = passage && passage.length > 60 ? `${passage.slice(0, 59)}…` : passage;
  const kept = h('textarea', { class: 'kept-draft', rows: 4, attrs: { readonly: true, 'aria-label': 'Your text' } });
  kept.value = text;
  confirmAction({
    title: 'The thread you were writing in was deleted',
    body: [
      h('p', { text: `Someone deleted the thread${quote ? ` on “${quote}”` : ''} while you were writing in it. Your text was not posted; here it is, to copy.` }),
      kept,
    ],
    confirmLabel: 'Copy text',
    danger: false,
    action: async () => {
      try {
        await navigator.clipboard.writeText(text);
      } catch {
        kept.select();
        throw new Error('The text could not be copied for you: it is selected, press Ctrl+C (⌘C on a Mac).');
      }
    },
  });
}

/** A thread resolved under a reply being written: the Resolved threads open, and the writer is told. */
function keepInView(sidebar, thread) {
  if (!sidebar.showResolved) {
    sidebar.showResolvedThreads();
    // Once this render is done: the frame draws the resolved threads' passages too.
    queueMicrotask(() => sidebar.on.changed());
  }
  const by = thread.comment.resolvedBy;
  const who = by ? `${by.name}${by.kind === 'agent' ? ' (agent)' : ''}` : 'Someone';
  announce(`${who} resolved the thread you are writing in; it is under Resolved, and your text is kept.`);
}
