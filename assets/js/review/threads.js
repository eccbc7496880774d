// The comments of an artifact as the review page needs them: which file each belongs to, whether
// it was made on the version shown or an earlier one, whether it has a passage, and how many are
// open per file. Pure data, no DOM, so the grouping rules live in one place.

/** The TextQuoteSelector, TextPositionSelector... of a target, as a list (a selector may be one object or an array). */
export function selectorsOf(target) {
  const s = target?.selector;
  if (!s) return [];
  return (Array.isArray(s) ? s : [s]).filter((x) => x && typeof x === 'object' && typeof x.type === 'string');
}

/** The quoted passage of a target, or null (a comment on the whole file, or a CSS selector only). */
export function quoteOf(target) {
  const q = selectorsOf(target).find((x) => x.type === 'TextQuoteSelector' && typeof x.exact === 'string');
  return q ? q.exact : null;
}

/** "v3" → 3; anything else → null. */
export const versionNumberOf = (label) => {
  const m = /^v(\d+)$/.exec(label ?? '');
  return m ? Number(m[1]) : null;
};

/**
 * One comment placed in the version shown:
 *   comment      the API's comment
 *   source       the file of this version it is shown on
 *   own          made on the version shown (false: made on an earlier version)
 *   fromVersion  the number of the version it was made on
 *   fileLevel    no selector: a comment on the whole file
 *   missingFile  the file it was made on is not in this version (its original path), else null
 */
export class ThreadSet {
  /**
   * @param comments  the API's comments (version=all)
   * @param version   the version shown: {number, createdAt}
   * @param files     the paths of this version's files
   * @param entryPoint the file a single-file artifact's comments all belong to
   */
  constructor(comments, { version, files, entryPoint }) {
    const paths = new Set(files);
    const single = files.length <= 1;
    this.items = [];
    for (const comment of comments) {
      const fromVersion = versionNumberOf(comment.version) ?? version.number;
      const own = fromVersion === version.number;
      if (!own) {
        // An old version shows what was said before it too (it was on screen there while it
        // was the latest: threads do not vanish from it when a newer version is published), and
        // nothing said on later versions.
        if (fromVersion > version.number) continue;
        // Resolved comments of earlier versions stay there, except those resolved while this
        // version was the one to look at: resolving one here moves it to "Resolved", it does not
        // make it vanish.
        if (comment.resolved && !(comment.resolvedAt >= version.createdAt)) continue;
      }
      const original = typeof comment.target?.source === 'string' ? comment.target.source : '';
      let source = original;
      let missingFile = null;
      if (single) {
        // A single page or document: every comment is on it, whatever its file was called then.
        source = entryPoint;
      } else if (!paths.has(original)) {
        source = entryPoint;
        missingFile = original || null;
      }
      this.items.push({
        comment,
        id: comment.id,
        source,
        own,
        fromVersion,
        fileLevel: selectorsOf(comment.target).length === 0,
        missingFile,
      });
    }
    this.byId = new Map(this.items.map((t) => [t.id, t]));
  }

  /** The threads shown on one file. */
  onFile(path) {
    return this.items.filter((t) => t.source === path);
  }

  /** Open threads per file, for the file tree: Map path → count. */
  openCounts() {
    const counts = new Map();
    for (const t of this.items) {
      if (t.comment.resolved) continue;
      counts.set(t.source, (counts.get(t.source) ?? 0) + 1);
    }
    return counts;
  }

  get(id) {
    return this.byId.get(id) ?? null;
  }
}

/**
 * Sorts a file's threads into the sidebar's groups, given where the frame placed them
 * (`placement(id)` → {status: 'pending'|'exact'|'fuzzy'|'orphan', start}):
 *   open      this version's open threads: whole-file ones first, then in document order
 *   earlier   open threads from earlier versions that were found here, in document order
 *   notFound  open threads whose passage is not in this version (or whose file is not)
 *   resolved  resolved threads, in document order
 * Threads not yet placed keep their creation order after the placed ones.
 */
export function groupThreads(threads, placement) {
  const order = (a, b) => {
    if (a.fileLevel !== b.fileLevel) return a.fileLevel ? -1 : 1;
    const pa = placement(a.id);
    const pb = placement(b.id);
    const sa = typeof pa?.start === 'number' && pa.status !== 'orphan' ? pa.start : Infinity;
    const sb = typeof pb?.start === 'number' && pb.status !== 'orphan' ? pb.start : Infinity;
    if (sa !== sb) return sa - sb;
    return a.comment.createdAt - b.comment.createdAt;
  };
  const groups = { open: [], earlier: [], notFound: [], resolved: [] };
  for (const t of threads) {
    const orphan = t.missingFile !== null || (!t.fileLevel && placement(t.id)?.status === 'orphan');
    if (t.comment.resolved) groups.resolved.push(t);
    else if (orphan) groups.notFound.push(t);
    else if (t.own) groups.open.push(t);
    else groups.earlier.push(t);
  }
  for (const list of Object.values(groups)) list.sort(order);
  return groups;
}
