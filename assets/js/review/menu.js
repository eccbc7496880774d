// A disclosure: a button that shows and hides a panel (the version list, the owner's actions).
// Not an ARIA menu: the panel holds ordinary links and buttons reached with Tab, which works the
// same for every assistive technology. Escape closes it and returns focus to its button; so does a
// click or focus elsewhere.

const open = new Set();

export function disclosure(button, panel, { onOpen = null } = {}) {
  const root = button.parentElement;
  const set = (expanded, { focusButton = false } = {}) => {
    button.setAttribute('aria-expanded', String(expanded));
    panel.hidden = !expanded;
    if (expanded) {
      for (const other of open) if (other !== api) other.close();
      open.add(api);
      onOpen?.();
    } else {
      open.delete(api);
      if (focusButton) button.focus();
    }
  };
  const api = {
    close: (options) => set(false, options),
    isOpen: () => button.getAttribute('aria-expanded') === 'true',
  };
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-controls', panel.id);
  panel.hidden = true;
  button.addEventListener('click', () => set(!api.isOpen()));
  root.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && api.isOpen()) {
      event.stopPropagation();
      set(false, { focusButton: true });
    }
  });
  root.addEventListener('focusout', (event) => {
    if (api.isOpen() && event.relatedTarget && !root.contains(event.relatedTarget)) set(false);
  });
  document.addEventListener('pointerdown', (event) => {
    if (api.isOpen() && !root.contains(event.target)) set(false);
  });
  return api;
}

/** Closes every open disclosure (before a dialog opens, for example). */
export function closeAllDisclosures() {
  for (const d of [...open]) d.close();
}
