// Addresses of the review page and of the artifact frame. The page's own address says which
// artifact, version and file are shown (/a/{t}, /a/{t}/v/{n}/, /a/{t}/v/{n}/{path...}); the frame
// shows files under a viewing grant (/v/{grant}/{path...}). Pure functions, no DOM.

const enc = encodeURIComponent;

/** A file path as URL path segments: each segment percent-encoded, slashes kept. */
export const encodePath = (path) => path.split('/').map(enc).join('/');

function decodeSegments(text) {
  try {
    return text.split('/').map(decodeURIComponent).join('/');
  } catch {
    return null; // a malformed %-escape names no file
  }
}

/**
 * Reads the review page's address. Returns {token, version, path} (version a number or null for
 * the latest, path a decoded file path or null for the entry page), or null when it is not a
 * review address.
 */
export function parseReviewPath(pathname) {
  const m = /^\/a\/([A-Za-z0-9_-]+)(?:\/v\/v?(\d+)(?:\/(.*))?)?\/?$/.exec(pathname);
  if (!m) return null;
  const version = m[2] === undefined ? null : Number(m[2]);
  if (version !== null && (!Number.isSafeInteger(version) || version < 1)) return null;
  let path = null;
  if (m[3]) {
    path = decodeSegments(m[3]);
    if (path === null) return null;
  }
  return { token: m[1], version, path };
}

/**
 * The review page's address for a file of a version. The latest version's entry page is `/a/{t}`,
 * so a bookmark keeps following new versions; anything else names its version and file. Versions
 * always end in a slash (`/a/{t}/v/2/`), the form the sign-in page accepts as `next`.
 */
export function reviewPath(token, { version, isLatest, path, entryPoint }) {
  if (isLatest && (!path || path === entryPoint)) return `/a/${enc(token)}`;
  const file = path && path !== entryPoint ? encodePath(path) : '';
  return `/a/${enc(token)}/v/${version}/${file}`;
}

/** The frame's address for a file under a grant whose path is "/v/GRANT/". */
export function frameSrc(grantPath, filePath) {
  const base = grantPath.endsWith('/') ? grantPath : `${grantPath}/`;
  return base + encodePath(filePath);
}

/**
 * The file a frame document says it shows, from its location.pathname ("/v/GRANT/dir/a%20b.html",
 * or "/share/LINK/dir/a%20b.html" on a share link's page): the decoded path after any grant
 * ("dir/a b.html"), or null when the path is not under a grant.
 * Any grant is accepted, not only the current one: after a grant is renewed, Back may return to a
 * document loaded under the previous one. A folder ("dir/") means its index.html, as the server
 * serves it.
 */
export function fileOfFramePath(pathname) {
  if (typeof pathname !== 'string') return null;
  const m = /^\/(?:v|share)\/[A-Za-z0-9_-]+\/(.*)$/.exec(pathname);
  if (!m) return null;
  const path = decodeSegments(m[1]);
  if (path === null) return null;
  if (path === '') return '';
  return path.endsWith('/') ? `${path}index.html` : path;
}

/** Where to sign in again and come back to this page. */
export function signInPath(pathname) {
  return `/login?next=${enc(pathname)}`;
}
