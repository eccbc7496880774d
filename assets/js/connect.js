// The "Connect an agent" section: a person types the code an agent shows, sees who asks (agent
// name and role, scope, expiry, the requesting address and client, when), chooses the agent the
// key will act as (the one of that name, made if needed, or another of theirs) and approves or
// denies. The key goes to the agent directly; it is never shown here.

import { api } from './api.js';
import { $, h, setChildren, timeEl, announce, isolated } from './dom.js';
import { handleForm, valueOf } from './forms.js';

let current = null; // {code, request}

function fact(label, value) {
  return [h('dt', { text: label }), h('dd', {}, value ?? h('span', { class: 'muted', text: '—' }))];
}

const STATUS = {
  pending: 'Waiting for your decision',
  approved: 'Approved: the agent receives its key when it next asks',
  denied: 'Denied',
  delivered: 'Approved, and the key was delivered',
};

/** The code as agents show it (XXXX-XXXX), however it was typed. */
function codeAsShown(code) {
  const plain = code.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return plain.length === 8 ? `${plain.slice(0, 4)}-${plain.slice(4)}` : code;
}

async function render(code, request) {
  current = { code, request };
  const scope = request.scopes.join(', ');
  setChildren($('#connect-facts'),
    ...fact('Code', h('code', { text: codeAsShown(code) })),
    ...fact('Agent', h('span', { class: 'name', text: request.agentName })),
    ...fact('Role', request.role),
    ...fact('Scope', scope),
    ...fact('Key expires', request.expiresInDays ? `${request.expiresInDays} days after approval` : 'never'),
    ...fact('Asked from', request.clientIp),
    ...fact('Client', request.userAgent),
    ...fact('Asked', timeEl(request.createdAt)),
    ...fact('Status', STATUS[request.status] ?? request.status));
  const select = $('#connect-agent');
  const options = [];
  const lookAlike = $('#connect-look-alike');
  lookAlike.hidden = true;
  if (request.lookAlikeAgentId) {
    // A name drawn like one of the person's agents' is not made a new agent (the server refuses
    // it): the person chooses which agent the key acts as, or denies.
    const placeholder = new Option('Choose one of your agents', '', true, true);
    placeholder.disabled = true;
    options.push(placeholder);
  } else if (!request.existingAgentId) {
    options.push(new Option(`A new agent “${isolated(request.agentName)}”${request.role ? ` (${isolated(request.role)})` : ''}`, ''));
  }
  try {
    const { agents } = await api.listAgents();
    const twin = agents.find((a) => a.id === request.lookAlikeAgentId);
    if (twin) {
      lookAlike.textContent = `“${isolated(request.agentName)}” looks like the name of your agent “${isolated(twin.name)}” but is spelled with other characters (letters of another script, or look-alike signs). Approve it as one of your agents only if you expected this request; otherwise deny it.`;
      lookAlike.hidden = false;
    }
    for (const a of agents) {
      const option = new Option(`${isolated(a.name)} (agent)`, a.id);
      option.selected = a.id === request.existingAgentId;
      options.push(option);
    }
  } catch {
    // Without the list, the requested agent is still offered.
  }
  setChildren(select, options);
  const open = request.status === 'pending';
  $('#connect-decide').hidden = !open;
  $('#connect-outcome').textContent = open ? '' : STATUS[request.status] ?? '';
  $('#connect-request').hidden = false;
  $('#connect-request-title').focus();
}

async function lookUp(form) {
  const code = valueOf(form, 'code');
  // The card of an earlier code goes first: a failed lookup must not leave it to be approved.
  current = null;
  $('#connect-request').hidden = true;
  const request = await api.keyRequest(code);
  await render(code, request);
}

async function approve(form) {
  const { code } = current;
  const agentId = form.elements.agentId.value || null;
  const request = await api.approveKeyRequest(code, agentId);
  await render(code, request);
  announce(`Approved: ${request.agentName} receives its key when it next asks.`);
}

async function deny() {
  const { code } = current;
  const errorEl = $('#connect-decide .form-error');
  errorEl.hidden = true;
  try {
    const request = await api.denyKeyRequest(code);
    await render(code, request);
    announce('Key request denied.');
  } catch (err) {
    errorEl.textContent = err.message;
    errorEl.hidden = false;
  }
}

export const connectView = {
  id: 'connect',
  title: 'Connect an agent',
  init() {
    handleForm($('#connect-form'), lookUp);
    handleForm($('#connect-decide'), approve);
    $('#connect-deny').addEventListener('click', deny);
  },
  show() {
    $('#connect-request').hidden = true;
    current = null;
  },
};
