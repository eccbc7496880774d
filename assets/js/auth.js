// The screens shown before the settings: first-run setup, sign in, and accepting an invite.
// Setup and invite links carry their token in the #fragment, which never reaches a server log.

import { api } from './api.js';
import { $ } from './dom.js';
import { handleForm, valueOf } from './forms.js';

/**
 * Reads `#token=...` (and an invite's `&email=...`) from the address and removes them from the
 * address bar and history.
 */
function takeFragment() {
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
 * Where to go after signing in: a path on this server from ?next= (the settings, or an artifact a
 * reader was opening), else the settings. Anything that could leave the site is ignored.
 */
function nextPage() {
  const next = new URLSearchParams(location.search).get('next');
  const settings = /^\/settings(#[a-z]+)?$/;
  const artifact = /^\/a\/[A-Za-z0-9_-]+(\/v\/v?[0-9]+\/[^\\]*)?$/;
  return next && (settings.test(next) || artifact.test(next)) ? next : '/settings';
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
    location.assign('/settings');
  });
  (token ? $('#invite-name') : $('#invite-token')).focus();
}
