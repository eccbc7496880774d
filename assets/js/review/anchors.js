// What the frame is told to highlight, and where it says it found each passage.
//
// The frame is hostile ground (the artifact's own scripts share it with the bridge), so what goes
// to it is only what its reader can already see: ids, selectors, states and two booleans. Never a
// comment's text, an author's name or anything else from the sidebar. What comes back (placements)
// only orders and groups the sidebar; it never causes a write.

import { selectorsOf } from './threads.js';

export const DRAFT_ID = 'draft';

export class Anchors {
  constructor() {
    /** id → {status, start} for the document connected now. */
    this.placed = new Map();
    /** Whether the current document can place passages at all (it has a bridge). */
    this.bridged = false;
    /** The ids sent to the current document, to tell "not reported yet" from "not sent". */
    this.sent = new Set();
    this.orphansAnnounced = false;
    /** What was last sent to the current document (each message makes it anchor again). */
    this.lastSent = '';
  }

  /** A new document connected (bridged) or a document without a bridge loaded. */
  reset(bridged) {
    this.placed.clear();
    this.sent.clear();
    this.bridged = bridged;
    this.orphansAnnounced = false;
    // A new document knows no anchors yet, whatever the last one was sent.
    this.lastSent = '';
  }

  /** Results of an anchoring pass: [{id, status, start}], already validated by FrameLink. */
  record(results) {
    for (const r of results) {
      if (r.id === DRAFT_ID) continue;
      this.placed.set(r.id, { status: r.status, start: r.start });
    }
  }

  /**
   * Where a thread is: {status: 'pending'|'exact'|'fuzzy'|'orphan', start}. In a document without
   * a bridge (an image, a stylesheet, a page that left the artifact) no passage can be placed.
   */
  placement(id) {
    if (!this.bridged) return { status: 'orphan', start: null };
    return this.placed.get(id) ?? { status: 'pending', start: null };
  }

  /** Whether every sent anchor has been reported at least once. */
  settled() {
    for (const id of this.sent) if (!this.placed.has(id)) return false;
    return true;
  }

  /**
   * The anchor list for FrameLink.setAnchors: one per thread of this file with a passage, plus the
   * draft of a new comment while one is open here. `showResolved`: whether resolved threads are
   * on screen (then their passages are drawn too).
   */
  build(threads, { activeId, draft, showResolved }) {
    const anchors = [];
    for (const t of threads) {
      if (t.fileLevel || t.missingFile !== null) continue;
      const resolved = t.comment.resolved;
      anchors.push({
        id: t.id,
        selector: t.comment.target.selector,
        state: resolved ? 'resolved' : 'open',
        // A resolved thread's passage is not drawn unless resolved threads are shown, active or not.
        active: t.id === activeId && (!resolved || showResolved),
      });
    }
    if (draft && selectorsOf({ selector: draft }).length) {
      anchors.push({ id: DRAFT_ID, selector: draft, state: 'draft', active: false });
    }
    this.sent = new Set(anchors.map((a) => a.id).filter((id) => id !== DRAFT_ID));
    return anchors;
  }

  /**
   * Tells the frame (an ArtifactFrame) what to highlight among `threads` (those of the file it
   * shows): ids, selectors, states and the active flag, nothing else. Only when that changed,
   * since each message makes the frame anchor again.
   */
  sendTo(frame, threads, { activeId, draft, showResolved }) {
    const list = this.build(threads, { activeId, draft, showResolved });
    const key = JSON.stringify([list, showResolved]);
    if (key === this.lastSent) return;
    this.lastSent = key;
    frame.setAnchors(list, showResolved);
  }
}
