// The "Account" section: display name, password, and where the person is signed in.

import { api } from './api.js';
import { $, h, cell, dateEl, timeEl, announce, loadError, setChildren, keepingFocus } from './dom.js';
import { handleForm, setFieldError, valueOf } from './forms.js';
import { confirmAction } from './dialogs.js';

let ctx = null;

function fill() {
  const form = $('#profile-form');
  form.elements.name.value = ctx.me.user.name;
  $('#profile-email').value = ctx.me.user.email;
}

async function saveName(form) {
  const { user } = await api.rename(valueOf(form, 'name'));
  ctx.me.user.name = user.name;
  ctx.onUserChanged();
  form.elements.name.value = user.name;
  form.querySelector('.form-ok').textContent = 'Saved.';
}

function checkPasswords(form) {
  if (form.elements.newPassword.value && form.elements.confirm.value !== form.elements.newPassword.value) {
    setFieldError(form.elements.confirm, 'The two new passwords are not the same.');
    return false;
  }
  return true;
}

async function changePassword(form) {
  const { otherSessionsEnded } = await api.changePassword(
    form.elements.currentPassword.value,
    form.elements.newPassword.value,
  );
  form.reset();
  const others = otherSessionsEnded === 1 ? '1 other session was' : `${otherSessionsEnded} other sessions were`;
  form.querySelector('.form-ok').textContent = `Password changed. ${others} signed out.`;
  await loadSessions();
}

/** "Chrome on Linux" from a User-Agent header, or the header itself when it says neither. */
function browserOf(userAgent) {
  if (!userAgent) return 'Unknown browser';
  const browser = [['Edg/', 'Edge'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari'], ['curl/', 'curl']]
    .find(([mark]) => userAgent.includes(mark))?.[1];
  const system = [['Android', 'Android'], ['iPhone', 'iPhone'], ['iPad', 'iPad'], ['Windows', 'Windows'], ['Mac OS X', 'macOS'], ['Linux', 'Linux']]
    .find(([mark]) => userAgent.includes(mark))?.[1];
  if (!browser) return userAgent.slice(0, 60);
  return system ? `${browser} on ${system}` : browser;
}

function sessionRow(session) {
  const browser = browserOf(session.userAgent);
  const action = session.current
    ? h('span', { class: 'badge badge-you', text: 'This browser' })
    : h('button', {
        type: 'button', class: 'button small danger-outline', text: 'Sign out',
        data: { focus: 'end' },
        attrs: { 'aria-label': `Sign out ${browser}, signed in ${new Date(session.createdAt).toLocaleString()}` },
        on: { click: () => endSession(session, browser) },
      });
  return h('tr', { data: { row: session.id, sessionId: session.id } },
    cell('Browser', h('span', { text: browser, title: session.userAgent ?? '' })),
    cell('From', session.ip ? h('span', { text: session.ip }) : h('span', { class: 'muted', text: '—' })),
    cell('Signed in', timeEl(session.createdAt)),
    cell('Expires', dateEl(session.expiresAt)),
    h('td', { class: 'row-actions' }, action));
}

async function loadSessions() {
  const body = $('#sessions-table tbody');
  try {
    const { sessions } = await api.sessions();
    loadError($('#sessions-error'), null);
    keepingFocus(body, () => setChildren(body, ...sessions.map(sessionRow)), () => $('#sessions-title'));
    $('#sessions-end-others').hidden = !sessions.some((s) => !s.current);
  } catch (err) {
    loadError($('#sessions-error'), `Could not load your sessions: ${err.message}`);
  }
}

async function endSession(session, browser) {
  const ok = await confirmAction({
    title: 'Sign out this browser?',
    body: [h('p', { text: `${browser}, signed in ${new Date(session.createdAt).toLocaleString()}${session.ip ? ` from ${session.ip}` : ''}, will need to sign in again.` })],
    confirmLabel: 'Sign out',
    action: () => api.endSession(session.id),
    fallbackFocus: $('#sessions-title'),
  });
  if (!ok) return;
  announce(`${browser} was signed out.`);
  await loadSessions();
}

async function endOthers() {
  let ended = 0;
  const ok = await confirmAction({
    title: 'Sign out everywhere else?',
    body: [h('p', { text: 'Every browser signed in to your account but this one will need to sign in again. Your API keys are not affected.' })],
    confirmLabel: 'Sign out everywhere else',
    action: async () => { ({ ended } = await api.endOtherSessions()); },
    fallbackFocus: $('#sessions-title'),
  });
  if (!ok) return;
  announce(ended === 1 ? '1 other session was signed out.' : `${ended} other sessions were signed out.`);
  await loadSessions();
}

export const accountView = {
  id: 'account',
  title: 'Account',
  init(context) {
    ctx = context;
    handleForm($('#profile-form'), saveName);
    handleForm($('#password-form'), changePassword, checkPasswords);
    $('#sessions-end-others').addEventListener('click', endOthers);
  },
  show() {
    fill();
    return loadSessions();
  },
};
