// The "Account" section: display name and password.

import { api } from './api.js';
import { $ } from './dom.js';
import { handleForm, setFieldError, valueOf } from './forms.js';

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
}

export const accountView = {
  id: 'account',
  title: 'Account',
  init(context) {
    ctx = context;
    handleForm($('#profile-form'), saveName);
    handleForm($('#password-form'), changePassword, checkPasswords);
  },
  show: fill,
};
