// The version switcher (each version with its number, name, author and date; the latest marked)
// and the banners about versions: comments locked on an old one, a newer one published meanwhile.

import { h, setChildren, authorEl, badge, dateEl } from '../dom.js';
import { disclosure } from './menu.js';
import { reviewPath } from './route.js';

export class Versions {
  constructor({ button, panel, list, banner, token, meId }) {
    this.button = button;
    this.list = list;
    this.banner = banner;
    this.token = token;
    this.meId = meId;
    this.menu = disclosure(button, panel, {
      onOpen: () => (list.querySelector('[aria-current="page"]') ?? list.querySelector('a'))?.focus(),
    });
  }

  /**
   * Lists the versions of `artifact`, newest first, with `current` (a version object) marked.
   * Each links to that version's first page (files differ between versions of a site).
   */
  render(artifact, current) {
    const versions = [...artifact.versions].sort((a, b) => b.number - a.number);
    setChildren(this.button,
      h('span', { class: 'visually-hidden', text: 'Version: ' }),
      h('span', { text: `v${current.number}` }),
      current.isLatest ? h('span', { class: 'muted', text: ' (latest)' }) : null,
      h('span', { class: 'chevron', attrs: { 'aria-hidden': 'true' }, text: '▾' }));
    setChildren(this.list, versions.map((v) => {
      const href = reviewPath(this.token, { version: v.number, isLatest: v.isLatest, path: null, entryPoint: v.entryPoint });
      return h('li', {},
        h('a', {
          class: 'version-item',
          href,
          attrs: { 'aria-current': v.number === current.number ? 'page' : null },
        },
        h('span', { class: 'version-line' },
          h('span', { class: 'version-number', text: `v${v.number}` }),
          v.name ? h('span', { class: 'version-name', text: v.name }) : null,
          v.isLatest ? badge('latest', 'latest') : null),
        h('span', { class: 'version-meta' }, authorEl(v.createdBy, this.meId), h('span', { text: ' · ' }), dateEl(v.createdAt))));
    }));
  }

  /** The banner under the header: locked comments on an old version, or nothing. */
  showBanner(artifact, current) {
    const latest = artifact.versions.find((v) => v.isLatest);
    if (current.isLatest || !latest) {
      this.banner.hidden = true;
      setChildren(this.banner);
      return null;
    }
    const href = reviewPath(this.token, { version: latest.number, isLatest: true, path: null, entryPoint: latest.entryPoint });
    setChildren(this.banner,
      h('p', {},
        h('strong', { text: 'Comments are locked on old versions. ' }),
        `You are viewing v${current.number}; v${latest.number} is the latest. Existing threads can still be replied to and resolved. `,
        h('a', { href, text: `Go to the latest version (v${latest.number})` })));
    this.banner.hidden = false;
    return `Viewing v${current.number} — comments locked`;
  }

  /** A word about the version shown (why the page shows it), in the banner until it changes. */
  showNote(text) {
    setChildren(this.banner, h('p', {}, h('strong', { text })));
    this.banner.hidden = false;
  }

  /** Says that a newer version was published (or `how`: restored) while this page was open. */
  announceNewer(artifact, current, how = 'published') {
    const latest = artifact.versions.find((v) => v.isLatest);
    if (!latest || latest.number <= current.number) return null;
    const href = reviewPath(this.token, { version: latest.number, isLatest: true, path: null, entryPoint: latest.entryPoint });
    setChildren(this.banner,
      h('p', {},
        h('strong', { text: `Version ${latest.number} was ${how}. ` }),
        `Comments are locked on v${current.number} now. `,
        h('a', { href, text: `Open v${latest.number}` })));
    this.banner.hidden = false;
    return `Version ${latest.number} was ${how}`;
  }
}
