// One thread of the sidebar as an <article>: the quoted passage, the comment with its author (an
// agent carries a visible "Agent" label and its role) and time, its replies, and the actions the
// API allows this person: reply, resolve or reopen, edit (the author), delete (the author or the
// artifact's owner), and "Show in document". Every text goes in as text (h(), textContent), with
// its line breaks kept by CSS; nothing a person or agent wrote is ever parsed as HTML.
//
// A thread is rebuilt when its data changes (a live update), but the reply being typed and an
// open edit are kept: they are elements of their own that survive the rebuild.

import { h, setChildren, agoEl, authorEl, badge } from '../dom.js';
import { handleForm, resetForm, valueOf } from '../forms.js';
import { quoteOf } from './threads.js';
import { submitOnCtrlEnter } from './composer.js';
import { confirmAction } from '../dialogs.js';

let uid = 0;

// A text longer than this (characters, or lines) is shown folded, with "Show more": a comment may
// be 10,000 characters, and one such thread would push every other out of reach.
const LONG_CHARS = 700;
const LONG_LINES = 10;

const isLong = (text) => text.length > LONG_CHARS || text.split('\n').length > LONG_LINES;

// Whether a mouse button or finger is down: a form that loses the focus to a press waits for the
// release before it folds its buttons away.
let pressed = false;
document.addEventListener('pointerdown', () => { pressed = true; }, true);
for (const type of ['pointerup', 'pointercancel']) document.addEventListener(type, () => { pressed = false; }, true);

/**
 * Shows the form's buttons while it has the focus (`is-open`), and folds them away when the focus
 * leaves: at once for the keyboard, but after a press is released when the focus left for a
 * press, so that the layout below does not move between the press and its release (the thread
 * under the pointer moved up, and the click landed on something else: a first click on Edit or
 * Resolve in the next thread did nothing).
 */
function foldWhenLeft(form) {
  const fold = () => {
    if (!form.contains(document.activeElement)) form.classList.remove('is-open');
  };
  form.addEventListener('focusin', () => form.classList.add('is-open'));
  form.addEventListener('focusout', (event) => {
    // Tab from the text to its own buttons: the focus stays in the form (during `focusout` it has
    // not arrived yet, so folding now would hide the very button it goes to).
    if (event.relatedTarget instanceof Node && form.contains(event.relatedTarget)) return;
    if (!pressed) {
      queueMicrotask(fold);
      return;
    }
    // The click that follows the release comes in the same task: fold after it.
    const released = () => {
      document.removeEventListener('pointerup', released, true);
      document.removeEventListener('pointercancel', released, true);
      setTimeout(fold);
    };
    document.addEventListener('pointerup', released, true);
    document.addEventListener('pointercancel', released, true);
  });
}

/** A small form with one textarea (a reply, or an edit), submitted with its button or Ctrl/Cmd+Enter. */
function textForm({ label, submitLabel, value = '', rows = 1, maxChars, onSubmit, onCancel = null, focusKey }) {
  const id = `tf-${++uid}`;
  const textarea = h('textarea', {
    id, name: 'content', rows, required: true,
    attrs: { 'aria-describedby': `${id}-hint` },
    data: { focus: focusKey, maxChars },
  });
  textarea.value = value;
  // What it held when opened: an edit left as it was is nothing unsent (see unsentTexts).
  textarea.defaultValue = value;
  submitOnCtrlEnter(textarea);
  const buttons = [h('button', { type: 'submit', class: 'button small primary', text: submitLabel, data: { focus: `${focusKey}-submit` } })];
  if (onCancel) {
    buttons.unshift(h('button', { type: 'button', class: 'button small', text: 'Cancel', on: { click: onCancel } }));
  }
  const form = h('form', { class: 'text-form', attrs: { novalidate: true } },
    h('div', { class: 'field' },
      h('label', { class: 'visually-hidden', attrs: { for: id }, text: label }),
      textarea,
      h('p', { class: 'visually-hidden', id: `${id}-hint`, text: 'Ctrl+Enter to send' + (onCancel ? ', Escape to cancel.' : '.') })),
    h('p', { class: 'form-error', attrs: { role: 'alert' }, hidden: true }),
    h('div', { class: 'text-form-actions' }, buttons));
  if (onCancel) {
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !event.isComposing) {
        event.preventDefault();
        event.stopPropagation();
        onCancel();
      }
    });
  }
  handleForm(form, () => onSubmit(valueOf(form, 'content'), form));
  foldWhenLeft(form);
  return { form, textarea };
}

/** " · via share link" for what a signed-in person wrote through the artifact's share link. */
function viaLinkMark(item) {
  if (!item.viaShareLink) return null;
  return h('span', { class: 'via-link-mark', title: 'Written through the artifact\u2019s share link' }, ' · via share link');
}

/** " · edited 2 minutes ago" after a time, for text its author changed since; nothing otherwise. */
function editedMark(editedAt) {
  if (editedAt === null || editedAt === undefined) return null;
  return h('span', { class: 'edited-mark' }, ' · edited ', agoEl(editedAt));
}

export class ThreadView {
  /**
   * @param thread the ThreadSet item
   * @param ctx    {meId, isOwner(), can: {reply, resolve, edit}, actions: {resolve, reopen, remove,
   *               save, reply, saveReply, removeReply, show}}
   */
  constructor(thread, ctx) {
    this.ctx = ctx;
    this.thread = thread;
    this.signature = null;
    /** The long texts unfolded ("Show more"), by key, kept across rebuilds. */
    this.unfolded = new Set();
    this.editing = null; // null | {kind: 'comment'} | {kind: 'reply', id}
    this.editForm = null;
    const headId = `thread-${thread.id}-head`;
    this.article = h('article', {
      class: 'thread', tabIndex: -1,
      data: { id: thread.id },
      attrs: { 'aria-labelledby': headId },
    });
    this.headId = headId;
    /** What the thread is about, said before its header and describing its controls. */
    this.topicId = `thread-${thread.id}-topic`;
    this.body = h('div', { class: 'thread-body' });
    this.errorEl = h('p', { class: 'form-error', attrs: { role: 'alert' }, hidden: true });
    const reply = textForm({
      label: 'Reply',
      submitLabel: 'Reply',
      maxChars: 5000,
      focusKey: 'reply',
      onSubmit: async (content, form) => {
        await ctx.actions.reply(this.thread, content);
        resetForm(form);
        reply.textarea.value = '';
      },
    });
    this.replyForm = reply.form;
    this.replyTextarea = reply.textarea;
    this.replyTextarea.placeholder = 'Reply…';
    this.replyTextarea.setAttribute('aria-describedby', this.topicId);
    this.replyForm.hidden = !ctx.can.reply;
    this.article.append(this.body, this.errorEl, this.replyForm);
  }

  get id() {
    return this.thread.id;
  }

  /** Whether the reader may change the comment or reply `item`: their own, and on a share
   *  link's page (`can.linkOnly`) only what they wrote through the link. */
  canEdit(item) {
    const { author } = item;
    return this.ctx.can.edit && author?.kind === 'user' && author.id === this.ctx.meId
      && (!this.ctx.can.linkOnly || item.viaShareLink === true);
  }

  canDelete(item) {
    return this.ctx.can.edit && (this.canEdit(item) || this.ctx.isOwner());
  }

  /** Rebuilds the thread if anything shown changed. */
  /** Whether a reply or an edit is being written here (text typed and not posted). */
  get hasDraft() {
    return this.replyTextarea.value.trim() !== '' || this.editing !== null;
  }

  /** The text being written here and not posted (a reply, or an edit), or '' when none. */
  get draftText() {
    const edit = this.editForm?.querySelector('textarea')?.value.trim() ?? '';
    return edit || this.replyTextarea.value.trim();
  }

  update(thread, placement) {
    this.thread = thread;
    // Only what changes the look counts: a thread being located looks like a placed one (its
    // "Show in document" simply does nothing until it is placed), so the first placement of
    // hundreds of threads does not rebuild them all.
    const look = placement.status === 'pending' ? 'exact' : placement.status;
    const signature = JSON.stringify([thread.comment, thread.own, thread.missingFile, look, this.editing]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.placement = placement;
    this.render();
  }

  showError(message) {
    this.errorEl.textContent = message ?? '';
    this.errorEl.hidden = !message;
  }

  render() {
    const { comment } = this.thread;
    const c = comment;
    const quote = quoteOf(c.target);
    const status = this.placement.status;
    const flags = [];
    if (!this.thread.own) flags.push(badge(`from v${this.thread.fromVersion}`, 'version'));
    if (c.resolved) flags.push(badge('Resolved', 'resolved'));
    if (status === 'fuzzy' && !c.resolved) {
      const b = badge('changed', 'fuzzy');
      b.title = 'The passage was found with small differences';
      flags.push(b);
    }
    const head = h('header', { class: 'thread-head', id: this.headId },
      h('span', { class: 'visually-hidden', id: this.topicId, text: `${this.topic(quote)}: ` }),
      authorEl(c.author),
      h('span', { class: 'visually-hidden', text: ', ' }),
      h('span', { class: 'thread-time' }, agoEl(c.createdAt), viaLinkMark(c), editedMark(c.editedAt)),
      flags.length ? h('span', { class: 'thread-flags' }, flags) : null);

    let target;
    if (this.thread.missingFile) {
      target = h('p', { class: 'thread-where muted', text: `On ${this.thread.missingFile}, which is not in this version.` });
    } else if (this.thread.fileLevel) {
      target = h('p', { class: 'thread-where muted', text: 'On the whole file' });
    } else if (quote === null) {
      target = h('p', { class: 'thread-where muted', text: 'On an element of the page' });
    }
    const quoteEl = quote === null ? null : h('blockquote', { class: 'thread-quote' }, h('span', { class: 'quote-text', text: quote }));

    const text = this.editing?.kind === 'comment'
      ? this.editFormFor('comment', c.content)
      : this.textOf('comment', c.content);

    const resolvedNote = c.resolved
      ? h('p', { class: 'thread-note muted' },
          'Resolved', c.resolvedBy ? ` by ${c.resolvedBy.name}${c.resolvedBy.kind === 'agent' ? ' (agent)' : ''}` : '',
          c.resolvedAt ? h('span', {}, ' ', agoEl(c.resolvedAt)) : null)
      : null;

    const replies = c.replies?.length
      ? h('ol', { class: 'replies', attrs: { 'aria-label': `${c.replies.length} ${c.replies.length === 1 ? 'reply' : 'replies'}` } },
          c.replies.map((r) => this.replyItem(r)))
      : null;

    const actions = [];
    // Nothing to show where the passage was not found, or its file is not in this version.
    const placed = status !== 'orphan' && !this.thread.missingFile;
    if (placed && !this.thread.fileLevel) {
      actions.push(this.button('Show in document', 'show', () => this.ctx.actions.show(this.thread)));
    }
    if (this.ctx.can.resolve) {
      actions.push(c.resolved
        ? this.button('Reopen', 'reopen', () => this.run(() => this.ctx.actions.reopen(this.thread)))
        : this.button('Resolve', 'resolve', () => this.run(() => this.ctx.actions.resolve(this.thread))));
    }
    if (this.canEdit(c) && !this.editing) {
      actions.push(this.button('Edit', 'edit', () => this.startEdit({ kind: 'comment' }), 'Edit your comment'));
    }
    if (this.canDelete(c)) {
      actions.push(this.button('Delete', 'delete', () => this.run(() => this.ctx.actions.remove(this.thread)), 'Delete this thread', 'subtle danger-text'));
    }

    this.article.classList.toggle('is-resolved', c.resolved);
    this.article.dataset.state = c.resolved ? 'resolved' : 'open';
    setChildren(this.body, head, target, quoteEl, text, resolvedNote, replies,
      h('div', { class: 'thread-actions' }, actions));
  }

  /**
   * A comment's or reply's text; a long one folded, with a "Show more" button that unfolds it (and
   * stays unfolded across rebuilds of the thread). `key` names the text within the thread.
   */
  textOf(key, content) {
    const p = h('p', { class: 'comment-text', text: content });
    if (!isLong(content)) return p;
    p.id = `thread-${this.thread.id}-${key}-text`;
    const toggle = h('button', {
      type: 'button', class: 'button small subtle text-toggle',
      data: { focus: `${key}-more` },
      attrs: { 'aria-controls': p.id },
    });
    const show = (open) => {
      p.classList.toggle('is-folded', !open);
      toggle.textContent = open ? 'Show less' : 'Show more';
      toggle.setAttribute('aria-expanded', String(open));
    };
    show(this.unfolded.has(key));
    toggle.addEventListener('click', () => {
      const open = !this.unfolded.has(key);
      if (open) this.unfolded.add(key);
      else this.unfolded.delete(key);
      show(open);
    });
    return h('div', { class: 'long-text' }, p, toggle);
  }

  button(text, focusKey, onClick, label = null, kind = 'subtle') {
    return h('button', {
      type: 'button', class: `button small ${kind}`, text,
      data: { focus: focusKey },
      // Every thread has the same buttons: each says which thread it acts on.
      attrs: { 'aria-label': label, 'aria-describedby': this.topicId },
      on: { click: onClick },
    });
  }

  /** "Thread on “the passage…”, resolved": how a screen reader tells this thread from the others. */
  topic(quote) {
    const c = this.thread.comment;
    let on;
    if (this.thread.missingFile) on = `on ${this.thread.missingFile}`;
    else if (this.thread.fileLevel) on = 'on the whole file';
    else if (quote === null) on = 'on an element of the page';
    else {
      const one = quote.replace(/\s+/g, ' ').trim();
      on = `on \u201c${one.length > 60 ? `${one.slice(0, 59)}\u2026` : one}\u201d`;
    }
    return `Thread ${on}${c.resolved ? ', resolved' : ''}`;
  }

  replyItem(r) {
    const editing = this.editing?.kind === 'reply' && this.editing.id === r.id;
    const tools = [];
    if (this.canEdit(r) && !this.editing) {
      tools.push(this.button('Edit', `edit-reply-${r.id}`, () => this.startEdit({ kind: 'reply', id: r.id }), 'Edit your reply'));
    }
    if (this.canDelete(r)) {
      tools.push(this.button('Delete', `delete-reply-${r.id}`, () => this.run(() => this.ctx.actions.removeReply(this.thread, r)), 'Delete this reply', 'subtle danger-text'));
    }
    return h('li', { class: 'reply', data: { replyId: r.id } },
      h('div', { class: 'reply-head' },
        authorEl(r.author),
        h('span', { class: 'visually-hidden', text: ', ' }),
        h('span', { class: 'thread-time' }, agoEl(r.createdAt), viaLinkMark(r), editedMark(r.editedAt))),
      editing ? this.editFormFor('reply', r.content) : this.textOf(`reply-${r.id}`, r.content),
      tools.length ? h('div', { class: 'reply-actions' }, tools) : null);
  }

  /** The edit form, kept across rebuilds while it is open. */
  editFormFor(kind, content) {
    if (this.editForm) return this.editForm;
    const { form, textarea } = textForm({
      label: kind === 'comment' ? 'Edit your comment' : 'Edit your reply',
      submitLabel: 'Save',
      value: content,
      rows: 3,
      maxChars: kind === 'comment' ? 10000 : 5000,
      focusKey: 'edit-text',
      onSubmit: async (text) => {
        const editing = this.editing;
        if (editing.kind === 'comment') await this.ctx.actions.save(this.thread, text);
        else await this.ctx.actions.saveReply(this.thread, editing.id, text);
        this.endEdit(editing);
      },
      // Escape or Cancel with the text changed asks first, as a new comment does.
      onCancel: async () => {
        const editing = this.editing;
        if (textarea.value.trim() !== content.trim()) {
          const discard = await confirmAction({
            title: 'Discard your changes?',
            body: [h('p', { text: `Your changes to this ${kind} are not saved.` })],
            confirmLabel: 'Discard changes',
            action: () => {},
            fallbackFocus: () => textarea,
          });
          if (!discard) return;
        }
        this.endEdit(editing);
      },
    });
    this.editForm = form;
    queueMicrotask(() => textarea.focus());
    return form;
  }

  startEdit(editing) {
    this.editing = editing;
    this.editForm = null;
    this.signature = null;
    this.update(this.thread, this.placement);
  }

  /** Leaves the edit; focus goes back to the Edit button of what was edited. */
  endEdit(editing) {
    this.editing = null;
    this.editForm = null;
    this.signature = null;
    this.update(this.thread, this.placement);
    const key = editing?.kind === 'reply' ? `edit-reply-${editing.id}` : 'edit';
    (this.article.querySelector(`[data-focus="${key}"]`) ?? this.article).focus();
  }

  /** Runs an action of a button; a failure is shown in the thread. */
  async run(action) {
    this.showError(null);
    try {
      await action();
    } catch (err) {
      if (err?.status === 401) return; // the page says "signed out" itself
      this.showError(err?.message ?? String(err));
    }
  }

  /** Focuses the thread itself (its article), scrolling it into view. */
  focus() {
    this.article.focus();
    this.article.scrollIntoView({ block: 'nearest' });
  }
}
