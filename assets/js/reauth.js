// Signing in again in place: when a request of the settings or the artifacts home finds the
// session gone (it expired, or ended elsewhere), a dialog asks for the password of the same
// account, over whatever the person was doing. Once signed in, the request is sent again, so a
// half-filled form is neither lost nor has to be submitted twice. Declining (Escape) leaves the
// page as it is, with the form's error saying why; "Sign out" goes to the sign-in page.

import { api, whenSessionExpired } from './api.js';
import { $ } from './dom.js';
import { handleForm, resetForm } from './forms.js';
import { openModal } from './dialogs.js';

const LEAD = 'Your session ended. Sign in to carry on where you were: nothing you typed is lost.';

/** The person waiting to be signed in again: {resolve, reject} of the shared promise. */
let waiting = null;

function open(email, err) {
  if (waiting) return waiting.promise;
  const dialog = $('#reauth-dialog');
  const form = $('#reauth-form');
  resetForm(form);
  form.elements.email.value = email;
  // Why the session ended, when the server said: an account disabled cannot sign in again.
  $('#reauth-lead').textContent = err?.code === 'account_disabled'
    ? `Your session ended: ${err.message}.`
    : LEAD;
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  waiting = { promise, resolve, reject, err };
  openModal(dialog, {
    focus: form.elements.password,
    onClose: () => {
      // Closed without signing in (Escape): the request fails as it would have.
      const still = waiting;
      waiting = null;
      still?.reject(still.err);
    },
  });
  return promise;
}

/** Wires the dialog for the account `me` (the answer of GET /api/v1/me); `leave()` signs out. */
export function enableSignInAgain(me, leave) {
  const dialog = $('#reauth-dialog');
  const form = $('#reauth-form');
  handleForm(form, async () => {
    await api.signIn(me.user.email, form.elements.password.value);
    const done = waiting;
    waiting = null;
    form.elements.password.value = '';
    dialog.close();
    done?.resolve();
  });
  $('#reauth-leave').addEventListener('click', () => {
    whenSessionExpired(null);
    leave();
  });
  whenSessionExpired((err) => open(me.user.email, err));
}
