// Entry point. Every page (/, /settings, /login, /setup, /invite, /reset-password) is the same HTML; this picks the
// screen from the path. `/` is the artifacts home; in the settings, the #fragment picks the section
// (#keys, #agents, ...).

import { api, whenSessionExpired, whenAdminRequired } from './api.js';
import { enableSignInAgain } from './reauth.js';
import { $, $$, announce, badge, setChildren } from './dom.js';
import { showSetup, showLogin, showInvite, showResetPassword } from './auth.js';
import { keysView } from './keys.js';
import { agentsView } from './agents.js';
import { connectView } from './connect.js';
import { accountView } from './account.js';
import { teamView } from './team.js';
import { activityView } from './activity.js';
import { artifactsView } from './artifacts.js';

const VIEWS = [artifactsView, keysView, agentsView, connectView, accountView, teamView, activityView];
/** The sections of /settings, chosen by the #fragment; the artifacts home is `/` itself. */
const SETTINGS_VIEWS = [keysView, agentsView, connectView, accountView, teamView, activityView];
const onHome = () => (location.pathname.replace(/\/+$/, '') || '/') === '/';

function bootError(message) {
  const boot = $('#boot');
  boot.hidden = false;
  boot.textContent = message;
  boot.classList.add('load-error');
}

function toLogin() {
  let here = '';
  if (onHome()) here = `?next=${encodeURIComponent('/')}`;
  else if (location.pathname === '/settings' && location.hash) here = `?next=${encodeURIComponent('/settings' + location.hash)}`;
  location.replace('/login' + here);
}

async function startSettings() {
  let me;
  try {
    me = await api.me();
  } catch (err) {
    if (err.status === 401) toLogin();
    else bootError(`Could not load your account: ${err.message}`);
    return;
  }
  if (me.authenticatedBy !== 'session') {
    bootError('The settings need a browser session. Sign in at /login.');
    return;
  }

  const ctx = {
    me,
    isAdmin: () => me.user.role === 'admin',
    onUserChanged: () => renderUser(),
  };
  const renderUser = () => {
    setChildren($('#whoami'), me.user.name, ctx.isAdmin() ? ' ' : null, ctx.isAdmin() ? badge('admin') : null);
  };

  // An ended session is renewed in place (nothing typed is lost); signing out leaves.
  enableSignInAgain(me, toLogin);
  renderUser();
  $('#topbar-user').hidden = false;
  $('#sidenav').hidden = false;
  $('#nav-team').hidden = !ctx.isAdmin();
  $('#boot').hidden = true;
  $('#sign-out').addEventListener('click', async () => {
    whenSessionExpired(null);
    try {
      await api.signOut();
    } catch {
      // Already signed out (or the server is gone): the login page is the right place either way.
    }
    location.assign('/login');
  });

  for (const view of VIEWS) view.init(ctx);

  let current = null;
  const route = (focusHeading) => {
    const wanted = location.hash.replace(/^#/, '');
    let view = onHome() ? artifactsView : SETTINGS_VIEWS.find((v) => v.id === wanted) ?? keysView;
    if (view === teamView && !ctx.isAdmin()) view = keysView;
    current = view;
    for (const v of VIEWS) $(`#view-${v.id}`).hidden = v !== view;
    for (const link of $$('#sidenav a')) {
      if (link.dataset.view === view.id) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `${view.title} · Artifact Review`;
    if (focusHeading) $(`#${view.id}-title`).focus();
    return view.show(ctx);
  };
  window.addEventListener('hashchange', () => route(true));
  // An admin may change this person's role while the page is open: it follows when the page is
  // shown again, or at once when an admin's action is refused for it.
  const syncRole = async () => {
    let now;
    try {
      now = await api.me();
    } catch {
      return; // signed out meanwhile: the session's own handling says so
    }
    if (now.user.role === me.user.role) return;
    const wasAdmin = ctx.isAdmin();
    me.user.role = now.user.role;
    renderUser();
    $('#nav-team').hidden = !ctx.isAdmin();
    if (wasAdmin) {
      announce('You are no longer an admin of this server.');
      if (current === teamView) location.hash = '#keys';
    } else {
      announce('You are now an admin of this server: see Team.');
    }
  };
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') syncRole();
  });
  whenAdminRequired(() => syncRole());

  // "Skip to content" goes to the section shown, at its heading: followed as a link, its #main
  // would be taken for a section's name, and the keys section shown instead.
  $('.skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    if (current) $(`#${current.id}-title`).focus();
  });
  await route(false);
}

const path = location.pathname.replace(/\/+$/, '') || '/';
const screens = { '/setup': showSetup, '/login': showLogin, '/invite': showInvite, '/reset-password': showResetPassword };
(screens[path] ?? startSettings)().catch((err) => bootError(`Something went wrong: ${err.message}`));
