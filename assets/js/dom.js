// Small DOM helpers. Text always goes in through text nodes (textContent), never through HTML
// parsing, so a name like <img src=x onerror=alert(1)> is shown as the characters it is.

/**
 * Builds an element: h('td', {class: 'x', data: {label: 'Name'}, attrs: {title: 't'}}, 'text', node).
 * String children become text nodes; null/false children are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (/HTML$/.test(k)) throw new Error(`h(): ${k} is not allowed; text goes in as text`);
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'data') Object.assign(el.dataset, v);
    else if (k === 'attrs') for (const [a, av] of Object.entries(v)) { if (av !== undefined && av !== null && av !== false) el.setAttribute(a, av === true ? '' : String(av)); }
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else el[k] = v;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Replaces an element's children. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function show(el, visible = true) {
  el.hidden = !visible;
}

const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const exactFmt = new Intl.DateTimeFormat(undefined, {
  weekday: 'long', year: 'numeric', month: 'long', day: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
});

/**
 * A <time> for a timestamp in ms: the readable local date (and time unless `dateOnly`), the exact
 * time in its title. `none` is the text shown when there is no timestamp (e.g. "never").
 */
export function timeEl(ms, none = '—', { dateOnly = false } = {}) {
  if (ms === null || ms === undefined) return h('span', { class: 'muted', text: none });
  const d = new Date(ms);
  const text = (dateOnly ? dateFmt : dateTimeFmt).format(d);
  return h('time', { attrs: { datetime: d.toISOString(), title: exactFmt.format(d) }, text });
}

const relativeFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/**
 * A past moment as "just now", "5 minutes ago", "3 hours ago", "yesterday"..., or its date when it
 * is over a week old; the exact time is in the title.
 */
export function agoEl(ms, none = '—') {
  const el = timeEl(ms, none, { dateOnly: true });
  if (ms === null || ms === undefined) return el;
  const seconds = (Date.now() - ms) / 1000;
  let text = null;
  if (seconds < 45) text = 'just now';
  else if (seconds < 45 * 60) text = relativeFmt.format(-Math.max(1, Math.round(seconds / 60)), 'minute');
  else if (seconds < 22 * 3600) text = relativeFmt.format(-Math.round(seconds / 3600), 'hour');
  else if (seconds < 7 * 86400) text = relativeFmt.format(-Math.max(1, Math.round(seconds / 86400)), 'day');
  if (text) {
    // The exact time is in the title for the pointer, and in hidden text for everyone else (a
    // title is neither reached with the keyboard nor read by most screen readers).
    setChildren(el, text, h('span', { class: 'visually-hidden', text: ` (${el.title})` }));
  }
  return el;
}

/** The date only, for columns where the day is what matters; the exact time is in the title. */
export const dateEl = (ms, none = '—') => timeEl(ms, none, { dateOnly: true });

/** How a key is shown: ar_live_ + its 8-character prefix + an ellipsis. */
export const keyDisplay = (prefix) => `ar_live_${prefix}…`;

/**
 * A name written by someone else, set apart from the text around it for plain-text places (an
 * <option>): between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE, right-to-left letters or a
 * stray override inside it cannot reorder what follows (a key's prefix, quotation marks).
 */
export const isolated = (name) => `\u2068${name}\u2069`;

/** A small pill: h('span', {class: 'badge badge-KIND'}). */
export const badge = (text, kind = text) => h('span', { class: `badge badge-${kind}`, text });

/** An identity {kind, name} as a node: "You" for the signed-in user, else the agent's name marked as agent. */
export function identityEl(identity, meId) {
  if (!identity) return h('span', { class: 'muted', text: '—' });
  if (identity.kind === 'agent') {
    return h('span', { class: 'identity' }, h('span', { class: 'identity-name', text: identity.name }), ' ', badge('agent'));
  }
  if (meId !== undefined && identity.id === meId) return h('span', { class: 'identity', text: 'You' });
  return h('span', { class: 'identity', text: identity.name });
}

/**
 * Who wrote or uploaded something, as the review page and the artifacts list show it: the name,
 * and for an agent a visible text label "Agent" and its role, so the kind never depends on colour.
 * Screen readers hear "Claude, Agent, coding" (the commas are visually hidden). With `meId`, the
 * signed-in person is shown as "You".
 */
export function authorEl(identity, meId) {
  if (!identity) return h('span', { class: 'muted', text: '—' });
  const isMe = identity.kind === 'user' && meId !== undefined && identity.id === meId;
  const name = h('span', { class: 'author-name', text: isMe ? 'You' : identity.name });
  if (identity.kind !== 'agent') return h('span', { class: 'author', data: { kind: 'user' } }, name);
  return h('span', { class: 'author', data: { kind: 'agent' } },
    name,
    h('span', { class: 'visually-hidden', text: ', ' }),
    badge('Agent', 'agent'),
    identity.role ? h('span', { class: 'visually-hidden', text: ', ' }) : null,
    identity.role ? h('span', { class: 'author-role', text: identity.role }) : null);
}

/** A table cell labelled for the narrow (card) layout. */
export const cell = (label, ...children) => h('td', { data: { label } }, ...children);

/**
 * Marks a button busy (or not) while its request runs: it looks and reads as unavailable
 * (aria-disabled) but keeps the keyboard focus, which a `disabled` button would drop to <body>.
 * Handlers check `isBusy` to ignore presses meanwhile.
 */
export function setBusy(button, busy) {
  if (busy) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
}

export const isBusy = (button) => button.getAttribute('aria-disabled') === 'true';

/**
 * Hides a "Load more" button after the last page; if it had the focus, the focus goes to `next`
 * (the view's heading) rather than being lost.
 */
export function hideKeepingFocus(button, hidden, next) {
  const hadFocus = document.activeElement === button;
  button.hidden = hidden;
  if (hidden && hadFocus) next.focus();
}

/**
 * Re-renders a table's rows (`render`) keeping the keyboard focus: a control marked `data-focus`
 * in a row marked `data-row` gets it back on its counterpart in the new rows (else on that row's
 * first such control, else on `fallback()`), instead of losing it with the row it was in.
 */
export function keepingFocus(container, render, fallback) {
  const el = document.activeElement;
  const inRow = el && container.contains(el) && el.closest('[data-row]') && el.dataset.focus;
  const find = relocator(el);
  render();
  if (!inRow) return;
  (find() ?? fallback()).focus();
}

/**
 * How to find `el` again later: a function that returns `el` while it is in the page, else its
 * twin in a redrawn row (the same `data-row`, and the same `data-focus` or the row's first), else
 * null. A dialog closing after the list behind it was redrawn gives the focus back this way.
 */
export function relocator(el) {
  const row = el?.closest?.('[data-row]')?.dataset.row;
  const kind = el?.dataset?.focus;
  return () => {
    if (el?.isConnected) return el;
    if (!row || !kind) return null;
    const again = document.querySelector(`[data-row="${CSS.escape(row)}"]`);
    return again?.querySelector(`[data-focus="${CSS.escape(kind)}"]`) ?? again?.querySelector('[data-focus]') ?? null;
  };
}

let toastTimer = null;
/** A short polite announcement at the bottom of the screen. */
export function announce(message) {
  // While a modal dialog is open, the browser hides everything outside it from assistive
  // technology, the toast's live region included: the dialog's own region says it then.
  const modal = [...document.querySelectorAll('dialog[open]')].filter((d) => d.matches(':modal')).pop();
  if (modal) dialogStatus(modal, message);
  const toast = document.getElementById('toast');
  toast.textContent = message;
  toast.classList.add('visible');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.classList.remove('visible');
    // Emptied once it has faded out (an empty pill showed while it faded), so that the same
    // message said again is announced again.
    toastTimer = setTimeout(() => {
      toast.textContent = '';
    }, TOAST_FADE_MS);
  }, 4000);
}

/** A little longer than the toast's fade (app.css: 0.2 s). */
const TOAST_FADE_MS = 300;

/**
 * The polite live region of a dialog through which `announce` speaks while it is open (visually
 * hidden: the toast shows the message), made the first time: [region, whether it was just made].
 */
export function dialogStatusRegion(dialog) {
  const found = dialog.querySelector(':scope > .dialog-status');
  if (found) return [found, false];
  const region = h('div', { class: 'dialog-status visually-hidden', attrs: { role: 'status', 'aria-live': 'polite' } });
  dialog.append(region);
  return [region, true];
}

/** Says `message` in `dialog`; a region just made is given a moment to be known before it speaks. */
function dialogStatus(dialog, message) {
  const [region, made] = dialogStatusRegion(dialog);
  region.textContent = '';
  setTimeout(() => { region.textContent = message; }, made ? 150 : 0);
}

/** Shows a load error (or hides it when message is null) in a section's .load-error element. */
export function loadError(el, message) {
  el.textContent = message ?? '';
  el.hidden = !message;
}
