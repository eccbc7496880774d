// Forms: validation in the browser (required, lengths, types) and the server's error messages,
// both shown next to the field they concern, announced, and linked with aria-describedby.

import { setBusy } from './dom.js';

// Error codes whose message concerns a field that the message itself does not name first.
const FIELD_OF_CODE = {
  wrong_password: 'currentPassword',
  email_taken: 'email',
  unknown_agent: 'agentId',
  agent_name_taken: 'name',
  invalid_setup_token: 'token',
  invalid_invite: 'token',
  invalid_reset_link: 'token',
  invalid_expiration: 'expiration',
};

function isShown(control) {
  return !control.closest('[hidden]');
}

function findControl(form, apiField) {
  if (!apiField) return null;
  const named = form.elements.namedItem(apiField);
  const control = named instanceof RadioNodeList ? named[0] : named;
  const found = control ?? form.querySelector(`[data-api-fields~="${CSS.escape(apiField)}"]`);
  return found && isShown(found) ? found : null;
}

function errorElementFor(control) {
  const field = control.closest('.field') ?? control.parentElement;
  let el = field.querySelector(':scope > .field-error');
  if (!el) {
    el = document.createElement('p');
    el.className = 'field-error';
    el.id = `${control.id}-error`;
    field.append(el);
  }
  return el;
}

/** Shows a message under a control and marks it invalid. */
export function setFieldError(control, message) {
  const el = errorElementFor(control);
  el.textContent = message;
  el.hidden = false;
  control.setAttribute('aria-invalid', 'true');
  const ids = (control.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean);
  if (!ids.includes(el.id)) control.setAttribute('aria-describedby', [el.id, ...ids].join(' '));
}

/** Shows a message that concerns the whole form. */
export function setFormError(form, message) {
  const el = form.querySelector('.form-error');
  el.textContent = message;
  el.hidden = !message;
}

/** Removes every error message from a form. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) {
    el.textContent = '';
    el.hidden = true;
  }
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  const formError = form.querySelector('.form-error');
  if (formError) {
    formError.textContent = '';
    formError.hidden = true;
  }
  const ok = form.querySelector('.form-ok');
  if (ok) ok.textContent = '';
}

/** Clears a form's values and errors. */
export function resetForm(form) {
  form.reset();
  for (const c of form.elements) if (c.setCustomValidity) c.setCustomValidity('');
  clearErrors(form);
}

/** Checks every shown control; shows each problem next to its control. Returns the first invalid one. */
function validate(form) {
  let first = null;
  for (const control of form.elements) {
    if (!control.willValidate || !isShown(control)) continue;
    control.setCustomValidity('');
    if (control.required && typeof control.value === 'string' && control.value !== '' && control.value.trim() === '') {
      control.setCustomValidity('This cannot be only spaces.');
    }
    // Limits in characters as the server counts them (code points): `maxlength` counts UTF-16
    // units, so it cut pasted emoji text in half without a word.
    const max = Number(control.dataset?.maxChars);
    if (max && typeof control.value === 'string') {
      const length = [...control.value.trim()].length;
      if (length > max) {
        control.setCustomValidity(`This is ${length.toLocaleString('en')} characters long; the limit is ${max.toLocaleString('en')}.`);
      }
    }
    if (!control.checkValidity()) {
      setFieldError(control, control.validationMessage);
      first ??= control;
    }
  }
  return first;
}

/** Shows an ApiError (or any error) next to the field it names, else at the form's level. */
export function showServerError(form, err) {
  const message = err?.message || 'Something went wrong. Try again.';
  const fromMessage = /^([A-Za-z]+)\b/.exec(message)?.[1];
  const control =
    findControl(form, err?.field) ?? findControl(form, FIELD_OF_CODE[err?.code]) ?? findControl(form, fromMessage);
  if (control) {
    setFieldError(control, message);
    control.focus();
  } else {
    setFormError(form, message);
  }
}

/**
 * Wires a form: on submit it runs `check(form)` (for custom rules; it may call setFieldError and
 * return false), validates, then awaits `submit(form)`, with the submit button disabled meanwhile.
 * Errors thrown by submit are shown with showServerError.
 */
/**
 * Moves the focus to a field in error, so that its error (in its aria-describedby) is read out;
 * a field that has the focus already gets it again (focusing it alone would say nothing).
 */
function focusInvalid(control) {
  if (!control) return;
  if (document.activeElement === control) control.blur();
  control.focus();
}

export function handleForm(form, submit, check = null) {
  form.noValidate = true;
  let busy = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    clearErrors(form);
    if (check && check(form) === false) {
      focusInvalid(form.querySelector('[aria-invalid="true"]'));
      return;
    }
    const invalid = validate(form);
    if (invalid) {
      focusInvalid(invalid);
      return;
    }
    busy = true;
    const buttons = [...form.querySelectorAll('button[type="submit"]')];
    buttons.forEach((b) => setBusy(b, true));
    form.setAttribute('aria-busy', 'true');
    try {
      await submit(form);
    } catch (err) {
      showServerError(form, err);
    } finally {
      busy = false;
      buttons.forEach((b) => setBusy(b, false));
      form.removeAttribute('aria-busy');
    }
  });
}

/** The trimmed value of a named control. */
export const valueOf = (form, name) => (form.elements.namedItem(name)?.value ?? '').trim();
