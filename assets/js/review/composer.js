// The composer of a new comment: on a passage selected in the artifact (its quote shown) or on the
// whole file. The text is typed here, in the page, never in the frame; a comment is created only
// when a person submits this form. Ctrl/Cmd+Enter submits; Escape cancels and returns focus to
// where the person was.

import { h, setChildren } from '../dom.js';
import { handleForm, resetForm, valueOf } from '../forms.js';

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
   */
  constructor({ form, submit, fallbackFocus, onChange, onCancel = null }) {
    this.form = form;
    this.textarea = form.elements.content;
    this.title = form.querySelector('.composer-title');
    this.quoteEl = form.querySelector('.composer-quote');
    this.fallbackFocus = fallbackFocus;
    this.onChange = onChange;
    this.onCancel = onCancel;
    this.target = null;
    this.opener = null;
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
      this.close();
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
    if (!this.isOpen) {
      const active = document.activeElement;
      this.opener = active && active !== document.body ? active : null;
      const keep = this.textarea.value;
      resetForm(this.form);
      this.textarea.value = keep;
    }
    this.target = target;
    setChildren(this.title, quote === null ? `Comment on the whole file ${target.source}` : `Comment on a passage of ${target.source}`);
    this.quoteEl.hidden = quote === null;
    setChildren(this.quoteEl, quote === null ? null : h('span', { class: 'quote-text', text: quote }));
    this.form.hidden = false;
    this.textarea.focus();
    this.onChange();
  }

  /** Closes and forgets the draft. */
  close() {
    this.form.hidden = true;
    this.target = null;
    this.textarea.value = '';
    resetForm(this.form);
    this.onChange();
  }

  cancel() {
    const opener = this.opener;
    this.opener = null;
    this.close();
    const back = opener && opener.isConnected && !opener.closest('[hidden]') ? opener : this.fallbackFocus();
    back?.focus();
    this.onCancel?.();
  }
}
