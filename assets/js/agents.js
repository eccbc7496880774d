// The "Agents" section: list, create, rename (and change role), delete with the keys it revokes.

import { api } from './api.js';
import { $, h, cell, dateEl, keyDisplay, announce, loadError, setChildren, keepingFocus } from './dom.js';
import { handleForm, resetForm, valueOf } from './forms.js';
import { openFormDialog, confirmAction } from './dialogs.js';

let editing = null; // the agent being renamed, or null when creating
let loadSeq = 0;

const view = () => $('#view-agents');
const heading = () => $('#agents-title');

const isAgentKey = (agent) => (key) =>
  key.identity?.kind === 'agent' && key.identity.id === agent.id && key.status !== 'revoked';

function row(agent, keys) {
  const count = keys.filter((k) => isAgentKey(agent)(k) && k.status === 'active').length;
  return h(
    'tr',
    { data: { agentId: agent.id, row: `agent-${agent.id}` } },
    cell('Name', h('span', { class: 'name', text: agent.name })),
    cell('Role', agent.role ? h('span', { text: agent.role }) : h('span', { class: 'muted', text: '—' })),
    cell('Active keys', String(count)),
    cell('Created', dateEl(agent.createdAt)),
    h(
      'td',
      { class: 'row-actions' },
      h('button', {
        type: 'button', class: 'button small', text: 'Edit',
        data: { focus: 'edit' },
        attrs: { 'aria-label': `Edit agent ${agent.name}` },
        on: { click: () => openEdit(agent) },
      }),
      h('button', {
        type: 'button', class: 'button small danger-outline', text: 'Delete',
        data: { focus: 'delete' },
        attrs: { 'aria-label': `Delete agent ${agent.name}` },
        on: { click: () => remove(agent) },
      }),
    ),
  );
}

async function load() {
  const seq = ++loadSeq;
  const errorEl = view().querySelector('.load-error');
  try {
    const [{ agents }, { keys }] = await Promise.all([api.listAgents(), api.listKeys()]);
    if (seq !== loadSeq) return;
    loadError(errorEl, null);
    const tbody = $('#agents-table tbody');
    keepingFocus(tbody, () => setChildren(tbody, agents.map((a) => row(a, keys))), heading);
    $('#agents-empty').hidden = agents.length > 0;
    view().querySelector('.table-wrap').hidden = agents.length === 0;
  } catch (err) {
    if (seq === loadSeq) loadError(errorEl, `Could not load your agents: ${err.message}`);
  }
}

function openDialog(agent) {
  editing = agent;
  const form = $('#agent-form');
  resetForm(form);
  $('#agent-dialog-title').textContent = agent ? 'Edit agent' : 'Create an agent';
  $('#agent-submit').textContent = agent ? 'Save' : 'Create agent';
  if (agent) {
    form.elements.name.value = agent.name;
    form.elements.role.value = agent.role ?? '';
  }
  openFormDialog($('#agent-dialog'), { focus: $('#agent-name'), fallbackFocus: heading });
}

const openCreate = () => openDialog(null);
const openEdit = (agent) => openDialog(agent);

async function submit(form) {
  const name = valueOf(form, 'name');
  const role = valueOf(form, 'role');
  if (editing) {
    const updated = await api.updateAgent(editing.id, { name, role: role || null });
    $('#agent-dialog').close();
    announce(`Agent “${updated.name}” saved.`);
  } else {
    const body = { name };
    if (role) body.role = role;
    const created = await api.createAgent(body);
    $('#agent-dialog').close();
    announce(`Agent “${created.name}” created.`);
  }
  await load();
}

async function remove(agent) {
  let keys = [];
  try {
    keys = (await api.listKeys()).keys.filter(isAgentKey(agent));
  } catch (err) {
    loadError(view().querySelector('.load-error'), `Could not check this agent's keys: ${err.message}`);
    return;
  }
  const body = [
    h('p', {}, 'The agent ', h('strong', { text: agent.name }), ' will be deleted. What it did keeps its name.'),
  ];
  if (keys.length) {
    body.push(
      h('p', { text: keys.length === 1 ? 'This key will be revoked at once:' : `These ${keys.length} keys will be revoked at once:` }),
      h('ul', { class: 'key-list' }, keys.map((k) =>
        h('li', {}, h('span', { class: 'name', text: k.name }), ' ', h('code', { text: keyDisplay(k.prefix) })))),
    );
  } else {
    body.push(h('p', { text: 'It has no active keys.' }));
  }
  let result = null;
  const ok = await confirmAction({
    title: 'Delete this agent?',
    body,
    confirmLabel: 'Delete agent',
    action: async () => {
      result = await api.deleteAgent(agent.id);
      await load();
    },
    fallbackFocus: heading,
  });
  if (ok && result) {
    const n = result.revokedKeys.length;
    announce(`Agent “${agent.name}” deleted${n ? `; ${n} ${n === 1 ? 'key' : 'keys'} revoked` : ''}.`);
  }
}

export const agentsView = {
  id: 'agents',
  title: 'Agents',
  init() {
    $('#agent-create-open').addEventListener('click', openCreate);
    handleForm($('#agent-form'), submit);
  },
  show: load,
};
