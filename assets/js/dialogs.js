// Modal dialogs (<dialog> + showModal): opening with focus inside, closing with focus restored,
// a confirmation that runs an action, and the one-time secret dialog that forgets its secret.

import { $, setChildren } from './dom.js';
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
  const opener = document.activeElement;
  dialog.addEventListener(
    'close',
    () => {
      onClose?.();
      // The 'close' event comes after the fact; if another dialog opened meanwhile, it keeps the focus.
      if (document.querySelector('dialog[open]')) return;
      const target = opener && opener.isConnected && !opener.closest('[hidden]') && !opener.disabled ? opener : fallbackFocus?.();
      target?.focus();
    },
    { once: true },
  );
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
      ok.disabled = true;
      try {
        await action();
        done = true;
        dialog.close();
      } catch (err) {
        errorEl.textContent = err?.message ?? String(err);
        errorEl.hidden = false;
      } finally {
        ok.disabled = false;
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

async function copySecret() {
  // The secret is read from the dialog at the moment of copying; nothing else holds it.
  const text = $('#secret-value').textContent;
  if (!text) return;
  try {
    if (!navigator.clipboard?.writeText) throw new Error('no clipboard API here (an http:// page that is not localhost)');
    await navigator.clipboard.writeText(text);
    setStatus('Copied to the clipboard.');
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
  }
}

// Pages without the one-time secret dialog (the review page) use the other dialogs only.
$('#secret-copy')?.addEventListener('click', copySecret);

/**
 * Shows a secret once (a new API key, an invite link). Closing the dialog removes the secret from
 * the page: the dialog's text is emptied and the selection cleared; this module keeps no copy.
 */
export function showSecretOnce({ title, label, warning, secret, fallbackFocus = null, onClose = null }) {
  const dialog = secretDialog();
  $('#secret-title', dialog).textContent = title;
  $('#secret-label', dialog).textContent = label;
  $('#secret-warning', dialog).textContent = warning;
  $('#secret-value', dialog).textContent = secret;
  setStatus('');
  // Forget the secret the moment the dialog starts closing (Done, Escape), not only when the
  // asynchronous 'close' event arrives: a closed dialog must not hold it even for a moment.
  const done = $('[data-close]', dialog);
  const forget = () => {
    $('#secret-value', dialog).textContent = '';
    setStatus('');
    window.getSelection()?.removeAllRanges();
  };
  done.addEventListener('click', forget);
  dialog.addEventListener('cancel', forget);
  openModal(dialog, {
    focus: $('#secret-copy', dialog),
    fallbackFocus,
    onClose: () => {
      forget();
      done.removeEventListener('click', forget);
      dialog.removeEventListener('cancel', forget);
      onClose?.();
    },
  });
}
