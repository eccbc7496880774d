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
  if (key.status === 'active' && key.replacedBy) {
    const el = badge('rotated', 'expired');
    el.title = `Replaced by a new key; expires ${new Date(key.expiresAt).toLocaleString()}`;
    return el;
  }
  const el = badge(key.revokedReason === 'leaked' ? 'revoked: leaked' : key.status, key.status);
  if (key.status === 'revoked' && key.revokedAt) el.title = `Revoked ${new Date(key.revokedAt).toLocaleString()}`;
  if (key.status === 'expired' && key.expiresAt) el.title = `Expired ${new Date(key.expiresAt).toLocaleString()}`;
  return el;
}

/** "Expires": a rotated key's end of overlap says so. */
function expiresEl(key) {
  if (key.status === 'active' && key.replacedBy) {
    return h('span', {}, 'after rotation, ', dateEl(key.expiresAt));
  }
  return dateEl(key.expiresAt, 'never');
}

/** Leaked keys of the last 30 days, said at the top of the page whether revoked keys are shown or not. */
const LEAK_NOTICE_MS = 30 * 24 * 3600 * 1000;

function showLeaks(keys) {
  const leaked = keys.filter((k) => k.revokedReason === 'leaked' && Date.now() - (k.revokedAt ?? 0) < LEAK_NOTICE_MS);
  const box = $('#keys-leaked');
  setChildren(box, leaked.map((k) => h('p', {},
    h('strong', { text: 'A key was found in text stored here and revoked: ' }),
    h('span', { class: 'name', text: k.name }), ' (', h('code', { text: keyDisplay(k.prefix) }), '), found in ',
    h('span', { text: k.revokedWhere ?? 'stored text' }), ', ', agoEl(k.revokedAt),
    '. Anything that used it needs a new key.')));
  box.hidden = leaked.length === 0;
}

/** A row; its buttons name the key by name and prefix (a rotated key and its successor share the name). */
function row(key) {
  const revoked = key.status === 'revoked';
  const actions = [];
  if (key.status === 'active' && !key.replacedBy) {
    actions.push(h('button', {
      type: 'button',
      class: 'button small',
      text: 'Rotate',
      attrs: { 'aria-label': `Rotate key ${key.name} (${keyDisplay(key.prefix)})` },
      on: { click: () => openRotate(key) },
    }));
  }
  if (!revoked) {
    actions.push(h('button', {
      type: 'button',
      class: 'button small danger-outline',
      text: 'Revoke',
      attrs: { 'aria-label': `Revoke key ${key.name} (${keyDisplay(key.prefix)})` },
      on: { click: () => revoke(key) },
    }));
  }
  return h(
    'tr',
    { class: revoked ? 'is-revoked' : null, data: { keyId: key.id, status: key.status } },
    cell('Name', h('span', { class: 'name', text: key.name })),
    cell('Key', h('code', { class: 'prefix', text: keyDisplay(key.prefix) })),
    cell('Identity', identityEl(key.identity, ctx.me.user.id)),
    cell('Scope', h('span', { class: 'scope', text: (key.scopes ?? []).join(', ') })),
    cell('Created', dateEl(key.createdAt)),
    cell('Expires', expiresEl(key)),
    cell('Last used', agoEl(key.lastUsedAt, 'never')),
    cell('Status', statusEl(key)),
    h('td', { class: 'row-actions' }, actions),
  );
}

/** The keys last loaded, revoked ones included (a rotated key's row is found by its successor). */
let loaded = [];

/** Loads and shows the list (with revoked keys when the toggle is on). */
async function load() {
  const seq = ++loadSeq;
  const showRevoked = $('#keys-show-revoked').checked;
  const errorEl = view().querySelector('.load-error');
  try {
    const { keys: all } = await api.listKeys(true);
    if (seq !== loadSeq) return;
    loaded = all;
    loadError(errorEl, null);
    showLeaks(all);
    const keys = showRevoked ? all : all.filter((k) => k.status !== 'revoked');
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
  // The key this one replaced in a rotation, still working until its overlap ends: revoking the
  // new key alone leaves it working, which someone revoking "the key" after a leak may not expect.
  const replaced = loaded.find((k) => k.replacedBy === key.id && k.status === 'active');
  const both = replaced
    ? h('input', { type: 'checkbox', attrs: { 'aria-describedby': 'revoke-replaced-note' } })
    : null;
  confirmAction({
    title: 'Revoke this key?',
    body: [
      h('p', {},
        'The key ', h('strong', { text: key.name }), ' (', h('code', { text: keyDisplay(key.prefix) }), ') ',
        'stops working at once for every script and agent that uses it. This cannot be undone.'),
      replaced
        ? h('p', { id: 'revoke-replaced-note' },
          'It replaced ', h('code', { text: keyDisplay(replaced.prefix) }), ', which keeps working until ',
          dateEl(replaced.expiresAt), ' unless you revoke it too.')
        : null,
      replaced
        ? h('p', {}, h('label', { class: 'check' }, both, 'Also revoke the key it replaced'))
        : null,
      h('p', { class: 'muted', text: 'What was done with it keeps its attribution.' }),
    ],
    confirmLabel: 'Revoke key',
    action: async () => {
      await api.revokeKey(key.id);
      if (both?.checked) await api.revokeKey(replaced.id);
      await load();
    },
    fallbackFocus: heading,
  }).then((revoked) => {
    if (revoked) announce(both?.checked ? `Key “${key.name}” and the key it replaced revoked.` : `Key “${key.name}” revoked.`);
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
  const body = { name: valueOf(form, 'name'), scopes: [form.elements.scope.value] };
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

// ---- rotate -------------------------------------------------------------------------------------

let rotating = null;

const DAY_MS = 24 * 3600 * 1000;

/** What a rotation does to the key's lifetime: the same length, counted from the rotation. */
function lifetimeText(key) {
  if (!key.expiresAt) return 'and, like it, no expiry';
  const days = Math.round((key.expiresAt - key.createdAt) / DAY_MS);
  const length = days >= 1 ? `${days} ${days === 1 ? 'day' : 'days'}` : 'the same lifetime';
  return `and a lifetime of ${length} from now (until about ${new Date(Date.now() + key.expiresAt - key.createdAt).toLocaleDateString()})`;
}

function openRotate(key) {
  rotating = key;
  const form = $('#key-rotate-form');
  resetForm(form);
  form.elements.overlap.value = '1d';
  setChildren($('#key-rotate-what'),
    'A new key replaces ', h('strong', { text: key.name }), ' (', h('code', { text: keyDisplay(key.prefix) }), ') ',
    'with the same identity and scope, ', lifetimeText(key), '. It is shown once.');
  openFormDialog($('#key-rotate-dialog'), { focus: form.elements.overlap, fallbackFocus: heading });
}

async function submitRotate(form) {
  const key = rotating;
  const rotated = await api.rotateKey(key.id, form.elements.overlap.value);
  $('#key-rotate-dialog').close();
  const until = rotated.replaces.expiresAt;
  showSecretOnce({
    title: 'Copy the new key',
    label: `The new “${rotated.name}” key:`,
    warning:
      `This is the only time the new key is shown. The old key ${until > Date.now() + 1000 ? `keeps working until ${new Date(until).toLocaleString()}` : 'has stopped working'}; put the new one everywhere it was used. ${rotated.expiresAt ? `The new key expires ${new Date(rotated.expiresAt).toLocaleString()}.` : 'The new key does not expire.'}`,
    secret: rotated.key,
    fallbackFocus: heading,
  });
  rotated.key = undefined;
  announce(`Key “${rotated.name}” rotated.`);
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
    handleForm($('#key-rotate-form'), submitRotate);
  },
  show: load,
};
