// The composer of a new comment: on a passage selected in the artifact (its quote shown) or on the
// whole file. The text is typed here, in the page, never in the frame; a comment is created only
// when a person submits this form. Ctrl/Cmd+Enter submits; Escape cancels and returns focus to
// where the person was.

import { h, setChildren, announce } from '../dom.js';
import { handleForm, resetForm, valueOf } from '../forms.js';
import { confirmAction } from '../dialogs.js';

/** The selectors stored for a passage: only the fields the API takes, copied one by one. */
export function passageSelectors(quote, position) {
  const q = { type: 'TextQuoteSelector', exact: quote.exact };
  if (quote.prefix) q.prefix = quote.prefix;
  if (quote.suffix) q.suffix = quote.suffix;
  return [q, { type: 'TextPositionSelector', start: position.start, end: position.end }];
}

/** Submits the form around a textarea on Ctrl/Cmd+Enter. */
export function submitOnCtrlEnter(textarea) {
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      event.preventDefault();
      textarea.form?.requestSubmit();
    }
  });
}

export class Composer {
  /**
   * @param form       the composer's <form>
   * @param submit     async ({target, content}) → the new comment's id
   * @param fallbackFocus () → where focus goes on cancel when its opener is gone
   * @param onChange   () → the draft changed (opened, closed, other passage): re-send anchors
   * @param onCancel   () → the person cancelled (the passage may still be selected)
   * @param posted     (id) → the comment was made and the composer closed: show it
   */
  constructor({ form, submit, fallbackFocus, onChange, onCancel = null, posted = null }) {
    this.form = form;
    this.textarea = form.elements.content;
    this.title = form.querySelector('.composer-title');
    this.quoteEl = form.querySelector('.composer-quote');
    this.fallbackFocus = fallbackFocus;
    this.onChange = onChange;
    this.onCancel = onCancel;
    this.target = null;
    this.opener = null;
    this.quote = null;
    this.movedEl = null;
    form.querySelector('[data-cancel]').addEventListener('click', () => this.cancel());
    submitOnCtrlEnter(this.textarea);
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !event.isComposing) {
        event.preventDefault();
        this.cancel();
      }
    });
    handleForm(form, async () => {
      const target = this.target;
      const id = await submit({ target, content: valueOf(form, 'content') });
      // Closed first: the sidebar's layout settles before the new thread is scrolled to.
      this.close();
      posted?.(id);
      return id;
    });
  }

  get isOpen() {
    return !this.form.hidden;
  }

  /** The draft's selectors while it is on a passage (for its highlight in the frame), else null. */
  get draftSelector() {
    return this.isOpen && this.target?.selector ? this.target.selector : null;
  }

  get source() {
    return this.target?.source ?? null;
  }

  /** Opens (or moves) the draft to a passage; text already typed is kept. */
  openForPassage(source, quote, position) {
    this.open({ source, selector: passageSelectors(quote, position) }, quote.exact);
  }

  openForFile(source) {
    this.open({ source }, null);
  }

  open(target, quote) {
    // Text typed for another passage moves with the draft: said, with a way back.
    const moved =
      this.isOpen && this.hasText && this.target && !sameTarget(this.target, target)
        ? { target: this.target, quote: this.quote }
        : null;
    if (!this.isOpen) {
      const active = document.activeElement;
      this.opener = active && active !== document.body ? active : null;
      const keep = this.textarea.value;
      resetForm(this.form);
      this.textarea.value = keep;
    }
    this.target = target;
    this.quote = quote;
    setChildren(this.title, quote === null ? `Comment on the whole file ${target.source}` : `Comment on a passage of ${target.source}`);
    this.quoteEl.hidden = quote === null;
    setChildren(this.quoteEl, quote === null ? null : h('span', { class: 'quote-text', text: quote }));
    this.showMoved(moved);
    this.form.hidden = false;
    this.textarea.focus();
    this.onChange();
  }

  get hasText() {
    return this.textarea.value.trim() !== '';
  }

  /** Says that the typed text now comments on this passage, and where it was; null clears it. */
  showMoved(from) {
    this.movedEl?.remove();
    this.movedEl = null;
    if (!from) return;
    const where = from.quote === null ? `the whole file ${from.target.source}` : `\u201c${shorten(from.quote)}\u201d`;
    const message = `Your text now comments on this passage; it was on ${where}.`;
    this.movedEl = h(
      'p',
      { class: 'composer-moved' },
      `${message} `,
      h('button', {
        class: 'button small',
        text: 'Move it back',
        attrs: { type: 'button' },
        on: { click: () => this.open(from.target, from.quote) },
      }),
    );
    this.quoteEl.after(this.movedEl);
    announce(message);
  }

  /** Closes and forgets the draft. */
  close() {
    this.form.hidden = true;
    this.target = null;
    this.quote = null;
    this.showMoved(null);
    this.textarea.value = '';
    resetForm(this.form);
    this.onChange();
  }

  /** Cancel or Escape: typed text is discarded only once the person confirms it. */
  async cancel() {
    if (this.hasText) {
      const discard = await confirmAction({
        title: 'Discard this comment?',
        body: [h('p', { text: 'What you wrote has not been posted, and will be lost.' })],
        confirmLabel: 'Discard',
        action: () => {},
        fallbackFocus: () => this.textarea,
      });
      if (!discard) {
        this.textarea.focus();
        return;
      }
    }
    const opener = this.opener;
    this.opener = null;
    this.close();
    // Not back behind a drawer that covers the artifact (inert): the fallback uncovers it first.
    const back = opener && opener.isConnected && !opener.closest('[hidden], [inert]') ? opener : this.fallbackFocus();
    back?.focus();
    this.onCancel?.();
  }
}

function sameTarget(a, b) {
  return a.source === b.source && JSON.stringify(a.selector ?? null) === JSON.stringify(b.selector ?? null);
}

function shorten(text, max = 60) {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}\u2026` : one;
}
