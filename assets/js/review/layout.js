// The three columns (files, artifact, comments) on a wide screen; on narrower ones the file tree
// and then the comments become drawers over the artifact, opened with buttons in the header.
// The breakpoints live in review.css; this module only asks them through matchMedia.

import { $ } from '../dom.js';

const FILES_DRAWER = '(max-width: 1099.98px)';
const SIDEBAR_DRAWER = '(max-width: 799.98px)';

export class Layout {
  constructor({ layout, stage, files, filesToggle, sidebar, sidebarToggle, sidebarHeading, filesHeading }) {
    this.layout = layout;
    this.stage = stage;
    this.drawers = {
      files: { panel: files, toggle: filesToggle, heading: filesHeading, query: matchMedia(FILES_DRAWER) },
      sidebar: { panel: sidebar, toggle: sidebarToggle, heading: sidebarHeading, query: matchMedia(SIDEBAR_DRAWER) },
    };
    for (const [name, d] of Object.entries(this.drawers)) {
      d.toggle.setAttribute('aria-controls', d.panel.id);
      d.toggle.setAttribute('aria-expanded', 'false');
      d.toggle.addEventListener('click', () => (this.isOpen(name) ? this.close(name, true) : this.open(name, { focus: true })));
      d.panel.addEventListener('keydown', (event) => {
        if (event.key === 'Escape' && this.isDrawer(name) && this.isOpen(name) && !event.defaultPrevented) {
          event.preventDefault();
          this.close(name, true);
        }
      });
      d.query.addEventListener('change', () => this.sync());
    }
    this.sync();
  }

  isDrawer(name) {
    return this.drawers[name].query.matches;
  }

  isOpen(name) {
    return this.layout.dataset[`${name}Open`] === 'true';
  }

  /** Whether a panel can be seen now: always in the columns layout, when open as a drawer. */
  isVisible(name) {
    return !this.isDrawer(name) || this.isOpen(name);
  }

  /** Opens a drawer (a no-op for a column); `focus` moves focus to its heading. */
  open(name, { focus = false } = {}) {
    if (!this.isDrawer(name)) return;
    for (const other of Object.keys(this.drawers)) if (other !== name) this.close(other, false);
    this.layout.dataset[`${name}Open`] = 'true';
    this.drawers[name].toggle.setAttribute('aria-expanded', 'true');
    this.coverStage();
    if (focus) this.drawers[name].heading.focus();
  }

  /**
   * Where drawers take the whole width (the comments are a drawer too), the artifact under an open
   * one can be neither seen nor reached: it is made inert, so that Tab does not go behind it.
   */
  coverStage() {
    if (!this.stage) return;
    const narrow = this.isDrawer('sidebar');
    this.stage.inert = narrow && Object.keys(this.drawers).some((name) => this.isOpen(name));
  }

  /** Closes the comments drawer if it covers the artifact (before the focus goes back to it). */
  uncoverStage() {
    if (this.isDrawer('sidebar') && this.isOpen('sidebar')) this.close('sidebar', false);
  }

  close(name, focusToggle) {
    const d = this.drawers[name];
    const hadFocus = d.panel.contains(document.activeElement);
    this.layout.dataset[`${name}Open`] = 'false';
    d.toggle.setAttribute('aria-expanded', 'false');
    this.coverStage();
    // Focus must not stay inside a panel that is no longer shown.
    if (focusToggle || (hadFocus && this.isDrawer(name))) d.toggle.focus();
  }

  /** After a resize: drawers that became columns are simply shown; toggles say what they do. */
  sync() {
    for (const [name, d] of Object.entries(this.drawers)) {
      if (!this.isDrawer(name)) {
        this.layout.dataset[`${name}Open`] = 'false';
        d.toggle.setAttribute('aria-expanded', 'false');
      }
    }
    this.coverStage();
  }
}

/** The layout of a page built like the review page (review.html, share.html: the same ids). */
export function pageLayout() {
  return new Layout({
    layout: $('#review-app'),
    stage: $('#stage'),
    files: $('#files'),
    filesToggle: $('#files-toggle'),
    sidebar: $('#sidebar'),
    sidebarToggle: $('#sidebar-toggle'),
    sidebarHeading: $('#comments-title'),
    filesHeading: $('#files-title'),
  });
}
