// The review bridge (docs/review-bridge.md) arrives with the bridge branch; until then this
// document-side half does nothing, and the review page shows file-level comments only.
