// The file tree of a ZIP site: folders and files, the file shown marked, and each file's number of
// open comments. Each file is a real link to its review address (so it opens in a new tab too);
// a plain click shows it in the frame instead of reloading the page.

import { h, setChildren } from '../dom.js';

/** Nests paths into {dirs: Map name → node, files: [{name, path}]}. */
function buildTree(paths) {
  const root = { dirs: new Map(), files: [] };
  for (const path of paths) {
    const parts = path.split('/');
    let node = root;
    for (const dir of parts.slice(0, -1)) {
      if (!node.dirs.has(dir)) node.dirs.set(dir, { dirs: new Map(), files: [] });
      node = node.dirs.get(dir);
    }
    node.files.push({ name: parts[parts.length - 1], path });
  }
  return root;
}

const byName = (a, b) => a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });

export class FileTree {
  /**
   * @param container where the tree goes
   * @param hrefFor   (path) → the review address of a file
   * @param onOpen    (path) → show that file in the frame
   */
  constructor({ container, hrefFor, onOpen }) {
    this.container = container;
    this.hrefFor = hrefFor;
    this.onOpen = onOpen;
    this.links = new Map();
  }

  render(paths) {
    this.links.clear();
    setChildren(this.container, this.list(buildTree(paths), 0));
  }

  list(node, depth) {
    const items = [];
    // Files before folders, so a site's first page (index.html at the root) comes first.
    for (const file of [...node.files].sort((a, b) => byName(a.name, b.name))) {
      items.push(this.fileItem(file));
    }
    for (const name of [...node.dirs.keys()].sort(byName)) {
      items.push(h('li', { class: 'tree-dir' },
        h('span', { class: 'tree-folder' }, h('span', { attrs: { 'aria-hidden': 'true' }, text: '▾ ' }), name, h('span', { class: 'visually-hidden', text: ' (folder)' })),
        this.list(node.dirs.get(name), depth + 1)));
    }
    return h('ul', { class: depth ? 'tree-list nested' : 'tree-list' }, items);
  }

  fileItem(file) {
    const count = h('span', { class: 'tree-count', hidden: true });
    const link = h('a', {
      class: 'tree-file',
      href: this.hrefFor(file.path),
      data: { path: file.path },
      on: {
        click: (event) => {
          // Modified clicks (new tab, new window) keep their usual meaning.
          if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
          event.preventDefault();
          this.onOpen(file.path);
        },
      },
    }, h('span', { class: 'tree-name', text: file.name }), count);
    this.links.set(file.path, { link, count });
    return h('li', {}, link);
  }

  setCurrent(path) {
    for (const [p, { link }] of this.links) {
      if (p === path) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  }

  /** Shows each file's open comments: Map path → count. */
  setCounts(counts) {
    for (const [p, { count }] of this.links) {
      const n = counts.get(p) ?? 0;
      count.hidden = n === 0;
      setChildren(count, String(n), h('span', { class: 'visually-hidden', text: n === 1 ? ' open comment' : ' open comments' }));
    }
  }
}
