// The "Comment" button that appears next to a passage selected in the artifact (or, for a
// selection that is too long, a note saying so). It floats over the frame, placed through CSSOM
// (no inline styles under the page's CSP), and names the passage it is for.

import { $ } from '../dom.js';

/** The start of a quote for a label: whole words, at most about 60 characters. */
export function shortQuote(text) {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= 60) return flat;
  const cut = flat.slice(0, 60);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), 40))}…`;
}

export class SelectionButton {
  /**
   * @param float   the floating container
   * @param button  the "Comment" button inside it
   * @param note    the note shown instead of the button
   * @param stage   the frame's area, which the float stays within
   * @param status  a polite live region: says, when the button appears, how to reach it
   */
  constructor({ float, button, note, stage, status = null }) {
    this.float = float;
    this.button = button;
    this.note = note;
    this.stage = stage;
    this.status = status;
  }

  /** The button for a passage: visible text "Comment", accessible name with the passage. */
  showFor(exact, rect) {
    this.button.setAttribute('aria-label', `Comment on “${shortQuote(exact)}”`);
    // Said once as it appears (not again while the selection grows): it floats over the artifact,
    // where someone selecting with the keyboard would not find it.
    if (this.status && (this.float.hidden || this.button.hidden)) this.status.textContent = 'Press Alt+C to comment on the selected passage.';
    this.place(rect, null);
  }

  /** The button again, for the passage it last named (still selected in the frame). */
  showAgain(rect) {
    this.place(rect, null);
  }

  /** A note instead of the button (a selection that cannot be quoted). */
  showNote(text, rect) {
    this.place(rect, text);
  }

  hide() {
    this.float.hidden = true;
    if (this.status) this.status.textContent = '';
  }

  /** Places the float just under `rect` (above it when there is no room), inside the stage. */
  place(rect, note) {
    this.button.hidden = note !== null;
    this.note.hidden = note === null;
    this.note.textContent = note ?? '';
    this.float.hidden = false;
    const stage = this.stage.getBoundingClientRect();
    const box = this.float.getBoundingClientRect();
    const margin = 8;
    let left = rect.x + rect.width / 2 - box.width / 2;
    left = Math.min(Math.max(left, stage.left + margin), stage.right - box.width - margin);
    let top = rect.y + rect.height + margin;
    if (top + box.height > stage.bottom - margin) top = rect.y - box.height - margin;
    top = Math.min(Math.max(top, stage.top + margin), stage.bottom - box.height - margin);
    this.float.style.left = `${Math.round(left)}px`;
    this.float.style.top = `${Math.round(top)}px`;
  }
}

/** The Comment button of a page built like the review page (the same ids). */
export function pageSelectionButton() {
  return new SelectionButton({
    float: $('#selection-float'), button: $('#comment-selection'), note: $('#selection-note'), stage: $('#stage'), status: $('#selection-status'),
  });
}
