// The JSON API client: one function per call the settings UI, the artifacts home and the review
// page make. Every failure becomes an
// ApiError carrying the server's human message and stable code, so forms can show it next to the
// field it concerns.

/** An error answer from the server (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null, field = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    /** The request field the error is about, when the server names one. */
    this.field = field;
  }
}

let onSessionLost = null;
let reauthenticate = null;
let onAdminRequired = null;

/**
 * `handler(err)` runs when a request is refused because it needs an admin (`admin_required`):
 * the person's role may have changed since the page loaded.
 */
export function whenAdminRequired(handler) {
  onAdminRequired = handler;
}

// account_disabled: the session ended because an admin disabled the account (signing in again
// is then refused, and says so).
const SESSION_GONE = new Set(['invalid_session', 'missing_session', 'account_disabled']);

/**
 * Called once with the error when a request finds the session gone (expired, signed out elsewhere,
 * or its account disabled: `account_disabled`, which signing in again cannot mend).
 */
export function whenSessionLost(handler) {
  onSessionLost = handler;
}

/**
 * `handler(err)` signs the person in again in place when a request finds the session gone; it
 * resolves once they are (the request is then sent again, once) or rejects (the request fails
 * with the original error). Nothing on the page is lost meanwhile. Takes precedence over
 * `whenSessionLost`.
 */
export function whenSessionExpired(handler) {
  reauthenticate = handler;
}

async function request(method, path, body, retried = false) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch {
    throw new ApiError(0, 'network', 'Could not reach the server. Check that it is running, then try again.');
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(
      res.status,
      data?.code ?? `http_${res.status}`,
      data?.error ?? `The server answered ${res.status} ${res.statusText}.`,
      res.headers.get('Retry-After'),
      data?.field ?? null,
    );
    if (res.status === 401 && SESSION_GONE.has(err.code) && reauthenticate && !retried) {
      await reauthenticate(err);
      return request(method, path, body, true);
    }
    if (res.status === 401 && SESSION_GONE.has(err.code) && onSessionLost) {
      const handler = onSessionLost;
      onSessionLost = null;
      handler(err);
    }
    if (res.status === 403 && err.code === 'admin_required' && onAdminRequired) onAdminRequired(err);
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

/** A file path inside an artifact as a URL path: each segment percent-encoded, slashes kept. */
export const encodePath = (path) => path.split('/').map(enc).join('/');

/** "?a=1&b=2" from the defined, non-empty values (or "" when there are none). */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return qs ? `?${qs}` : '';
}

export const api = {
  // first run, sessions, invites
  setupStatus: () => request('GET', '/setup'),
  setup: (body) => request('POST', '/setup', body),
  signIn: (email, password) => request('POST', '/session', { email, password }),
  session: () => request('GET', '/session'),
  signOut: () => request('DELETE', '/session'),
  checkInvite: (token) => request('POST', '/invites/check', { token }),
  acceptInvite: (body) => request('POST', '/invites/accept', body),
  me: () => request('GET', '/me'),

  // keys
  listKeys: (all = false) => request('GET', all ? '/keys?status=all' : '/keys'),
  createKey: (body) => request('POST', '/keys', body),
  revokeKey: (id) => request('DELETE', `/keys/${enc(id)}`),
  rotateKey: (id, overlap) => request('POST', `/keys/${enc(id)}/rotate`, { overlap }),

  // agent key requests (a person's side)
  keyRequest: (code) => request('GET', `/key-requests/${enc(code)}`),
  approveKeyRequest: (code, agentId) => request('POST', `/key-requests/${enc(code)}/approve`, agentId ? { agentId } : {}),
  denyKeyRequest: (code) => request('POST', `/key-requests/${enc(code)}/deny`, {}),

  // agents
  listAgents: () => request('GET', '/agents'),
  createAgent: (body) => request('POST', '/agents', body),
  updateAgent: (id, body) => request('PATCH', `/agents/${enc(id)}`, body),
  deleteAgent: (id) => request('DELETE', `/agents/${enc(id)}`),

  // account
  rename: (name) => request('PATCH', '/account', { name }),
  sessions: () => request('GET', '/account/sessions'),
  endSession: (id) => request('DELETE', `/account/sessions/${enc(id)}`),
  endOtherSessions: () => request('DELETE', '/account/sessions'),
  changePassword: (currentPassword, newPassword) =>
    request('PUT', '/account/password', { currentPassword, newPassword }),

  // team (admins)
  listMembers: () => request('GET', '/team/members'),
  setMemberDisabled: (id, disabled) => request('PATCH', `/team/members/${enc(id)}`, { disabled }),
  setMemberRole: (id, role) => request('PATCH', `/team/members/${enc(id)}`, { role }),
  createPasswordReset: (id) => request('POST', `/team/members/${enc(id)}/password-reset`),
  usePasswordReset: (token, password) => request('POST', '/password-resets/accept', { token, password }),
  listInvites: () => request('GET', '/team/invites'),
  createInvite: (role, email) => request('POST', '/team/invites', email ? { role, email } : { role }),
  revokeInvite: (id) => request('DELETE', `/team/invites/${enc(id)}`),

  // artifacts (the home list and the review page)
  listArtifacts: ({ sort, q, limit, cursor } = {}) => request('GET', '/artifacts' + query({ sort, q, limit, cursor })),
  artifact: (t) => request('GET', `/artifacts/${enc(t)}`),
  updateArtifact: (t, body) => request('PATCH', `/artifacts/${enc(t)}`, body),
  deleteArtifact: (t) => request('DELETE', `/artifacts/${enc(t)}`),
  versionFiles: (t, n) => request('GET', `/artifacts/${enc(t)}/versions/${enc(n)}/files`),
  /** A viewing grant for the artifact frame: {path: "/v/GRANT/", entryPoint, expiresAt}. */
  viewGrant: (t, n) => request('POST', `/artifacts/${enc(t)}/versions/${enc(n)}/view`),
  /** The raw file's address (byte-exact, for a person to open or download). */
  rawFileUrl: (t, n, path) => `/api/v1/artifacts/${enc(t)}/versions/${enc(n)}/files/${encodePath(path)}`,

  // comments and replies
  comments: (t, { version, status } = {}) => request('GET', `/artifacts/${enc(t)}/comments` + query({ version, status })),
  createComment: (t, body) => request('POST', `/artifacts/${enc(t)}/comments`, body),
  updateComment: (id, body) => request('PATCH', `/comments/${enc(id)}`, body),
  deleteComment: (id) => request('DELETE', `/comments/${enc(id)}`),
  createReply: (commentId, content) => request('POST', `/comments/${enc(commentId)}/replies`, { content }),
  updateReply: (id, content) => request('PATCH', `/replies/${enc(id)}`, { content }),
  deleteReply: (id) => request('DELETE', `/replies/${enc(id)}`),

  // the share link of an artifact (owner)
  shareLink: (t) => request('GET', `/artifacts/${enc(t)}/sharelink`),
  createShareLink: (t, capabilities) => request('POST', `/artifacts/${enc(t)}/sharelink`, capabilities ? { capabilities } : {}),
  updateShareLink: (t, body) => request('PATCH', `/artifacts/${enc(t)}/sharelink`, body),
  disableShareLink: (t) => request('DELETE', `/artifacts/${enc(t)}/sharelink`),
  stats: (t) => request('GET', `/artifacts/${enc(t)}/stats`),

  // a share link's page (anyone holding the link)
  shared: (link) => request('GET', `/share/${enc(link)}`),
  sharedComments: (link) => request('GET', `/share/${enc(link)}/comments`),
  sharedComment: (link, body) => request('POST', `/share/${enc(link)}/comments`, body),
  sharedReply: (link, commentId, content) => request('POST', `/share/${enc(link)}/comments/${enc(commentId)}/replies`, { content }),
  sharedUpdateComment: (link, id, body) => request('PATCH', `/share/${enc(link)}/comments/${enc(id)}`, body),
  sharedDeleteComment: (link, id) => request('DELETE', `/share/${enc(link)}/comments/${enc(id)}`),
  sharedUpdateReply: (link, id, content) => request('PATCH', `/share/${enc(link)}/replies/${enc(id)}`, { content }),
  sharedDeleteReply: (link, id) => request('DELETE', `/share/${enc(link)}/replies/${enc(id)}`),

  // reviewers of an artifact (owner)
  listAccess: (t) => request('GET', `/artifacts/${enc(t)}/access`),
  grantAccess: (t, email) => request('POST', `/artifacts/${enc(t)}/access`, { email, role: 'can-comment' }),
  revokeAccess: (t, id) => request('DELETE', `/artifacts/${enc(t)}/access/${enc(id)}`),

  // activity
  activity: ({ scope, keyId, limit, cursor } = {}) => {
    const q = new URLSearchParams();
    if (scope && scope !== 'mine') q.set('scope', scope);
    if (keyId) q.set('keyId', keyId);
    if (limit) q.set('limit', String(limit));
    if (cursor) q.set('cursor', cursor);
    const qs = q.toString();
    return request('GET', '/activity' + (qs ? `?${qs}` : ''));
  },
};
