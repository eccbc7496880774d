// Messages a person meets instead of a broken page: the artifact does not exist or is not shared
// with them, the version is gone, they were signed out, the server cannot be reached. Each says
// what happened in words and offers a way forward; none shows raw JSON.

import { $, h, setChildren } from '../dom.js';
import { signInPath } from './route.js';

/**
 * Replaces the review page with a message. `actions` are {text, href} links or {text, onClick}
 * buttons; the first is the way forward.
 */
/**
 * Comments and replies being written and not posted (to offer for copying when the page ends):
 * a box's text, unless it is what the box opened with (an edit of a posted comment left as it was).
 */
export function unsentTexts() {
  return [...document.querySelectorAll('#composer textarea, article.thread textarea')]
    .filter((t) => t.value.trim() !== t.defaultValue.trim())
    .map((t) => t.value.trim())
    .filter(Boolean);
}

export function showPageMessage({ title, text, actions = [], unsent = [] }) {
  const box = $('#page-message');
  $('#review-app').hidden = true;
  $('#review-tools').hidden = true;
  // The message's heading is the page's heading now.
  $('#artifact-name').hidden = true;
  for (const banner of document.querySelectorAll('.banner')) banner.hidden = true;
  setChildren(box,
    h('h1', { id: 'page-message-title', tabIndex: -1, text: title }),
    text ? h('p', { class: 'lead', text }) : null,
    unsent.length ? unsentText(unsent) : null,
    actions.length
      ? h('div', { class: 'actions' }, actions.map((a, i) => a.href
        ? h('a', { class: `button ${i === 0 ? 'primary' : ''}`, href: a.href, text: a.text })
        : h('button', { type: 'button', class: `button ${i === 0 ? 'primary' : ''}`, text: a.text, on: { click: a.onClick } })))
      : null);
  box.hidden = false;
  document.title = `${title} · Artifact Review`;
  $('#page-message-title').focus();
}

const HOME = { text: 'Go to your artifacts', href: '/' };

/** What was being written and not posted, to copy before leaving. */
function unsentText(texts) {
  const area = h('textarea', { id: 'unsent-text', readOnly: true, rows: 6, value: texts.join('\n\n') });
  return h('div', { class: 'field' },
    h('label', { attrs: { for: 'unsent-text' }, text: 'What you were writing, not posted (copy it to keep it):' }),
    area);
}

/**
 * The screen for a reader whose access was removed while the page was open; `unsent` is what
 * they were writing.
 */
export function showAccessRemoved(unsent) {
  showPageMessage({
    title: 'Your access was removed',
    text: 'The owner of this artifact removed you as a reviewer while you had it open, so it is no longer shown to you. Ask them to add you again to go on.',
    actions: [HOME],
    unsent,
  });
}

function showSignedOut() {
  showPageMessage({
    title: 'You were signed out',
    text: 'Your session ended: you signed out elsewhere, your password was changed (which signs out every other session), or it expired. Sign in again to continue where you were; nothing you already posted is lost.',
    actions: [{ text: 'Sign in again', href: signInPath(location.pathname) }, HOME],
  });
}

export function showDisabled() {
  showPageMessage({
    title: 'Your account was disabled',
    text: 'An administrator of this server disabled your account, which signed you out. You can sign in again once they enable it; nothing you posted is lost.',
    actions: [{ text: 'Sign-in page', href: signInPath(location.pathname) }],
  });
}

/** The screen for a request refused with 401: signed out, or the account disabled. */
export const showSignedOutBy = (err) => (err?.code === 'account_disabled' ? showDisabled() : showSignedOut());

export function showNoAccess() {
  showPageMessage({
    title: 'Artifact not found',
    text: 'There is no artifact at this address, or it is not shared with you. Ask its owner to add you as a reviewer.',
    actions: [HOME],
  });
}

export function showDeleted() {
  showPageMessage({
    title: 'This artifact was deleted',
    text: 'Its owner deleted it, with its versions and comments.',
    actions: [HOME],
  });
}

export function showVersionGone(number, latestHref, unsent = []) {
  showPageMessage({
    title: `Version ${number} is not available`,
    text: `Version ${number} of this artifact does not exist or was deleted.`,
    actions: latestHref ? [{ text: 'Open the latest version', href: latestHref }, HOME] : [HOME],
    unsent,
  });
}

export function showLoadError(err) {
  showPageMessage({
    title: 'The artifact could not be loaded',
    text: err.status === 0 ? err.message : `The server answered: ${err.message}`,
    actions: [{ text: 'Try again', onClick: () => location.reload() }, HOME],
  });
}

/** A strip under the header for a problem that does not stop the page (the server unreachable). */
export class ConnectionBanner {
  constructor(el) {
    this.el = el;
  }

  show(text, retry) {
    setChildren(this.el,
      h('p', {}, text, ' ', retry ? h('button', { type: 'button', class: 'button small', text: 'Try again', on: { click: retry } }) : null));
    this.el.hidden = false;
  }

  hide() {
    this.el.hidden = true;
    setChildren(this.el);
  }
}
