// Modal dialogs (<dialog> + showModal): opening with focus inside, closing with focus restored,
// a confirmation that runs an action, and the one-time secret dialog that forgets its secret.

import { $, setChildren, setBusy, isBusy, relocator, dialogStatusRegion } from './dom.js';
import { setFormError } from './forms.js';

// Every [data-close] button closes its dialog.
document.addEventListener('click', (event) => {
  const closer = event.target.closest('[data-close]');
  if (closer) closer.closest('dialog')?.close();
});

/**
 * Opens a dialog as a modal. Focus goes to `focus` (or the dialog's first field); when the dialog
 * closes, focus returns to the element that opened it, or to `fallbackFocus()` if that is gone.
 * `onClose` runs once when it closes, however it is closed (button, Escape, code).
 */
export function openModal(dialog, { focus = null, fallbackFocus = null, onClose = null } = {}) {
  // The opener, or its twin when the list it was in is redrawn before the dialog's 'close' event
  // runs (a save redraws the list; the two tasks come in either order).
  const opener = relocator(document.activeElement);
  dialog.addEventListener(
    'close',
    () => {
      onClose?.();
      // The 'close' event comes after the fact; if another dialog opened meanwhile, it keeps the focus.
      if (document.querySelector('dialog[open]')) return;
      const again = opener();
      const target = again && !again.closest('[hidden]') && !again.disabled ? again : fallbackFocus?.();
      target?.focus();
    },
    { once: true },
  );
  // Its live region, there before anything is said through it (see `announce`).
  dialogStatusRegion(dialog);
  dialog.showModal();
  const first = focus ?? dialog.querySelector('input:not([type=hidden]):not([hidden]), select, textarea');
  first?.focus();
}

const confirmDialog = () => $('#confirm-dialog');

/**
 * Asks for confirmation. `body` is a list of nodes/strings. When confirmed, `action()` runs with
 * the dialog still open; if it throws, its message is shown in the dialog and the dialog stays.
 * Resolves to true when the action succeeded, false when the person cancelled.
 */
export function confirmAction({ title, body, confirmLabel, action, danger = true, fallbackFocus = null }) {
  const dialog = confirmDialog();
  const ok = $('#confirm-ok', dialog);
  const errorEl = dialog.querySelector('.form-error');
  $('#confirm-title', dialog).textContent = title;
  setChildren($('#confirm-body', dialog), ...body);
  ok.textContent = confirmLabel;
  ok.className = `button ${danger ? 'danger' : 'primary'}`;
  errorEl.textContent = '';
  errorEl.hidden = true;

  return new Promise((resolve) => {
    let done = false;
    const onOk = async () => {
      if (isBusy(ok)) return;
      setBusy(ok, true);
      try {
        await action();
        done = true;
        dialog.close();
      } catch (err) {
        errorEl.textContent = err?.message ?? String(err);
        errorEl.hidden = false;
      } finally {
        setBusy(ok, false);
      }
    };
    ok.addEventListener('click', onOk);
    openModal(dialog, {
      // The safe choice has the focus, so Enter does not revoke or delete by accident.
      focus: dialog.querySelector('[data-close]'),
      fallbackFocus,
      onClose: () => {
        ok.removeEventListener('click', onOk);
        setChildren($('#confirm-body', dialog));
        resolve(done);
      },
    });
  });
}

/** Opens a dialog that holds a form, with its errors cleared. */
export function openFormDialog(dialog, options = {}) {
  const form = dialog.querySelector('form');
  if (form) setFormError(form, '');
  openModal(dialog, options);
}

// ---- the one-time secret ----------------------------------------------------------------------

const secretDialog = () => $('#secret-dialog');

function setStatus(text) {
  $('#secret-status').textContent = text;
}

function selectSecret() {
  const range = document.createRange();
  range.selectNodeContents($('#secret-value'));
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

/** Copies the shown secret; resolves to whether it reached the clipboard. */
async function copySecret() {
  // The secret is read from the dialog at the moment of copying; nothing else holds it.
  const text = $('#secret-value').textContent;
  if (!text) return false;
  try {
    if (!navigator.clipboard?.writeText) throw new Error('no clipboard API here (an http:// page that is not localhost)');
    await navigator.clipboard.writeText(text);
    setStatus('Copied to the clipboard.');
    return true;
  } catch {
    // Fallback: select the text so that Ctrl+C / ⌘C copies it; try the legacy copy command too.
    selectSecret();
    let copied = false;
    try {
      copied = document.execCommand('copy');
    } catch {
      copied = false;
    }
    setStatus(copied ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C (⌘C on a Mac) to copy it.');
    return copied;
  }
}

/** Whether a click on a modal dialog landed outside its box (on the backdrop). */
function outside(dialog, event) {
  if (event.target !== dialog) return false;
  const r = dialog.getBoundingClientRect();
  return event.clientX < r.left || event.clientX > r.right || event.clientY < r.top || event.clientY > r.bottom;
}

/**
 * Shows a secret once (a new API key, an invite or password-reset link). `what` names it in the
 * question asked when the dialog is closed (Done, Escape, a click outside) before the Copy button
 * put it on the clipboard: "Did you copy the key?", asked once; a second attempt closes. Closing
 * removes the secret from the page: the dialog's text is emptied and the selection cleared; this
 * module keeps no copy.
 */
export function showSecretOnce({ title, label, warning, secret, what = 'key', fallbackFocus = null, onClose = null }) {
  const dialog = secretDialog();
  const check = $('#secret-check', dialog);
  const actions = $('#secret-actions', dialog);
  $('#secret-title', dialog).textContent = title;
  $('#secret-label', dialog).textContent = label;
  $('#secret-warning', dialog).textContent = warning;
  $('#secret-value', dialog).textContent = secret;
  $('#secret-check-text', dialog).textContent = `Did you copy the ${what}? Once this closes, it is gone for good.`;
  check.hidden = true;
  actions.hidden = false;
  setStatus('');
  let copied = false;
  let asked = false;
  // Forget the secret the moment the dialog starts closing, not only when the asynchronous
  // 'close' event arrives: a closed dialog must not hold it even for a moment.
  const forget = () => {
    $('#secret-value', dialog).textContent = '';
    setStatus('');
    window.getSelection()?.removeAllRanges();
  };
  const close = () => {
    forget();
    dialog.close();
  };
  const ask = () => {
    asked = true;
    actions.hidden = true;
    check.hidden = false;
    $('#secret-back', dialog).focus();
  };
  /** A close attempt: asks first, once, unless the key is known to be on the clipboard. */
  const attempt = (event) => {
    if (copied || asked) {
      if (event?.type !== 'cancel') close();
      else forget();
      return;
    }
    if (event?.type === 'cancel') {
      // Browsers let a page keep a dialog open on Escape only once per user action.
      if (!event.cancelable) return forget();
      event.preventDefault();
    }
    ask();
  };
  const handlers = {
    '#secret-copy': async () => {
      if (await copySecret()) copied = true;
    },
    '#secret-done': () => attempt(null),
    '#secret-close': close,
    '#secret-back': () => {
      check.hidden = true;
      actions.hidden = false;
      $('#secret-copy', dialog).focus();
    },
  };
  const onClick = (event) => {
    if (outside(dialog, event)) return attempt(event);
    const button = event.target.closest('button');
    const handler = button && Object.entries(handlers).find(([sel]) => button.matches(sel))?.[1];
    handler?.();
  };
  dialog.addEventListener('click', onClick);
  dialog.addEventListener('cancel', attempt);
  openModal(dialog, {
    focus: $('#secret-copy', dialog),
    fallbackFocus,
    onClose: () => {
      forget();
      check.hidden = true;
      actions.hidden = false;
      dialog.removeEventListener('click', onClick);
      dialog.removeEventListener('cancel', attempt);
      onClose?.();
    },
  });
}
