// The screens shown before the settings: first-run setup, sign in, accepting an invite, and
// setting a new password with a reset link. Setup, invite and reset links carry their token in
// the #fragment, which never reaches a server log.

import { api } from './api.js';
import { $ } from './dom.js';
import { handleForm, setFieldError, valueOf } from './forms.js';

/**
 * Reads `#token=...` (and an invite's `&email=...`) from the address and removes them from the
 * address bar and history.
 */
function takeFragment() {
  // A link pasted into this same tab changes only the fragment, which loads nothing: start the
  // screen again with it (and so take its token out of the address bar too).
  window.addEventListener('hashchange', () => {
    if (/(^#|&)token=/.test(location.hash)) location.reload();
  });
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  const value = (name) => {
    const v = params.get(name);
    return v && v.trim() ? v.trim() : null;
  };
  return { token: value('token'), email: value('email') };
}

function showScreen(id, title) {
  $('#boot').hidden = true;
  const view = $(`#${id}`);
  view.hidden = false;
  document.title = `${title} · Artifact Review`;
  return view;
}

/**
 * Where to go after signing in: `?next=` when it names one of this app's own pages, else the
 * artifacts home `/`. The path is judged as the browser will resolve it: anything that resolving
 * would change (dot segments, also percent-encoded ones; backslashes; `//`) is refused outright,
 * as are encoded slashes, backslashes, dots and percent signs, so no `next` can climb out of the
 * review pages into `/v/...` (uploaded, sandboxed files) or off this site. Accepted: `/`,
 * `/settings` with a section (`#agents`), `/a/{shareToken}`, `/a/{shareToken}/v/{n}` and
 * `/a/{shareToken}/v/{n}/{path...}`, and a share link's page `/share/{linkToken}`, also on one of
 * its files (`/share/{linkToken}?file={path...}`).
 */
export function safeNext(next, origin = location.origin) {
  if (typeof next !== 'string' || !next.startsWith('/')) return null;
  if (/[\\\u0000-\u0020\u007f]|\/\/|%(2e|2f|5c|25)/i.test(next)) return null;
  let url;
  try {
    url = new URL(next, origin);
  } catch {
    return null;
  }
  if (url.origin !== origin || url.pathname + url.search + url.hash !== next) return null;
  if (url.pathname.split('/').some((s) => s === '.' || s === '..')) return null;
  const settings = url.pathname === '/settings' && /^(#[a-z]+)?$/.test(url.hash);
  const home = url.pathname === '/' && !url.hash;
  const review = /^\/a\/[A-Za-z0-9_-]+(\/v\/v?[0-9]+(\/[^#]*)?)?$/.test(url.pathname) && !url.hash;
  // Only a share link's page takes a query: the file it shows.
  const share = /^\/share\/[A-Za-z0-9_-]+$/.test(url.pathname) && !url.hash && /^(\?file=[^&]+)?$/.test(url.search);
  if (url.search && !share) return null;
  return settings || home || review || share ? next : null;
}

function nextPage() {
  return safeNext(new URLSearchParams(location.search).get('next')) ?? '/';
}

export async function showSetup() {
  const { token } = takeFragment();
  let status = { needed: true };
  try {
    status = await api.setupStatus();
  } catch {
    // If the status cannot be read, let the form try; the server has the last word.
  }
  const view = showScreen('view-setup', 'Set up');
  const form = $('#setup-form', view);
  if (!status.needed) {
    $('#setup-done').hidden = false;
    form.hidden = true;
    return;
  }
  let linkToken = token;
  const askForToken = () => {
    linkToken = null;
    $('#setup-token-field').hidden = false;
    $('#setup-token').required = true;
  };
  if (!linkToken) askForToken();
  handleForm(form, async () => {
    try {
      await api.setup({
        token: linkToken ?? valueOf(form, 'token'),
        name: valueOf(form, 'name'),
        email: valueOf(form, 'email'),
        password: form.elements.password.value,
      });
    } catch (err) {
      // A wrong token from the link: let the person paste the right one.
      if (err.code === 'invalid_setup_token') askForToken();
      throw err;
    }
    location.assign('/settings');
  });
  (linkToken ? $('#setup-name') : $('#setup-token')).focus();
}

export async function showLogin() {
  const view = showScreen('view-login', 'Sign in');
  const form = $('#login-form', view);
  const password = form.elements.password;
  handleForm(form, async () => {
    try {
      await api.signIn(valueOf(form, 'email'), password.value);
    } catch (err) {
      if (err.code === 'invalid_credentials') {
        password.value = '';
        password.focus();
        // What to do about it, as the API's hint says: a person has no other way to learn it.
        err.message = `${err.message}. Forgot your password? Ask an admin of this server for a password-reset link.`;
      }
      throw err;
    }
    location.assign(nextPage());
  });
  $('#login-email').focus();
  try {
    const status = await api.setupStatus();
    $('#login-setup-needed').hidden = !status.needed;
  } catch {
    // Only a hint; the sign-in form works without it.
  }
}

export async function showInvite() {
  const { token, email } = takeFragment();
  const view = showScreen('view-invite', 'Join');
  const form = $('#invite-form', view);
  if (!token) {
    $('#invite-token-field').hidden = false;
    $('#invite-token').required = true;
  }
  if (email) {
    // An invite made for one address signs up that address only.
    form.elements.email.value = email;
    form.elements.email.readOnly = true;
  }
  handleForm(form, async () => {
    await api.acceptInvite({
      token: token ?? valueOf(form, 'token'),
      name: valueOf(form, 'name'),
      email: valueOf(form, 'email'),
      password: form.elements.password.value,
    });
    // To the artifacts: a teammate is invited to review, and what is shared with them is there.
    location.assign('/');
  });
  (token ? $('#invite-name') : $('#invite-token')).focus();
  if (token) {
    // A link already used, revoked or expired is said before anything is typed into the form.
    try {
      await api.checkInvite(token);
    } catch (err) {
      if (err.code !== 'invalid_invite') return;
      form.hidden = true;
      const notice = $('#invite-invalid', view);
      notice.hidden = false;
      $('h1', view).focus();
    }
  }
}

export async function showResetPassword() {
  const { token, email } = takeFragment();
  const view = showScreen('view-reset', 'New password');
  const form = $('#reset-form', view);
  // Whose password this sets (and, for a password manager, the account to save it for).
  if (email) {
    form.elements.email.value = email;
    $('#reset-email-field').hidden = false;
  }
  if (!token) {
    $('#reset-token-field').hidden = false;
    $('#reset-token').required = true;
  }
  const samePasswords = () => {
    if (form.elements.confirm.value !== form.elements.password.value) {
      setFieldError(form.elements.confirm, 'The two passwords are not the same.');
      return false;
    }
    return true;
  };
  handleForm(
    form,
    async () => {
      await api.usePasswordReset(token ?? valueOf(form, 'token'), form.elements.password.value);
      location.assign('/settings');
    },
    samePasswords,
  );
  (token ? $('#reset-password') : $('#reset-token')).focus();
}
