// The "API keys" section: the list, the create dialog, the one-time key dialog, and revoking.

import { api } from './api.js';
import { $, h, cell, agoEl, dateEl, keyDisplay, identityEl, badge, announce, loadError, setChildren } from './dom.js';
import { handleForm, resetForm, valueOf } from './forms.js';
import { openFormDialog, confirmAction, showSecretOnce } from './dialogs.js';

let ctx = null;
let loadSeq = 0;

const view = () => $('#view-keys');
const heading = () => $('#keys-title');

function statusEl(key) {
  const el = badge(key.status);
  if (key.status === 'revoked' && key.revokedAt) el.title = `Revoked ${new Date(key.revokedAt).toLocaleString()}`;
  if (key.status === 'expired' && key.expiresAt) el.title = `Expired ${new Date(key.expiresAt).toLocaleString()}`;
  return el;
}

function row(key) {
  const revoked = key.status === 'revoked';
  const actions = revoked
    ? null
    : h('button', {
        type: 'button',
        class: 'button small danger-outline',
        text: 'Revoke',
        attrs: { 'aria-label': `Revoke key ${key.name}` },
        on: { click: () => revoke(key) },
      });
  return h(
    'tr',
    { class: revoked ? 'is-revoked' : null, data: { keyId: key.id, status: key.status } },
    cell('Name', h('span', { class: 'name', text: key.name })),
    cell('Key', h('code', { class: 'prefix', text: keyDisplay(key.prefix) })),
    cell('Identity', identityEl(key.identity, ctx.me.user.id)),
    cell('Created', dateEl(key.createdAt)),
    cell('Expires', dateEl(key.expiresAt, 'never')),
    cell('Last used', agoEl(key.lastUsedAt, 'never')),
    cell('Status', statusEl(key)),
    h('td', { class: 'row-actions' }, actions),
  );
}

/** Loads and shows the list (with revoked keys when the toggle is on). */
async function load() {
  const seq = ++loadSeq;
  const showRevoked = $('#keys-show-revoked').checked;
  const errorEl = view().querySelector('.load-error');
  try {
    const { keys } = await api.listKeys(showRevoked);
    if (seq !== loadSeq) return;
    loadError(errorEl, null);
    setChildren($('#keys-table tbody'), keys.map(row));
    $('#keys-empty').hidden = keys.length > 0;
    $('#keys-empty').textContent = showRevoked
      ? 'No keys yet. Create one to let a script or an agent call the API.'
      : 'No active keys. Create one to let a script or an agent call the API.';
    view().querySelector('.table-wrap').hidden = keys.length === 0;
  } catch (err) {
    if (seq === loadSeq) loadError(errorEl, `Could not load your keys: ${err.message}`);
  }
}

function revoke(key) {
  confirmAction({
    title: 'Revoke this key?',
    body: [
      h('p', {},
        'The key ', h('strong', { text: key.name }), ' (', h('code', { text: keyDisplay(key.prefix) }), ') ',
        'stops working at once for every script and agent that uses it. This cannot be undone.'),
      h('p', { class: 'muted', text: 'What was done with it keeps its attribution.' }),
    ],
    confirmLabel: 'Revoke key',
    action: async () => {
      await api.revokeKey(key.id);
      await load();
    },
    fallbackFocus: heading,
  }).then((revoked) => {
    if (revoked) announce(`Key “${key.name}” revoked.`);
  });
}

// ---- create -------------------------------------------------------------------------------------

function localDate(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function syncExpiration() {
  const onDate = $('#key-expiration').value === 'date';
  $('#key-date-field').hidden = !onDate;
  $('#key-expires-date').required = onDate;
}

let opening = false;

async function openCreate() {
  const dialog = $('#key-create-dialog');
  if (opening || dialog.open) return;
  opening = true;
  try {
    await prepareCreate(dialog);
  } finally {
    opening = false;
  }
}

async function prepareCreate(dialog) {
  const form = $('#key-create-form');
  resetForm(form);
  const today = new Date();
  $('#key-expires-date').min = localDate(today);
  const max = new Date(today);
  max.setDate(max.getDate() + 3649); // the server allows up to 3650 days from now
  $('#key-expires-date').max = localDate(max);
  syncExpiration();
  const select = $('#key-identity');
  setChildren(select, new Option('You', ''));
  let problem = null;
  try {
    const { agents } = await api.listAgents();
    for (const agent of agents) select.add(new Option(`${agent.name} (agent)`, agent.id));
  } catch (err) {
    problem = `Could not load your agents, so only "You" can be chosen: ${err.message}`;
  }
  openFormDialog(dialog, { focus: $('#key-name'), fallbackFocus: heading });
  if (problem) {
    const el = form.querySelector('.form-error');
    el.textContent = problem;
    el.hidden = false;
  }
}

async function submitCreate(form) {
  const body = { name: valueOf(form, 'name') };
  const agentId = form.elements.agentId.value;
  if (agentId) body.agentId = agentId;
  const expiration = form.elements.expiration.value;
  if (expiration === 'date') {
    const [y, m, d] = form.elements.expiresDate.value.split('-').map(Number);
    body.expiresAt = new Date(y, m - 1, d, 23, 59, 59, 999).getTime();
  } else if (expiration !== 'never') {
    body.expiresInDays = Number(expiration);
  }
  const created = await api.createKey(body);
  $('#key-create-dialog').close();
  const who = created.identity.kind === 'agent' ? `the agent ${created.identity.name}` : 'you';
  showSecretOnce({
    title: 'Copy your new key',
    label: `“${created.name}” acts as ${who}:`,
    warning:
      'This is the only time the key is shown. Copy it now and store it somewhere safe: it cannot be shown again. If you lose it, revoke it and create a new one.',
    secret: created.key,
    fallbackFocus: heading,
  });
  // The dialog has it now; drop this copy so that closing the dialog leaves none behind.
  created.key = undefined;
  announce(`Key “${created.name}” created.`);
  await load();
}

export const keysView = {
  id: 'keys',
  title: 'API keys',
  init(context) {
    ctx = context;
    $('#key-create-open').addEventListener('click', openCreate);
    $('#keys-show-revoked').addEventListener('change', load);
    $('#key-expiration').addEventListener('change', syncExpiration);
    handleForm($('#key-create-form'), submitCreate);
  },
  show: load,
};
