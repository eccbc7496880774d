// The "Artifacts" home (/): the artifacts this person owns and those shared with them, newest
// activity first, filtered by name, paged with "Load more". When there is none yet, it explains how
// to upload one with a curl line that uses one of the person's real key prefixes.

import { api } from './api.js';
import { $, h, cell, agoEl, authorEl, badge, keyDisplay, loadError, setChildren, setBusy, isBusy, hideKeepingFocus } from './dom.js';

export const PAGE_SIZE = 25;
/** How long typing pauses before the list is filtered (one request per pause, not per key). */
const FILTER_DELAY_MS = 250;

let ctx = null;
let cursor = null;
let loadSeq = 0;
let filterTimer = null;

const view = () => $('#view-artifacts');
const filterInput = () => $('#artifacts-filter');

function nameCell(a) {
  const link = h('a', { class: 'name', href: `/a/${encodeURIComponent(a.shareToken)}`, text: a.name });
  let marker = null;
  if (a.unseen) {
    // The marker is text ("New"), not colour alone; the title says since when.
    marker = badge('New', 'new');
    marker.title = a.lastSeenAt
      ? `Changed by someone else since you last looked (${new Date(a.lastSeenAt).toLocaleString()})`
      : 'Changed by someone else, and you have not opened it yet';
  }
  return cell('Name',
    h('span', { class: 'artifact-name' },
      h('span', { class: 'artifact-title' }, link, marker ? ' ' : null, marker),
      a.description ? h('span', { class: 'artifact-description muted', text: a.description }) : null));
}

function latestCell(a) {
  const latest = a.latest;
  if (!latest && !a.latestVersion) return cell('Latest version', h('span', { class: 'muted', text: '—' }));
  const number = latest?.number ?? a.latestVersion;
  return cell('Latest version',
    h('span', { class: 'version-summary' },
      h('span', {},
        h('span', { class: 'version-number', text: `v${number}` }),
        latest?.name ? h('span', { class: 'version-name', text: ` · ${latest.name}` }) : null),
      latest ? h('span', { class: 'muted' }, ' ', agoEl(latest.createdAt)) : null));
}

function row(a) {
  const meId = ctx.me.user.id;
  const owner = a.role === 'owner' || a.owner?.id === meId
    ? h('span', { text: 'You' })
    : h('span', { text: a.owner?.name ?? '—' });
  const open = a.stats?.unresolvedCommentCount ?? 0;
  return h(
    'tr',
    { class: a.unseen ? 'is-unseen' : null, data: { shareToken: a.shareToken } },
    nameCell(a),
    latestCell(a),
    cell('Uploaded by', authorEl(a.latest?.createdBy, meId)),
    cell('Open comments', h('span', { class: open ? 'count' : 'count muted', text: String(open) })),
    cell('Owner', owner),
    cell('Last activity', agoEl(a.activityAt ?? a.updatedAt ?? a.createdAt)),
  );
}

/** The curl line of the empty state, with the key shown by its prefix only (never a full key). */
function uploadHelp(keys) {
  const active = keys.filter((k) => k.status === 'active');
  const placeholder = active.length ? keyDisplay(active[0].prefix) : 'ar_live_YOUR_KEY';
  const curl = [
    `curl -X POST ${location.origin}/api/v1/artifacts \\`,
    `  -H "X-API-Key: ${placeholder}" \\`,
    '  -F file=@report.html -F name="Weekly report"',
  ].join('\n');
  const keyHint = active.length
    ? h('p', { class: 'hint' },
        'Replace ', h('code', { text: placeholder }), ` with your full key “${active[0].name}”: it was shown once, when you created it. `,
        'Lost it? Create a new one under ', h('a', { href: '/settings#keys', text: 'API keys' }), '.')
    : h('p', { class: 'hint' },
        'You have no API key yet: ', h('a', { href: '/settings#keys', text: 'create one under API keys' }),
        ' (for yourself, or for an agent such as a coding assistant), then put it in place of ', h('code', { text: placeholder }), '.');
  return [
    h('h2', { text: 'No artifacts yet' }),
    h('p', { text: 'Artifacts that people share with you for review appear here as soon as they do.' }),
    h('p', { text: 'To publish your own: an artifact is an HTML page, a Markdown document or a ZIP of a small static site. Upload one from a script or let an agent do it through the API:' }),
    h('pre', { class: 'command' }, h('code', { text: curl })),
    keyHint,
    h('p', { class: 'hint' },
      'Use ', h('code', { text: 'file=@notes.md' }), ' or ', h('code', { text: 'file=@site.zip' }),
      ' for the other kinds. Once uploaded, it appears here; share it with reviewers from its page.'),
  ];
}

async function showEmptyStart() {
  const box = $('#artifacts-empty');
  let keys = [];
  try {
    ({ keys } = await api.listKeys());
  } catch {
    // The help still works with a placeholder instead of a real prefix.
  }
  setChildren(box, ...uploadHelp(keys));
  box.hidden = false;
}

/** Loads the first page (fresh = true) or the next one, for the current filter. */
async function loadPage(fresh) {
  const seq = ++loadSeq;
  const q = filterInput().value.trim();
  const more = $('#artifacts-more');
  const errorEl = view().querySelector('.load-error');
  setBusy(more, true);
  try {
    const page = await api.listArtifacts({ sort: 'activity', q, limit: PAGE_SIZE, cursor: fresh ? null : cursor });
    if (seq !== loadSeq) return;
    loadError(errorEl, null);
    const rows = page.artifacts.map(row);
    const tbody = $('#artifacts-table tbody');
    if (fresh) setChildren(tbody, rows);
    else tbody.append(...rows);
    cursor = page.nextCursor ?? null;
    hideKeepingFocus(more, !cursor, $('#artifacts-title'));
    const count = tbody.children.length;
    view().querySelector('.table-wrap').hidden = count === 0;
    $('#artifacts-none').hidden = !(count === 0 && q);
    $('#artifacts-none').textContent = `No artifact’s name contains “${q}”.`;
    let status = '';
    if (q && cursor) status = `More than ${count} artifacts match.`;
    else if (q) status = count === 1 ? '1 artifact matches.' : `${count} artifacts match.`;
    $('#artifacts-status').textContent = status;
    // Nothing at all yet: the upload help instead of an empty list (and no filter to type into).
    const none = count === 0 && !q && fresh;
    view().querySelector('.toolbar').hidden = none;
    if (none) await showEmptyStart();
    else $('#artifacts-empty').hidden = true;
  } catch (err) {
    if (seq === loadSeq) loadError(errorEl, `Could not load your artifacts: ${err.message}`);
  } finally {
    if (seq === loadSeq) setBusy(more, false);
  }
}

function onFilterInput() {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => loadPage(true), FILTER_DELAY_MS);
}

export const artifactsView = {
  id: 'artifacts',
  title: 'Artifacts',
  init(context) {
    ctx = context;
    filterInput().addEventListener('input', onFilterInput);
    // Enter filters at once instead of waiting for the pause.
    filterInput().addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        clearTimeout(filterTimer);
        loadPage(true);
      }
    });
    $('#artifacts-more').addEventListener('click', (event) => {
      if (!isBusy(event.currentTarget)) loadPage(false);
    });
  },
  show: () => loadPage(true),
};
