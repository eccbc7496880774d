// The owner's share link dialog on the review page: make the link, copy its address, choose what
// people with it can do besides seeing the latest version (see the comments; comment and reply
// once signed in), turn it off and on, and see how often the artifact was viewed.

import { api } from '../api.js';
import { $, announce } from '../dom.js';
import { openModal } from '../dialogs.js';

export class ShareLinkDialog {
  /**
   * @param token         the artifact's share token
   * @param fallbackFocus () → element, for when the dialog closes and its opener is gone
   */
  constructor({ token, fallbackFocus }) {
    this.token = token;
    this.fallbackFocus = fallbackFocus;
    this.link = null;
    $('#share-create').addEventListener('click', () => this.run(() => this.create()));
    $('#share-reissue').addEventListener('click', () => this.run(() => this.create()));
    $('#share-toggle').addEventListener('click', () => this.run(() => this.toggle()));
    $('#share-copy').addEventListener('click', () => this.copy());
    $('#share-url').addEventListener('focus', (event) => event.target.select());
    for (const box of [$('#share-read'), $('#share-write')]) {
      box.addEventListener('change', () => this.run(() => this.saveCapabilities()));
    }
  }

  async open() {
    this.render(null);
    $('#share-error').hidden = true;
    openModal($('#share-dialog'), { focus: $('#share-dialog [data-close]'), fallbackFocus: this.fallbackFocus });
    await this.run(async () => {
      try {
        this.render(await api.shareLink(this.token));
      } catch (err) {
        if (err.status !== 404) throw err;
        this.render(null);
        $('#share-none').hidden = false;
      }
    });
    this.loadViews();
  }

  /** Runs an action; a failure is shown in the dialog. */
  async run(action) {
    $('#share-error').hidden = true;
    try {
      await action();
    } catch (err) {
      $('#share-error').textContent = err.message;
      $('#share-error').hidden = false;
    }
  }

  render(link) {
    this.link = link;
    $('#share-none').hidden = true;
    $('#share-details').hidden = !link;
    $('#share-toggle').hidden = !link;
    if (!link) return;
    const url = $('#share-url');
    url.value = link.shareUrl ?? '';
    url.disabled = !link.enabled || !link.shareUrl;
    $('#share-copy').disabled = !link.enabled || !link.shareUrl;
    $('#share-url-lost').hidden = Boolean(link.shareUrl);
    $('#share-state').textContent = link.enabled
      ? 'The link is on: anyone who has it can open the latest version.'
      : 'The link is off: its address shows “no longer available”.';
    $('#share-read').checked = link.capabilities.readComments || link.capabilities.writeComments;
    $('#share-read').disabled = link.capabilities.writeComments;
    $('#share-write').checked = link.capabilities.writeComments;
    $('#share-toggle').textContent = link.enabled ? 'Turn off the link' : 'Turn the link on';
    $('#share-toggle').className = link.enabled ? 'button danger-outline' : 'button primary';
  }

  async loadViews() {
    try {
      const { stats } = await api.stats(this.token);
      const views = stats.totalViews === 1 ? '1 view' : `${stats.totalViews.toLocaleString()} views`;
      const people = stats.uniqueViewers === 1 ? '1 viewer' : `${stats.uniqueViewers.toLocaleString()} viewers`;
      // The artifact's views, by reviewers and through the link alike: said so, not read as the link's.
      $('#share-views').textContent = `Views of this artifact, in the review page and through its link: ${views} by ${people} (repeat visits within 30 minutes count once).`;
    } catch {
      $('#share-views').textContent = '';
    }
  }

  async create() {
    const link = await api.createShareLink(this.token, {
      readComments: $('#share-read').checked,
      writeComments: $('#share-write').checked,
    });
    this.render(link);
    announce('Share link created');
    $('#share-copy').focus();
  }

  async toggle() {
    const wasOn = this.link.enabled;
    const link = wasOn
      ? await api.disableShareLink(this.token)
      : await api.updateShareLink(this.token, { enabled: true });
    this.render(link);
    announce(wasOn ? 'Share link turned off' : 'Share link turned on');
    $('#share-toggle').focus();
  }

  async saveCapabilities() {
    const writeComments = $('#share-write').checked;
    const readComments = $('#share-read').checked || writeComments;
    const link = await api.updateShareLink(this.token, { capabilities: { readComments, writeComments } });
    this.render(link);
    announce('Saved');
  }

  async copy() {
    const url = $('#share-url');
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard API here');
      await navigator.clipboard.writeText(url.value);
      announce('Link copied');
      $('#share-state').textContent = 'Copied to the clipboard.';
    } catch {
      url.disabled = false;
      url.focus();
      url.select();
      $('#share-state').textContent = 'Selected: press Ctrl+C (⌘C on a Mac) to copy it.';
    }
  }
}
