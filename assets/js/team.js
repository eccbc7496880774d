// The "Team" section (admins): invite links (shown once, copyable), and members: what each
// stores against the storage quota, their role, a one-time password-reset link (shown once),
// removing (disabling) and enabling.

import { api } from './api.js';
import { $, h, cell, dateEl, badge, announce, loadError, setChildren, keepingFocus } from './dom.js';
import { handleForm } from './forms.js';
import { confirmAction, showSecretOnce } from './dialogs.js';

let ctx = null;
let members = [];
let storageQuota = 0;

// Bytes as people read them: 1.5 GiB, 320 MiB, 12 KiB, 500 bytes.
function size(bytes) {
  const units = [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]];
  for (const [unit, n] of units) {
    if (bytes >= n) return `${(Math.floor((bytes / n) * 10) / 10).toLocaleString()} ${unit}`;
  }
  return `${bytes} bytes`;
}

function storageEl(bytes) {
  const share = storageQuota > 0 ? Math.min(100, Math.round((bytes / storageQuota) * 100)) : 0;
  return h('span', {
    class: share >= 90 ? 'storage is-near-quota' : 'storage',
    text: `${size(bytes)} of ${size(storageQuota)}`,
    attrs: { title: `${bytes.toLocaleString()} bytes stored; quota ${storageQuota.toLocaleString()} bytes (${share}%)` },
  });
}

const heading = () => $('#team-title');
const memberName = (id) => members.find((m) => m.id === id)?.name ?? null;

function inviteRow(invite) {
  const status = h('span', {}, badge(invite.status));
  const usedBy = invite.usedBy ? memberName(invite.usedBy) : null;
  // A used link did its job: "used by NAME", plainly; only revoked and expired links are greyed.
  if (invite.status === 'used' && usedBy) status.append(' by ', h('span', { class: 'used-by', text: usedBy }));
  return h(
    'tr',
    { class: invite.status === 'pending' || invite.status === 'used' ? null : 'is-revoked', data: { inviteId: invite.id } },
    cell('For', invite.email ? h('span', { class: 'email', text: invite.email }) : 'anyone with the link'),
    cell('Role', invite.role === 'admin' ? 'Admin' : 'Member'),
    cell('Created', dateEl(invite.createdAt)),
    cell('Expires', dateEl(invite.expiresAt)),
    cell('Status', status),
    h('td', { class: 'row-actions' },
      invite.status === 'pending'
        ? h('button', {
            type: 'button', class: 'button small danger-outline', text: 'Revoke',
            attrs: { 'aria-label': `Revoke the ${invite.role} invite${invite.email ? ` for ${invite.email}` : ''} created ${new Date(invite.createdAt).toLocaleString()}` },
            on: { click: () => revokeInvite(invite) },
          })
        : null),
  );
}

/** `lastAdmin`: the member is the only enabled admin, who cannot step down (the server refuses it). */
function roleSelect(member, lastAdmin) {
  const select = h('select', {
    class: 'role-select',
    data: { focus: 'role' },
    attrs: { 'aria-label': `Role of ${member.name}` },
    on: { change: () => setRole(member, select.value, select) },
  });
  select.add(new Option('Admin', 'admin', false, member.role === 'admin'));
  const asMember = new Option('Member', 'member', false, member.role === 'member');
  if (lastAdmin) {
    asMember.disabled = true;
    asMember.textContent = 'Member (make someone else an admin first)';
  }
  select.add(asMember);
  return select;
}

function memberRow(member, lastAdmin) {
  const self = member.id === ctx.me.user.id;
  const disabled = member.disabledAt !== null;
  const name = h('span', {}, h('span', { class: 'name', text: member.name }), self ? ' ' : null, self ? badge('you') : null);
  const actions = [];
  if (!self && !disabled) {
    actions.push(h('button', {
      type: 'button',
      class: 'button small',
      text: 'Reset password',
      data: { focus: 'reset' },
      attrs: { 'aria-label': `Reset password for ${member.name} (makes a one-time link)` },
      on: { click: () => createReset(member) },
    }));
  }
  if (!self) {
    actions.push(h('button', {
      type: 'button',
      class: disabled ? 'button small' : 'button small danger-outline',
      text: disabled ? 'Enable' : 'Disable',
      data: { focus: 'state' },
      attrs: { 'aria-label': `${disabled ? 'Enable' : 'Disable'} ${member.name}` },
      on: { click: () => setDisabled(member, !disabled) },
    }));
  }
  return h(
    'tr',
    { class: disabled ? 'is-revoked' : null, data: { memberId: member.id, row: `member-${member.id}` } },
    cell('Name', name),
    cell('Email', h('span', { class: 'email', text: member.email })),
    cell('Role', disabled ? (member.role === 'admin' ? 'Admin' : 'Member') : roleSelect(member, lastAdmin)),
    cell('Joined', dateEl(member.createdAt)),
    cell('Stored', storageEl(member.storedBytes)),
    cell('Status', disabled ? badge('disabled') : badge('active')),
    h('td', { class: 'row-actions' }, ...actions),
  );
}

async function load() {
  const forbidden = !ctx.isAdmin();
  $('#team-forbidden').hidden = !forbidden;
  $('#team-body').hidden = forbidden;
  if (forbidden) return;
  try {
    ({ members, storageQuota } = await api.listMembers());
    loadError($('#members-error'), null);
    const tbody = $('#members-table tbody');
    const admins = members.filter((m) => m.role === 'admin' && m.disabledAt === null);
    const only = admins.length === 1 ? admins[0].id : null;
    keepingFocus(tbody, () => setChildren(tbody, members.map((m) => memberRow(m, m.id === only))), heading);
  } catch (err) {
    if (err.code === 'admin_required') {
      $('#team-forbidden').hidden = false;
      $('#team-body').hidden = true;
      return;
    }
    loadError($('#members-error'), `Could not load the members: ${err.message}`);
  }
  await loadInvites();
}

async function loadInvites() {
  try {
    const { invites } = await api.listInvites();
    loadError($('#invites-error'), null);
    setChildren($('#invites-table tbody'), invites.map(inviteRow));
    $('#invites-empty').hidden = invites.length > 0;
    $('#invites-table').closest('.table-wrap').hidden = invites.length === 0;
  } catch (err) {
    loadError($('#invites-error'), `Could not load the invite links: ${err.message}`);
  }
}

async function createInvite(form) {
  const role = form.elements.role.value;
  const email = form.elements.email.value.trim();
  const invite = await api.createInvite(role, email);
  form.elements.email.value = '';
  // The next invite starts from the usual role again: an admin invite is never made by accident.
  form.elements.role.value = 'member';
  const as = role === 'admin' ? 'as an admin' : 'as a member';
  showSecretOnce({
    title: 'Invite link',
    label: invite.email
      ? `Send this link to ${invite.email} (${as}):`
      : `Send this link to the person you invite (${as}):`,
    warning: invite.email
      ? `This link is shown only now: it cannot be shown again. It works once, for 7 days, and creates the account for ${invite.email} only.`
      : 'This link is shown only now: it cannot be shown again. It works once, for 7 days, and whoever opens it can create an account on this server.',
    secret: invite.url,
    what: 'link',
    fallbackFocus: heading,
  });
  invite.url = undefined;
  await loadInvites();
}

/**
 * Gives or takes admin rights, once confirmed: a select changes on a single arrow key, and a role
 * is not something to change by accident. The select shows the current role until then.
 */
async function setRole(member, role, select) {
  // Until it is confirmed and done, the select shows the role the member has (set now, not once
  // the dialog has closed: a screen reader, or a quick look, would read the new one meanwhile).
  select.value = member.role;
  const self = member.id === ctx.me.user.id;
  const who = self ? [h('strong', { text: 'You' })] : [h('strong', { text: member.name }), ' (', h('span', { text: member.email }), ')'];
  const body = role === 'admin'
    ? [h('p', {}, ...who, ' will be able to manage the team: invite people, make and remove admins, disable accounts and make password-reset links.')]
    : [h('p', {}, ...who, self
      ? ' will no longer be able to manage the team; only another admin can make you an admin again. The invite and password-reset links you made stop working.'
      : ' will no longer be able to manage the team. The invite and password-reset links they made stop working.')];
  const ok = await confirmAction({
    title: role === 'admin' ? 'Make an admin?' : (self ? 'Stop being an admin?' : 'Make a member?'),
    body,
    confirmLabel: role === 'admin' ? 'Make admin' : 'Make member',
    action: () => api.setMemberRole(member.id, role),
    fallbackFocus: heading,
  });
  if (!ok) return;
  loadError($('#members-error'), null);
  announce(`${member.name} is now ${role === 'admin' ? 'an admin' : 'a member'}.`);
  if (self) {
    ctx.me.user.role = role;
    ctx.onUserChanged();
    if (role !== 'admin') {
      // Without admin rights the Team section is not yours any more.
      $('#nav-team').hidden = true;
      location.hash = '#keys';
      return;
    }
  }
  await load();
}

async function createReset(member) {
  try {
    const reset = await api.createPasswordReset(member.id);
    loadError($('#members-error'), null);
    showSecretOnce({
      title: 'Password-reset link',
      label: `Send this link to ${member.name} (${reset.email}):`,
      warning:
        'This link is shown only now: it cannot be shown again. It works once, for 24 hours, and replaces any earlier link. Setting a new password with it signs them out everywhere else.',
      secret: reset.url,
      what: 'link',
      fallbackFocus: heading,
    });
    reset.url = undefined;
  } catch (err) {
    loadError($('#members-error'), err.message);
  }
}

async function revokeInvite(invite) {
  const ok = await confirmAction({
    title: 'Revoke this invite link?',
    body: [h('p', { text: 'Nobody will be able to use it to create an account.' })],
    confirmLabel: 'Revoke link',
    action: async () => {
      await api.revokeInvite(invite.id);
      await loadInvites();
    },
    fallbackFocus: heading,
  });
  if (ok) announce('Invite link revoked.');
}

async function setDisabled(member, disabled) {
  const apply = async () => {
    await api.setMemberDisabled(member.id, disabled);
    await load();
  };
  if (!disabled) {
    try {
      await apply();
      announce(`${member.name} can sign in again.`);
    } catch (err) {
      loadError($('#members-error'), err.message);
    }
    return;
  }
  const ok = await confirmAction({
    title: 'Disable this account?',
    body: [
      h('p', {}, h('strong', { text: member.name }), ' (', h('span', { text: member.email }), ') ',
        'is signed out everywhere and cannot sign in, every API key of theirs is revoked, and the share links they made are turned off. What they did keeps their name. You can enable the account again later; their keys stay revoked, and their links stay off until an owner turns them on.'),
    ],
    confirmLabel: 'Disable account',
    action: apply,
    fallbackFocus: heading,
  });
  if (ok) announce(`${member.name} is disabled.`);
}

export const teamView = {
  id: 'team',
  title: 'Team',
  init(context) {
    ctx = context;
    handleForm($('#invite-create-form'), createInvite);
  },
  show: load,
};
