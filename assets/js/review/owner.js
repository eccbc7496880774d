// What only the owner of an artifact does from its page: rename it, manage its reviewers (add by
// email, see whether each is pending, added or has viewed it, remove), its share link (see
// share-link.js), and delete it.

import { api } from '../api.js';
import { $, h, setChildren, badge, dateEl, announce } from '../dom.js';
import { handleForm, resetForm, valueOf, setFieldError } from '../forms.js';
import { openFormDialog, openModal, confirmAction } from '../dialogs.js';
import { disclosure, closeAllDisclosures } from './menu.js';
import { ShareLinkDialog } from './share-link.js';

const STATUS_TEXT = {
  pending: 'Invited: will get access on signing up',
  added: 'Has access, has not opened it yet',
  viewed: 'Has opened it',
};

export class OwnerActions {
  /**
   * @param token       the artifact's share token
   * @param getArtifact () → the artifact shown (for its name)
   * @param onRenamed   (artifact) → void, after a rename
   * @param fallbackFocus () → element, when focus has nowhere better to go
   */
  constructor({ token, getArtifact, onRenamed, fallbackFocus }) {
    this.token = token;
    this.getArtifact = getArtifact;
    this.onRenamed = onRenamed;
    this.fallbackFocus = fallbackFocus;
    this.menu = disclosure($('#owner-button'), $('#owner-panel'), {
      onOpen: () => $('#owner-panel button')?.focus(),
    });
    $('#owner-rename').addEventListener('click', () => this.openRename());
    $('#owner-reviewers').addEventListener('click', () => this.openReviewers());
    this.shareLink = new ShareLinkDialog({ token, fallbackFocus: () => $('#owner-button') });
    $('#owner-share').addEventListener('click', () => {
      closeAllDisclosures();
      this.shareLink.open();
    });
    $('#owner-delete').addEventListener('click', () => this.remove());
    handleForm($('#rename-form'), (form) => this.rename(form));
    handleForm($('#reviewer-form'), (form) => this.addReviewer(form));
  }

  show(isOwner) {
    $('#owner-menu').hidden = !isOwner;
  }

  // ---- rename ---------------------------------------------------------------------------------

  openRename() {
    closeAllDisclosures();
    const form = $('#rename-form');
    resetForm(form);
    form.elements.name.value = this.getArtifact().name;
    openFormDialog($('#rename-dialog'), { focus: form.elements.name, fallbackFocus: () => $('#owner-button') });
    form.elements.name.select();
  }

  async rename(form) {
    const name = valueOf(form, 'name');
    await api.updateArtifact(this.token, { name });
    $('#rename-dialog').close();
    const artifact = await api.artifact(this.token);
    this.onRenamed(artifact);
    announce(`Renamed to “${artifact.name}”`);
  }

  // ---- reviewers ------------------------------------------------------------------------------

  async openReviewers() {
    closeAllDisclosures();
    const dialog = $('#reviewers-dialog');
    resetForm($('#reviewer-form'));
    setChildren($('#reviewers-list'));
    $('#reviewers-empty').hidden = true;
    openModal(dialog, { focus: $('#reviewer-email'), fallbackFocus: () => $('#owner-button') });
    await this.loadReviewers();
  }

  async loadReviewers(focusAfter = null) {
    const errorEl = $('#reviewers-error');
    try {
      const { access } = await api.listAccess(this.token);
      errorEl.hidden = true;
      setChildren($('#reviewers-list'), access.map((a) => this.reviewerItem(a)));
      $('#reviewers-empty').hidden = access.length > 0;
      $('#reviewers-pending').hidden = !access.some((a) => a.status === 'pending');
      focusAfter?.();
    } catch (err) {
      errorEl.textContent = `Could not load the reviewers: ${err.message}`;
      errorEl.hidden = false;
    }
  }

  reviewerItem(a) {
    const who = a.name ? `${a.name} (${a.email})` : a.email;
    const status = badge(a.status, a.status);
    status.title = STATUS_TEXT[a.status] ?? a.status;
    return h('li', { class: 'reviewer', data: { accessId: a.id } },
      h('span', { class: 'reviewer-who' },
        a.name ? h('span', { class: 'name', text: a.name }) : null,
        h('span', { class: a.name ? 'muted reviewer-email' : 'reviewer-email', text: a.email })),
      h('span', { class: 'reviewer-state' },
        status,
        h('span', { class: 'visually-hidden', text: `: ${STATUS_TEXT[a.status] ?? ''}` }),
        a.viewedAt ? h('span', { class: 'muted' }, ' ', dateEl(a.viewedAt)) : null),
      h('button', {
        type: 'button', class: 'button small danger-outline', text: 'Remove',
        attrs: { 'aria-label': `Remove ${who}` },
        on: { click: (event) => this.removeReviewer(a, event.currentTarget) },
      }));
  }

  async addReviewer(form) {
    const email = valueOf(form, 'email');
    try {
      await api.grantAccess(this.token, email);
    } catch (err) {
      if (err.status === 409) {
        setFieldError(form.elements.email, `${email} already has access.`);
        form.elements.email.focus();
        return;
      }
      throw err;
    }
    form.elements.email.value = '';
    announce(`${email} added as a reviewer`);
    await this.loadReviewers(() => form.elements.email.focus());
  }

  async removeReviewer(a, button) {
    const items = [...$('#reviewers-list').children];
    const index = items.findIndex((li) => li.contains(button));
    // Asked first: a removal takes effect at once (an open review page of theirs ends), and the
    // next row's button comes under the pointer.
    const removed = await confirmAction({
      title: `Remove ${a.name ?? a.email}?`,
      body: [
        h('p', {}, h('strong', { text: a.name ? `${a.name} (${a.email})` : a.email }),
          ' loses access to this artifact at once; a review page they have open closes.'),
        h('p', { class: 'muted', text: 'What they wrote stays. You can add them again later.' }),
      ],
      confirmLabel: 'Remove reviewer',
      action: () => api.revokeAccess(this.token, a.id),
      fallbackFocus: () => button,
    });
    if (!removed) return;
    announce(`${a.email} removed`);
    await this.loadReviewers(() => {
      // Focus the next reviewer's Remove button, else the previous one's, else the email field.
      const buttons = [...$('#reviewers-list').querySelectorAll('button')];
      (buttons[index] ?? buttons[index - 1] ?? $('#reviewer-email')).focus();
    });
  }

  // ---- delete ---------------------------------------------------------------------------------

  async remove() {
    closeAllDisclosures();
    const artifact = this.getArtifact();
    const deleted = await confirmAction({
      title: 'Delete this artifact?',
      body: [
        h('p', {}, h('strong', { text: artifact.name }), ', its versions and all their comments will be deleted for everyone who can see it.'),
        h('p', { class: 'muted', text: 'Reviewers and agents lose access at once.' }),
      ],
      confirmLabel: 'Delete artifact',
      action: () => api.deleteArtifact(this.token),
      fallbackFocus: () => $('#owner-button'),
    });
    if (deleted) location.assign('/');
  }
}
