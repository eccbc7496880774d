// The "Activity" section: the account's audit trail, newest first, filterable by key, paged with
// "Load more".

import { api } from './api.js';
import { $, h, cell, timeEl, keyDisplay, identityEl, loadError, setChildren, setBusy, isBusy, hideKeepingFocus, isolated } from './dom.js';

export const PAGE_SIZE = 25;

let ctx = null;
let cursor = null;
let loadSeq = 0;

const view = () => $('#view-activity');

// Readable names for the audit actions; an unknown action is shown as its code.
const ACTIONS = {
  'user.created': 'Created the account',
  'user.disabled': 'Disabled an account',
  'user.enabled': 'Enabled an account',
  'user.role_changed': "Changed a member's role",
  'password_reset.created': 'Made a password-reset link',
  'password_reset.used': 'Set a new password with a reset link',
  'account.password_set': 'Password set from the command line',
  'account.updated': 'Changed the name',
  'account.password_changed': 'Changed the password',
  'session.created': 'Signed in',
  'session.ended': 'Signed out',
  'session.failed': 'Failed to sign in',
  'key.created': 'Created a key',
  'key.revoked': 'Revoked a key',
  'key.rotated': 'Rotated a key',
  'key.leaked': 'A key was found pasted into text and revoked',
  'key_request.created': 'An agent asked for a key',
  'key_request.approved': "Approved an agent's key request",
  'key_request.denied': "Denied an agent's key request",
  'agent.created': 'Created an agent',
  'agent.updated': 'Changed an agent',
  'agent.deleted': 'Deleted an agent',
  'invite.created': 'Created an invite link',
  'invite.revoked': 'Revoked an invite link',
  'artifact.created': 'Uploaded an artifact',
  'artifact.updated': 'Renamed or described an artifact',
  'artifact.deleted': 'Deleted an artifact',
  'version.created': 'Uploaded a version',
  'version.renamed': 'Renamed a version',
  'version.deleted': 'Deleted a version',
  'version.restored': 'Restored a version',
  'comment.created': 'Commented',
  'comment.updated': 'Edited a comment',
  'comment.resolved': 'Resolved a comment',
  'comment.unresolved': 'Reopened a comment',
  'comment.deleted': 'Deleted a comment',
  'reply.created': 'Replied',
  'reply.updated': 'Edited a reply',
  'reply.deleted': 'Deleted a reply',
  'access.granted': 'Shared an artifact',
  'access.revoked': "Removed a reviewer's access",
  'access.link_created': 'Made a share link',
  'access.link_updated': 'Changed a share link',
  'access.link_disabled': 'Turned off a share link',
  'access.link_reissued': 'Gave a share link a new address',
};

const text = (v) => (typeof v === 'string' && v ? v : null);

function what(event) {
  const label = ACTIONS[event.action];
  const detail = event.detail ?? {};
  const name = text(detail.name);
  // Whom an admin's action concerned (an account, an invite's or a reset link's address), and a
  // role change's before and after.
  const email = name ? null : text(detail.email);
  const roles = text(detail.before?.role) && text(detail.after?.role) ? `${detail.before.role} → ${detail.after.role}` : null;
  // Why the server did it (a key revoked because its member was removed, its agent deleted, or
  // it was found leaked; a sign-in refused for a wrong password).
  const reason = text(detail.reason);
  return h('span', { class: 'what' },
    h('span', { text: label ?? event.action }),
    name ? h('span', {}, ' ', h('span', { class: 'name', text: `“${name}”` })) : null,
    email ? h('span', {}, ' ', h('span', { class: 'email', text: email })) : null,
    roles ? h('span', { class: 'roles', text: ` (${roles})` }) : null,
    reason ? h('span', { class: 'reason', text: ` (${reason})` }) : null,
    label ? h('code', { class: 'action-code', text: event.action }) : null);
}

function through(event) {
  if (event.key) {
    return h('span', {},
      event.key.name ? h('span', { class: 'name', text: event.key.name }) : null,
      event.key.name ? ' ' : null,
      event.key.prefix ? h('code', { text: keyDisplay(event.key.prefix) }) : h('span', { text: `key #${event.key.id}` }));
  }
  if (event.sessionId) return h('span', { text: 'browser session' });
  return h('span', { class: 'muted', text: '—' });
}

/** How an object the server names (`object.name`) is introduced. */
const OBJECT_NAMES = {
  user: 'account',
  key: 'key',
  agent: 'agent',
  access: 'reviewer',
  password_reset: 'password-reset link for',
};

/**
 * What an event concerns, as a person names it: a version by its number (not its row id), and the
 * artifact it belongs to by its name ("version v1 of “Release notes”").
 */
function object(event) {
  const o = event.object ?? {};
  if (!o.type) return h('span', { class: 'muted', text: '—' });
  const number = event.detail?.number;
  const art = event.artifact;
  let text;
  if (o.type === 'artifact' && art) text = `artifact “${art.name}”`;
  else if (o.type === 'version' && Number.isInteger(number)) text = `version v${number}`;
  else if (o.name && OBJECT_NAMES[o.type]) text = `${OBJECT_NAMES[o.type]} ${isolated(o.name)}`;
  else text = o.id ? `${o.type} #${o.id}` : o.type;
  if (art && o.type !== 'artifact') text += ` of “${art.name}”`;
  if (art?.deleted) text += ' (deleted)';
  return h('span', { text });
}

function row(event) {
  return h(
    'tr',
    { data: { eventId: event.id, action: event.action } },
    cell('When', timeEl(event.createdAt)),
    cell('What', what(event)),
    cell('Who', identityEl(event.actor, ctx.me.user.id)),
    cell('Through', through(event)),
    cell('Object', object(event)),
    cell('From', event.ip ? h('span', { text: event.ip }) : h('span', { class: 'muted', text: '—' })),
  );
}

const LEADS = {
  mine: 'Everything done in your account, newest first: by you, by your agents and by each key.',
  team: 'Everything done on this server, newest first: by every member, their agents and their keys.',
};

/** Loads the first page (fresh = true) or the next one. */
async function loadPage(fresh) {
  const seq = ++loadSeq;
  const keyId = $('#activity-key').value;
  // Admins may see everyone's trail; the server refuses it to anyone else.
  const scope = ctx.isAdmin() ? $('#activity-scope').value : 'mine';
  view().querySelector('.lead').textContent = LEADS[scope];
  const more = $('#activity-more');
  const errorEl = view().querySelector('.load-error');
  setBusy(more, true);
  try {
    const page = await api.activity({ scope, keyId, limit: PAGE_SIZE, cursor: fresh ? null : cursor });
    if (seq !== loadSeq) return;
    loadError(errorEl, null);
    const rows = page.events.map(row);
    const tbody = $('#activity-table tbody');
    if (fresh) setChildren(tbody, rows);
    else tbody.append(...rows);
    cursor = page.nextCursor;
    hideKeepingFocus(more, !cursor, $('#activity-title'));
    const empty = tbody.children.length === 0;
    $('#activity-empty').hidden = !empty;
    $('#activity-empty').textContent = keyId ? 'This key has done nothing yet.' : 'Nothing happened yet.';
    view().querySelector('.table-wrap').hidden = empty;
  } catch (err) {
    if (seq === loadSeq) loadError(errorEl, `Could not load the activity: ${err.message}`);
  } finally {
    if (seq === loadSeq) setBusy(more, false);
  }
}

/** Fills the key filter with every key (revoked ones too: "what did this key do?"). */
async function loadKeyFilter() {
  const select = $('#activity-key');
  const chosen = select.value;
  try {
    const { keys } = await api.listKeys(true);
    setChildren(select, new Option('All activity', ''));
    for (const key of keys) {
      const who = key.identity.kind === 'agent' ? `agent ${isolated(key.identity.name)}` : 'you';
      const state = key.status === 'active' ? '' : `, ${key.status}`;
      select.add(new Option(`${isolated(key.name)} — ${keyDisplay(key.prefix)} (${who}${state})`, key.id));
    }
    select.value = keys.some((k) => k.id === chosen) ? chosen : '';
  } catch {
    // The filter is a convenience; the trail itself still loads.
  }
}

async function show() {
  const admin = ctx.isAdmin();
  $('#activity-scope-field').hidden = !admin;
  if (!admin) $('#activity-scope').value = 'mine';
  await loadKeyFilter();
  await loadPage(true);
}

export const activityView = {
  id: 'activity',
  title: 'Activity',
  init(context) {
    ctx = context;
    $('#activity-key').addEventListener('change', () => loadPage(true));
    $('#activity-scope').addEventListener('change', () => loadPage(true));
    $('#activity-more').addEventListener('click', (event) => {
      if (!isBusy(event.currentTarget)) loadPage(false);
    });
  },
  show,
};
